import type { Worker } from '@temporalio/worker';
import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { exitOnStartupFailure, stopOnSignal } from '../platform/process-lifecycle';
import { connectNative, describeTemporalSecurity, nativeConnectionOptions, temporalUnreachable } from '../platform/temporal-connection';
import { createWorker } from '../platform/worker';
import { requireDecisionKey } from '../platform/decision-key';
import { WORKER_SHUTDOWN, WORKER_STOP_BOUND_MS } from '../platform/worker-runner';
import { installWorkerRuntime, workerMetricsPort } from '../platform/worker-telemetry';

/**
 * Worker process for deployments: DATABASE_URL and TEMPORAL_ADDRESS point at running servers.
 *
 * SIGTERM/SIGINT: the worker stops polling; its tasks get the shutdown grace
 * and force times of WORKER_SHUTDOWN (5 s, 10 s). The process exits at the
 * latest EXIT_BOUND_MS (15 s) after the signal, even if its Temporal server
 * no longer answers (exit code 1 then: tasks were abandoned, and Temporal
 * retries them on another worker).
 */
const EXIT_BOUND_MS = 15_000;

const closers: Array<() => Promise<unknown>> = [];
const closeAll = async () => {
  for (const close of closers) await close().catch(() => {});
};
const current: { worker?: Worker; running?: Promise<void>; stopRequested?: boolean } = {};

stopOnSignal('worker', EXIT_BOUND_MS, async () => {
  current.stopRequested = true;
  const { worker, running } = current;
  if (worker && running) {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    const outcome = await settledWithin(running, WORKER_STOP_BOUND_MS);
    // Closing the pool now would wait for the statements of abandoned tasks; exiting ends their connections.
    if (outcome !== 'stopped') throw new Error(`the worker ${outcome}: its unfinished tasks are left to Temporal's retries`);
  }
  await closeAll();
});

try {
  const config = loadConfig();
  // Before any connection: the SDK's logs become our JSON lines, and its metrics (with ours) are served when asked for.
  const metricsPort = workerMetricsPort(process.env);
  const metrics = await installWorkerRuntime({ metrics: metricsPort ? { port: metricsPort, host: '0.0.0.0', withStocktakeMetrics: true } : undefined });
  if (metrics) closers.unshift(() => metrics.close());
  const options = nativeConnectionOptions(config);
  const decisionKey = requireDecisionKey();
  const db = await openDatabase(config, console.log);
  closers.unshift(() => db.stop());
  const orm = await openOrm(db.url);
  closers.unshift(() => orm.close());
  await migrate(orm);
  const connection = await connectNative(options).catch((e: unknown) => {
    throw temporalUnreachable(config, 'start it or set TEMPORAL_ADDRESS', e);
  });
  closers.unshift(() => connection.close());
  current.worker = await createWorker({ connection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, orm, decisionKey, options: WORKER_SHUTDOWN, ...(config.workerVersioning ? { versioning: config.workerVersioning } : {}) });
  const version = config.workerVersioning ? `, deployment version ${config.workerVersioning.deploymentName}.${config.workerVersioning.buildId} (${config.workerVersioning.defaultBehavior})` : '';
  console.log(`worker polling task queue ${config.taskQueue} on ${options.address} (${describeTemporalSecurity(config.temporalSecurity)})${version}`);
  if (metrics) console.log(`worker metrics (Temporal's and Stocktake's) on ${metrics.url}`);
} catch (e) {
  await closeAll();
  exitOnStartupFailure('worker', e);
}

current.running = current.worker!.run();
try {
  await current.running;
} catch (e) {
  // After a signal the stop handler decides; otherwise the worker failed by itself (e.g. a fatal error from its core).
  if (!current.stopRequested) {
    console.error(`[worker] failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    process.exit(1);
  }
}

async function settledWithin(running: Promise<void>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    running.then(
      () => 'stopped',
      (e: unknown) => `failed to stop cleanly (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
    ),
    new Promise<string>((resolve) => (timer = setTimeout(resolve, ms, `did not stop within ${ms / 1000} s`))),
  ]);
  clearTimeout(timer);
  return outcome;
}
