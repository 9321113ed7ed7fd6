import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { isRefusalType } from '../domain/refusals';

/**
 * What an activity failure means to a person. Business refusals and data
 * errors carry a message written for managers; anything else (a database or
 * worker that stayed unavailable through every retry) is described in our
 * words, never with a driver's or database's own text.
 */
export function reasonOf(e: unknown): { type: string; message: string } {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  if (cause instanceof ApplicationFailure && isRefusalType(cause.type)) {
    return { type: cause.type!, message: cause.message };
  }
  return { type: 'Unavailable', message: 'the step kept failing: the database or a worker was unavailable through every retry' };
}

/** Activity errors reach the update's caller as the refusal they are, or as a decision that could not be carried out. */
export async function asDecisionFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApplicationFailure && e.nonRetryable) throw e;
    const cause = e instanceof ActivityFailure ? e.cause : e;
    if (cause instanceof ApplicationFailure && isRefusalType(cause.type)) {
      throw ApplicationFailure.nonRetryable(cause.message, cause.type, ...(cause.details ?? []));
    }
    throw ApplicationFailure.nonRetryable('the decision could not be carried out just now (database or worker unavailable); retry', 'DecisionFailed');
  }
}
