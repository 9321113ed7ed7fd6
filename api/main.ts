import { Client, Connection } from '@temporalio/client';
import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { listen } from '../platform/http-server';
import { exitOnStartupFailure, stopOnSignal } from '../platform/process-lifecycle';
import { describeTemporalSecurity, temporalConnectionOptions, temporalUnreachable } from '../platform/temporal-connection';
import { createApp } from './app';
import { decodeKey } from '../domain/decision-signature';
import { requireDecisionKey } from '../platform/decision-key';
import { keepStartingWorkflows } from './workflow-start';

/**
 * API process for deployments: applies migrations, then serves on PORT.
 *
 * SIGTERM/SIGINT: requests in flight get 5 s, then connections are dropped;
 * the process exits at the latest 10 s after the signal (code 1 if something
 * did not close in time, e.g. a database that no longer answers).
 */
const EXIT_BOUND_MS = 10_000;
const REQUEST_GRACE_MS = 5_000;

const closers: Array<() => Promise<unknown>> = [];
const closeAll = async () => {
  for (const close of closers) await close().catch(() => {});
};
stopOnSignal('api', EXIT_BOUND_MS, closeAll);

try {
  const config = loadConfig();
  const decisionKey = decodeKey(requireDecisionKey());
  const db = await openDatabase(config, console.log);
  closers.unshift(() => db.stop());
  const orm = await openOrm(db.url);
  closers.unshift(() => orm.close());
  await migrate(orm);
  const options = temporalConnectionOptions(config);
  const connection = await Connection.connect(options).catch((e: unknown) => {
    throw temporalUnreachable(config, 'start it or set TEMPORAL_ADDRESS', e);
  });
  closers.unshift(() => connection.close());
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const app = createApp({ orm, temporal, taskQueue: config.taskQueue, decisionKey });
  const stopSweep = keepStartingWorkflows({ orm, temporal, taskQueue: config.taskQueue });
  closers.unshift(async () => stopSweep());
  const server = await listen(app.fetch, config.port, '0.0.0.0');
  closers.unshift(() => server.close(REQUEST_GRACE_MS));
  console.log(`Stocktake API on http://localhost:${config.port} (Temporal ${options.address}, ${describeTemporalSecurity(config.temporalSecurity)})`);
} catch (e) {
  await closeAll();
  exitOnStartupFailure('api', e);
}
