import { randomBytes } from 'node:crypto';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { one, sql } from '../db/sql';
import { signDecision } from '../domain/decision-signature';
import * as m from '../workflows/messages';
import { countAll, ONE_MORE } from './support/counting';
import { changedTables, dbFingerprint } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { auditEvents, storedStatus } from './support/problem-checks';
import { executeSigned, testDecisionKey } from './support/signed';
import { useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * Whoever reaches the Temporal frontend can send Updates and Signals to a
 * reconciliation's workflow, naming any user and role. Decisions count only
 * when the API signed them: an unsigned, forged, misdirected, altered or
 * stale one is refused by the validator, so it never enters history and
 * changes nothing. A completion signal counts only when the database agrees.
 */
type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
type Approval = m.RowSelection & m.DecisionBy;

describe('forged decisions and signals', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm, 'W1');
    await smallWarehouse(stack.db.orm, 'W2');
    await smallWarehouse(stack.db.orm, 'W3');
  });
  const db = () => t.stack.db.orm.em.fork();

  let inReview: Promise<{ id: string; workflowId: string; overLimit: number; otherOverLimit: number }> | undefined;
  /**
   * W1 in review, every row one more than expected and To Approve; a manager
   * may approve up to 5, so P1@A-01 (10) and BOX@A-01 (30) need a senior manager.
   */
  const review = () =>
    (inReview ??= (async () => {
      const { stack, f } = t;
      const rec = await f.create({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: {} }, managerApprovalLimit: 5 });
      await f.waitFor(rec.id, 'ready');
      await countAll(stack, f, rec.id, ONE_MORE);
      const overLimit = await f.row(rec.id, 'P1', 'A-01');
      const otherOverLimit = await f.row(rec.id, 'BOX', 'A-01');
      expect(overLimit).toMatchObject({ approval: 'to_approve', varianceValue: 10 });
      expect(otherOverLimit).toMatchObject({ approval: 'to_approve', varianceValue: 30 });
      // The limit is real: the same approval by a manager through the API is refused.
      const byManager = await stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [overLimit.id] });
      expect(byManager.status, JSON.stringify(byManager.body)).toBe(403);
      return { id: rec.id, workflowId: rec.workflowId, overLimit: overLimit.id as number, otherOverLimit: otherOverLimit.id as number };
    })());

  const handleOf = (workflowId: string) => t.stack.client.workflow.getHandle(workflowId);
  const history = async (workflowId: string): Promise<HistoryEvent[]> => (await handleOf(workflowId).fetchHistory()).events ?? [];
  const acceptedUpdates = async (workflowId: string) => (await history(workflowId)).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
  const approvalOf = async (rowId: number) =>
    (await one(db(), sql<{ approval: string; approvedBy: string | null }>`
      select approval, approved_by as "approvedBy" from reconciliation_row where id = ${rowId}`))!;

  /** What a senior manager's approval of the row looks like, unsigned. */
  const claim = (rowId: number): Approval => ({ rowIds: [rowId], user: 'senior-1', role: 'senior_manager' });
  const sign = (workflowId: string, update: string, args: unknown, issuedAt = Date.now(), key = testDecisionKey()) =>
    signDecision(key, { workflowId, update, args, issuedAt });

  /**
   * Sends the update straight to the workflow and proves it was refused as
   * unsigned, before acceptance: no UpdateAccepted event, the row still To
   * Approve, not one row written anywhere (no audit event either).
   */
  async function expectRefusedAsUnsigned(forged: Approval, reason: RegExp) {
    const { id, workflowId, overLimit } = await review();
    const accepted = await acceptedUpdates(workflowId);
    const before = await dbFingerprint(t.stack.db.orm);
    const error = await handleOf(workflowId).executeUpdate(m.approveRowsUpdate, { args: [forged] }).then(
      (r) => { throw new Error(`the forged approval was applied: ${JSON.stringify(r)}`); },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (error as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('UnsignedDecision');
    expect((cause as ApplicationFailure).message).toMatch(reason);
    expect(await acceptedUpdates(workflowId)).toBe(accepted);
    expect(await approvalOf(overLimit)).toEqual({ approval: 'to_approve', approvedBy: null });
    expect(await auditEvents(t.stack, id, 'row_approved')).toEqual([]);
    expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
    expect((await t.f.progress(id))!.status).toBe('review');
  }

  it('an unsigned approval claiming to be a senior manager is refused before it is accepted', async () => {
    const { overLimit } = await review();
    await expectRefusedAsUnsigned(claim(overLimit), /not signed/);
  });

  it('an approval signed with another key is refused before it is accepted', async () => {
    const { workflowId, overLimit } = await review();
    const args = claim(overLimit);
    await expectRefusedAsUnsigned({ ...args, signature: sign(workflowId, 'approveRows', args, Date.now(), randomBytes(32)) }, /does not match/);
  });

  it('an approval signed for another workflow is refused before it is accepted', async () => {
    const { workflowId, overLimit } = await review();
    const args = claim(overLimit);
    await expectRefusedAsUnsigned({ ...args, signature: sign(`${workflowId}-other`, 'approveRows', args) }, /does not match/);
  });

  it('a signature made for another update (deleteRows) does not pass as an approval', async () => {
    const { workflowId, overLimit } = await review();
    const args = claim(overLimit);
    await expectRefusedAsUnsigned({ ...args, signature: sign(workflowId, 'deleteRows', args) }, /does not match/);
  });

  it('an approval whose rows were changed after signing is refused before it is accepted', async () => {
    const { workflowId, overLimit, otherOverLimit } = await review();
    const signature = sign(workflowId, 'approveRows', claim(otherOverLimit));
    await expectRefusedAsUnsigned({ ...claim(overLimit), signature }, /does not match/);
  });

  it("a manager's signed approval raised to senior manager after signing is refused before it is accepted", async () => {
    const { workflowId, overLimit } = await review();
    const asManager: Approval = { rowIds: [overLimit], user: 'manager-1', role: 'manager' };
    const signature = sign(workflowId, 'approveRows', asManager);
    await expectRefusedAsUnsigned({ ...asManager, role: 'senior_manager', signature }, /does not match/);
  });

  it('a correctly signed approval issued 10 minutes ago has expired and is refused before it is accepted', async () => {
    const { workflowId, overLimit } = await review();
    const args = claim(overLimit);
    await expectRefusedAsUnsigned({ ...args, signature: sign(workflowId, 'approveRows', args, Date.now() - 10 * 60_000) }, /expired/);
  });

  it('a correctly signed approval dated 10 minutes ahead is refused before it is accepted', async () => {
    const { workflowId, overLimit } = await review();
    const args = claim(overLimit);
    await expectRefusedAsUnsigned({ ...args, signature: sign(workflowId, 'approveRows', args, Date.now() + 10 * 60_000) }, /future/);
  });

  it('the same approval, signed with the key, is applied when sent straight to the workflow (the refusals were the signature)', async () => {
    const { id, workflowId, otherOverLimit } = await review();
    const accepted = await acceptedUpdates(workflowId);
    expect(await executeSigned(handleOf(workflowId), m.approveRowsUpdate, claim(otherOverLimit))).toEqual({ rows: 1 });
    expect(await acceptedUpdates(workflowId)).toBe(accepted + 1);
    expect(await approvalOf(otherOverLimit)).toEqual({ approval: 'approved', approvedBy: 'senior-1' });
    expect((await auditEvents(t.stack, id, 'row_approved')).map((e) => e.subject)).toEqual([`row ${otherOverLimit}`]);
  });

  it('the approval through the API by a senior manager is applied', async () => {
    const { stack } = t;
    const { id, workflowId, overLimit } = await review();
    const accepted = await acceptedUpdates(workflowId);
    const res = await stack.http('POST', `/reconciliations/${id}/approvals`, { rowIds: [overLimit] }, { 'x-as': 'senior-1' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ rows: 1 });
    expect(await acceptedUpdates(workflowId)).toBe(accepted + 1);
    expect(await approvalOf(overLimit)).toEqual({ approval: 'approved', approvedBy: 'senior-1' });
    const events = (await auditEvents(t.stack, id, 'row_approved')).filter((e) => e.subject === `row ${overLimit}`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'senior-1', after: { approval: 'approved', role: 'senior_manager' } });
  });

  /** A reconciliation counting in round 0 with its orders open, split as asked. */
  const countingIn = async (warehouse: string, split: 'none' | 'by_zone') => {
    const { f } = t;
    const rec = await f.create({ warehouse, scope: { kind: 'warehouse' }, splitPolicy: { kind: split }, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    await f.decide(rec.id, 'initial-count');
    return { id: rec.id, workflowId: rec.workflowId, orders: (await f.orders(rec.id, 0)).map((o) => o.id) };
  };

  /** Events after the index, of the kinds asked. */
  const after = (events: HistoryEvent[], index: number, has: (e: HistoryEvent) => unknown) => events.slice(index + 1).filter((e) => has(e));
  const openOrders = async (reconciliationId: string) =>
    (await one(db(), sql<{ n: number }>`select count(*)::int as n from count_order where reconciliation_id = ${reconciliationId} and status = 'open'`))!.n;

  it('a forged completion signal for the last open order does not close the round: the workflow reads the order back, still open', async () => {
    const { id, workflowId, orders } = await countingIn('W2', 'none');
    expect(orders).toHaveLength(1);
    await handleOf(workflowId).signal(m.orderCompletedSignal, { countOrderId: orders[0]!, round: 0 });
    // Processed: after the signal, the workflow asked the database for the round's orders and finished the task that got the answer.
    await eventually(async () => {
      const events = await history(workflowId);
      const signalled = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
      if (signalled < 0) return undefined;
      const read = events.findIndex((e, i) => i > signalled && e.activityTaskScheduledEventAttributes?.activityType?.name === 'roundOrders');
      if (read < 0 || after(events, read, (e) => e.activityTaskCompletedEventAttributes).length === 0) return undefined;
      const completed = events.findIndex((e, i) => i > read && e.activityTaskCompletedEventAttributes);
      return after(events, completed, (e) => e.workflowTaskCompletedEventAttributes).length > 0 ? true : undefined;
    }, 'the workflow to read the round back after the forged signal', 20_000);
    const progress = (await t.f.progress(id))!;
    expect(progress).toMatchObject({ status: 'counting', round: 0, ordersOpen: 1, ordersComplete: 0 });
    expect(await openOrders(id)).toBe(1);
    expect((await storedStatus(t.stack, id)).status).toBe('counting');
    const statuses = await one(db(), sql<{ list: string[] }>`select array_agg(status order by seq) as list from status_transition where reconciliation_id = ${id}`);
    expect(statuses!.list.at(-1)).toBe('counting');
    expect(statuses!.list).not.toContain('populating');

    // The genuine completion still closes the round.
    await t.f.complete(orders[0]!);
    await t.f.waitFor(id, 'review', 0);
  });

  it('a forged completion signal for one of two open orders leaves the order counted as open in the progress', async () => {
    const { id, workflowId, orders } = await countingIn('W3', 'by_zone');
    expect(orders).toHaveLength(2);
    await handleOf(workflowId).signal(m.orderCompletedSignal, { countOrderId: orders[0]!, round: 0 });
    await eventually(async () => {
      const events = await history(workflowId);
      const signalled = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
      return signalled >= 0 && after(events, signalled, (e) => e.workflowTaskCompletedEventAttributes).length > 0 ? true : undefined;
    }, 'the workflow to process the forged signal', 20_000);
    expect(await openOrders(id)).toBe(2);
    expect((await storedStatus(t.stack, id)).status).toBe('counting');
    // The workflow's own count of open orders is what GET /reconciliations/{id} shows: it must still agree with the database.
    expect((await t.f.progress(id))!).toMatchObject({ status: 'counting', ordersOpen: 2, ordersComplete: 0 });
  });
});
