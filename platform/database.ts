import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Config } from './config';
import { startEmbeddedPostgres } from './embedded-postgres';

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
 * already runs it, started here if not.
 */
export async function openDatabase(config: Config, log: (line: string) => void = () => {}): Promise<DatabaseHandle> {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => {} };
  const dataDir = path.join(config.dataDir, 'pg');
  const runningPort = livePostmasterPort(dataDir);
  if (runningPort) {
    return { url: `postgres://${USER_PASS}@127.0.0.1:${runningPort}/${DB_NAME}`, stop: async () => {} };
  }
  const cluster = await startEmbeddedPostgres({ dataDir, persistent: true, log });
  await ensureDatabase(cluster.adminUrl, DB_NAME);
  return { url: cluster.urlFor(DB_NAME), stop: () => cluster.stop() };
}

/** postmaster.pid holds the server's pid on line 1 and its port on line 4. */
function livePostmasterPort(dataDir: string): number | undefined {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return undefined;
  const lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(lines[0]), 0);
  } catch {
    return undefined;
  }
  const port = Number(lines[3]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
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
