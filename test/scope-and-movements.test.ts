import { describe, expect, it } from 'vitest';
import { move, smallWarehouse } from './support/fixtures';
import { useStack } from './support/stack';

describe('scope overlap and movements during counting', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  it('allows disjoint scopes and refuses overlapping ones with the reconciliation in the way', async () => {
    const { stack, f } = t;
    const zoneA = await f.create({ warehouse: 'W1', scope: { kind: 'zones', zones: ['A'], items: ['P1'] } });
    const boxInA = await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'locations', locations: ['A-01'], items: ['BOX'] } });
    expect(boxInA.status).toBe(201);
    const p1InA01 = await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'locations', locations: ['A-01'] } });
    expect(p1InA01.status).toBe(409);
    expect(p1InA01.body).toMatchObject({ type: 'https://stocktake.dev/problems/scope-overlap', reconciliationId: zoneA.id });
    const unknown = await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'zones', zones: ['Z9'] } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.detail).toContain('unknown zones: Z9');
    const invalid = await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'zones', zones: [] } });
    expect(invalid.status).toBe(422);
    expect(invalid.contentType).toContain('application/problem+json');
    const before = await stack.http('GET', '/reconciliations');
    expect(before.body.reconciliations).toHaveLength(2);

    for (const id of [zoneA.id, boxInA.body.id]) {
      await f.waitFor(id, 'ready');
      await f.decide(id, 'cancellation', { reason: 'make room' });
    }
  });

  it('takes movements between snapshot and count into the expected quantity, not those after the count', async () => {
    const { stack, f } = t;
    const positions = t.fixture;
    const rec = await f.create({ warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] }, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    // After the snapshot, before the count: 5 received into A-01/P1, 1 issued from A-01/BOX.
    await move(stack.db.orm, positions.a01P1, 'receipt', 5);
    await move(stack.db.orm, positions.a01Box, 'issue', 1);
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    await f.submit(order!.id, 'm-1', [
      { location: 'A-01', item: 'P1', quantity: 15 },
      { location: 'A-01', item: 'BOX', quantity: 4 },
      { location: 'A-02', item: 'P1', quantity: 4 },
    ]);
    // After the count: this receipt must not change the count's difference.
    await new Promise((r) => setTimeout(r, 20));
    await move(stack.db.orm, positions.a02P1, 'receipt', 3);
    await f.complete(order!.id);
    await f.waitFor(rec.id, 'review', 0);

    expect(await f.row(rec.id, 'P1', 'A-01')).toMatchObject({ snapshotQuantity: 10, expectedQuantity: 15, varianceQuantity: 0, movedAfterSnapshot: true, approval: 'not_required' });
    expect(await f.row(rec.id, 'BOX', 'A-01')).toMatchObject({ snapshotQuantity: 5, expectedQuantity: 4, varianceQuantity: 0, movedAfterSnapshot: true });
    expect(await f.row(rec.id, 'P1', 'A-02')).toMatchObject({ snapshotQuantity: 4, expectedQuantity: 4, varianceQuantity: 0, movedAfterSnapshot: true });
    const moved = await f.rows(rec.id, '&state=counted');
    expect(moved.filter((r) => r.movedAfterSnapshot)).toHaveLength(3);
  });
});
