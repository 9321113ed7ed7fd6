import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { listProcesses, processEnvironment, signal, type ProcessInfo } from '../../platform/proc';
import { eventually } from './wait';

/**
 * Processes the tests start, and proof that none outlives them. Every process
 * a test spawns leads a process group of its own and carries markers in its
 * environment, inherited by everything it starts: the test run (RUN_MARKER,
 * set by the global setup for the whole run) and the spawn (SPAWN_MARKER).
 * PostgreSQL overwrites its backends' environment with their process titles
 * and makes each backend a session leader, so its processes are recognised
 * by their data directory instead: every test cluster lives in a path that
 * contains the run's id (see `runDataDir`), and the spawn names its own.
 */
export const RUN_MARKER = 'STOCKTAKE_TEST_RUN';
export const SPAWN_MARKER = 'STOCKTAKE_TEST_SPAWN';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** This run's id: the global setup puts it into the environment the test workers inherit. */
export function runId(): string {
  const id = process.env[RUN_MARKER];
  if (!id) throw new Error(`${RUN_MARKER} is not set: run the tests through vitest (test/support/global-setup.ts sets it)`);
  return id;
}

/** A fresh directory name for test data of this run; its path carries the run id. */
export function runDataDir(name: string): string {
  return path.join(ROOT, '.test-data', runId(), `${name}-${randomUUID().slice(0, 8)}`);
}

export interface SpawnedGroup {
  child: ChildProcess;
  /** Process group id (= the child's pid: it leads its own group). */
  pgid: number;
  /** Everything the group wrote to stdout and stderr so far. */
  output(): string;
  /** Settles when the group leader exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Live processes of this spawn: the group, its descendants wherever they went, and PostgreSQL in its data directories. */
  leftovers(): ProcessInfo[];
  /** SIGKILLs the group and every leftover, and waits until none is left. */
  kill(timeoutMs?: number): Promise<void>;
}

/**
 * Spawns `command` as the leader of a new process group, as a shell starts a
 * job. `dataDirs`: directories where the spawned process runs PostgreSQL.
 */
export function spawnGroup(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; dataDirs?: string[] } = {}): SpawnedGroup {
  const spawnId = randomUUID();
  const child = spawn(command, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env, [RUN_MARKER]: runId(), [SPAWN_MARKER]: spawnId },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, sig) => resolve({ code, signal: sig })),
  );
  const pgid = child.pid!;
  const leftovers = () => {
    const found = new Map<number, ProcessInfo>();
    for (const p of [...groupMembers(pgid), ...processesMarked(SPAWN_MARKER, spawnId, opts.dataDirs ?? [])]) found.set(p.pid, p);
    return [...found.values()];
  };
  return {
    child,
    pgid,
    output: () => output,
    exited,
    leftovers,
    async kill(timeoutMs = 30_000) {
      signalGroup(pgid, 'SIGKILL');
      for (const p of leftovers()) signal(p.pid, 'SIGKILL');
      await waitUntilGone(leftovers, `spawn ${pgid}`, timeoutMs);
    },
  };
}

/** kill(-pgid): the signal Ctrl-C (SIGINT) or a supervisor (SIGTERM, SIGKILL) sends to a whole job. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Live (not zombie) members of a process group. */
export function groupMembers(pgid: number): ProcessInfo[] {
  return listProcesses().filter((p) => p.pgid === pgid && !p.zombie);
}

/** Waits until `list` comes back empty; fails naming what is still there. */
export async function waitUntilGone(list: () => ProcessInfo[], what: string, timeoutMs: number): Promise<void> {
  await eventually(async () => (list().length === 0 ? true : undefined), `${what} to leave no process`, timeoutMs).catch(() => {
    throw new Error(`${what} left processes behind:\n${describeProcesses(list())}`);
  });
}

/**
 * Live processes carrying `marker=value` in their environment, and PostgreSQL
 * processes whose data directory (or, for a relocated cluster, the path it
 * was asked for) is in `dataDirs` or contains `value`. Never the calling process.
 */
