import { describe, expect, it } from 'vitest';
import { affected, one, rows, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { auditEvents, expectPlainWords, expectProblem, storedStatus, tableCounts } from './support/problem-checks';
import { useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * A bulk step that fails on the data (not on the moment) must not retry
 * forever: the reconciliation parks in step_failed with a reason in plain
 * words, refuses what does not fit there, can be cancelled (freeing its
 * scope) or, once the data is corrected, retried into review.
 *
 * The old wedge: a count too large for the stock records. The API refuses
 * such counts now, so the entry is written straight into count_entry.
 */
const REASON = 'a value does not fit the stock records (too large, too precise or malformed)';

describe('a step that fails for good', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm, 'SF');
    await affected(stack.db.orm.em.fork(), sql`
      insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked)
      values ('PRICY', 'PCS', 'PCS', 1, 1000, false, false)`);
  });
  const db = () => t.stack.db.orm.em.fork();

  /** A reconciliation of one zone, counted: the given entries over HTTP plus one absurd entry (1e12 PRICY at `location`) written directly. */
  async function countedWithAbsurdEntry(zone: string, location: string, entries: Array<Record<string, unknown>>) {
    const { f } = t;
    const rec = await f.create({ warehouse: 'SF', scope: { kind: 'zones', zones: [zone] }, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    if (entries.length > 0) expect((await f.submit(order!.id, 'valid', entries)).status).toBe(201);
    const absurd = (await one(db(), sql<{ id: number }>`
      insert into count_entry (count_order_id, submission_id, line, location_id, item_id, lot, serial, handling_unit, owner, quantity, counted_by)
      select ${order!.id}, 'direct', 1, l.id, i.id, '', '', '', '', 1e12, 'dev-1'
      from location l, item i where l.warehouse_code = 'SF' and l.code = ${location} and i.code = 'PRICY'
      returning id::int`))!.id;
    const started = performance.now();
    await f.complete(order!.id);
    const failed = await f.waitFor(rec.id, 'step_failed', undefined, 60_000);
    console.log(`step-failure: ${rec.id} reached step_failed ${Math.round(performance.now() - started)} ms after completion`);
    return { rec, orderId: order!.id, absurd, failed };
  }

  let first: ReturnType<typeof countedWithAbsurdEntry> | undefined;
  const wedged = () => (first ??= countedWithAbsurdEntry('A', 'A-01', [{ location: 'A-01', item: 'P1', quantity: 10 }]));

  it('parks in step_failed (populate, a reason in plain words) instead of retrying forever', async () => {
    const { stack } = t;
    const { rec } = await wedged();
    const res = await stack.http('GET', `/reconciliations/${rec.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'step_failed', statusFrom: 'workflow' });
    expect(res.body.progress.failure).toEqual({ step: 'populate', reason: REASON });
    expectPlainWords(res.body.progress.failure.reason, 'progress.failure.reason');
    expect(res.body.failure).toMatchObject({ step: 'populate', resume: 'counting', reason: REASON });
    expect(JSON.stringify(res.body)).not.toMatch(/SQLSTATE|numeric field overflow|overflow|22003|at .*\.ts:\d+/);

    expect((await storedStatus(stack, rec.id)).status).toBe('step_failed');
    const events = await auditEvents(stack, rec.id, 'step_failed');
    expect(events).toHaveLength(1);
    expect(events[0]!.after).toMatchObject({ status: 'step_failed', failure: { step: 'populate', reason: REASON } });
    // Nothing of the failed populate was kept: no row was counted, no found row was added.
    const counted = await one(db(), sql<{ counted: number; found: number }>`
      select count(*) filter (where counted_quantity is not null)::int as counted, count(*) filter (where origin = 'found')::int as found
      from reconciliation_row where reconciliation_id = ${rec.id}`);
    expect(counted).toEqual({ counted: 0, found: 0 });
    // It stays there: the step is not retried behind the manager's back.
    const description = await stack.client.workflow.getHandle(rec.workflowId).describe();
    expect(description.raw.pendingActivities ?? []).toEqual([]);
  });

  it('refuses an approval (409) while in step_failed, changing nothing', async () => {
    const { stack } = t;
    const { rec } = await wedged();
    const [row] = await rows(db(), sql<{ id: number }>`select id::int from reconciliation_row where reconciliation_id = ${rec.id} order by id limit 1`);
    const before = await tableCounts(stack);
    expectProblem(await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [row!.id] }), 409, 'invalid-state', 'approval');
    expectProblem(await stack.http('POST', `/reconciliations/${rec.id}/release`), 409, 'invalid-state', 'release');
    expect(await tableCounts(stack)).toEqual(before);
  });

  it('cancels from step_failed (200) and frees the scope: an overlapping reconciliation can be created', async () => {
    const { stack, f } = t;
    const { rec } = await wedged();
    const cancelled = await f.decide(rec.id, 'cancellation', { reason: 'count data cannot be processed' });
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelledWhile: 'step_failed', postingsDone: 0, adjustmentOrder: null });
    expect((await f.progress(rec.id))!.status).toBe('cancelled');
    const stored = await storedStatus(stack, rec.id);
    expect(stored.status).toBe('cancelled');
    expect(stored.closedAt).not.toBeNull();
    expect(await stack.client.workflow.getHandle(rec.workflowId).result()).toEqual({ status: 'cancelled' });

    const again = await stack.http('POST', '/reconciliations', { warehouse: 'SF', scope: { kind: 'zones', zones: ['A'] } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await f.waitFor(again.body.id, 'ready');
    await f.decide(again.body.id, 'cancellation', { reason: 'only proving the scope is free' });
  });

  describe('retried after the data was corrected', () => {
    let second: ReturnType<typeof countedWithAbsurdEntry> | undefined;
    // Zone B: LOT counted 18 of 20 (To Approve), SER as expected.
    const failedB = () =>
      (second ??= countedWithAbsurdEntry('B', 'B-01', [
        { location: 'B-01', item: 'LOT', lot: 'L1', quantity: 18 },
        { location: 'B-01', item: 'SER', serial: 'S1', quantity: 1 },
      ]));

    it('a retry without correcting the data fails the same way, back into step_failed', async () => {
      const { stack, f } = t;
      const { rec } = await failedB();
      expect(await f.decide(rec.id, 'step-retry')).toEqual({ status: 'counting' });
      await eventually(async () => ((await auditEvents(stack, rec.id, 'step_failed')).length === 2 ? true : undefined), 'the second failure', 60_000);
      const p = await f.waitFor(rec.id, 'step_failed');
      expect((p as unknown as { failure: unknown }).failure).toEqual({ step: 'populate', reason: REASON });
    });

    it('POST step-retry after deleting the absurd entry brings it to review with the right counts', async () => {
      const { stack, f } = t;
      const { rec, absurd } = await failedB();
      expect((await f.progress(rec.id))!.status).toBe('step_failed');
      expect(await affected(db(), sql`delete from count_entry where id = ${absurd}`)).toBe(1);

      expect(await f.decide(rec.id, 'step-retry')).toEqual({ status: 'counting' });
      const review = await f.waitFor(rec.id, 'review', 0);
      expect(review.rows).toMatchObject({ total: 2, counted: 2, toApprove: 1, notRequired: 1, awaitingCount: 0 });
      expect((review as unknown as { failure: unknown }).failure).toBeNull();
      expect(await f.row(rec.id, 'LOT', 'B-01')).toMatchObject({ expectedQuantity: 20, countedQuantity: 18, varianceQuantity: -2, varianceValue: -8, approval: 'to_approve' });
      expect(await f.row(rec.id, 'SER', 'B-01')).toMatchObject({ countedQuantity: 1, varianceQuantity: 0, approval: 'not_required' });
      const stored = await storedStatus(stack, rec.id);
      expect(stored).toMatchObject({ status: 'review', failure: null });
      expect((await auditEvents(stack, rec.id, 'step_retried')).map((e) => e.actor)).toEqual(['manager-1', 'manager-1']);
    });

    it('refuses step-retry (409) when the reconciliation is not in step_failed, changing nothing', async () => {
      const { stack } = t;
      const { rec } = await failedB();
      await t.f.waitFor(rec.id, 'review');
      const before = await tableCounts(stack);
      expectProblem(await stack.http('POST', `/reconciliations/${rec.id}/step-retry`), 409, 'invalid-state', 'step-retry in review');
      expect(await tableCounts(stack)).toEqual(before);
      expect((await t.f.progress(rec.id))!.status).toBe('review');
    });
  });
});
