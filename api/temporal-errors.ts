import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Problem } from './problem';

/** Refusals from the workflow (validators and failed decisions) become problems the caller can act on. */
const UNPROCESSABLE = new Set(['NoRowsSelected', 'InvalidRowState', 'ReasonRequired']);
const FORBIDDEN = new Set(['SegregationOfDuties', 'ApprovalLimitExceeded']);

export function temporalProblem(err: unknown): Problem | undefined {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
    const detail = cause?.message ?? err.message;
    if (type === 'DecisionFailed') return new Problem(503, 'decision-failed', 'The decision could not be carried out; retry', detail);
    const status = FORBIDDEN.has(type) ? 403 : UNPROCESSABLE.has(type) ? 422 : 409;
    const details = cause instanceof ApplicationFailure && cause.details?.[0] && typeof cause.details[0] === 'object' ? cause.details[0] : {};
    return new Problem(status, kebab(type === 'Error' ? 'InvalidState' : type), 'The decision does not fit the reconciliation', detail, details as Record<string, unknown>);
  }
  if (err instanceof WorkflowNotFoundError) {
    return new Problem(409, 'reconciliation-closed', 'The reconciliation no longer takes decisions', err.message);
  }
  return undefined;
}

function kebab(s: string): string {
  return s.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}
