/**
 * The statuses of a reconciliation and which manager decision fits which
 * status. Pure rules: the workflow's validators, its handlers (re-checking
 * after every await) and the unit tests all read this one table.
 */
export const RECONCILIATION_STATUSES = [
  'snapshotting',
  'ready',
  'counting',
  'populating',
  'review',
  'releasing',
  'awaiting_failed_rows',
  'step_failed',
  'released',
  'cancelled',
] as const;
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number];

export const TERMINAL_STATUSES: readonly ReconciliationStatus[] = ['released', 'cancelled'];

export function isTerminal(status: ReconciliationStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** A bulk step that can fail for good; the reconciliation then waits in `step_failed` for retry or cancel. */
export type Step = 'snapshot' | 'populate' | 'release';

export const DECISIONS = [
  'startInitialCount',
  'markForRecount',
  'generateRecountOrder',
  'approveRows',
  'deleteRows',
  'release',
  'retryFailedRows',
  'skipFailedRows',
  'retryStep',
  'cancel',
] as const;
export type Decision = (typeof DECISIONS)[number];

const NON_TERMINAL = RECONCILIATION_STATUSES.filter((s) => !isTerminal(s));

/** Where each decision is allowed. Cancel is allowed in every status that is not final: nothing wedges. */
export const ALLOWED_IN: Readonly<Record<Decision, readonly ReconciliationStatus[]>> = {
  startInitialCount: ['ready'],
  markForRecount: ['ready', 'review'],
  generateRecountOrder: ['ready', 'review'],
  approveRows: ['review'],
  deleteRows: ['ready', 'review'],
  release: ['review'],
  retryFailedRows: ['awaiting_failed_rows'],
  skipFailedRows: ['awaiting_failed_rows'],
  retryStep: ['step_failed'],
  cancel: NON_TERMINAL,
};

/** Why `decision` does not fit `status`, or undefined when it does. */
export function statusRefusal(decision: Decision, status: ReconciliationStatus): string | undefined {
  const allowed = ALLOWED_IN[decision];
  if (allowed.includes(status)) return undefined;
  if (isTerminal(status)) return `the reconciliation is ${status} and takes no more decisions`;
  return `not allowed while the reconciliation is ${status} (allowed: ${allowed.join(', ')})`;
}

/** A status change the workflow decided, numbered: applied only if no later one was applied before. */
export interface Transition {
  seq: number;
  to: ReconciliationStatus;
}
