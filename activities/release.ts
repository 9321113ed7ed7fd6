import type { Orm } from '../db/orm';
import { createAdjustmentOrder } from '../store/adjustment-orders';
import { audit } from '../store/audit';
import { markReleased } from '../store/reconciliations';
import { resolveExceptionsOfRelease } from '../store/system-reconciliation/exceptions';
import { planRelease } from '../store/release/plan';
import { postBatch, retryFailedRows, rowsToPost, skipFailedRows } from '../store/release/post';
import { rowCounts } from '../store/rows/queries';
import type { ReleaseResult, RowCounts, RowSelection, RowsChanged } from '../workflows/messages';
import type { Decided, DecisionInput, OnReconciliation, WithTransition } from './inputs';
import { heartbeating } from './step';
import { trackProgress } from './progress';
import { postings } from '../platform/metrics';
import { transitionStep } from './transactions';

/** Release: plan the postings, post them exactly once, let the manager decide on failed rows, hand the ERP its order. */
export function releaseActivities(orm: Orm) {
  return {
    async prepareRelease(input: DecisionInput & WithTransition): Promise<Decided<ReleaseResult>> {
      const decided = await transitionStep(orm, input, async (em, _rec, checkpoint) => {
        const result = await planRelease(em, input.reconciliationId, checkpoint);
        await markReleased(em, input.reconciliationId, input.by.user);
        await audit(em, { reconciliationId: input.reconciliationId, actor: input.by.user, action: 'reconciliation_released', after: { ...result, role: input.by.role } });
        return result;
      });
      // Only once the plan committed: a release refused (rows still in the way) leaves no trace, not even "release started".
      await trackProgress(orm, input.reconciliationId, 'release').begin(null);
      return decided;
    },

    /**
     * Posts every pending row, one batch per transaction, heartbeating after
     * each; when cancelled it stops between batches, and what was posted stays posted.
     */
    async postPendingRows(input: OnReconciliation): Promise<{ processed: number; failed: number; rows: RowCounts }> {
      const progress = trackProgress(orm, input.reconciliationId, 'release');
      await progress.begin(await rowsToPost(orm.em.fork(), input.reconciliationId));
      return heartbeating(async (checkpoint) => {
        let afterId = 0;
        let done = 0;
        for (;;) {
          checkpoint();
          const batch = await orm.em.fork().transactional((em) => postBatch(em, input.reconciliationId, afterId));
          if (batch === undefined) break;
          afterId = batch.lastId;
          // Committed: count it and show it.
          done += batch.rows;
          postings.inc({ outcome: 'done' }, batch.rows - batch.failed);
          postings.inc({ outcome: 'failed' }, batch.failed);
          await progress.advance(done);
        }
        await progress.finish(done);
        const rows = await rowCounts(orm.em.fork(), input.reconciliationId);
        return { processed: rows.processed, failed: rows.failed, rows };
      });
    },

    async retryFailedRows(input: DecisionInput & WithTransition & { selection: RowSelection }): Promise<Decided<RowsChanged>> {
      return transitionStep(orm, input, (em) => retryFailedRows(em, input.reconciliationId, input.selection, input.by));
    },

    async skipFailedRows(input: DecisionInput & WithTransition & { selection: RowSelection; reason: string }): Promise<Decided<RowsChanged>> {
      return transitionStep(orm, input, (em) => skipFailedRows(em, input.reconciliationId, input.selection, input.by, input.reason));
    },

    /** The ERP adjustment order and `released`, in one transaction: a released reconciliation always has its order. */
    async finishRelease(input: WithTransition): Promise<Decided<{ orderNumber: number; lines: number }>> {
      return transitionStep(orm, input, async (em) => {
        const order = await createAdjustmentOrder(em, input.reconciliationId);
        // A count started from a system reconciliation's exception resolves it when released.
        await resolveExceptionsOfRelease(em, input.reconciliationId);
        return order;
      });
    },
  };
}
