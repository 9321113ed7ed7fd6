import fs from 'node:fs';
import path from 'node:path';
import { isAlive, listProcesses, readProcess, signal, type ProcessInfo } from './proc';

/**
 * What a PostgreSQL server killed hard leaves in its data directory, and how
 * to get past it. Backends make themselves session leaders, so killing the
 * process group of `npm start` kills the postmaster but not a backend in the
 * middle of a long statement: it runs on, attached to the shared memory, and
 * a new postmaster refuses to start ("pre-existing shared memory block is
 * still in use") until it ends. Those backends serve nobody (their postmaster
 * is gone, their transaction will be rolled back by crash recovery), so they
 * are ended rather than waited for.
 */
export interface LivePostmaster {
  pid: number;
  port: number;
}

/** postmaster.pid: pid on line 1, data directory on line 2, port on line 4, status on line 8. */
export function livePostmaster(dataDir: string): LivePostmaster | undefined {
  const lines = readPidFile(dataDir);
  if (!lines) return undefined;
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!isOurPostgres(pid, dataDir) || !Number.isInteger(port) || port <= 0) return undefined;
  if ((lines[7] ?? '').trim() === 'stopping') return undefined;
  return { pid, port };
}

/**
 * Makes `dataDir` startable after a server that died without cleaning up:
 * ends leftover backends (SIGQUIT, the signal a postmaster uses for the same
 * purpose, then SIGKILL), waits for them to be gone, and removes a
 * postmaster.pid whose pid now belongs to an unrelated process (PostgreSQL
 * would take that for a running server). Never touches a live postmaster.
 */
export async function clearStaleCluster(dataDir: string, log: (line: string) => void, boundMs = 60_000): Promise<void> {
  const leftovers = leftoverBackends(dataDir);
  if (leftovers.length > 0) {
    log(
      `PostgreSQL in ${dataDir} was killed but ${leftovers.length} of its backends still run (pids ${leftovers.map((p) => p.pid).join(', ')}): ending them (waiting at most ${boundMs / 1000} s)`,
    );
    await endProcesses(leftovers, boundMs);
    const stubborn = leftoverBackends(dataDir);
    if (stubborn.length > 0) throw new Error(`leftover PostgreSQL backends ${stubborn.map((p) => p.pid).join(', ')} of ${dataDir} did not exit within ${boundMs / 1000} s`);
  }
  const lines = readPidFile(dataDir);
  if (lines && !isOurPostgres(Number(lines[0]), dataDir) && leftoverBackends(dataDir).length === 0) {
    fs.rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  }
}

/** PostgreSQL processes running in `dataDir` although the postmaster recorded there is dead. */
export function leftoverBackends(dataDir: string): ProcessInfo[] {
  const lines = readPidFile(dataDir);
  const postmaster = lines ? Number(lines[0]) : undefined;
  if (postmaster !== undefined && isOurPostgres(postmaster, dataDir)) return [];
  return postgresProcessesIn(dataDir);
}

/** Every postgres process whose working directory is `dataDir` (the postmaster chdirs there; backends inherit it). */
export function postgresProcessesIn(dataDir: string): ProcessInfo[] {
  const real = realPath(dataDir);
  return listProcesses().filter((p) => !p.zombie && isPostgresBinary(p) && p.cwd !== undefined && p.cwd === real);
}

function isOurPostgres(pid: number, dataDir: string): boolean {
  if (!isAlive(pid)) return false;
  const info = readProcess(pid);
  // Another user's process whose cwd we may not read: trust kill(0), as PostgreSQL itself does.
  if (!info || info.cwd === undefined) return true;
  return isPostgresBinary(info) && info.cwd === realPath(dataDir);
}

function isPostgresBinary(p: ProcessInfo): boolean {
  if (p.exe !== undefined) return path.basename(p.exe.replace(/ \(deleted\)$/, '')) === 'postgres';
  return (p.argv[0] ?? '').startsWith('postgres');
}

async function endProcesses(processes: ProcessInfo[], boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  let escalated = false;
  for (const p of processes) signal(p.pid, 'SIGQUIT');
  const quitBy = Date.now() + Math.min(5_000, boundMs / 2);
  while (Date.now() < deadline && processes.some((p) => isAlive(p.pid))) {
    if (!escalated && Date.now() > quitBy) {
      escalated = true;
      for (const p of processes) signal(p.pid, 'SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readPidFile(dataDir: string): string[] | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
}

function realPath(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}
