import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';

/**
 * A decision or step refused for a business reason (wrong state, rows not
 * eligible, not allowed): final, never retried, and BENIGN so workers log it
 * quietly. The workflow hands it to the caller of the Update unchanged.
 */
export function refuse(message: string, type: string, ...details: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true, details, category: ApplicationFailureCategory.BENIGN });
}
