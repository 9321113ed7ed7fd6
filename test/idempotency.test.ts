import { describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, rows, sql } from '../db/sql';
import { createReconciliation } from '../store/reconciliations';
import * as m from '../workflows/messages';
import { countAll, ONE_MORE } from './support/counting';
import { smallWarehouse } from './support/fixtures';
import { auditEvents, expectProblem, tableCounts } from './support/problem-checks';
import { useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * An Idempotency-Key is bound to the caller, the operation and the body,
 * and recorded in the transaction that applies the request: a repeat gets
 * the first result and applies nothing, any other use of the key is a 422
 * that changes nothing, and the record outlives continue-as-new.
 */
describe('idempotency keys', () => {
  const t = useStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 40, warehouseCode: 'IDE' });
    await seedDemoWarehouse(stack.db.orm, { positions: 24, warehouseCode: 'CAN' });
    await smallWarehouse(stack.db.orm, 'W1');
  });
  const db = () => t.stack.db.orm.em.fork();

  let inReview: Promise<string> | undefined;
  /** A reconciliation of IDE in review: every row that is not serial-tracked is To Approve. */
  const reviewed = () =>
    (inReview ??= (async () => {
      const { stack, f } = t;
      const rec = await f.create({
        warehouse: 'IDE', scope: { kind: 'warehouse' }, tolerance: { default: { quantity: { plus: 0.5, minus: 0.5 } } }, managerApprovalLimit: 1e9,
      });
      await f.waitFor(rec.id, 'ready');
      await countAll(stack, f, rec.id, ONE_MORE);
      return rec.id;
    })());

  /** Rows still To Approve, a different one for each test. */
  const freshRows = async (id: string, n: number) => (await t.f.rows(id, '&approval=to_approve')).slice(0, n).map((r) => r.id as number);
  const post = (id: string, decision: string, body: unknown, key: string, as = 'manager-1') =>
    t.stack.http('POST', `/reconciliations/${id}/${decision}`, body, { 'idempotency-key': key, 'x-as': as });
  const approvalOf = async (rowId: number) =>
    (await one(db(), sql<{ approval: string; state: string }>`select approval, state from reconciliation_row where id = ${rowId}`))!;
  const records = async (key: string) =>
    rows(db(), sql<{ actor: string; operation: string; result: unknown }>`
      select actor, operation, result from idempotency_record where key = ${key}`);

  it('the same key and body twice: the same 200 body, applied once', async () => {
    const id = await reviewed();
    const [rowId] = await freshRows(id, 1);
    const first = await post(id, 'approvals', { rowIds: [rowId] }, 'approve-once');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toEqual({ rows: 1 });
    const approvedBefore = (await t.f.progress(id))!.rows.approved;

    const again = await post(id, 'approvals', { rowIds: [rowId] }, 'approve-once');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await auditEvents(t.stack, id, 'row_approved')).filter((e) => e.subject === `row ${rowId}`)).toHaveLength(1);
    expect((await t.f.progress(id))!.rows.approved).toBe(approvedBefore);
    expect(await records('approve-once')).toEqual([{ actor: 'manager-1', operation: 'approveRows', result: { rows: 1 } }]);
  });

  it('the same key and body sent twice at once: both get the one result, applied once', async () => {
    const id = await reviewed();
    const [rowId] = await freshRows(id, 1);
    const answers = await Promise.all([1, 2].map(() => post(id, 'approvals', { rowIds: [rowId] }, 'approve-twice-at-once')));
    expect(answers.map((a) => [a.status, a.body])).toEqual([[200, { rows: 1 }], [200, { rows: 1 }]]);
    expect((await auditEvents(t.stack, id, 'row_approved')).filter((e) => e.subject === `row ${rowId}`)).toHaveLength(1);
    expect(await records('approve-twice-at-once')).toHaveLength(1);
  });

  it('the same key with another body: 422 idempotency-key-reused, nothing applied', async () => {
    const id = await reviewed();
    const [first, other] = await freshRows(id, 2);
    expect((await post(id, 'approvals', { rowIds: [first] }, 'approve-body')).status).toBe(200);
    const before = await tableCounts(t.stack);

    expectProblem(await post(id, 'approvals', { rowIds: [other] }, 'approve-body'), 422, 'idempotency-key-reused', 'other rowIds');
    expectProblem(await post(id, 'approvals', { filter: { approval: 'to_approve' } }, 'approve-body'), 422, 'idempotency-key-reused', 'a filter');
    expect(await approvalOf(other!)).toEqual({ approval: 'to_approve', state: 'counted' });
    expect(await tableCounts(t.stack)).toEqual(before);
  });

  it('two different bodies with one key at once: one applies, the other is a 422 that applies nothing', async () => {
    const id = await reviewed();
    const [a, b] = await freshRows(id, 2);
    const answers = await Promise.all([a, b].map((rowId) => post(id, 'approvals', { rowIds: [rowId] }, 'approve-race')));
    const ok = answers.filter((x) => x.status === 200);
    const refused = answers.filter((x) => x.status !== 200);
    expect(ok, JSON.stringify(answers.map((x) => x.body))).toHaveLength(1);
    expectProblem(refused[0]!, 422, 'idempotency-key-reused', 'the race loser');
    const states = [(await approvalOf(a!)).approval, (await approvalOf(b!)).approval].sort();
    expect(states).toEqual(['approved', 'to_approve']);
    expect(await records('approve-race')).toHaveLength(1);
  });

  it('the same key on another endpoint: 422, nothing applied', async () => {
    const id = await reviewed();
    const [rowId] = await freshRows(id, 1);
    expect((await post(id, 'approvals', { rowIds: [rowId] }, 'approve-endpoint')).status).toBe(200);
    const [other] = await freshRows(id, 1);
    const before = await tableCounts(t.stack);
    // Same body on another decision, another body on another decision, and a decision with no body.
    expectProblem(await post(id, 'recount-marks', { rowIds: [rowId] }, 'approve-endpoint'), 422, 'idempotency-key-reused', 'recount-marks');
    expectProblem(await post(id, 'row-deletions', { rowIds: [other], reason: 'not ours' }, 'approve-endpoint'), 422, 'idempotency-key-reused', 'row-deletions');
    expectProblem(await post(id, 'release', undefined, 'approve-endpoint'), 422, 'idempotency-key-reused', 'release');
    expect(await approvalOf(other!)).toEqual({ approval: 'to_approve', state: 'counted' });
    expect(await tableCounts(t.stack)).toEqual(before);
    expect((await t.f.progress(id))!.status).toBe('review');
  });

  it('the same key from another user: 422, nothing applied', async () => {
    const id = await reviewed();
    const [rowId, other] = await freshRows(id, 2);
    expect((await post(id, 'approvals', { rowIds: [rowId] }, 'approve-user')).status).toBe(200);
    const before = await tableCounts(t.stack);
    expectProblem(await post(id, 'approvals', { rowIds: [rowId] }, 'approve-user', 'manager-2'), 422, 'idempotency-key-reused', 'same body');
    expectProblem(await post(id, 'approvals', { rowIds: [other] }, 'approve-user', 'senior-1'), 422, 'idempotency-key-reused', 'other body');
    expect(await approvalOf(other!)).toEqual({ approval: 'to_approve', state: 'counted' });
    expect(await tableCounts(t.stack)).toEqual(before);
  });

  it('a key used to create a reconciliation is refused on a decision, and a decision key on a create: 422, nothing applied', async () => {
    const { stack, f } = t;
    const id = await reviewed();
    const created = await f.create({ warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] } }, { 'idempotency-key': 'create-key' });
    await f.waitFor(created.id, 'ready');
    const [rowId] = await freshRows(id, 1);
    expect((await post(id, 'approvals', { rowIds: [rowId] }, 'decision-key')).status).toBe(200);
    const before = await tableCounts(stack);

    const [other] = await freshRows(id, 1);
    expectProblem(await post(id, 'approvals', { rowIds: [other] }, 'create-key'), 422, 'idempotency-key-reused', 'create key on approvals');
    expectProblem(await post(created.id, 'cancellation', { reason: 'wrong key' }, 'create-key'), 422, 'idempotency-key-reused', 'create key on its own reconciliation');
    expectProblem(
      await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'zones', zones: ['B'] } }, { 'idempotency-key': 'decision-key' }),
      422, 'idempotency-key-reused', 'decision key on a create',
    );
    // The create's own key, with the create's own body, from another manager.
    expectProblem(
      await stack.http('POST', '/reconciliations', { warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] } }, { 'idempotency-key': 'create-key', 'x-as': 'manager-2' }),
      422, 'idempotency-key-reused', 'create key from another user',
    );
    expect(await approvalOf(other!)).toEqual({ approval: 'to_approve', state: 'counted' });
    expect(await tableCounts(stack)).toEqual(before);
    expect((await f.progress(created.id))!.status).toBe('ready');
  });

  it('a cancel repeated with its key after the workflow closed answers the first result and cancels nothing twice', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'W1', scope: { kind: 'zones', zones: ['B'] } });
    await f.waitFor(rec.id, 'ready');
    const first = await post(rec.id, 'cancellation', { reason: 'counted elsewhere' }, 'cancel-once');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ status: 'cancelled', cancelledWhile: 'ready' });
    expect(await stack.client.workflow.getHandle(rec.workflowId).result()).toEqual({ status: 'cancelled' });

    const again = await post(rec.id, 'cancellation', { reason: 'counted elsewhere' }, 'cancel-once');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await auditEvents(stack, rec.id, 'reconciliation_cancelled')).toHaveLength(1);
  });

  it('the key outlives continue-as-new: the repeat after the run rolled over gets the first result and applies nothing', async () => {
    const { stack, f } = t;
    const { record } = await createReconciliation(
      db(),
      {
        warehouse: 'CAN', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'none' },
        tolerance: { default: { quantity: { plus: 0.5, minus: 0.5 } } },
        blindCount: true, maxRecountRounds: 2, countDeadlineMinutes: null, managerApprovalLimit: 1e9,
      },
      'manager-1',
      undefined,
    );
    await stack.client.workflow.start(m.RECONCILIATION_WORKFLOW, {
      workflowId: record.workflowId,
      taskQueue: stack.taskQueue,
      args: [{ reconciliationId: record.id, countDeadlineMinutes: null, historyLimit: 60 } satisfies m.ReconciliationInput],
    });
    await f.waitFor(record.id, 'ready');
    await countAll(stack, f, record.id, ONE_MORE);
    const runId = async () => (await stack.client.workflow.getHandle(record.workflowId).describe()).runId;

    const candidates = await freshRows(record.id, 20);
    const keyed = candidates[0]!;
    const runBefore = await runId();
    const first = await post(record.id, 'approvals', { rowIds: [keyed] }, 'approve-across-runs');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // More decisions (without keys) until the history passes its limit and the run continues as new.
    for (const rowId of candidates.slice(1)) {
      if ((await runId()) !== runBefore) break;
      expect((await stack.http('POST', `/reconciliations/${record.id}/approvals`, { rowIds: [rowId] })).status).toBe(200);
    }
    await eventually(async () => ((await runId()) !== runBefore ? true : undefined), 'the run to continue as new');
    const approvedBefore = (await f.progress(record.id))!.rows.approved;

    const again = await post(record.id, 'approvals', { rowIds: [keyed] }, 'approve-across-runs');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await auditEvents(stack, record.id, 'row_approved')).filter((e) => e.subject === `row ${keyed}`)).toHaveLength(1);
    expect((await f.progress(record.id))!.rows.approved).toBe(approvedBefore);
    // The key still binds to its body in the new run.
    expectProblem(await post(record.id, 'approvals', { rowIds: [candidates[19]!] }, 'approve-across-runs'), 422, 'idempotency-key-reused');
  });
  it('a decision the step refused (release with rows To Approve, 409) can be retried with the same key once the rows are decided', async () => {
    const { stack, f } = t;
    const id = await reviewed();
    const refused = await post(id, 'release', undefined, 'release-when-ready');
    expectProblem(refused, 409, 'not-releasable', 'release with rows To Approve');
    expect(await records('release-when-ready')).toEqual([]);

    await f.decide(id, 'approvals', { filter: { approval: 'to_approve' } });
    // Nothing was applied or recorded under the key, so the same request may now be applied.
    const retry = await post(id, 'release', undefined, 'release-when-ready');
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body.rowsToPost).toBeGreaterThan(0);
    await f.waitFor(id, 'released', undefined, 60_000);
    expect(await auditEvents(stack, id, 'reconciliation_released')).toHaveLength(1);
  });
});
