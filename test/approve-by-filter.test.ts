import { describe, expect, it } from 'vitest';
import { changedTables, dbFingerprint } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { useStack } from './support/stack';

/**
 * A deleted row is out of the review: approving "every row To Approve" does
 * not trip over it. A filter holding one row the approver may not approve is
 * refused whole, though the rows are judged and approved in one statement.
 */
describe('approval by filter', () => {
  const t = useStack(async (stack) => {
    const w1 = await smallWarehouse(stack.db.orm, 'W1');
    await smallWarehouse(stack.db.orm, 'W2');
    return w1;
  });

  /** Zone A of `warehouse` counted: P1@A-01 one over, BOX@A-01 one box short, P1@A-02 one short, all three To Approve. */
  const inReview = async (warehouse: string, managerApprovalLimit?: number) => {
    const { f } = t;
    const rec = await f.create({ warehouse, scope: { kind: 'zones', zones: ['A'] }, tolerance: { default: {} }, ...(managerApprovalLimit === undefined ? {} : { managerApprovalLimit }) });
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
    return rec;
  };

  it('approves every row To Approve after one of them was deleted, leaving the deleted row as it is', async () => {
    const { f } = t;
    const rec = await inReview('W1');
    const box = await f.row(rec.id, 'BOX', 'A-01');
    await f.decide(rec.id, 'row-deletions', { rowIds: [box.id], reason: 'box recounted by the supplier' });

    expect(await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } })).toEqual({ rows: 2 });
    const deleted = (await f.rows(rec.id, '&state=deleted'))[0]!;
    expect(deleted).toMatchObject({ id: box.id, state: 'deleted', approval: 'to_approve' });
    expect((await f.progress(rec.id))!.rows).toMatchObject({ toApprove: 0, approved: 2, deleted: 1 });
  });

  it('refuses a filter holding one row over the manager’s limit whole: 403, and no other row of it is approved', async () => {
    const { stack, f } = t;
    // Variance values: P1 +10 and -10 (within 20), BOX one box of 12 at 2.5 short: -30 (over).
    const rec = await inReview('W2', 20);

    const before = await dbFingerprint(stack.db.orm);
    const res = await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { filter: { approval: 'to_approve' } }, { 'x-as': 'manager-1' });
    expectProblem(res, 403, 'approval-limit-exceeded', 'approval over the limit');
    expect(changedTables(before, await dbFingerprint(stack.db.orm))).toEqual([]);
    expect((await f.progress(rec.id))!.rows).toMatchObject({ toApprove: 3, approved: 0 });
  });
});
