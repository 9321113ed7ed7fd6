import type { Progress, ReconciliationStatus, RowCounts } from './messages';

/**
 * Everything the reconciliation workflow remembers: ids and counters, never
 * rows. It is also what continue-as-new carries into the next run.
 */
export interface ReconciliationState {
  status: ReconciliationStatus;
  round: number;
  roundStartedAt: number;
  ordersOpen: number[];
  ordersComplete: number[];
  escalatedRounds: number[];
  rows: RowCounts;
}

export const NO_ROWS: RowCounts = {
  total: 0,
  awaitingCount: 0,
  counted: 0,
  markedForRecount: 0,
  recounting: 0,
  deleted: 0,
  posting: 0,
  processed: 0,
  failed: 0,
  skipped: 0,
  toApprove: 0,
  approved: 0,
  notRequired: 0,
  movedAfterSnapshot: 0,
};

export function initialState(): ReconciliationState {
  return {
    status: 'snapshotting',
    round: -1,
    roundStartedAt: 0,
    ordersOpen: [],
    ordersComplete: [],
    escalatedRounds: [],
    rows: NO_ROWS,
  };
}

/** A device's completion: idempotent, and ignored when it belongs to another round or an unknown order. */
export function completeOrder(state: ReconciliationState, countOrderId: number, round: number): boolean {
  if (state.status !== 'counting' || round !== state.round) return false;
  const i = state.ordersOpen.indexOf(countOrderId);
  if (i < 0) return false;
  state.ordersOpen.splice(i, 1);
  state.ordersComplete.push(countOrderId);
  return true;
}

export function progressOf(reconciliationId: string, state: ReconciliationState, historyLength: number): Progress {
  return {
    reconciliationId,
    status: state.status,
    round: state.round,
    ordersOpen: state.ordersOpen.length,
    ordersComplete: state.ordersComplete.length,
    rows: state.rows,
    escalations: state.escalatedRounds.length,
    historyLength,
  };
}
