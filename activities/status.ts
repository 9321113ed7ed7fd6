import type { Orm } from '../db/orm';
import { one, sql } from '../db/sql';
import { createAdjustmentOrder } from '../store/adjustment-orders';
import { audit } from '../store/audit';
import { cancelOpenOrders } from '../store/count-orders';
import { applyTransition, lockReconciliation, type StepFailure } from '../store/reconciliations';
import { withdrawUnposted } from '../store/release/post';
import { rowCounts } from '../store/rows/queries';
import type { CancelResult, RowCounts } from '../workflows/messages';
import type { Decided, DecisionInput, WithTransition } from './inputs';
import { inStep } from './step';
import { transitionStep } from './transactions';

/** Status changes that carry no other work, and cancellation. */
export function statusActivities(orm: Orm) {
  return {
    /** A transition with nothing else to commit (counting -> populating, a step that failed, a step retried by a manager). */
    async recordTransition(
      input: WithTransition & { failure?: StepFailure; by?: { user: string; role: string }; action?: string },
    ): Promise<RowCounts> {
      return inStep(orm, async (em) => {
        const before = await lockReconciliation(em, input.reconciliationId);
        const applied = await applyTransition(em, input.reconciliationId, input.transition, { failure: input.failure ?? null });
        if (applied && (input.by || input.failure)) {
          await audit(em, {
            reconciliationId: input.reconciliationId,
            actor: input.by?.user ?? 'system',
            action: input.action ?? 'step_failed',
            before: { status: before.status },
            after: { status: input.transition.to, ...(input.failure ? { failure: input.failure } : {}) },
          });
        }
        return rowCounts(em, input.reconciliationId);
      });
    },

    /**
     * Cancel, from any status that is not final. Open count orders take no
     * more counts. A release cancelled part way keeps what it posted (real
     * stock moved) and reports it to the ERP in an adjustment order; what
     * was not posted is withdrawn.
     */
    async cancelReconciliation(input: DecisionInput & WithTransition & { reason: string }): Promise<Decided<CancelResult>> {
      return transitionStep(orm, input, async (em, rec) => {
        const countOrdersCancelled = await cancelOpenOrders(em, input.reconciliationId);
        const postings = (await one(em, sql<{ planned: number; done: number }>`
          select count(*)::int as planned, count(*) filter (where status = 'done')::int as done
          from posting where reconciliation_id = ${input.reconciliationId}`))!;
        const withdrawn = postings.planned > 0 ? await withdrawUnposted(em, input.reconciliationId) : { rowsWithdrawn: 0, postingsWithdrawn: 0 };
        const adjustmentOrder = postings.done > 0 ? await createAdjustmentOrder(em, input.reconciliationId) : null;
        const result: CancelResult = {
          status: 'cancelled',
          cancelledWhile: rec.status,
          countOrdersCancelled,
          postingsDone: postings.done,
          ...withdrawn,
          adjustmentOrder,
        };
        await audit(em, { reconciliationId: input.reconciliationId, actor: input.by.user, action: 'reconciliation_cancelled', after: { reason: input.reason, ...result } });
        return result;
      });
    },
  };
}
