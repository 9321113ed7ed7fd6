import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { useStack, type Stack } from './support/stack';
import { maybeSaveScheduledTick } from './support/histories';
import { erp } from './support/systems-stack';
import { eventually } from './support/wait';

/**
 * System reconciliations on a Schedule against an ERP whose levels
 * Stocktake pulls: the same unexplained difference in two runs is one
 * exception that recurs, not two; a count started from it is linked both
 * ways, and its release resolves the exception.
 */
describe('a scheduled reconciliation against a pulled ERP', () => {
  // The ERP: all 13 pieces of P1 in W1 available, every time it is asked; the book holds 1 of them damaged.
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'text/csv' });
    res.end('item,warehouse,status,quantity\nP1,W1,available,13\n');
  });
  const listening = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  afterAll(async () => new Promise((resolve) => server.close(resolve)));

  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm);
    const url = `http://127.0.0.1:${await listening}/levels`;
    const registered = await stack.http('POST', '/systems', erp(url, 'Bearer erp-secret'), { 'x-as': 'admin-1' });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  });

  const runsOf = async (stack: Stack) =>
    ((await stack.http('GET', '/system-reconciliations')).body.systemReconciliations as Array<{ id: string; scheduleId: string | null }>)
      .filter((r) => r.scheduleId === 'daily-p1');
  const reviewed = (stack: Stack, id: string) =>
    eventually(async () => {
      const r = (await stack.http('GET', `/system-reconciliations/${id}`)).body;
      return r.statusFrom === 'workflow' && r.status === 'review' ? r : undefined;
    }, `run ${id} in review`);

  let exceptionId = 0;

  it('links the same difference of two scheduled runs to one recurring exception', async () => {
    const { stack } = t;
    const created = await stack.http('POST', '/system-reconciliation-schedules', {
      name: 'daily-p1',
      // The ERP keeps stock per warehouse: the book's P1 (10 at A-01, 4 at A-02 of which 1 damaged) is rolled up to compare.
      template: { sourceA: 'book', sourceB: 'erp', warehouse: 'W1', selection: { items: ['P1'] }, managerApprovalLimit: 1e6 },
      paused: true,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'daily-p1', paused: true, every: '1440 minutes' });

    expect((await stack.http('POST', '/system-reconciliation-schedules/daily-p1/trigger', {})).status).toBe(200);
    const [first] = await eventually(async () => { const r = await runsOf(stack); return r.length === 1 ? r : undefined; }, 'the first run');
    await reviewed(stack, first!.id);
    expect((await stack.http('POST', '/system-reconciliation-schedules/daily-p1/trigger', {})).status).toBe(200);
    const runs = await eventually(async () => { const r = await runsOf(stack); return r.length === 2 ? r : undefined; }, 'the second run');
    await reviewed(stack, runs[0]!.id);
    await maybeSaveScheduledTick(stack, 'scheduled-system-run');

    expect(requests.every((a) => a === 'Bearer erp-secret')).toBe(true);
    const exceptions = (await stack.http('GET', '/system-exceptions')).body.exceptions as Array<{ id: number; occurrences: number; item: string; category: string }>;
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0]).toMatchObject({ occurrences: 2, item: 'P1', category: 'unavailable' });
    exceptionId = exceptions[0]!.id;
    const detail = (await stack.http('GET', `/system-exceptions/${exceptionId}`)).body;
    expect(detail.lines.map((l: { runId?: string; systemReconciliationId?: string }) => l.runId ?? l.systemReconciliationId).sort())
      .toEqual(runs.map((r) => r.id).sort());
  });

  it('resolves the exception when the count started from it is released', async () => {
    const { stack, f } = t;
    const started = await stack.http('POST', `/system-exceptions/${exceptionId}/count-reconciliation`, {});
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const count = started.body as { id: string };
    await f.waitFor(count.id, 'ready');
    await f.decide(count.id, 'initial-count');
    const orders = await f.orders(count.id, 0);
    for (const order of orders) {
      const tasks = (await stack.http('GET', `/count-orders/${order.id}/tasks`)).body.tasks as Array<{ location: string }>;
      const entries = tasks.map((task) => ({ location: task.location, item: 'P1', quantity: task.location === 'A-01' ? 10 : 4, blocked: task.location === 'A-02' ? { damaged: 1 } : undefined }));
      expect((await f.submit(order.id, `c-${order.id}`, entries)).status).toBe(201);
      await f.complete(order.id);
    }
    await f.waitFor(count.id, 'review', 0);
    await f.decide(count.id, 'release');
    await f.waitFor(count.id, 'released');
    const resolved = (await stack.http('GET', `/system-exceptions/${exceptionId}`)).body;
    expect(resolved).toMatchObject({ status: 'resolved' });
  });
});
