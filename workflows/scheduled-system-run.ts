import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import * as sm from './system-messages';

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/**
 * One tick of a system reconciliation Schedule: the run's document from the
 * schedule's template, and the run's own workflow, started to live on by
 * itself (review may last days). Skipped while the schedule's previous run
 * is still getting levels or comparing, so runs never overlap there.
 */
export async function scheduledSystemRunWorkflow(input: sm.ScheduledSystemRunInput): Promise<{ runId: string | null; skipped: boolean }> {
  // A tick is one execution: two triggers within a second share a workflow id, never a run id.
  const tick = `${workflowInfo().workflowId}/${workflowInfo().runId}`;
  const created = await bookkeeping.createScheduledRun({ workflowId: tick, ...input });
  if (created.skipped) return { runId: null, skipped: true };
  try {
    await startChild(sm.SYSTEM_RECONCILIATION_WORKFLOW, {
      workflowId: created.runWorkflowId,
      args: [{ systemReconciliationId: created.runId, levelsDeadlineMinutes: input.template.levelsDeadlineMinutes } satisfies sm.SystemReconciliationInput],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (e) {
    // This tick started it before (a retried task): the run lives on.
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
  return { runId: created.runId, skipped: false };
}