export function processesMarked(marker: string, value: string, dataDirs: string[] = []): ProcessInfo[] {
  return listProcesses().filter(
    (p) => p.pid !== process.pid && !p.zombie && (processEnvironment(p.pid).get(marker) === value || postgresIn(p, [value, ...dataDirs])),
  );
}

function postgresIn(p: ProcessInfo, fragments: string[]): boolean {
  if (!p.cwd || !(p.argv[0] ?? '').includes('postgres')) return false;
  const places = [p.cwd, readOrigin(p.cwd)].filter((x): x is string => x !== undefined);
  return places.some((place) => fragments.some((f) => place.includes(f)));
}

/** cluster-location.ts leaves an `origin` note next to a relocated cluster, naming where it was asked for. */
function readOrigin(dataDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(path.dirname(dataDir.replace(/ \(deleted\)$/, '')), 'origin'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function describeProcesses(processes: ProcessInfo[]): string {
  return processes.map((p) => `  ${p.pid} (group ${p.pgid}) ${p.argv.join(' ').slice(0, 200)}`).join('\n');
}

export interface StartPorts {
  PORT: number;
  TEMPORAL_DEV_PORT: number;
  TEMPORAL_UI_PORT: number;
}

export interface RunningStart {
  group: SpawnedGroup;
  baseUrl: string;
  /** A demo user's bearer token (from <dataDir>/demo-tokens.json). */
  token(user: 'manager' | 'senior' | 'counter' | 'auditor' | 'admin'): string;
  /** Ctrl-C in a terminal: SIGINT to the whole process group; resolves once no process of it is left. */
  ctrlC(timeoutMs?: number): Promise<void>;
}

/**
 * `npm start` as a person runs it (tsx on scripts/start.ts, in its own
 * process group), on the embedded defaults in `dataDir`; resolves once
 * /health answers 200.
 */
export async function startStocktake(opts: {
  dataDir: string;
  ports: StartPorts;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}): Promise<RunningStart> {
  const cwd = opts.cwd ?? ROOT;
  const group = spawnGroup(path.join(cwd, 'node_modules/.bin/tsx'), ['scripts/start.ts'], {
    cwd,
    dataDirs: [opts.dataDir],
    env: {
      // npm puts the project's Node first on the PATH; so does this, for tsx's `#!/usr/bin/env node`.
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      ...Object.fromEntries(Object.entries(opts.ports).map(([k, v]) => [k, String(v)])),
      STOCKTAKE_DATA_DIR: opts.dataDir,
      SEED_POSITIONS: '300',
      DATABASE_URL: '',
      TEMPORAL_ADDRESS: '',
      ...opts.env,
    },
  });
  const baseUrl = `http://127.0.0.1:${opts.ports.PORT}`;
  const exitedEarly = group.exited.then(({ code, signal: sig }) => {
    throw new Error(`npm start exited early (${sig ?? `code ${code}`})`);
  });
  const healthy = eventually(async () => ((await fetch(`${baseUrl}/health`)).status === 200 ? true : undefined), 'npm start to serve /health', opts.readyTimeoutMs ?? 120_000);
  try {
    await Promise.race([healthy, exitedEarly]);
  } catch (e) {
    await group.kill();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${group.output().slice(-4000)}`);
  }
  exitedEarly.catch(() => {});
  return {
    group,
    baseUrl,
    token(user) {
      const tokens = JSON.parse(fs.readFileSync(path.join(opts.dataDir, 'demo-tokens.json'), 'utf8')) as Record<string, { token: string }>;
      return tokens[user]!.token;
    },
    async ctrlC(timeoutMs = 60_000) {
      signalGroup(group.pgid, 'SIGINT');
      await group.exited;
      await waitUntilGone(group.leftovers, 'npm start after Ctrl-C', timeoutMs);
    },
  };
}
