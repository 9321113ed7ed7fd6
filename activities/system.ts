import type { Orm } from '../db/orm';
import { one, sql } from '../db/sql';
import type { SystemStatus, SystemStep, SystemTransition } from '../domain/system-status';
import { createAdjustmentOrder } from '../store/adjustment-orders';
import { audit } from '../store/audit';
import { once } from '../store/idempotency';
import { captureBookLevels, pullLevels } from '../store/levels';
import { applyTransition } from '../store/reconciliations';
import { refuse } from '../store/refusal';
import { postBatch, withdrawUnposted } from '../store/release/post';
import { compareSources, type CompareResult } from '../store/system-reconciliation/compare';
import {
  applySystemTransition,
  createSystemReconciliation,
  levelsReceived,
  lockSystemReconciliation,
  sourceModes,
  systemTransitionOutcome,
  type LockedSystemReconciliation,
} from '../store/system-reconciliation/document';
import { recordExceptions } from '../store/system-reconciliation/exceptions';
import { approveLines, deleteLines } from '../store/system-reconciliation/order';
import { finishProcessing, materializeProcessing, planProcessing, settleCancelledProcessing } from '../store/system-reconciliation/processing';
import { refreshLines } from '../store/system-reconciliation/refresh';
import type { RequestKey } from '../workflows/messages';
import type { SystemRunTemplate } from '../workflows/system-messages';
import type { Em } from '../db/sql';
import { heartbeating, inStep } from './step';
import { postings } from '../platform/metrics';

interface OnRun {
  runId: string;
}
interface WithSystemTransition extends OnRun {
  transition: SystemTransition;
}
interface SystemDecisionInput extends OnRun {
  by: { user: string; role: 'manager' | 'senior_manager' };
  request?: RequestKey;
}

/** A step of a system reconciliation that moves its status, in the step's own transaction (see activities/transactions.ts). */
function systemStep<T>(
  orm: Orm,
  input: WithSystemTransition & Partial<SystemDecisionInput>,
  work: (em: Em, rec: LockedSystemReconciliation, checkpoint: () => void) => Promise<{ result: T; to?: SystemStatus }>,
): Promise<T> {
  return inStep(orm, async (em, checkpoint) => {
    const rec = await lockSystemReconciliation(em, input.runId);
    if (rec.statusSeq >= input.transition.seq) {
      const stored = await systemTransitionOutcome<T>(em, input.runId, input.transition.seq);
      if (!stored) throw refuse('InvalidState', `the system reconciliation has moved on (status ${rec.status})`);
      return stored.outcome;
    }
    return once(em, requestOf(input), async () => {
      const { result, to } = await work(em, rec, checkpoint);
      await applySystemTransition(em, input.runId, { seq: input.transition.seq, to: to ?? input.transition.to }, { outcome: result });
      return result;
    });
  });
}

/** A decision on lines that leaves the status as it is, once per key. */
function lineDecision<T>(orm: Orm, input: SystemDecisionInput, work: (em: Em, rec: LockedSystemReconciliation) => Promise<T>): Promise<T> {
  return inStep(orm, async (em) => {
    const rec = await lockSystemReconciliation(em, input.runId);
    return once(em, requestOf(input), () => work(em, rec));
  });
}

function requestOf(input: Partial<SystemDecisionInput> & OnRun) {
  if (!input.request || !input.by) return undefined;
  return { key: input.request.key, actor: input.by.user, operation: input.request.operation, subject: input.runId, requestHash: input.request.requestHash };
}

