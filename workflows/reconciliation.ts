import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import type { Activities } from '../activities';
import * as m from './messages';
import { completeOrder, initialState, progressOf, type ReconciliationState } from './reconciliation-state';

/** Bulk steps (snapshot, populate, order generation): retried until they succeed; they are idempotent. */
const bulk = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

/** A manager is waiting on the HTTP call: few retries, then the update fails and the caller is told. */
const decision = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 4 },
});

/** Posting heartbeats after every batch: a worker that dies mid-release is noticed within the heartbeat timeout. */
const posting = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

/** Past this many events the workflow continues as new, so a long review never grows an unbounded history. */
const DEFAULT_HISTORY_LIMIT = 5_000;

type Carried = { state: ReconciliationState };

export async function reconciliationWorkflow(input: m.ReconciliationInput & Partial<Carried>): Promise<{ status: m.ReconciliationStatus }> {
  const id = input.reconciliationId;
  const s = input.state ?? initialState();
  const limit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const shouldContinueAsNew = () => continueAsNewDue(limit);
  let busy = false;
  let changes = 0;
  const changed = () => changes++;

  setHandler(m.progressQuery, () => progressOf(id, s, workflowInfo().historyLength));
  setHandler(m.orderCompletedSignal, ({ countOrderId, round }) => {
    if (completeOrder(s, countOrderId, round)) changed();
  });

  /** One manager decision: the validator answers synchronously from workflow state, the handler does the I/O. */
  function decide<Args extends unknown[], R>(
    update: UpdateDefinition<R, Args>,
    allowed: m.ReconciliationStatus[],
    handler: (...args: NoInfer<Args>) => Promise<NoInfer<R>>,
    extraCheck?: (...args: NoInfer<Args>) => string | undefined,
  ): void {
    setHandler(update, async (...args: Args) => {
      busy = true;
      try {
        const result = await surfaceActivityFailure(() => handler(...args));
        s.rows = await bulk.rowCounts(id);
        return result;
      } finally {
        busy = false;
        changed();
      }
    }, {
      validator: (...args: Args) => {
        if (busy) throw new Error('another decision on this reconciliation is in progress; retry');
        if (!allowed.includes(s.status)) {
          throw new Error(`not allowed while the reconciliation is ${s.status} (allowed: ${allowed.join(', ')})`);
        }
        const problem = extraCheck?.(...args);
        if (problem) throw new Error(problem);
      },
    });
  }

  decide(m.startInitialCountUpdate, ['ready'], async (by) => {
    if (s.round !== -1) throw ApplicationFailure.nonRetryable('the initial count has already been started', 'InvalidState');
    const created = await bulk.createInitialCountOrders(id, by);
    startRound(created.round, created.countOrderIds);
    return { round: created.round, orders: created.orders, tasks: created.tasks };
  }, () => (s.round !== -1 ? 'the initial count has already been started' : undefined));

  decide(m.markForRecountUpdate, ['ready', 'review'], (sel) => decision.markForRecount(id, sel));

  decide(m.generateRecountOrderUpdate, ['ready', 'review'], async (by) => {
    const created = await bulk.createRecountOrder(id, Math.max(s.round, 0) + 1, by);
    startRound(created.round, created.countOrderIds);
    return { round: created.round, countOrderId: created.countOrderIds[0]!, tasks: created.tasks };
  }, () => (s.rows.markedForRecount === 0 ? 'no rows are marked for recount' : undefined));

  decide(m.approveRowsUpdate, ['review'], (sel) => decision.approveRows(id, sel));

  decide(m.deleteRowsUpdate, ['ready', 'review'], (sel) => decision.deleteRows(id, sel),
    (sel) => (sel.reason?.trim() ? undefined : 'a reason is required to delete rows'));

  decide(m.cancelUpdate, ['ready', 'counting', 'review'], async (by) => {
    await decision.cancelReconciliation(id, by);
    s.status = 'cancelled';
    return { status: 'cancelled' as const };
  }, (args) => (args.reason?.trim() ? undefined : 'a reason is required to cancel'));

  decide(m.releaseUpdate, ['review'], async (by) => {
    const result = await decision.prepareRelease(id, by);
    s.status = 'releasing';
    return result;
  });

  decide(m.retryFailedRowsUpdate, ['awaiting_failed_rows'], async (sel) => {
    const result = await decision.retryFailedRows(id, sel);
    s.status = 'releasing';
    return result;
  });

  decide(m.skipFailedRowsUpdate, ['awaiting_failed_rows'], async (sel) => {
    const result = await decision.skipFailedRows(id, sel);
    if (s.rows.failed - result.rows <= 0) s.status = 'releasing';
    return result;
  }, (sel) => (sel.reason?.trim() ? undefined : 'a reason is required to skip rows'));

  function startRound(round: number, orderIds: number[]): void {
    s.status = 'counting';
    s.round = round;
    s.roundStartedAt = Date.now();
    s.ordersOpen = [...orderIds];
    s.ordersComplete = [];
  }

  if (s.status === 'snapshotting') {
    await bulk.generateSnapshot(id);
    s.rows = await bulk.rowCounts(id);
    s.status = 'ready';
  }

  while (s.status !== 'cancelled' && s.status !== 'released') {
    if (s.status === 'releasing') {
      await release(id, s);
    } else if (s.status === 'counting') {
      const outcome = await awaitRound(id, s, input.countDeadlineMinutes, shouldContinueAsNew);
      if (outcome === 'complete' && s.status === 'counting') {
        s.status = 'populating';
        await bulk.populateCountedQuantities(id, s.round);
        // Counts first, status second: a progress query never sees 'review' with the previous round's counts.
        s.rows = await bulk.rowCounts(id);
        s.status = 'review';
      }
    } else {
      const seen = changes;
      await condition(() => changes !== seen || shouldContinueAsNew());
    }
    if (shouldContinueAsNew()) {
      // Decisions in flight finish first; the state they leave is what the next run starts from.
      await condition(allHandlersFinished);
      await continueAsNew<typeof reconciliationWorkflow>({ ...input, state: s });
    }
  }
  await condition(allHandlersFinished);
  return { status: s.status };
}

