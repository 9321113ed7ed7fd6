import { Client, Connection } from '@temporalio/client';
import path from 'node:path';
import { createApp } from '../api/app';
import { migrate, openOrm } from '../db/orm';
import { seedDemoWarehouse } from '../db/seed';
import { sql } from '../db/sql';
import { keepStartingWorkflows } from '../api/workflow-start';
import { upsertUser, type Role } from '../store/users';
import fs from 'node:fs';
import net from 'node:net';
import { loadConfig, PLAINTEXT, type Config } from '../platform/config';
import { openDatabase } from '../platform/database';
import { freePort } from '../platform/free-port';
import { listen } from '../platform/http-server';
import { serverAccount } from '../platform/postgres-account';
import { acquireStartLock } from '../platform/start-lock';
import { describeStartupFailure, StartupError } from '../platform/startup-error';
import { supervise } from '../platform/supervisor';
import {
  describeTemporalSecurity,
  nativeConnectionOptions,
  temporalConnectionOptions,
  temporalUnreachable,
  type TemporalTarget,
} from '../platform/temporal-connection';
import { startTemporalDevServer, stopLeftoverDevServers } from '../platform/temporal-dev-server';
import { runSupervisedWorker } from '../platform/worker-runner';
import { DEFAULT_WORKER_METRICS_PORT, installWorkerRuntime, workerMetricsPort } from '../platform/worker-telemetry';
import { localDecisionKey } from '../platform/decision-key';
import { decodeKey } from '../domain/decision-signature';

/**
 * `npm start`: the whole of Stocktake in one command on the embedded defaults
 * (or on DATABASE_URL / TEMPORAL_ADDRESS when set): PostgreSQL, the Temporal
 * dev server with its Web UI, the worker and the API. It supervises what it
 * started: a server that dies is restarted on the same port and data, and the
 * API and worker reconnect. Ctrl-C stops all of it. A start that cannot
 * succeed says why in one sentence and exits 1.
 */
const say = (line: string) => console.log(`[stocktake] ${line}`);
const stops: Array<() => Promise<unknown>> = [];
/** Aborted as soon as shutdown begins, so no supervisor restarts what is being stopped. */
const shuttingDown = new AbortController();

/** Ctrl-C waits this long for an orderly stop (in-flight requests, the worker's tasks, servers' shutdown), then exits anyway. */
const STOP_BOUND_MS = 45_000;

