import path from 'node:path';
import pg from 'pg';
import type { Config } from './config';
import { startEmbeddedPostgres, type RunningPostgres } from './embedded-postgres';
import { freePort } from './free-port';
import { livePostmaster } from './stale-cluster';
import { StartupError } from './startup-error';
import { supervise } from './supervisor';

export interface DatabaseHandle {
  url: string;
  /** Stops the embedded cluster if this process started it; no-op otherwise. */
  stop(): Promise<void>;
}

const USER_PASS = 'stocktake:stocktake';
const DB_NAME = 'stocktake';

/**
 * The database Stocktake uses: `DATABASE_URL` when set; otherwise the embedded
 * cluster under `<dataDir>/pg`, attached to if another process (e.g. `npm start`)
 * already runs it, started here if not. With `supervise` (what `npm start`
 * asks for), a cluster started here is restarted on the same port and data
 * directory whenever it dies, so the pools of the API and worker reconnect;
 * `until` is aborted when the caller begins to shut down (no restarts then).
 */
export async function openDatabase(
  config: Config,
  log: (line: string) => void = () => {},
  opts: { supervise?: boolean; until?: AbortSignal } = {},
): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    await checkReachable(config.databaseUrl);
    return { url: config.databaseUrl, stop: async () => {} };
  }
  // Through a pointer symlink if the cluster was relocated: postmaster.pid is found all the same.
  const dataDir = path.join(config.dataDir, 'pg');
  const running = livePostmaster(dataDir);
  if (running) {
    log(`using the PostgreSQL server already running in ${dataDir} (pid ${running.pid}); its owner keeps it running`);
    return attached(running.port);
  }

  try {
    if (opts.supervise) return await supervisedCluster(dataDir, log, opts.until);
    const cluster = await startCluster(dataDir, log);
    return { url: cluster.urlFor(DB_NAME), stop: () => cluster.stop() };
  } catch (e) {
    // Another process (an API and a worker started together) may have won the race for the data directory.
    const winner = livePostmaster(dataDir);
    if (winner) return attached(winner.port);
    throw e;
  }
}

function attached(port: number): DatabaseHandle {
  return { url: `postgres://${USER_PASS}@127.0.0.1:${port}/${DB_NAME}`, stop: async () => {} };
}

async function startCluster(dataDir: string, log: (line: string) => void, port?: number): Promise<RunningPostgres> {
  const cluster = await startEmbeddedPostgres({ dataDir, persistent: true, log, ...(port ? { port } : {}) });
  try {
    await ensureDatabase(cluster.adminUrl, DB_NAME);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

async function supervisedCluster(dataDir: string, log: (line: string) => void, until: AbortSignal | undefined): Promise<DatabaseHandle> {
  // Chosen once: the API's and worker's pools keep this URL, so every restart listens on the same port.
  const port = await freePort();
  const supervision = await supervise({ name: 'PostgreSQL', start: () => startCluster(dataDir, log, port), log, until });
  return { url: supervision.current.urlFor(DB_NAME), stop: () => supervision.stop() };
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
}

/** A wrong DATABASE_URL should stop a start with what is wrong, not with a pool error later. */
async function checkReachable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    const where = safeLocation(url);
    throw new StartupError(
      `cannot connect to the PostgreSQL server of DATABASE_URL (${where}): ${e instanceof Error ? e.message : String(e)}; start it or correct DATABASE_URL`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

function safeLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'unparsable URL';
  }
}
