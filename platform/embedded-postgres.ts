import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { locateCluster, removeCluster } from './cluster-location';
import { freePort } from './free-port';
import { serverAccount, type ServerAccount } from './postgres-account';
import { findPostgresBinaries } from './postgres-binaries';
import { clearStaleCluster } from './stale-cluster';
import { StartupError } from './startup-error';

export interface RunningPostgres {
  /** Connection URL of the `postgres` maintenance database. */
  adminUrl: string;
  urlFor(database: string): string;
  port: number;
  /** Where the cluster really lives: `dataDir` as asked, or where it was relocated to (see cluster-location.ts). */
  dataDir: string;
  pid: number;
  /** Settles, never rejects, when the server exits for whatever reason; says how. */
  exited: Promise<string>;
  /** Fast shutdown; a throwaway cluster is then deleted. */
  stop(): Promise<void>;
}

const USER = 'stocktake';
const PASSWORD = 'stocktake';

/**
 * Server settings. Durability is PostgreSQL's default (fsync, synchronous
 * commit, full page writes): the cluster under .data is the only copy of the
 * reconciliations, and a commit that reached the API must survive a crash.
 */
const SERVER_FLAGS = [
  'listen_addresses=127.0.0.1',
  // No Unix socket: nothing here uses one, and a socket lock file in /tmp left
  // by a killed server would only be one more thing to block a restart.
  'unix_socket_directories=',
  'max_connections=200',
  // A backend notices that its client is gone only when it next talks to it.
  // When a worker is SIGKILLed during a long statement, its backend would run
  // that statement to the end holding its row locks, so the retried activity
  // would wait behind a ghost; polling the socket every 2 s ends it instead.
  'client_connection_check_interval=2s',
];

const READY_BOUND_MS = 300_000;
const STOP_BOUND_MS = 60_000;

/**
 * Runs the PostgreSQL binaries npm installed, as a child process: initialises
 * `dataDir` on first use and keeps it across restarts (unless `persistent` is
 * false). As root the server runs as the `postgres` user. `port` defaults to a
 * free loopback port; a supervisor restarting a server passes the old one.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  persistent: boolean;
  port?: number;
  log?: (line: string) => void;
}): Promise<RunningPostgres> {
  const log = opts.log ?? (() => {});
  const requested = path.resolve(opts.dataDir);
  const account = serverAccount(log);
  const binaries = await findPostgresBinaries(account, log);
  const location = locateCluster(requested, { persistent: opts.persistent, account, log });
  const dataDir = location.dataDir;
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await initialise(binaries.initdb, dataDir, account);
  } else {
    await clearStaleCluster(dataDir, log);
  }
  const port = opts.port ?? (await freePort());
  const flags = SERVER_FLAGS.flatMap((flag) => ['-c', flag]);
  const server = spawnServer(binaries.postgres, ['-D', dataDir, '-p', String(port), ...flags], account);
  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  try {
    await untilReady(urlFor('postgres'), server, dataDir);
  } catch (e) {
    await stopServer(server);
    throw e;
  }

  // However this process ends, the server gets a fast shutdown rather than outliving it.
  const onExit = () => server.child.kill('SIGINT');
  process.once('exit', onExit);
  void server.exited.then(() => process.off('exit', onExit));
  return {
    adminUrl: urlFor('postgres'),
    urlFor,
    port,
    dataDir,
    pid: server.child.pid!,
    exited: server.exited,
    async stop() {
      await stopServer(server);
      if (!opts.persistent) removeCluster(requested, location);
    },
  };
}

interface ServerProcess {
  child: ChildProcess;
  exited: Promise<string>;
  /** The last lines the server wrote to stderr: what an error message quotes. */
  tail(): string[];
}

function spawnServer(binary: string, args: string[], account: ServerAccount | undefined): ServerProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/', ...(account ? { uid: account.uid, gid: account.gid } : {}) });
  const lines: string[] = [];
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete.filter(Boolean));
    if (lines.length > 50) lines.splice(0, lines.length - 50);
  });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(`could not run ${path.basename(binary)}: ${e.message}`));
    child.once('exit', (code, sig) => resolve(sig ? `was killed by ${sig}` : `exited with code ${code}`));
  });
  return { child, exited, tail: () => (partial ? [...lines, partial] : lines) };
}

/** Ready means a client got an answer: log text differs between versions and locales, a query does not. */
async function untilReady(url: string, server: ServerProcess, dataDir: string): Promise<void> {
  let exitedHow: string | undefined;
  void server.exited.then((how) => (exitedHow = how));
  const deadline = Date.now() + READY_BOUND_MS;
  for (;;) {
    if (exitedHow !== undefined) throw serverFailure(`PostgreSQL in ${dataDir} ${exitedHow} while starting`, server.tail());
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === '28P01' || code === '28000') {
        throw new StartupError(`the PostgreSQL cluster in ${dataDir} does not accept Stocktake's credentials: it was not created by Stocktake; set STOCKTAKE_DATA_DIR to another folder`);
      }
      if (Date.now() > deadline) throw serverFailure(`PostgreSQL in ${dataDir} did not accept connections within ${READY_BOUND_MS / 1000} s`, server.tail());
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function serverFailure(what: string, tail: string[]): StartupError {
  const reason = [...tail].reverse().find((l) => /\b(FATAL|PANIC|ERROR)\b/.test(l)) ?? tail.at(-1);
  return new StartupError(reason ? `${what}: ${reason.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '')}` : what, tail.slice(-10).join('\n'));
}

/** SIGINT is PostgreSQL's fast shutdown; SIGQUIT (immediate) and SIGKILL only if that takes too long. */
async function stopServer(server: ServerProcess): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGINT');
  const quit = setTimeout(() => child.kill('SIGQUIT'), STOP_BOUND_MS);
  const kill = setTimeout(() => child.kill('SIGKILL'), STOP_BOUND_MS + 5_000);
  await server.exited;
  clearTimeout(quit);
  clearTimeout(kill);
}

async function initialise(initdb: string, dataDir: string, account: ServerAccount | undefined): Promise<void> {
  if (fs.readdirSync(dataDir).length > 0) {
    throw new StartupError(`${dataDir} holds files but no PostgreSQL cluster (an interrupted first start?): remove it and start again`);
  }
  // The password file must be readable by the server's user: next to the data directory, which it can reach.
  const pwfile = path.join(path.dirname(dataDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (account) fs.chownSync(pwfile, account.uid, account.gid);
  try {
    const run = spawnServer(
      initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${USER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // The builtin provider's C.UTF-8 sorts by code point and knows Unicode
        // case, on any machine, whatever locales its C library has installed.
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--locale=C',
        '--no-instructions',
      ],
      account,
    );
    const how = await run.exited;
    if (how !== 'exited with code 0') throw serverFailure(`initdb for ${dataDir} ${how}`, run.tail());
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}
