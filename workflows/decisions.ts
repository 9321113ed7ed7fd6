import { ApplicationFailure, setHandler, workflowInfo } from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import type { Mutex } from 'async-mutex';
import { statusRefusal, type Decision, type ReconciliationStatus, type Transition } from '../domain/reconciliation-status';
import type { RowCounts } from './messages';
import * as m from './messages';
import { bookkeeping, decisions } from './activity-options';
import { verifyDecision } from '../domain/decision-signature';
import { decisionKey } from './decision-key';
import { asDecisionFailure } from './failures';
import { startRound, type ReconciliationState } from './reconciliation-state';
import type { RunningStep } from './running-step';

export interface DecisionContext {
  id: string;
  s: ReconciliationState;
  /** One decision or step at a time: parallel decisions queue here and are applied one after another. */
  lock: Mutex;
  step: RunningStep;
  next(to: ReconciliationStatus): Transition;
  enter(t: Transition, rows: RowCounts): void;
  queued: { n: number };
}

/**
 * The manager's decisions, as Updates. The validator answers at once from
 * the workflow's state (a refused decision leaves no trace in history); an
 * accepted decision waits for the lock, checks again (the state may have
 * moved while it waited) and then does its work in one activity.
 */
export function registerDecisions(ctx: DecisionContext): void {
  const { id, s } = ctx;
  const byOf = (a: m.DecisionBy) => ({ user: a.user, role: a.role });
  const common = (a: m.DecisionBy, operation: string) => ({
    reconciliationId: id,
    by: byOf(a),
    ...(a.request ? { request: { ...a.request, operation } } : {}),
  });

  function decide<A extends m.DecisionBy, R>(
    update: UpdateDefinition<R, [A]>,
    decision: Decision,
    run: (arg: A) => Promise<R>,
    check: (arg: A) => string | undefined = () => undefined,
  ): void {
    const refusal = (arg: A) => {
      const problem = statusRefusal(decision, s.status) ?? check(arg);
      if (problem) throw ApplicationFailure.nonRetryable(problem, 'InvalidState');
    };
    setHandler(
      update,
      async (arg: A) => {
        ctx.queued.n++;
        const release = await ctx.lock.acquire();
        ctx.queued.n--;
        try {
          refusal(arg);
          return await asDecisionFailure(() => run(arg));
        } finally {
          release();
        }
      },
      {
        validator: (arg: A) => {
          refuseUnsigned(update.name, arg);
          refusal(arg);
        },
      },
    );
  }

  decide(m.startInitialCountUpdate, 'startInitialCount', async (a) => {
    const t = ctx.next('counting');
    const r = await decisions.createInitialCountOrders({ ...common(a, 'startInitialCount'), transition: t });
    startRound(s, 0, r.outcome.countOrderIds, Date.now());
    ctx.enter(t, r.rows);
    return { round: r.outcome.round, orders: r.outcome.orders, tasks: r.outcome.tasks };
  }, () => (s.round !== -1 ? 'the initial count has already been started' : undefined));

  decide(m.markForRecountUpdate, 'markForRecount', async (a) => {
    const r = await decisions.markForRecount({ ...common(a, 'markForRecount'), selection: selectionOf(a) });
    s.rows = r.rows;
    return r.outcome;
  });

  decide(m.generateRecountOrderUpdate, 'generateRecountOrder', async (a) => {
    const t = ctx.next('counting');
    const round = Math.max(s.round, 0) + 1;
    const r = await decisions.createRecountOrder({ ...common(a, 'generateRecountOrder'), round, transition: t });
    startRound(s, round, r.outcome.countOrderIds, Date.now());
    ctx.enter(t, r.rows);
    return { round, countOrderId: r.outcome.countOrderIds[0]!, tasks: r.outcome.tasks };
  }, () => (s.rows.markedForRecount === 0 ? 'no rows are marked for recount' : undefined));

  decide(m.approveRowsUpdate, 'approveRows', async (a) => {
    const r = await decisions.approveRows({ ...common(a, 'approveRows'), selection: selectionOf(a) });
    s.rows = r.rows;
    return r.outcome;
  });

  decide(m.deleteRowsUpdate, 'deleteRows', async (a) => {
    const r = await decisions.deleteRows({ ...common(a, 'deleteRows'), selection: selectionOf(a), reason: a.reason });
    s.rows = r.rows;
    return r.outcome;
  }, (a) => (a.reason?.trim() ? undefined : 'a reason is required to delete rows'));

  decide(m.releaseUpdate, 'release', async (a) => {
    const t = ctx.next('releasing');
    const r = await decisions.prepareRelease({ ...common(a, 'release'), transition: t });
    ctx.enter(t, r.rows);
    return r.outcome;
  });

  decide(m.retryFailedRowsUpdate, 'retryFailedRows', async (a) => {
    const t = ctx.next('releasing');
    const r = await decisions.retryFailedRows({ ...common(a, 'retryFailedRows'), selection: selectionOf(a), transition: t });
    ctx.enter(t, r.rows);
    return r.outcome;
  });

  decide(m.skipFailedRowsUpdate, 'skipFailedRows', async (a) => {
    // Releasing again posts nothing new but settles the release: done when no failed row is left, waiting again otherwise.
    const t = ctx.next('releasing');
    const r = await decisions.skipFailedRows({ ...common(a, 'skipFailedRows'), selection: selectionOf(a), reason: a.reason, transition: t });
    ctx.enter(t, r.rows);
    return r.outcome;
  }, (a) => (a.reason?.trim() ? undefined : 'a reason is required to skip rows'));

  decide(m.retryStepUpdate, 'retryStep', async (a) => {
    const t = ctx.next(s.failure!.resume);
    const rows = await bookkeeping.recordTransition({ reconciliationId: id, transition: t, by: byOf(a), action: 'step_retried' });
    s.failure = null;
    ctx.enter(t, rows);
    return { status: t.to };
  });

  // Cancel stops a running step first (snapshot, populate, posting between batches), then waits for the lock.
  setHandler(
    m.cancelUpdate,
    async (a) => {
      ctx.step.cancel();
      ctx.queued.n++;
      const release = await ctx.lock.acquire();
      ctx.queued.n--;
      try {
        cancelRefusal(a);
        const t = ctx.next('cancelled');
        const r = await asDecisionFailure(() => decisions.cancelReconciliation({ ...common(a, 'cancel'), reason: a.reason, transition: t }));
        ctx.enter(t, r.rows);
        return r.outcome;
      } catch (e) {
        ctx.step.resume();
        throw e;
      } finally {
        release();
      }
    },
    {
      validator: (a) => {
        refuseUnsigned(m.cancelUpdate.name, a);
        cancelRefusal(a);
      },
    },
  );
  function cancelRefusal(a: m.DecisionBy & { reason: string }): void {
    const problem = statusRefusal('cancel', s.status) ?? (a.reason?.trim() ? undefined : 'a reason is required to cancel');
    if (problem) throw ApplicationFailure.nonRetryable(problem, 'InvalidState');
  }
}

/**
 * Only the API, which authenticated the caller, can sign a decision: one sent
 * straight to the Temporal frontend, with any user and role in it, is refused
 * here, before it is accepted, so it leaves no trace in history.
 */
function refuseUnsigned(update: string, arg: unknown): void {
  const key = decisionKey();
  const problem = key
    ? verifyDecision(key, { workflowId: workflowInfo().workflowId, update, args: arg }, Date.now())
    : 'this worker has no decision key and accepts no decision';
  if (problem) throw ApplicationFailure.nonRetryable(`decision refused: ${problem}`, 'UnsignedDecision');
}

function selectionOf(a: m.RowSelection): m.RowSelection {
  return { ...(a.rowIds ? { rowIds: a.rowIds } : {}), ...(a.filter ? { filter: a.filter } : {}) };
}
