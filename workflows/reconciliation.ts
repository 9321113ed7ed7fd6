import { allHandlersFinished, condition, continueAsNew, isCancellation, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';
import { isTerminal, type ReconciliationStatus, type Step, type Transition } from '../domain/reconciliation-status';
import * as m from './messages';
import { bookkeeping, steps } from './activity-options';
import { registerDecisions } from './decisions';
import { reasonOf } from './failures';
import { completeOrder, initialState, progressOf, type ReconciliationState } from './reconciliation-state';
import { RunningStep } from './running-step';

/** Past this many events the workflow continues as new, so a long review never grows an unbounded history. */
const DEFAULT_HISTORY_LIMIT = 5_000;
/** Patch: runs started before it counted a signalled order complete at once; newer runs read the orders back on a signal. */
const COMPLETIONS_READ_FROM_DATABASE = 'completions-read-from-database';
/** Patch: runs started before it populate on the signals alone; newer runs first read the round's orders back. */
const ROUND_CONFIRMED_BEFORE_POPULATE = 'round-confirmed-before-populate';
/**
 * Patch: runs started before it read the round's orders back once more before populating, even when the
 * read that ended the wait had just found every order complete; newer runs trust that read (one activity less per round).
 */
const ROUND_READ_ONCE = 'round-read-once';
/** While counting, the orders are re-read this often: a completion whose signal was lost is picked up from the database. */
const ROUND_SWEEP_MS = 60 * 60_000;

/** What continue-as-new carries: the state, and whether a completion signal was still to be looked into. */
type Carried = { state: ReconciliationState; recheckDue?: boolean };

/**
 * One reconciliation, from snapshot to release or cancel. The workflow is
 * the only owner of the status: it decides every transition and the
 * activity that does the step's work persists it in the same transaction.
 * Steps and decisions take one lock, so they apply one after another; a
 * cancel stops a running step first. A step that fails for good leaves the
 * reconciliation in `step_failed`, where the manager retries or cancels.
 */
export async function reconciliationWorkflow(input: m.ReconciliationInput & Partial<Carried>): Promise<{ status: ReconciliationStatus }> {
  const id = input.reconciliationId;
  const s = input.state ?? initialState();
  const limit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const lock = new Mutex();
  const step = new RunningStep();
  const queued = { n: 0 };
  const continueAsNewDue = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > limit;

  const next = (to: ReconciliationStatus): Transition => ({ seq: ++s.statusSeq, to });
  const enter = (t: Transition, rows: m.RowCounts) => {
    s.status = t.to;
    s.rows = rows;
  };

  setHandler(m.progressQuery, () => progressOf(id, s, workflowInfo().historyLength, queued.n));
  // A completion signal is a hint to look: the round's orders are read back from the database, which is the truth.
  const recheck = { due: input.recheckDue ?? false };
  setHandler(m.orderCompletedSignal, ({ countOrderId, round }) => {
    if (patched(COMPLETIONS_READ_FROM_DATABASE)) recheck.due = true;
    else completeOrder(s, countOrderId, round);
  });
  registerDecisions({ id, s, lock, step, next, enter, queued });

  /** Runs a bulk step; a cancel stops it, a failure that outlived its retries parks the reconciliation in step_failed. */
  async function runStep(name: Step, work: () => Promise<void>): Promise<void> {
    const resume = s.status;
    try {
      await step.run(work);
    } catch (e) {
      if (step.cancelling || isCancellation(e)) return;
      const reason = reasonOf(e).message;
      const t = next('step_failed');
      const rows = await bookkeeping.recordTransition({
        reconciliationId: id,
        transition: t,
        failure: { step: name, resume, reason, at: new Date().toISOString() },
      });
      s.failure = { step: name, resume, reason };
      enter(t, rows);
    }
  }

  async function snapshot(): Promise<void> {
    await runStep('snapshot', async () => {
      const t = next('ready');
      const r = await steps.generateSnapshot({ reconciliationId: id, transition: t });
      enter(t, r.rows);
    });
  }

  /** `confirmedByRead`: the read of the round's orders that ended the wait found them all complete. */
  async function populate(confirmedByRead = false): Promise<void> {
    await runStep('populate', async () => {
      if (s.status === 'counting') {
        // A completion signal is believed once the database agrees: a stray or forged one cannot close a round.
        const confirmed = confirmedByRead && patched(ROUND_READ_ONCE);
        if (!confirmed && patched(ROUND_CONFIRMED_BEFORE_POPULATE)) {
          const orders = await bookkeeping.roundOrders({ reconciliationId: id, round: s.round });
          if (orders.open.length > 0) {
            s.ordersOpen = orders.open;
            s.ordersComplete = orders.complete;
            return;
          }
        }
        const t = next('populating');
        enter(t, await bookkeeping.recordTransition({ reconciliationId: id, transition: t }));
      }
      const t = next('review');
      const r = await steps.populateCountedQuantities({ reconciliationId: id, round: s.round, transition: t });
      enter(t, r.rows);
    });
  }

  /** Posts every pending row; rows that fail wait for the manager while the rest are posted. */
  async function release(): Promise<void> {
    await runStep('release', async () => {
      const posted = await steps.postPendingRows({ reconciliationId: id });
      if (posted.failed > 0) {
        const t = next('awaiting_failed_rows');
        enter(t, await bookkeeping.recordTransition({ reconciliationId: id, transition: t }));
        return;
      }
      const t = next('released');
      const r = await steps.finishRelease({ reconciliationId: id, transition: t });
      enter(t, r.rows);
    });
  }

  while (!isTerminal(s.status)) {
    if (s.status === 'counting') {
      const confirmedByRead = await awaitRound(id, s, input.countDeadlineMinutes, continueAsNewDue, recheck);
      // Re-checked under the lock: a cancel or continue-as-new may have come first.
      await lock.runExclusive(async () => {
        if (s.status === 'counting' && s.ordersOpen.length === 0) await populate(confirmedByRead);
      });
    } else if (s.status === 'snapshotting' || s.status === 'populating' || s.status === 'releasing') {
      const at = s.status;
      await lock.runExclusive(async () => {
        if (s.status !== at) return;
        if (at === 'snapshotting') await snapshot();
        else if (at === 'populating') await populate();
        else await release();
      });
    } else {
      const at = s.status;
      await condition(() => s.status !== at || continueAsNewDue());
    }
    if (continueAsNewDue() && !isTerminal(s.status)) {
      // Decisions accepted or queued finish first; the state they leave is what the next run starts from.
      await condition(() => allHandlersFinished() && !lock.isLocked());
      await continueAsNew<typeof reconciliationWorkflow>({ ...input, state: s, recheckDue: recheck.due });
    }
  }
  await condition(allHandlersFinished);
  return { status: s.status };
}

/**
 * Waits until every order of the round is complete. The orders are re-read
 * from the database now and then (a completion whose signal was lost is
 * complete there) and at the deadline, when one escalation is recorded if
 * orders are still open; counts already made are never discarded. True when
 * the last thing it did was such a read, and the read found no order open.
 */
async function awaitRound(
  id: string,
  s: ReconciliationState,
  deadlineMinutes: number | null,
  continueAsNewDue: () => boolean,
  recheck: { due: boolean },
): Promise<boolean> {
  let confirmedByRead = false;
  const counting = () => s.status === 'counting' && s.ordersOpen.length > 0;
  const deadlineAt = () => (deadlineMinutes === null ? undefined : s.roundStartedAt + deadlineMinutes * 60_000);
  while (counting() && !continueAsNewDue()) {
    const deadline = deadlineAt();
    const escalated = s.escalatedRounds.includes(s.round);
    const wake = deadline === undefined || escalated ? ROUND_SWEEP_MS : Math.min(Math.max(deadline - Date.now(), 1), ROUND_SWEEP_MS);
    const woke = await condition(() => !counting() || continueAsNewDue() || recheck.due, wake);
    if (woke && !recheck.due) return false;
    // Signals that arrive while the orders are read are covered by this read or trigger the next one.
    recheck.due = false;
    const round = s.round;
    const orders = await bookkeeping.roundOrders({ reconciliationId: id, round });
    for (const orderId of orders.complete) completeOrder(s, orderId, round);
    confirmedByRead = s.round === round && s.ordersOpen.length === 0;
    const due = deadlineAt();
    if (counting() && s.round === round && due !== undefined && Date.now() >= due && !s.escalatedRounds.includes(round)) {
      s.escalatedRounds.push(round);
      await bookkeeping.recordEscalation({ reconciliationId: id, round, openOrderIds: [...s.ordersOpen] });
    }
  }
  return confirmedByRead;
}