/**
 * Waits until every order of the round is complete. Past the deadline it
 * re-reads the orders (a completion whose signal was lost is complete in the
 * database) and, if some are still open, records one escalation and keeps
 * waiting: counts already made are never discarded.
 */
async function awaitRound(
  id: string,
  s: ReconciliationState,
  deadlineMinutes: number | null,
  shouldContinueAsNew: () => boolean,
): Promise<'complete' | 'continue-as-new'> {
  const done = () => s.ordersOpen.length === 0 || s.status !== 'counting';
  if (deadlineMinutes !== null && !s.escalatedRounds.includes(s.round)) {
    const remaining = s.roundStartedAt + deadlineMinutes * 60_000 - Date.now();
    const finished = await condition(() => done() || shouldContinueAsNew(), Math.max(remaining, 1));
    if (!finished) {
      const orders = await bulk.openOrders(id, s.round);
      for (const orderId of orders.complete) completeOrder(s, orderId, s.round);
      if (!done()) {
        await bulk.recordEscalation(id, s.round, s.ordersOpen);
        s.escalatedRounds.push(s.round);
      }
    }
  }
  await condition(() => done() || shouldContinueAsNew());
  return done() ? 'complete' : 'continue-as-new';
}

/**
 * Posts every pending row; rows that fail wait for the manager (retry or
 * skip) while the rest are already posted. Only a release with no failed row
 * left goes on to the ERP adjustment order.
 */
async function release(id: string, s: ReconciliationState): Promise<void> {
  const posted = await posting.postPendingRows(id);
  s.rows = await bulk.rowCounts(id);
  if (posted.failed > 0) {
    s.status = 'awaiting_failed_rows';
    return;
  }
  await bulk.createAdjustmentOrder(id);
  await bulk.closeRelease(id);
  s.rows = await bulk.rowCounts(id);
  s.status = 'released';
}

function continueAsNewDue(limit: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > limit;
}

/** Activity errors reach the update's caller as the activity's own ApplicationFailure (type and message). */
async function surfaceActivityFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ActivityFailure && e.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.nonRetryable(e.cause.message, e.cause.type, ...(e.cause.details ?? []));
    }
    if (e instanceof ApplicationFailure) throw e;
    throw ApplicationFailure.nonRetryable(e instanceof Error ? e.message : String(e), 'DecisionFailed');
  }
}
