import type { Orm } from '../db/orm';
import { insertInitialOrders, insertRecountOrder, ordersOfRound, roundOrders, type OrdersCreated } from '../store/count-orders';
import { audit } from '../store/audit';
import { recordEscalation, setRound, stampSnapshot } from '../store/reconciliations';
import { refuse } from '../store/refusal';
import { populateRound, type PopulateResult } from '../store/rows/populate';
import { insertSnapshotRows, rowTotal } from '../store/rows/snapshot';
import type { Decided, DecisionInput, OnReconciliation, WithTransition } from './inputs';
import { transitionStep } from './transactions';
import { inStep } from './step';
import { trackProgress } from './progress';

export interface SnapshotResult {
  rows: number;
  snapshotAt: string;
}

/** Snapshot, count orders and populate: the steps from scope to counted rows. */
export function countingActivities(orm: Orm) {
  return {
    /** Generate Snapshot: rows and blockings in one statement; the document is stamped and `ready` in the same transaction. */
    async generateSnapshot(input: WithTransition): Promise<Decided<SnapshotResult>> {
      // One statement: its total is known when it ends.
      const progress = trackProgress(orm, input.reconciliationId, 'snapshot');
      await progress.begin(null);
      const decided = await transitionStep(orm, input, async (em, rec) => {
        await insertSnapshotRows(em, input.reconciliationId, rec.warehouse, rec.scope);
        const snapshotAt = await stampSnapshot(em, input.reconciliationId);
        return { rows: await rowTotal(em, input.reconciliationId), snapshotAt };
      });
      await progress.finish(decided.outcome.rows);
      return decided;
    },

    async createInitialCountOrders(input: DecisionInput & WithTransition): Promise<Decided<OrdersCreated>> {
      return transitionStep(orm, input, async (em, rec) => {
        if (rec.round !== -1 || (await ordersOfRound(em, input.reconciliationId, 0))) {
          throw refuse('InvalidState', 'the initial count has already been started');
        }
        const created = await insertInitialOrders(em, input.reconciliationId, rec.splitPolicy);
        await setRound(em, input.reconciliationId, 0);
        await audit(em, { reconciliationId: input.reconciliationId, actor: input.by.user, action: 'initial_count_started', after: created });
        return created;
      });
    },

    async createRecountOrder(input: DecisionInput & WithTransition & { round: number }): Promise<Decided<OrdersCreated>> {
      return transitionStep(orm, input, async (em, rec) => {
        if (input.round !== Math.max(rec.round, 0) + 1 || input.round > rec.maxRecountRounds) {
          throw refuse('InvalidState', `recount round ${input.round} is not allowed (current round ${rec.round}, maximum ${rec.maxRecountRounds} recount rounds)`);
        }
        const created = await insertRecountOrder(em, input.reconciliationId, input.round);
        await setRound(em, input.reconciliationId, input.round);
        await audit(em, { reconciliationId: input.reconciliationId, actor: input.by.user, action: 'recount_order_generated', after: created });
        return created;
      });
    },

    /** Orders of a round by status: picks up completions whose signal never arrived. */
    async roundOrders(input: OnReconciliation & { round: number }): Promise<{ open: number[]; complete: number[] }> {
      return roundOrders(orm.em.fork(), input.reconciliationId, input.round);
    },

    async recordEscalation(input: OnReconciliation & { round: number; openOrderIds: number[] }): Promise<void> {
      await inStep(orm, (em) => recordEscalation(em, input.reconciliationId, input.round, input.openOrderIds));
    },

    /** Populate Counted Quantities: variances and verdicts for the round, and `review`, in one transaction. */
    async populateCountedQuantities(input: WithTransition & { round: number }): Promise<Decided<PopulateResult>> {
      // Set-based in one transaction: the rows awaiting their count at the start, every decided row once it commits.
      const progress = trackProgress(orm, input.reconciliationId, 'populate');
      await progress.begin(await progress.rowsInState(['awaiting_count', 'recounting']));
      const decided = await transitionStep(orm, input, async (em, rec, checkpoint) => {
        if (!rec.snapshotAt) throw refuse('InvalidState', 'the reconciliation has no snapshot');
        return populateRound(em, { reconciliationId: input.reconciliationId, round: input.round, tolerance: rec.tolerance, snapshotAt: rec.snapshotAt }, checkpoint);
      });
      await progress.finish(decided.outcome.rowsCounted);
      return decided;
    },
  };
}
