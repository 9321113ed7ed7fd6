import type { Transition as CountTransition } from './reconciliation-status';

/**
 * The statuses of a system reconciliation (seed 000: initiate, reconcile,
 * analyse, process) and which decision fits which. Pure rules, read by the
 * workflow's validators and handlers alike.
 */
export const SYSTEM_STATUSES = [
  'requesting',
  'comparing',
  'review',
  'processing',
  'step_failed',
  'matched',
  'no_answer',
  'closed',
  'cancelled',
] as const;
export type SystemStatus = (typeof SYSTEM_STATUSES)[number];

/** matched: no difference, no order; no_answer: a source never sent its levels. */
export const SYSTEM_TERMINAL: readonly SystemStatus[] = ['matched', 'no_answer', 'closed', 'cancelled'];

export function isSystemTerminal(status: SystemStatus): boolean {
  return SYSTEM_TERMINAL.includes(status);
}

export type SystemStep = 'levels' | 'compare' | 'process';

export const SYSTEM_DECISIONS = ['deleteLines', 'refreshLines', 'approveLines', 'processLines', 'close', 'retryStep', 'cancel'] as const;
export type SystemDecision = (typeof SYSTEM_DECISIONS)[number];

const OPEN = SYSTEM_STATUSES.filter((s) => !isSystemTerminal(s));

export const SYSTEM_ALLOWED_IN: Readonly<Record<SystemDecision, readonly SystemStatus[]>> = {
  deleteLines: ['review'],
  refreshLines: ['review'],
  approveLines: ['review'],
  processLines: ['review'],
  close: ['review'],
  retryStep: ['step_failed'],
  cancel: OPEN,
};

export function systemStatusRefusal(decision: SystemDecision, status: SystemStatus): string | undefined {
  const allowed = SYSTEM_ALLOWED_IN[decision];
  if (allowed.includes(status)) return undefined;
  if (isSystemTerminal(status)) return `the system reconciliation is ${status} and takes no more decisions`;
  return `not allowed while the system reconciliation is ${status} (allowed: ${allowed.join(', ')})`;
}

export interface SystemTransition {
  seq: number;
  to: SystemStatus;
}

/** The count document that carries processed lines through release is moved by count transitions. */
export type ProcessingTransition = CountTransition;
