import { expect } from 'vitest';
import type { Stack } from './stack';
import { eventually } from './wait';

/** The HTTP steps a manager and a device take, with the status checks every test repeats. */
export function flow(stack: Stack) {
  const f = {
    async create(body: Record<string, unknown>, headers: Record<string, string> = {}) {
      const res = await stack.http('POST', '/reconciliations', body, headers);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body as { id: string; workflowId: string; number: number };
    },
    async progress(id: string) {
      const res = await stack.http('GET', `/reconciliations/${id}`);
      return res.body.progress as { status: string; round: number; ordersOpen: number; rows: Record<string, number>; historyLength: number } | null;
    },
    waitFor(id: string, status: string, round?: number, timeoutMs = 30_000) {
      return eventually(async () => {
        const p = await f.progress(id);
        return p && p.status === status && (round === undefined || p.round === round) ? p : undefined;
      }, `reconciliation ${id} to be ${status}${round === undefined ? '' : ` in round ${round}`}`, timeoutMs);
    },
    async decide(id: string, decision: string, body?: unknown, expectStatus = 200) {
      const res = await stack.http('POST', `/reconciliations/${id}/${decision}`, body);
      expect(res.status, JSON.stringify(res.body)).toBe(expectStatus);
      return res.body;
    },
    async orders(id: string, round: number) {
      const res = await stack.http('GET', `/reconciliations/${id}/count-orders`);
      return (res.body.countOrders as Array<{ id: number; round: number; kind: string; status: string; tasks: number }>).filter(
        (o) => o.round === round,
      );
    },
    /** Gives an unassigned order to `device` (as manager-1): a device counts only the orders assigned to it. */
    async assignIfOpen(orderId: number, device: string) {
      const order = await stack.http('GET', `/count-orders/${orderId}`);
      if (order.status === 200 && order.body.assignedTo === null) {
        const res = await stack.http('POST', `/count-orders/${orderId}/assignment`, { device });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      }
    },
    async submit(orderId: number, submissionId: string, entries: Array<Record<string, unknown>>, device = 'dev-1') {
      await f.assignIfOpen(orderId, device);
      return stack.http('POST', `/count-orders/${orderId}/submissions`, { submissionId, entries }, { 'x-as': device });
    },
    async complete(orderId: number, device = 'dev-1') {
      await f.assignIfOpen(orderId, device);
      const res = await stack.http('POST', `/count-orders/${orderId}/completion`, {}, { 'x-as': device });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    },
    async rows(id: string, query = '') {
      const res = await stack.http('GET', `/reconciliations/${id}/rows?limit=5000${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.rows as Array<Record<string, any>>;
    },
    async row(id: string, item: string, location: string) {
      const all = await f.rows(id);
      const row = all.find((r) => r.item === item && r.location === location);
      if (!row) throw new Error(`no row ${item}@${location}`);
      return row;
    },
  };
  return f;
}
