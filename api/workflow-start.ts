import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Orm } from '../db/orm';
import { rows, sql } from '../db/sql';
import { log } from '../platform/log';
import { RECONCILIATION_WORKFLOW, type ReconciliationInput } from '../workflows/messages';

/**
 * Starts a document's workflow unless it already runs or ran. The document
 * is stored first and its workflow started right after; a process that dies
 * in between leaves a document without a workflow, which `sweepUnstarted`
 * finds and starts, so no reconciliation waits forever for its snapshot.
 */
export async function ensureWorkflow(
  client: Client,
  taskQueue: string,
  record: { id: string; workflowId: string; countDeadlineMinutes: number | null },
): Promise<boolean> {
  const input: ReconciliationInput = { reconciliationId: record.id, countDeadlineMinutes: record.countDeadlineMinutes };
  try {
    await client.workflow.start(RECONCILIATION_WORKFLOW, {
      workflowId: record.workflowId,
      taskQueue,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return true;
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw e;
  }
}

/** Documents the workflow never took over (status not yet moved) that are older than `graceSeconds`: their workflow is started. */
export async function sweepUnstarted(deps: { orm: Orm; temporal: Client; taskQueue: string }, graceSeconds = 10): Promise<number> {
  const waiting = await rows(
    deps.orm.em.fork(),
    sql<{ id: string; workflowId: string; countDeadlineMinutes: number | null }>`
      select id, workflow_id as "workflowId", count_deadline_minutes as "countDeadlineMinutes" from reconciliation
      where status = 'snapshotting' and status_seq = 0 and closed_at is null
        and created_at < now() - make_interval(secs => ${graceSeconds})
      order by created_at limit 100`,
  );
  let started = 0;
  for (const record of waiting) if (await ensureWorkflow(deps.temporal, deps.taskQueue, record)) started++;
  return started;
}

/** Sweeps now and then, for as long as the API serves; returns a stop function. */
export function keepStartingWorkflows(deps: { orm: Orm; temporal: Client; taskQueue: string }, everyMs = 30_000): () => void {
  const sweep = () =>
    sweepUnstarted(deps).then(
      (n) => n > 0 && log.info({ event: 'workflows_started_late', workflows: n }, `started ${n} reconciliation workflow(s) whose start had been lost`),
      (e: unknown) => log.warn({ event: 'workflow_sweep_skipped', error: e instanceof Error ? e.message : String(e) }, 'workflow sweep skipped'),
    );
  void sweep();
  const timer = setInterval(() => void sweep(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
