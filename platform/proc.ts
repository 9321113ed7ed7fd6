import fs from 'node:fs';

/**
 * Processes as Linux's /proc shows them. Used to find what a killed `npm start`
 * left behind (backends of its PostgreSQL, its Temporal dev server) and, in
 * tests, to prove nothing was left. Fields another user's process hides from
 * us come back undefined rather than failing the scan.
 */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgid: number;
  /** argv, NUL-separated in /proc; empty for kernel threads and zombies. */
  argv: string[];
  /** Working directory; PostgreSQL's postmaster and backends run in their data directory. */
  cwd: string | undefined;
  /** Path of the running binary. */
  exe: string | undefined;
  zombie: boolean;
}

export function listProcesses(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProcess(Number(entry));
    if (info) found.push(info);
  }
  return found;
}

export function readProcess(pid: number): ProcessInfo | undefined {
  const stat = tryRead(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields after it start at the last ')'.
  const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const argv = (tryRead(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
  return {
    pid,
    ppid: Number(ppid),
    pgid: Number(pgid),
    argv,
    cwd: tryReadLink(`/proc/${pid}/cwd`),
    exe: tryReadLink(`/proc/${pid}/exe`),
    zombie: state === 'Z' || state === 'X',
  };
}

/** The environment a process was started with (later changes of its own are not visible). */
export function processEnvironment(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const pair of (tryRead(`/proc/${pid}/environ`) ?? '').split('\0')) {
    const eq = pair.indexOf('=');
    if (eq > 0) env.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return env;
}

/** kill(pid, 0): EPERM still means the process exists (it belongs to another user, e.g. `postgres`). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return !readProcess(pid)?.zombie;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends a signal, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function tryRead(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function tryReadLink(link: string): string | undefined {
  try {
    return fs.readlinkSync(link);
  } catch {
    return undefined;
  }
}
