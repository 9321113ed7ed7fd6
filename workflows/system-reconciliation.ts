import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
  ActivityCancellationType,
} from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import { Mutex } from 'async-mutex';
import { verifyDecision } from '../domain/decision-signature';
import { isSystemTerminal, systemStatusRefusal, type SystemDecision, type SystemStatus, type SystemStep, type SystemTransition } from '../domain/system-status';
import type { Activities } from '../activities';
import type * as m from './messages';
import * as sm from './system-messages';
import { decisionKey } from './decision-key';
import { asDecisionFailure, reasonOf } from './failures';
import { RunningStep } from './running-step';

const steps = proxyActivities<Activities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 25 },
});
const decisions = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5 },
});
const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

interface State {
  runId: string;
  status: SystemStatus;
  statusSeq: number;
  received: string[];
  sources: string[];
  summary: Record<string, unknown> | null;
  failure: { step: SystemStep; resume: SystemStatus; reason: string } | null;
  processing: { reconciliationId: string; by: string } | null;
}

/**
 * One system reconciliation (seed 000): request the levels of both sources
 * (the book's and a pulled system's are fetched; a pushed system's arrive
 * and are signalled), wait for them until the deadline, compare, then the
 * manager's review of the reconciliation order: delete, refresh, approve,
 * process (through the count release's postings), close. The workflow owns
 * the run's status; decisions queue on one lock, and a cancel stops a
 * running step first.
 */
