import type { Orm } from '../db/orm';
import { rowCounts } from '../store/rows/queries';
import { approveRows, deleteRows, markForRecount } from '../store/rows/decisions';
import type { RowCounts, RowSelection, RowsChanged } from '../workflows/messages';
import type { Decided, DecisionInput, OnReconciliation } from './inputs';
import { decisionStep } from './transactions';

/** The manager's decisions on rows during review. */
export function reviewActivities(orm: Orm) {
  return {
    async markForRecount(input: DecisionInput & { selection: RowSelection }): Promise<Decided<RowsChanged>> {
      return decisionStep(orm, input, (em, rec) => markForRecount(em, rec, input.reconciliationId, input.selection, input.by));
    },

    async approveRows(input: DecisionInput & { selection: RowSelection }): Promise<Decided<RowsChanged>> {
      return decisionStep(orm, input, (em, rec) => approveRows(em, rec, input.reconciliationId, input.selection, input.by));
    },

    async deleteRows(input: DecisionInput & { selection: RowSelection; reason: string }): Promise<Decided<RowsChanged>> {
      return decisionStep(orm, input, (em) => deleteRows(em, input.reconciliationId, input.selection, input.by, input.reason));
    },

    async rowCounts(input: OnReconciliation): Promise<RowCounts> {
      return rowCounts(orm.em.fork(), input.reconciliationId);
    },
  };
}