async function main(): Promise<void> {
  const config = loadStartConfig();
  // Before any worker or connection. Signals stay ours (the SDK's handler would stop the worker behind its supervisor's
  // back); the SDK logs through our logger; its metrics go to a loopback port (Stocktake's own are on the API's /metrics).
  const metricsPort = workerMetricsPort(process.env);
  const workerMetrics = (await installWorkerRuntime({
    metrics: { port: metricsPort ?? DEFAULT_WORKER_METRICS_PORT, host: '127.0.0.1', withStocktakeMetrics: false, anyPortIfTaken: metricsPort === undefined },
  }))!;
  stops.unshift(() => workerMetrics.close());
  // Before anything is written into it: tokens, Temporal's history and the cluster are nobody else's to read.
  makeDataDirPrivate(config);
  const lock = acquireStartLock(config.dataDir);
  stops.unshift(async () => lock.release());
  // The API signs decisions with it and the worker's workflows verify them: one key, kept with the data.
  const decisionKey = localDecisionKey(config.dataDir);
  // Checked before anything starts: the commonest failure should not wait for PostgreSQL and Temporal.
  if (!(await isFree(config.port))) {
    throw new StartupError(`port ${config.port} on 127.0.0.1 is already in use (another Stocktake?): stop what uses it or set PORT to a free port`);
  }

  const db = await openDatabase(config, say, { supervise: true, until: shuttingDown.signal });
  stops.unshift(() => db.stop());
  // Again, now that it is known whether the cluster lives inside the data directory (see makeDataDirPrivate).
  makeDataDirPrivate(config);
  const orm = await openOrm(db.url);
  // A pool waits for its connections; one held by the statement of an activity abandoned at shutdown would keep it waiting.
  stops.unshift(() => Promise.race([orm.close(), new Promise((r) => setTimeout(r, 5_000).unref())]));
  const applied = await migrate(orm);
  if (applied.length > 0) say(`migrations applied: ${applied.join(', ')}`);
  const hasWarehouse = await sql<{ n: number }>`select count(*)::int as n from warehouse`.execute(orm.em.fork().getKysely());
  if (hasWarehouse.rows[0]!.n === 0 && config.seedPositions > 0) {
    const seeded = await seedDemoWarehouse(orm, { positions: config.seedPositions });
    say(`seeded demo warehouse ${seeded.warehouseCode}: ${seeded.positions} stock positions in ${seeded.locations} locations`);
  }
  await ensureDemoUsers(orm, config);

  // TEMPORAL_ADDRESS with its TLS / API key settings, or the dev server started here: plain loopback.
  let target: TemporalTarget = config;
  let uiUrl: string | undefined;
  if (!config.temporalAddress) {
    if (config.temporalSecurity.tls || config.temporalSecurity.apiKey) {
      say('TEMPORAL_TLS_* / TEMPORAL_API_KEY apply to TEMPORAL_ADDRESS only: the dev server started here is reached over plain loopback');
    }
    const dbFile = path.join(config.dataDir, 'temporal.sqlite');
    await stopLeftoverDevServers(dbFile, say);
    // Chosen once, so a restarted server is where the worker and the API already look.
    const port = (await isFree(config.temporalDevPort)) ? config.temporalDevPort : await freePort();
    const uiPort = (await isFree(config.temporalUiPort)) ? config.temporalUiPort : await freePort();
    const temporal = await supervise({
      name: 'Temporal dev server',
      start: () => startTemporalDevServer({ dbFile, port, uiPort, namespace: config.temporalNamespace }),
      log: say,
      until: shuttingDown.signal,
    });
    stops.unshift(() => temporal.stop());
    target = { temporalAddress: temporal.current.address, temporalSecurity: PLAINTEXT };
    uiUrl = temporal.current.uiUrl;
  }

  const connection = await connectClient(target);
  stops.unshift(() => connection.close());
  const worker = await runSupervisedWorker({
    connection: nativeConnectionOptions(target),
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    orm,
    decisionKey,
    log: say,
    until: shuttingDown.signal,
  });
  stops.unshift(() => worker.stop());

  const temporalClient = new Client({ connection, namespace: config.temporalNamespace });
  const app = createApp({ orm, temporal: temporalClient, taskQueue: config.taskQueue, decisionKey: decodeKey(decisionKey) });
  const stopSweep = keepStartingWorkflows({ orm, temporal: temporalClient, taskQueue: config.taskQueue });
  stops.unshift(async () => stopSweep());
  const server = await listen(app.fetch, config.port, '127.0.0.1');
  // The HTTP server stops first: no new request reaches a worker or database on its way down.
  stops.unshift(() => server.close());

  say(`API         http://127.0.0.1:${config.port}  (health: /health, OpenAPI: /openapi.json)`);
  say(`Pages       http://127.0.0.1:${config.port}/ui/  (managers)  http://127.0.0.1:${config.port}/ui/count  (counting devices)`);
  say(`Temporal    ${target.temporalAddress}${uiUrl ? `  (Web UI: ${uiUrl})` : `  (${describeTemporalSecurity(target.temporalSecurity)})`}`);
  say(`Metrics     http://127.0.0.1:${config.port}/metrics (admin or auditor token), worker: ${workerMetrics.url}`);
  say(`Database    ${config.databaseUrl ? 'DATABASE_URL' : `embedded PostgreSQL in ${path.join(config.dataDir, 'pg')}`}`);
  say('Ctrl-C stops everything.');
}