export async function systemReconciliationWorkflow(input: sm.SystemReconciliationInput): Promise<{ status: SystemStatus }> {
  const lock = new Mutex();
  const step = new RunningStep();
  const queued = { n: 0 };
  const deadlineMinutes = input.levelsDeadlineMinutes;
  const runId = input.systemReconciliationId;
  const s: State = { runId, status: 'requesting', statusSeq: 0, received: [], sources: [], summary: null, failure: null, processing: null };
  const next = (to: SystemStatus): SystemTransition => ({ seq: ++s.statusSeq, to });
  const recheck = { due: true };

  setHandler(sm.systemProgressQuery, () => ({
    systemReconciliationId: runId,
    status: s.status,
    received: s.received,
    waitingFor: s.sources.filter((x) => !s.received.includes(x)),
    summary: s.summary,
    failure: s.failure ? { step: s.failure.step, reason: s.failure.reason } : null,
    processingReconciliationId: s.processing?.reconciliationId ?? null,
    decisionsQueued: queued.n,
  }));
  // A hint to look: which sources are in is read back from the database.
  setHandler(sm.levelsReceivedSignal, () => {
    recheck.due = true;
  });

  function decide<A extends m.DecisionBy, R>(update: UpdateDefinition<R, [A]>, decision: SystemDecision, run: (a: A) => Promise<R>, check: (a: A) => string | undefined = () => undefined): void {
    const refusal = (a: A) => {
      const problem = systemStatusRefusal(decision, s.status) ?? check(a);
      if (problem) throw ApplicationFailure.nonRetryable(problem, 'InvalidState');
    };
    setHandler(update, async (a: A) => {
      if (decision === 'cancel') step.cancel();
      queued.n++;
      const release = await lock.acquire();
      queued.n--;
      try {
        refusal(a);
        return await asDecisionFailure(() => run(a));
      } catch (e) {
        if (decision === 'cancel') step.resume();
        throw e;
      } finally {
        release();
      }
    }, {
      validator: (a: A) => {
        refuseUnsigned(update.name, a);
        refusal(a);
      },
    });
  }
  const by = (a: m.DecisionBy) => ({ user: a.user, role: a.role });
  const common = (a: m.DecisionBy, operation: string) => ({ runId, by: by(a), ...(a.request ? { request: { ...a.request, operation } } : {}) });
  const lines = (a: sm.LinesSelection) => (Array.isArray(a.lines) && a.lines.length > 0 ? undefined : 'name the lines');

  decide(sm.deleteLinesUpdate, 'deleteLines', (a) => decisions.deleteSystemLines({ ...common(a, 'deleteLines'), lines: a.lines, reason: a.reason }),
    (a) => lines(a) ?? (a.reason?.trim() ? undefined : 'a reason is required to delete lines'));
  decide(sm.refreshLinesUpdate, 'refreshLines', (a) => decisions.refreshSystemLines({ ...common(a, 'refreshLines'), lines: a.lines }), lines);
  decide(sm.approveLinesUpdate, 'approveLines', (a) => decisions.approveSystemLines({ ...common(a, 'approveLines'), lines: a.lines }), lines);
  decide(sm.processLinesUpdate, 'processLines', async (a) => {
    const t = next('processing');
    const plan = await decisions.startProcessing({ ...common(a, 'processLines'), lines: a.lines, transition: t });
    s.status = t.to;
    s.processing = { reconciliationId: plan.reconciliationId, by: a.user };
    return plan;
  }, lines);
  decide(sm.closeUpdate, 'close', async (a) => {
    const t = next('closed');
    const r = await decisions.closeRun({ ...common(a, 'close'), transition: t });
    s.status = t.to;
    return r;
  });
  decide(sm.systemRetryStepUpdate, 'retryStep', async (a) => {
    const t = next(s.failure!.resume);
    await bookkeeping.systemTransition({ runId, transition: t, by: a.user, action: 'system_step_retried' });
    s.failure = null;
    s.status = t.to;
    return { status: t.to };
  });
  decide(sm.systemCancelUpdate, 'cancel', async (a) => {
    const t = next('cancelled');
    const r = await decisions.cancelRun({ ...common(a, 'cancel'), reason: a.reason, transition: t });
    s.status = t.to;
    s.processing = null;
    return r;
  }, (a) => (a.reason?.trim() ? undefined : 'a reason is required to cancel'));

  async function runStep(name: SystemStep, work: () => Promise<void>): Promise<void> {
    const resume = s.status;
    try {
      await step.run(work);
    } catch (e) {
      if (step.cancelling || isCancellation(e)) return;
      const reason = reasonOf(e).message;
      const t = next('step_failed');
      await bookkeeping.systemTransition({ runId, transition: t, failure: { step: name, resume, reason, at: new Date().toISOString() } });
      s.failure = { step: name, resume, reason };
      s.status = t.to;
    }
  }

  /** Initiate: fetch what Stocktake fetches itself, then wait for pushed levels until the deadline. */
  async function requestLevels(): Promise<void> {
    const startedAt = Date.now();
    await runStep('levels', async () => {
      const situation = await bookkeeping.levelsSituation({ runId });
      s.sources = situation.sources;
      s.received = situation.received;
      for (const source of situation.sources) {
        const mode = situation.modes[source]!;
        if (mode !== 'pushed' && !s.received.includes(source)) {
          await steps.fetchLevels({ runId, source, mode });
          s.received = [...s.received, source];
        }
      }
    });
    const deadline = startedAt + deadlineMinutes * 60_000;
    while (s.status === 'requesting' && s.received.length < s.sources.length) {
      const woke = await condition(() => recheck.due || s.status !== 'requesting', Math.max(deadline - Date.now(), 1));
      if (s.status !== 'requesting') return;
      recheck.due = false;
      s.received = (await bookkeeping.levelsSituation({ runId })).received;
      if (!woke && s.received.length < s.sources.length) {
        await lock.runExclusive(async () => {
          if (s.status !== 'requesting') return;
          const missing = s.sources.filter((x) => !s.received.includes(x));
          const t = next('no_answer');
          const reason = `${missing.join(' and ')} did not send levels within ${deadlineMinutes} minutes`;
          await bookkeeping.systemTransition({ runId, transition: t, failure: { step: 'levels', resume: 'requesting', reason, at: new Date().toISOString() } });
          s.failure = { step: 'levels', resume: 'requesting', reason };
          s.status = t.to;
        });
      }
    }
    if (s.status === 'requesting') {
      await lock.runExclusive(async () => {
        if (s.status !== 'requesting') return;
        const t = next('comparing');
        await bookkeeping.systemTransition({ runId, transition: t });
        s.status = t.to;
      });
    }
  }

  async function compare(): Promise<void> {
    await runStep('compare', async () => {
      const t = next('review');
      const result = await steps.compareRun({ runId, transition: t });
      s.summary = result as unknown as Record<string, unknown>;
      s.status = result.differences === 0 ? 'matched' : 'review';
    });
  }

  async function process(): Promise<void> {
    const p = s.processing!;
    await runStep('process', async () => {
      await steps.postProcessing({ runId, reconciliationId: p.reconciliationId });
      const t = next('review');
      await steps.finishSystemProcessing({ runId, reconciliationId: p.reconciliationId, actor: p.by, transition: t });
      s.status = t.to;
      s.processing = null;
    });
  }

  while (!isSystemTerminal(s.status)) {
    const at = s.status;
    if (at === 'requesting') await requestLevels();
    else if (at === 'comparing') await lock.runExclusive(async () => (s.status === 'comparing' ? compare() : undefined));
    else if (at === 'processing') await lock.runExclusive(async () => (s.status === 'processing' ? process() : undefined));
    else await condition(() => s.status !== at);
  }
  await condition(allHandlersFinished);
  return { status: s.status };
}

function refuseUnsigned(update: string, arg: unknown): void {
  const key = decisionKey();
  const problem = key
    ? verifyDecision(key, { workflowId: workflowInfo().workflowId, update, args: arg }, Date.now())
    : 'this worker has no decision key and accepts no decision';
  if (problem) throw ApplicationFailure.nonRetryable(`decision refused: ${problem}`, 'UnsignedDecision');
}
