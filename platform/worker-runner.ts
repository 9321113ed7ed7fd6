import type { NativeConnectionOptions, Worker, WorkerOptions } from '@temporalio/worker';
import type { Orm } from '../db/orm';
import { supervise, type Supervised } from './supervisor';
import { connectNative } from './temporal-connection';
import { createWorker } from './worker';

/**
 * How long a worker asked to stop may take. Activities here are idempotent
 * and run at least once, so a task abandoned at shutdown is simply retried by
 * the next worker; waiting longer would only keep Ctrl-C or a deployment's
 * SIGTERM waiting. In-flight activities get `shutdownGraceTime` (5 s) before
 * they are cancelled; at `shutdownForceTime` (10 s) the SDK gives up on a
 * graceful stop (e.g. its server is gone and nothing can be reported) and
 * run() rejects.
 */
export const WORKER_SHUTDOWN = { shutdownGraceTime: '5s', shutdownForceTime: '10s' } satisfies Partial<WorkerOptions>;
/** shutdownForceTime, in ms, plus a margin: a stop of the worker never waits longer than this. */
export const WORKER_STOP_BOUND_MS = 12_000;

/**
 * The worker `npm start` runs. If it fails (its Temporal server unreachable
 * for longer than the SDK retries, for instance), a new connection and worker
 * replace it, with the supervisor's backoff. `connection`: from
 * platform/temporal-connection.ts's nativeConnectionOptions (address, TLS, API key).
 */
export async function runSupervisedWorker(opts: {
  connection: NativeConnectionOptions;
  namespace: string;
  taskQueue: string;
  orm: Orm;
  /** Compiled into the workflow bundle: the workflows verify the API's decisions with it. */
  decisionKey: string;
  log: (line: string) => void;
  until?: AbortSignal;
}): Promise<{ stop(): Promise<void> }> {
  return supervise({ name: 'worker', start: () => startWorker(opts), log: opts.log, until: opts.until });
}

async function startWorker(opts: { connection: NativeConnectionOptions; namespace: string; taskQueue: string; orm: Orm; decisionKey: string }): Promise<Supervised> {
  const connection = await connectNative(opts.connection);
  let worker: Worker;
  try {
    worker = await createWorker({
      connection, namespace: opts.namespace, taskQueue: opts.taskQueue, orm: opts.orm, decisionKey: opts.decisionKey, options: WORKER_SHUTDOWN,
    });
  } catch (e) {
    await connection.close().catch(() => {});
    throw e;
  }
  const running = worker.run();
  const exited = running
    .then(
      () => 'stopped',
      (e: unknown) => `failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
    )
    .then(async (how) => {
      // A failed worker's connection is not reused: its replacement connects afresh.
      await connection.close().catch(() => {});
      return how;
    });
  return {
    exited,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.race([exited, new Promise((r) => setTimeout(r, WORKER_STOP_BOUND_MS).unref())]);
    },
  };
}
