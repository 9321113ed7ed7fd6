import { describe, expect, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { useStack } from './support/stack';

/** A deleted row is out of the review: approving "every row To Approve" does not trip over it. */
describe('approval by filter', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  it('approves every row To Approve after one of them was deleted, leaving the deleted row as it is', async () => {
    const { f } = t;
    const rec = await f.create({ warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] }, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    await f.submit(order!.id, 's', [
      { location: 'A-01', item: 'P1', quantity: 11 },
      { location: 'A-01', item: 'BOX', quantity: 4 },
      { location: 'A-02', item: 'P1', quantity: 3 },
    ]);
    await f.complete(order!.id);
    expect((await f.waitFor(rec.id, 'review', 0)).rows.toApprove).toBe(3);
    const box = await f.row(rec.id, 'BOX', 'A-01');
    await f.decide(rec.id, 'row-deletions', { rowIds: [box.id], reason: 'box recounted by the supplier' });

    expect(await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } })).toEqual({ rows: 2 });
    const deleted = (await f.rows(rec.id, '&state=deleted'))[0]!;
    expect(deleted).toMatchObject({ id: box.id, state: 'deleted', approval: 'to_approve' });
    expect((await f.progress(rec.id))!.rows).toMatchObject({ toApprove: 0, approved: 2, deleted: 1 });
  });
});
