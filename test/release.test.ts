import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { move, smallWarehouse } from './support/fixtures';
import { maybeSaveHistory } from './support/histories';
import { useStack } from './support/stack';

/**
 * Release: approval authority, segregation of duties, both blocking orders,
 * a row that fails while the others post, the manager's retry, and the ERP
 * adjustment order with unit conversion.
 */
describe('release', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  const stock = async (positionId: number) =>
    Number((await one(t.stack.db.orm.em.fork(), sql<{ q: string }>`select quantity as q from stock_position where id = ${positionId}`))!.q);
  const blocked = async (positionId: number, reason: string) =>
    Number((await one(t.stack.db.orm.em.fork(), sql<{ q: string }>`
      select coalesce((select quantity from blocking where stock_position_id = ${positionId} and reason = ${reason}), 0) as q`))!.q);

  it('posts approved differences in the defined order, exactly once, and hands the ERP its adjustment order', async () => {
    const { stack, f } = t;
    const positions = t.fixture;
    const rec = await f.create({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: {} }, managerApprovalLimit: 50 });
    await f.waitFor(rec.id, 'ready');
    // Counters may not decide.
    expect((await stack.http('POST', `/reconciliations/${rec.id}/initial-count`, undefined, { 'x-as': 'dev-1' })).status).toBe(403);
    expect((await stack.http('POST', `/reconciliations/${rec.id}/initial-count`, undefined, { authorization: '' })).status).toBe(401);
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    expect((await f.submit(order!.id, 'c-1', [
      { location: 'A-01', item: 'P1', quantity: 12 },
      { location: 'A-01', item: 'BOX', quantity: 3 },
      // Decrease while blocked: one damaged piece is gone.
      { location: 'A-02', item: 'P1', quantity: 3, blocked: { damaged: 0 } },
      // Increase, then block: five more, all on quality hold.
      { location: 'B-01', item: 'LOT', lot: 'L1', quantity: 25, blocked: { quality: 5 } },
      { location: 'B-01', item: 'SER', serial: 'S1', quantity: 1 },
    ])).status).toBe(201);
    // A manager takes the order over and counts the stock found in B-01, so that manager may not approve it.
    expect((await stack.http('POST', `/count-orders/${order!.id}/assignment`, { device: 'manager-2' })).status).toBe(200);
    expect((await f.submit(order!.id, 'c-2', [{ location: 'B-01', item: 'P1', quantity: 2 }], 'manager-2')).status).toBe(201);
    await f.complete(order!.id, 'manager-2');
    await f.waitFor(rec.id, 'review', 0);

    const row = (item: string, location: string) => f.row(rec.id, item, location);
    const [a01, box, a02, lot, ser, found] = [
      await row('P1', 'A-01'), await row('BOX', 'A-01'), await row('P1', 'A-02'),
      await row('LOT', 'B-01'), await row('SER', 'B-01'), await row('P1', 'B-01'),
    ];
    expect(box).toMatchObject({ varianceQuantity: -2, varianceValue: -60, approval: 'to_approve' });

    const refused = await stack.http('POST', `/reconciliations/${rec.id}/release`);
    expect(refused.status).toBe(409);
    expect(refused.body.type).toContain('not-releasable');
    expect(refused.body.rows.map((r: { id: number }) => r.id).sort()).toEqual([a01.id, box.id, a02.id, lot.id, found.id].sort());

    const overLimit = await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [box.id] });
    expect(overLimit.status).toBe(403);
    expect(overLimit.body.detail).toContain('senior manager');
    const ownCount = await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [found.id] }, { 'x-as': 'manager-2' });
    expect(ownCount.status).toBe(403);
    expect(ownCount.body.detail).toContain('segregation of duties');
    await f.decide(rec.id, 'approvals', { rowIds: [a01.id, a02.id, lot.id, found.id] });
    expect((await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [box.id] }, { 'x-as': 'senior-1' })).status).toBe(200);

    // After the count, 4 boxes leave A-01: taking 2 more out would make its stock negative.
    await move(stack.db.orm, positions.a01Box, 'issue', 4);

    const released = await f.decide(rec.id, 'release');
    expect(released).toMatchObject({ rowsToPost: 5, processedWithoutPosting: 1 });
    const waiting = await f.waitFor(rec.id, 'awaiting_failed_rows');
    expect(waiting.rows).toMatchObject({ processed: 5, failed: 1 });
    expect(await row('BOX', 'A-01')).toMatchObject({ state: 'failed', failureReason: expect.stringContaining('negative') });
    // The row with nothing to post was not rewritten by the planning, yet reads, filters and exports as processed.
    expect(await row('SER', 'B-01')).toMatchObject({ state: 'processed' });
    const processedRows = await stack.http('GET', `/reconciliations/${rec.id}/rows?state=processed`);
    expect(processedRows.body.rows.map((r: { id: number }) => r.id)).toContain(ser.id);
    expect((await stack.http('GET', `/reconciliations/${rec.id}/rows?state=counted`)).body.rows).toEqual([]);

    expect(await stock(positions.a01P1)).toBe(12);
    expect(await stock(positions.a02P1)).toBe(3);
    expect(await blocked(positions.a02P1, 'damaged')).toBe(0);
    expect(await stock(positions.b01Lot)).toBe(25);
    expect(await blocked(positions.b01Lot, 'quality')).toBe(5);
    expect(await stock(positions.a01Box)).toBe(1);

    // The stored postings prove the order: blocking correction before OUT, IN before blocking correction.
    const sequenceOf = async (rowId: number) =>
      (await stack.http('GET', `/reconciliations/${rec.id}/rows/${rowId}`)).body.postings.map((p: { kind: string; direction: string | null; sequence: number }) =>
        [p.kind === 'transaction' ? p.direction : 'blocking', p.sequence]);
    const decrease = await sequenceOf(a02.id);
    expect(decrease.map((p: unknown[]) => p[0])).toEqual(['blocking', 'OUT']);
    expect(decrease[0][1]).toBeLessThan(decrease[1][1]);
    const increase = await sequenceOf(lot.id);
    expect(increase.map((p: unknown[]) => p[0])).toEqual(['IN', 'blocking']);
    expect(increase[0][1]).toBeLessThan(increase[1][1]);
    const foundPosition = await one(stack.db.orm.em.fork(), sql<{ q: string }>`
      select sp.quantity as q from stock_position sp join location l on l.id = sp.location_id join item i on i.id = sp.item_id
      where l.code = 'B-01' and i.code = 'P1'`);
    expect(Number(foundPosition!.q)).toBe(2);
    expect(ser.approval).toBe('not_required');

    // Retrying without a fix fails again; after a receipt the row posts and the release completes.
    await f.decide(rec.id, 'failed-rows/retry', { rowIds: [box.id] });
    await f.waitFor(rec.id, 'awaiting_failed_rows');
    await move(stack.db.orm, positions.a01Box, 'receipt', 3);
    await f.decide(rec.id, 'failed-rows/retry', { rowIds: [box.id] });
    const done = await f.waitFor(rec.id, 'released');
    expect(done.rows).toMatchObject({ processed: 6, failed: 0 });
    expect(await stock(positions.a01Box)).toBe(2);
    expect((await stack.http('POST', `/reconciliations/${rec.id}/release`)).status).toBe(409);

    // Exactly once: one movement per transaction posting, keyed.
    const ledger = await rows(stack.db.orm.em.fork(), sql<{ postings: number; movements: number; keys: number }>`
      select (select count(*)::int from posting where reconciliation_id = ${rec.id} and kind = 'transaction' and status = 'done') as postings,
             count(*)::int as movements, count(distinct posting_key)::int as keys
      from movement where posting_key like ${rec.id + '%'}`);
    expect(ledger[0]).toEqual({ postings: 5, movements: 5, keys: 5 });

    const adjustment = await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`);
    expect(adjustment.status).toBe(200);
    const boxLine = adjustment.body.lines.find((l: { item: string }) => l.item === 'BOX');
    expect(boxLine).toMatchObject({
      location: 'A-01', storageUnit: 'BOX', inventoryUnit: 'PCS',
      stockPointInventorySu: 5, actualInventorySu: 3, varianceSu: -2,
      stockPointInventoryIu: 60, actualInventoryIu: 36, varianceIu: -24,
      adjustmentPrice: 2.5, adjustmentAmount: -60, approval: 'approved', processed: true,
    });
    expect(adjustment.body.lines).toHaveLength(5);

    const trail = await stack.http('GET', `/reconciliations/${rec.id}/audit?limit=1000`);
    const actions = new Set(trail.body.events.map((e: { action: string }) => e.action));
    for (const a of ['row_approved', 'reconciliation_released', 'warehouse_transaction_posted', 'blocking_corrected', 'failed_row_retried']) {
      expect(actions).toContain(a);
    }
    await stack.client.workflow.getHandle(rec.workflowId).result();
    await maybeSaveHistory(stack, rec.workflowId, 'release-with-retry');
  });
});
