import { describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { upsertUser } from '../store/users';
import { smallWarehouse } from './support/fixtures';
import { maybeSaveHistory } from './support/histories';
import { useStack, tokenOf, type Stack } from './support/stack';
import { WMS } from './support/systems-stack';
import { eventually } from './support/wait';

/**
 * A system reconciliation over HTTP on the real stack (seed 000): the book
 * against a WMS that pushes its levels; the order's lines reviewed (one
 * deleted with a reason, none editable), approved and processed: a blocked
 * decrease (the blocking first, then the OUT) and an increase to be blocked
 * (the IN first, then the blocking), posted exactly once, with an adjustment
 * order; then the order is closed.
 */
describe('system reconciliation: book against a pushing WMS', () => {
  const t = useStack(async (stack) => {
    const positions = await smallWarehouse(stack.db.orm);
    await upsertUser(stack.db.orm.em.fork(), 'wms-dc1', 'integration', tokenOf('wms-dc1'), { kind: 'system', warehouses: ['W1'] });
    const registered = await stack.http('POST', '/systems', WMS, { 'x-as': 'admin-1' });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    return positions;
  });

  const upload = (stack: Stack, runId: string, csv: string) =>
    fetch(`${stack.baseUrl}/system-reconciliations/${runId}/levels?source=wms-dc1`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${tokenOf('wms-dc1')}` },
      body: csv,
    });
  const run = (stack: Stack, id: string) => stack.http('GET', `/system-reconciliations/${id}`);
  const until = (stack: Stack, id: string, status: string, also: (body: any) => boolean = () => true) =>
    eventually(async () => {
      const r = await run(stack, id);
      return r.body.statusFrom === 'workflow' && r.body.status === status && also(r.body) ? r.body : undefined;
    }, `system reconciliation ${id} to be ${status}`);

  let id = '';
  let lines: Array<{ line: number; item: string; location: string; category: string; difference: number; outcome: string }> = [];

  it('compares the book with the levels the WMS pushed, into an order of the differences', async () => {
    const { stack } = t;
    const created = await stack.http('POST', '/system-reconciliations', {
      sourceA: 'book', sourceB: 'wms-dc1', warehouse: 'W1', selection: { items: ['P1', 'BOX', 'LOT'] }, managerApprovalLimit: 1e6,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    id = created.body.id;
    // The book's levels are taken at once; the WMS pushes its own.
    const waiting = await until(stack, id, 'requesting', (b) => b.progress.received.length === 1);
    expect(waiting.progress).toMatchObject({ received: ['book'], waitingFor: ['wms-dc1'] });
    // P1 10 + 3 on quality hold found; BOX as booked. A-02: P1 2, the damaged one gone. B-01: LOT 19 of 20.
    const res = await upload(stack, id, [
      'item,warehouse,location,status,quantity',
      'P1,W1,A-01,available,10', 'P1,W1,A-01,quality,3', 'BOX,W1,A-01,available,5',
      'P1,W1,A-02,available,2', 'LOT,W1,B-01,available,19',
    ].join('\n'));
    expect(res.status, await res.text()).toBe(201);
    const review = await until(stack, id, 'review');
    expect(review.progress.summary).toMatchObject({ differences: 4 });
    lines = (await stack.http('GET', `/system-reconciliations/${id}/order`)).body.lines;
    expect(lines.map((l) => [l.item, l.location, l.category, l.difference])).toEqual([
      ['P1', 'A-01', 'unavailable', 3],
      ['P1', 'A-02', 'available', -1],
      ['P1', 'A-02', 'unavailable', -1],
      ['LOT', 'B-01', 'available', -1],
    ]);
  });

  it('never edits a line, and deletes one with a reason', async () => {
    const { stack } = t;
    const lot = lines.find((l) => l.item === 'LOT')!;
    for (const method of ['PUT', 'PATCH']) {
      const edit = await stack.http(method, `/system-reconciliations/${id}/order/lines/${lot.line}`, { difference: 0 });
      expect([method, edit.status, edit.contentType]).toEqual([method, 405, 'application/problem+json']);
    }
    const deleted = await stack.http('POST', `/system-reconciliations/${id}/line-deletions`, { lines: [lot.line], reason: 'the lot was moved; the transfer will be corrected' });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    const after = (await stack.http('GET', `/system-reconciliations/${id}/order?state=deleted`)).body.lines;
    expect(after).toMatchObject([{ line: lot.line, state: 'deleted', deletedReason: 'the lot was moved; the transfer will be corrected', deletedBy: 'manager-1' }]);
  });

  it('processes a blocked decrease and an increase to be blocked, in order, exactly once', async () => {
    const { stack } = t;
    const chosen = lines.filter((l) => l.item === 'P1').map((l) => l.line);
    expect((await stack.http('POST', `/system-reconciliations/${id}/processing`, { lines: chosen })).status).toBe(409);
    expect((await stack.http('POST', `/system-reconciliations/${id}/line-approvals`, { lines: chosen })).status).toBe(200);
    const processing = await stack.http('POST', `/system-reconciliations/${id}/processing`, { lines: chosen });
    expect(processing.status, JSON.stringify(processing.body)).toBe(200);
    const docId = processing.body.reconciliationId as string;
    await until(stack, id, 'review');

    const stock = await rows(stack.db.orm.em.fork(), sql<{ location: string; quantity: string; blocked: Record<string, string> | null }>`
      select l.code as location, sp.quantity::text,
             (select jsonb_object_agg(b.reason, b.quantity::text) from blocking b where b.stock_position_id = sp.id and b.quantity > 0) as blocked
      from stock_position sp join location l on l.id = sp.location_id join item i on i.id = sp.item_id
      where i.code = 'P1' and l.code in ('A-01', 'A-02') order by l.code`);
    expect(stock).toEqual([
      { location: 'A-01', quantity: '13.0000', blocked: { quality: '3.0000' } },
      { location: 'A-02', quantity: '2.0000', blocked: null },
    ]);
    const sequence = await rows(stack.db.orm.em.fork(), sql<{ location: string; step: string }>`
      select l.code as location, case p.kind when 'transaction' then p.direction else 'blocking ' || p.reason end as step
      from posting p join reconciliation_row r on r.id = p.row_id join location l on l.id = r.location_id
      where p.reconciliation_id = ${docId} and p.status = 'done' order by l.code, p.sequence`);
    expect(sequence).toEqual([
      { location: 'A-01', step: 'IN' }, { location: 'A-01', step: 'blocking quality' },
      { location: 'A-02', step: 'blocking damaged' }, { location: 'A-02', step: 'OUT' },
    ]);
    const ledger = await rows(stack.db.orm.em.fork(), sql<{ movements: number; keys: number }>`
      select count(*)::int as movements, count(distinct posting_key)::int as keys from movement where posting_key like ${docId + ':%'}`);
    expect(ledger).toEqual([{ movements: 2, keys: 2 }]);
    const order = await stack.http('GET', `/reconciliations/${docId}/adjustment-order`);
    expect(order.body.lines.map((l: { location: string; varianceSu: number }) => [l.location, l.varianceSu])).toEqual([['A-01', 3], ['A-02', -2]]);
    const processed = (await stack.http('GET', `/system-reconciliations/${id}/order?state=processed`)).body.lines;
    expect(processed.map((l: { line: number }) => l.line)).toEqual(chosen);
  });

  it('closes the order', async () => {
    const { stack } = t;
    expect((await stack.http('POST', `/system-reconciliations/${id}/close`)).status).toBe(200);
    const closed = await until(stack, id, 'closed');
    expect(closed.closedAt).not.toBeNull();
    await stack.client.workflow.getHandle(closed.workflowId).result();
    await maybeSaveHistory(stack, closed.workflowId, 'system-reconciliation');
  });
});
