import { describe, expect, inject, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { maybeSaveHistory, maybeSaveWithTemporalCli } from './support/histories';
import { useStack } from './support/stack';

/**
 * Seed scenario 1 (full warehouse): snapshot, initial count split by zone,
 * two recount rounds, approval; driven only through the HTTP API against
 * real PostgreSQL and a real Temporal server.
 */
describe('full warehouse reconciliation', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  it('runs snapshot -> initial count -> two recounts -> approval, and refuses what does not fit', async () => {
    const { stack, f } = t;
    const request = {
      warehouse: 'W1',
      scope: { kind: 'warehouse' },
      splitPolicy: { kind: 'by_zone' },
      tolerance: { default: { quantity: { plus: 1, minus: 1 } } },
      maxRecountRounds: 2,
    };
    const rec = await f.create(request, { 'idempotency-key': 'create-1' });
    const again = await stack.http('POST', '/reconciliations', request, { 'idempotency-key': 'create-1' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(rec.id);
    const other = await stack.http('POST', '/reconciliations', { ...request, maxRecountRounds: 1 }, { 'idempotency-key': 'create-1' });
    expect(other.status).toBe(422);

    const ready = await f.waitFor(rec.id, 'ready');
    expect(ready.rows.total).toBe(5);

    // Overlap: zone A is inside the whole-warehouse scope of the active reconciliation.
    const overlap = await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] } });
    expect(overlap.status).toBe(409);
    expect(overlap.contentType).toContain('application/problem+json');
    expect(overlap.body.reconciliationId).toBe(rec.id);

    // Approve before anything is counted: refused by the validator, nothing written.
    const early = await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [1] });
    expect(early.status).toBe(409);
    expect(early.contentType).toContain('application/problem+json');

    const started = await f.decide(rec.id, 'initial-count');
    expect(started).toMatchObject({ round: 0, orders: 2, tasks: 3 });
    await f.decide(rec.id, 'initial-count', undefined, 409);

    const [orderA, orderB] = await f.orders(rec.id, 0);
    expect(orderA!.tasks).toBe(2);
    expect(orderB!.tasks).toBe(1);
    const assign = await stack.http('POST', `/count-orders/${orderB!.id}/assignment`, { device: 'dev-2' });
    expect(assign.status).toBe(200);
    const trail = await stack.http('GET', `/reconciliations/${rec.id}/audit`);
    expect(trail.body.events.find((e: { action: string }) => e.action === 'count_order_assigned')).toMatchObject({
      actor: 'manager-1', subject: `count order ${orderB!.id}`, after: { assignedTo: 'dev-2' },
    });
    const mine = await stack.http('GET', '/devices/dev-2/count-orders');
    expect(mine.body.countOrders.map((o: { id: number }) => o.id)).toEqual([orderB!.id]);

    const tasks = await stack.http('GET', `/count-orders/${orderA!.id}/tasks`);
    expect(tasks.body.blind).toBe(true);
    expect(tasks.body.tasks.map((t: { location: string }) => t.location).sort()).toEqual(['A-01', 'A-02']);
    expect(JSON.stringify(tasks.body)).not.toContain('expectedQuantity');

    const zoneA = [
      { location: 'A-01', item: 'P1', quantity: 10 },
      { location: 'A-01', item: 'BOX', quantity: 3 },
      { location: 'A-02', item: 'P1', quantity: 4, blocked: { damaged: 2 } },
    ];
    expect((await f.submit(orderA!.id, 'a-1', zoneA)).status).toBe(201);
    const dup = await f.submit(orderA!.id, 'a-1', zoneA);
    expect(dup.status).toBe(200);
    expect(dup.body.duplicate).toBe(true);
    const reused = await f.submit(orderA!.id, 'a-1', [{ location: 'A-01', item: 'P1', quantity: 99 }]);
    expect(reused.status).toBe(422);
    const wrongPlace = await f.submit(orderA!.id, 'a-2', [{ location: 'B-01', item: 'P1', quantity: 1 }]);
    expect(wrongPlace.status).toBe(422);
    expect(wrongPlace.body.detail).toContain('not part of this count order');
    // A device sees and counts only the orders assigned to it: another device's order does not exist for it.
    const wrongDevice = await f.submit(orderB!.id, 'b-0', [{ location: 'B-01', item: 'P1', quantity: 1 }], 'dev-1');
    expect(wrongDevice.status).toBe(404);

    const zoneB = [
      { location: 'B-01', item: 'LOT', lot: 'L1', quantity: 18 },
      { location: 'B-01', item: 'SER', serial: 'S1', quantity: 1 },
      { location: 'B-01', item: 'P1', quantity: 2 },
    ];
    expect((await f.submit(orderB!.id, 'b-1', zoneB, 'dev-2')).status).toBe(201);

    await f.complete(orderA!.id);
    const twice = await f.complete(orderA!.id);
    expect(twice.alreadyComplete).toBe(true);
    const late = await f.submit(orderA!.id, 'a-3', [{ location: 'A-01', item: 'P1', quantity: 1 }]);
    expect(late.status).toBe(409);
    expect(late.body.detail).toContain('entries after completion are rejected');
    expect((await f.progress(rec.id))!.status).toBe('counting');
    await f.complete(orderB!.id, 'dev-2');

    const review0 = await f.waitFor(rec.id, 'review', 0);
    expect(review0.rows).toMatchObject({ total: 6, counted: 6, toApprove: 3, notRequired: 3 });

    const box = await f.row(rec.id, 'BOX', 'A-01');
    expect(box).toMatchObject({ expectedQuantity: 5, countedQuantity: 3, varianceQuantity: -2, varianceInventoryQuantity: -24, varianceValue: -60, approval: 'to_approve' });
    const found = await f.row(rec.id, 'P1', 'B-01');
    expect(found).toMatchObject({ origin: 'found', expectedQuantity: 0, countedQuantity: 2, varianceQuantity: 2, approval: 'to_approve' });
    const blocked = await stack.http('GET', `/reconciliations/${rec.id}/rows/${(await f.row(rec.id, 'P1', 'A-02')).id}`);
    expect(blocked.body.blockings).toEqual([{ reason: 'damaged', snapshotQuantity: 1, countedQuantity: 2, implied: false }]);

    // Round 1: recount BOX and LOT (filtered by item), one single order at product level.
    const lot = await f.row(rec.id, 'LOT', 'B-01');
    await f.decide(rec.id, 'recount-marks', { filter: { itemCodes: ['BOX', 'LOT'] } });
    const recount1 = await f.decide(rec.id, 'recount-orders');
    expect(recount1).toMatchObject({ round: 1, tasks: 2 });
    const recountTasks = await stack.http('GET', `/count-orders/${recount1.countOrderId}/tasks`);
    expect(recountTasks.body.tasks.map((t: { item: string; lot: string }) => `${t.item}/${t.lot}`).sort()).toEqual(['BOX/', 'LOT/L1']);
    await f.submit(recount1.countOrderId, 'r1', [
      { location: 'A-01', item: 'BOX', quantity: 3 },
      { location: 'B-01', item: 'LOT', lot: 'L1', quantity: 20 },
    ]);
    await f.complete(recount1.countOrderId);
    await f.waitFor(rec.id, 'review', 1);
    expect(await f.row(rec.id, 'LOT', 'B-01')).toMatchObject({ id: lot.id, countedRound: 1, varianceQuantity: 0, approval: 'not_required' });

    // Round 2 (the maximum): BOX once more.
    await f.decide(rec.id, 'recount-marks', { rowIds: [box.id] });
    const recount2 = await f.decide(rec.id, 'recount-orders');
    expect(recount2).toMatchObject({ round: 2, tasks: 1 });
    await f.submit(recount2.countOrderId, 'r2', [{ location: 'A-01', item: 'BOX', quantity: 3 }]);
    await f.complete(recount2.countOrderId);
    await f.waitFor(rec.id, 'review', 2);

    const beyond = await stack.http('POST', `/reconciliations/${rec.id}/recount-marks`, { rowIds: [box.id] });
    expect(beyond.status).toBe(409);
    expect(beyond.body.detail).toContain('maximum of 2 recount rounds');

    const history = await stack.http('GET', `/reconciliations/${rec.id}/rows/${box.id}`);
    expect(history.body.counts.map((c: { round: number; countedQuantity: number }) => [c.round, c.countedQuantity])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);

    const notToApprove = await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [lot.id] });
    expect(notToApprove.status).toBe(422);
    const approved = await f.decide(rec.id, 'approvals', { rowIds: [box.id, found.id] });
    expect(approved.rows).toBe(2);
    const noReason = await stack.http('POST', `/reconciliations/${rec.id}/row-deletions`, { rowIds: [lot.id], reason: ' ' });
    expect(noReason.status).toBe(422);

    const end = await f.progress(rec.id);
    expect(end!.rows).toMatchObject({ approved: 2, notRequired: 4, toApprove: 0 });
    await f.decide(rec.id, 'cancellation', { reason: 'end of test' });
    await stack.client.workflow.getHandle(rec.workflowId).result();
    await maybeSaveHistory(stack, rec.workflowId, 'full-warehouse');
    maybeSaveWithTemporalCli(inject('temporalAddress'), rec.workflowId, 'full-warehouse-temporal-cli');
  });
});