function loadStartConfig(): Config {
  try {
    return loadConfig();
  } catch (e) {
    // The TLS settings' errors are whole sentences already.
    if (e instanceof StartupError) throw e;
    throw new StartupError(`${e instanceof Error ? e.message : String(e)}: correct the variable or unset it`);
  }
}

async function connectClient(target: TemporalTarget): Promise<Connection> {
  try {
    return await Connection.connect(temporalConnectionOptions(target));
  } catch (e) {
    throw temporalUnreachable(target, 'start it, correct TEMPORAL_ADDRESS, or unset it to run the dev server', e);
  }
}

/**
 * The data directory holds the demo users' bearer tokens, Temporal's SQLite
 * file (every workflow's history) and normally the PostgreSQL cluster: its
 * owner's alone, mode 0700, whatever the umask made of it or an earlier
 * version left. One exception: as root with the embedded PostgreSQL, the
 * server runs as the `postgres` user and must still pass through to its
 * cluster in <dataDir>/pg; the directory then gets group `postgres` and mode
 * 0710, which lets that group traverse it but neither list nor read anything
 * (every file here is 0600 or PostgreSQL's own 0700 directory). Plain 0700
 * would lock the server out, and cluster-location.ts would move the cluster
 * to /var/lib/stocktake instead. A cluster already moved there (<dataDir>/pg
 * is its symlink) needs no passage: 0700 then.
 */
function makeDataDirPrivate(config: Config): void {
  const dir = config.dataDir;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const account = config.databaseUrl ? undefined : serverAccount(say);
    const clusterInside = account !== undefined && !isSymlink(path.join(dir, 'pg'));
    if (clusterInside) fs.chownSync(dir, fs.statSync(dir).uid, account.gid);
    fs.chmodSync(dir, clusterInside ? 0o710 : 0o700);
    const tokens = path.join(dir, 'demo-tokens.json');
    if (fs.existsSync(tokens)) fs.chmodSync(tokens, 0o600);
  } catch (e) {
    if (e instanceof StartupError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new StartupError(
      `cannot make ${dir} private to its owner (${err.code ?? err.message}): run npm start as the owner of ${dir}, or set STOCKTAKE_DATA_DIR to a folder of yours`,
    );
  }
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * First start: one user per role, tokens written to <dataDir>/demo-tokens.json
 * (readable by this user only) so a newcomer can call the API at once.
 */
async function ensureDemoUsers(orm: Awaited<ReturnType<typeof openOrm>>, config: Config): Promise<void> {
  const file = path.join(config.dataDir, 'demo-tokens.json');
  if (fs.existsSync(file)) return;
  const users: Record<string, Role> = { manager: 'manager', senior: 'senior_manager', counter: 'counter', auditor: 'auditor', admin: 'admin' };
  const tokens: Record<string, { role: Role; token: string }> = {};
  for (const [name, role] of Object.entries(users)) tokens[name] = { role, token: await upsertUser(orm.em.fork(), name, role) };
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(tokens, null, 2), { mode: 0o600 });
  say(`demo users manager, senior, counter, auditor, admin: bearer tokens in ${file}`);
}

let stopping = false;
async function shutdown(code: number, quiet = false): Promise<never> {
  if (!stopping) {
    stopping = true;
    shuttingDown.abort();
    if (!quiet) say('stopping ...');
    setTimeout(() => {
      say(`not stopped within ${STOP_BOUND_MS / 1000} s: exiting anyway`);
      process.exit(code || 1);
    }, STOP_BOUND_MS).unref();
    for (const stop of stops) await stop().catch((e) => say(`while stopping: ${e instanceof Error ? e.message.split('\n')[0] : e}`));
    if (!quiet) say('stopped.');
  }
  process.exit(code);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(0));
main().catch(async (e) => {
  const { sentence, detail } = describeStartupFailure(e);
  console.error(`[stocktake] cannot start: ${sentence}`);
  if (detail) console.error(`[stocktake] details: ${detail.replaceAll('\n', ' | ')}`);
  await shutdown(1, true);
});
