import type { Transition } from '../domain/reconciliation-status';
import type { RequestKey, RowCounts } from '../workflows/messages';

/**
 * What every activity is given: one object, so a field added later never
 * breaks a history in flight. The workflow passes ids, counts and the
 * transition it decided; rows stay in PostgreSQL.
 */
export interface OnReconciliation {
  reconciliationId: string;
}

/** A step that moves the reconciliation's status, in the step's own transaction. */
export interface WithTransition extends OnReconciliation {
  transition: Transition;
}

/** Who decided, for approval authority, segregation of duties and the audit trail. */
export interface DecisionInput extends OnReconciliation {
  by: { user: string; role: 'manager' | 'senior_manager' };
  request?: RequestKey;
}

/** A decision's verdict for its caller, and the rows as they are after it. */
export interface Decided<T> {
  outcome: T;
  rows: RowCounts;
}
