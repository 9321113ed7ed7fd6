import type { ReconciliationStatus, Step } from '../domain/reconciliation-status';
import type { Progress, RowCounts } from './messages';

/**
 * Everything the reconciliation workflow remembers: ids and counters, never
 * rows. It is also what continue-as-new carries into the next run.
 */
export interface ReconciliationState {
  status: ReconciliationStatus;
  /**
   * Number of the last status transition decided. Every transition takes the
   * next number when it is decided, applied or not, so a step that committed
   * late (its worker thought dead) can never overwrite a later decision.
   */
  statusSeq: number;
  round: number;
  roundStartedAt: number;
  ordersOpen: number[];
  ordersComplete: number[];
  escalatedRounds: number[];
  rows: RowCounts;
  failure: { step: Step; resume: ReconciliationStatus; reason: string } | null;
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
  withdrawn: 0,
  toApprove: 0,
  approved: 0,
  notRequired: 0,
  movedAfterSnapshot: 0,
};

export function initialState(): ReconciliationState {
  return {
    status: 'snapshotting',
    statusSeq: 0,
    round: -1,
    roundStartedAt: 0,
    ordersOpen: [],
    ordersComplete: [],
    escalatedRounds: [],
    rows: NO_ROWS,
    failure: null,
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

export function startRound(state: ReconciliationState, round: number, orderIds: number[], now: number): void {
  state.round = round;
  state.roundStartedAt = now;
  state.ordersOpen = [...orderIds];
  state.ordersComplete = [];
}

export function progressOf(reconciliationId: string, state: ReconciliationState, historyLength: number, decisionsQueued: number): Progress {
  return {
    reconciliationId,
    status: state.status,
    round: state.round,
    ordersOpen: state.ordersOpen.length,
    ordersComplete: state.ordersComplete.length,
    rows: state.rows,
    escalations: state.escalatedRounds.length,
    failure: state.failure ? { step: state.failure.step, reason: state.failure.reason } : null,
    decisionsQueued,
    historyLength,
  };
}
