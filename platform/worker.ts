import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { FailureTranslation } from '../activities/failure-translation';
import type { Orm } from '../db/orm';
import type { WorkerVersioning } from './config';
import { WORKFLOWS_PATH, withDecisionKey } from './workflow-bundle';

export { WORKFLOWS_PATH } from './workflow-bundle';

export async function createWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  orm: Orm;
  /** A pre-built bundle (tests build one per run, with their key); otherwise the worker bundles WORKFLOWS_PATH itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The decision key compiled into the bundle the worker builds (ignored with a pre-built bundle). */
  decisionKey?: string;
  /** Extra worker options (e.g. shutdown times) for the process that runs it. */
  options?: Partial<WorkerOptions>;
  /** The Worker Deployment version this worker belongs to (Config.workerVersioning); none: unversioned. */
  versioning?: WorkerVersioning;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createActivities(opts.orm),
    interceptors: { activity: [(ctx) => ({ inbound: new FailureTranslation(ctx) })] },
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: { webpackConfigHook: withDecisionKey(opts.decisionKey ?? '') } }),
    // Bulk activities hold a database connection each; keep concurrency within the pool.
    maxConcurrentActivityTaskExecutions: 8,
    // A cancel reaches an activity with the answer to its next heartbeat: at most a second after it was decided.
    maxHeartbeatThrottleInterval: '1 second',
    ...(opts.versioning
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: opts.versioning.deploymentName, buildId: opts.versioning.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: opts.versioning.defaultBehavior,
          },
        }
      : {}),
    ...opts.options,
  });
}
