import { describe, expect, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { maybeSaveHistory } from './support/histories';
import { useStack } from './support/stack';

/**
 * Seed scenario 2 (product-based): whole-warehouse snapshot, no initial
 * count; the manager filters rows by product and sends them straight to a
 * recount, then approves.
 */
describe('product-based reconciliation', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  it('recounts only the filtered product and approves its difference', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'W1', scope: { kind: 'warehouse' }, maxRecountRounds: 2, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');

    // Populate-style decisions need counts: approving now fits no state.
    expect((await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { filter: { itemCodes: ['P1'] } })).status).toBe(409);
    // Nothing marked yet: the validator refuses the recount order.
    expect((await stack.http('POST', `/reconciliations/${rec.id}/recount-orders`)).status).toBe(409);

    const marked = await f.decide(rec.id, 'recount-marks', { filter: { itemCodes: ['P1'] } });
    expect(marked.rows).toBe(2);
    const order = await f.decide(rec.id, 'recount-orders');
    expect(order).toMatchObject({ round: 1, tasks: 2 });
    expect((await stack.http('POST', `/reconciliations/${rec.id}/initial-count`)).status).toBe(409);

    const tasks = await stack.http('GET', `/count-orders/${order.countOrderId}/tasks`);
    expect(tasks.body.tasks.map((t: { item: string; location: string }) => `${t.item}@${t.location}`).sort()).toEqual(['P1@A-01', 'P1@A-02']);

    await f.submit(order.countOrderId, 'p-1', [
      { location: 'A-01', item: 'P1', quantity: 9 },
      { location: 'A-02', item: 'P1', quantity: 4 },
    ]);
    await f.complete(order.countOrderId);
    const review = await f.waitFor(rec.id, 'review', 1);
    expect(review.rows).toMatchObject({ total: 5, awaitingCount: 3, counted: 2, toApprove: 1, notRequired: 1 });

    const short = await f.row(rec.id, 'P1', 'A-01');
    expect(short).toMatchObject({ countedRound: 1, expectedQuantity: 10, countedQuantity: 9, varianceQuantity: -1, varianceValue: -10 });
    const untouched = await f.row(rec.id, 'BOX', 'A-01');
    expect(untouched).toMatchObject({ state: 'awaiting_count', countedQuantity: null });

    await f.decide(rec.id, 'approvals', { filter: { itemCodes: ['P1'], approval: 'to_approve' } });
    expect(await f.row(rec.id, 'P1', 'A-01')).toMatchObject({ approval: 'approved', approvedBy: 'manager-1' });

    // Rows never sent to count can be deleted with a reason; the deletion keeps who and why.
    const deleted = await f.decide(rec.id, 'row-deletions', { filter: { itemCodes: ['BOX', 'LOT', 'SER'] }, reason: 'not in this count' });
    expect(deleted.rows).toBe(3);
    // Deleted rows leave the review listing and are listed when asked for.
    expect((await f.rows(rec.id)).map((r) => r.item)).toEqual(['P1', 'P1']);
    const deletedRows = await f.rows(rec.id, '&state=deleted');
    expect(deletedRows.find((r) => r.item === 'BOX')).toMatchObject({ state: 'deleted', deletedReason: 'not in this count' });

    const cancelled = await f.decide(rec.id, 'cancellation', { reason: 'test over' });
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelledWhile: 'review', postingsDone: 0, adjustmentOrder: null });
    const closed = await stack.client.workflow.getHandle(rec.workflowId).result();
    expect(closed).toEqual({ status: 'cancelled' });
    await maybeSaveHistory(stack, rec.workflowId, 'product-based');
    // A closed reconciliation frees its scope for the next one.
    expect((await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] } })).status).toBe(201);
  });
});
