import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * How the workflow calls its activities. Every activity that does work
 * heartbeats, so a worker that dies is noticed within 10 s and the work is
 * retried on another; the workflow waits for a cancelled activity to have
 * stopped (rolled back) before it moves on.
 */

/** Bulk steps: retried with backoff for about ten minutes, then the step fails and a manager decides (retry or cancel). */
export const steps = proxyActivities<Activities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 25 },
});

/** Decisions: a manager waits on the HTTP call, so a few quick retries, then the update fails and the caller retries. */
export const decisions = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5 },
});

/**
 * Bookkeeping that must land (a status change, an escalation, the orders of
 * a round): one short statement each, retried until the database answers.
 */
export const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
