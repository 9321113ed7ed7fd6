import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { isRefusalType } from '../domain/refusals';
import { Refusal } from '../store/refusal';
import { Problem, refusalProblem } from './problem';

/** Refusals from the workflow (validators and failed decisions) become problems the caller can act on. */
export function temporalProblem(err: unknown): Problem | undefined {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && isRefusalType(cause.type)) {
      const extra = cause.details?.[0] && typeof cause.details[0] === 'object' ? (cause.details[0] as Record<string, unknown>) : {};
      return refusalProblem(new Refusal(cause.type, cause.message, extra), 'The decision does not fit the reconciliation');
    }
    // Anything else (a decision that could not be carried out just now) is said in our words, never a driver's.
    return new Problem(503, 'decision-failed', 'The decision could not be carried out; retry', 'the database or a worker was unavailable; nothing was changed');
  }
  if (err instanceof WorkflowNotFoundError) {
    return new Problem(409, 'reconciliation-closed', 'The reconciliation no longer takes decisions', 'its workflow is closed');
  }
  return undefined;
}