/** Initiate, reconcile, analyse, process: the steps of a system reconciliation. */
export function systemActivities(orm: Orm) {
  return {
    /**
     * A Schedule's tick: the run's document from the template, once per tick
     * (the tick's workflow id names it), or skipped while the schedule's
     * previous run is still getting levels or comparing.
     */
    async createScheduledRun(input: { workflowId: string; scheduleId: string; template: SystemRunTemplate; createdBy: string }): Promise<
      { skipped: true } | { skipped: false; runId: string; runWorkflowId: string }
    > {
      const em = orm.em.fork();
      const busy = await one(em, sql<{ id: string }>`
        select id from system_reconciliation
        where schedule_id = ${input.scheduleId} and status in ('requesting', 'comparing') and tick_workflow_id <> ${input.workflowId}
        limit 1`);
      if (busy) return { skipped: true };
      const { record } = await createSystemReconciliation(em, input.template, input.createdBy, {
        tickWorkflowId: input.workflowId,
        scheduleId: input.scheduleId,
      });
      return { skipped: false, runId: record.id, runWorkflowId: record.workflowId };
    },

    /** How each source delivers levels, and which have already. */
    async levelsSituation(input: OnRun): Promise<{ modes: Record<string, 'book' | 'pushed' | 'pulled'>; received: string[]; sources: string[] }> {
      const em = orm.em.fork();
      const run = (await one(em, sql<{ a: string; b: string }>`select source_a as a, source_b as b from system_reconciliation where id = ${input.runId}`))!;
      return { modes: await sourceModes(em, [run.a, run.b]), received: await levelsReceived(em, input.runId), sources: [run.a, run.b] };
    },

    /** Levels Stocktake fetches itself: the book's, or a pulled system's over HTTP (retried, heartbeating). */
    async fetchLevels(input: OnRun & { source: string; mode: 'book' | 'pulled' }): Promise<{ lines: number }> {
      if (input.mode === 'book') return inStep(orm, (em) => captureBookLevels(em, input.runId));
      return heartbeating((checkpoint) => pullLevels(orm, input.runId, input.source, checkpoint));
    },

    async systemTransition(input: WithSystemTransition & { failure?: { step: SystemStep; resume: SystemStatus; reason: string; at: string }; by?: string; action?: string }): Promise<void> {
      await inStep(orm, async (em) => {
        const rec = await lockSystemReconciliation(em, input.runId);
        const applied = await applySystemTransition(em, input.runId, input.transition, { failure: input.failure ?? null });
        if (applied && (input.by || input.failure)) {
          await audit(em, { warehouse: rec.warehouse, actor: input.by ?? 'system', action: input.action ?? 'system_step_failed', subject: `system reconciliation ${input.runId}`,
            before: { status: rec.status }, after: { status: input.transition.to, ...(input.failure ? { failure: input.failure } : {}) } });
        }
      });
    },

    /** Reconcile: the comparison, its exceptions queued, and review (or matched: no order) in one transaction. */
    async compareRun(input: WithSystemTransition): Promise<CompareResult> {
      return systemStep(orm, input, async (em, _rec, checkpoint) => {
        const result = await compareSources(em, input.runId, checkpoint);
        await recordExceptions(em, input.runId);
        return { result, to: result.differences === 0 ? 'matched' : 'review' };
      });
    },

    async deleteSystemLines(input: SystemDecisionInput & { lines: number[]; reason: string }): Promise<{ lines: number }> {
      return lineDecision(orm, input, (em, rec) => deleteLines(em, rec, input.runId, input.lines, input.reason, input.by.user));
    },

    async refreshSystemLines(input: SystemDecisionInput & { lines: number[] }): Promise<{ disappeared: number[]; remaining: number[] }> {
      return lineDecision(orm, input, (em) => refreshLines(em, input.runId, input.lines));
    },

    async approveSystemLines(input: SystemDecisionInput & { lines: number[] }): Promise<{ lines: number }> {
      return lineDecision(orm, input, (em, rec) => approveLines(em, rec, input.runId, input.lines, input.by));
    },

    /** Process, first half: the processing document with its rows, and its postings planned, in one transaction. */
    async startProcessing(input: SystemDecisionInput & WithSystemTransition & { lines: number[] }): Promise<{ reconciliationId: string; rows: number; lines: number[] }> {
      return systemStep(orm, input, async (em, rec, checkpoint) => {
        const plan = await materializeProcessing(em, rec, input.runId, input.lines, input.by);
        await planProcessing(em, plan.reconciliationId, checkpoint);
        return { result: plan };
      });
    },

    /** Process, second half: the postings, one batch per transaction, exactly once, heartbeating; stops between batches when cancelled. */
    async postProcessing(input: OnRun & { reconciliationId: string }): Promise<{ posted: true }> {
      return heartbeating(async (checkpoint) => {
        let afterId = 0;
        for (;;) {
          checkpoint();
          const batch = await orm.em.fork().transactional((em) => postBatch(em, input.reconciliationId, afterId));
          if (batch === undefined) return { posted: true };
          afterId = batch.lastId;
          postings.inc({ outcome: 'done' }, batch.rows - batch.failed);
          postings.inc({ outcome: 'failed' }, batch.failed);
        }
      });
    },

    async finishSystemProcessing(input: WithSystemTransition & { reconciliationId: string; actor: string }) {
      return systemStep(orm, input, async (em) => ({ result: await finishProcessing(em, input.runId, input.reconciliationId, input.actor) }));
    },

    async closeRun(input: SystemDecisionInput & WithSystemTransition): Promise<{ status: 'closed' }> {
      return systemStep(orm, input, async (em, rec) => {
        await audit(em, { warehouse: rec.warehouse, actor: input.by.user, action: 'system_reconciliation_closed', subject: `system reconciliation ${input.runId}` });
        return { result: { status: 'closed' as const } };
      });
    },

    /** Cancel from any status that is not final; a processing cut short keeps what it posted and reports it. */
    async cancelRun(input: SystemDecisionInput & WithSystemTransition & { reason: string }): Promise<{ status: 'cancelled' }> {
      return systemStep(orm, input, async (em, rec) => {
        if (rec.processingReconciliationId) {
          const doc = rec.processingReconciliationId;
          const done = (await one(em, sql<{ n: number }>`select count(*)::int as n from posting where reconciliation_id = ${doc} and status = 'done'`))!.n;
          await withdrawUnposted(em, doc);
          if (done > 0) await createAdjustmentOrder(em, doc);
          // The processing document moved through seq 1 (releasing) and 2 (released) at most: 3 is always later.
          await applyTransition(em, doc, { seq: 3, to: 'cancelled' });
          await settleCancelledProcessing(em, input.runId, doc);
        }
        await audit(em, { warehouse: rec.warehouse, actor: input.by.user, action: 'system_reconciliation_cancelled', subject: `system reconciliation ${input.runId}`, after: { reason: input.reason } });
        return { result: { status: 'cancelled' as const } };
      });
    },
  };
}
