import fs from 'node:fs';
import os from 'node:os';
import { rows, sql, type Em } from '../db/sql';

/** Median, fastest and slowest of K runs of one side of a phase. */
export interface Figure {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runsMs: number[];
}

export function figure(runsMs: number[]): Figure {
  const sorted = [...runsMs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { medianMs: Math.round(median), minMs: sorted[0]!, maxMs: sorted[sorted.length - 1]!, runsMs };
}

/** Stocktake's median over the baseline's; 1.0 means as fast as the hand-written SQL. */
export const ratio = (stocktake: Figure, baseline: Figure) =>
  baseline.medianMs > 0 ? Math.round((stocktake.medianMs / baseline.medianMs) * 100) / 100 : null;

/** Peak resident memory in MB of the processes one phase ran on. */
export interface PeakRss {
  /** The API process (bench/api-server.ts). */
  apiMb: number | null;
  /** The bench process, which runs the activities as a worker would (and, during submissions, the devices' prepared requests). */
  workerMb: number;
  /** All PostgreSQL processes: their private memory summed, plus shared memory once (it is mapped into each). */
  postgresMb: number;
  /**
   * CPU seconds (user + system) each side spent in the phase: where the two
   * cores went. PostgreSQL's counts every process, including backends that
   * ended (the postmaster collects their time when it reaps them).
   */
  cpuSeconds?: { api: number | null; worker: number; postgres: number };
}

const kbField = (status: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);

function statusOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** utime + stime, and the reaped children's cutime + cstime, in clock ticks (/proc/<pid>/stat fields 14 to 17). */
function cpuTicks(pid: number, withReaped: boolean): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // After the ')' the fields start at 3 (state): utime is field 14, so index 11.
    return f[11]! + f[12]! + (withReaped ? f[13]! + f[14]! : 0);
  } catch {
    return 0;
  }
}

/** Clock ticks per second: 100 on Linux for the last decades (USER_HZ). */
const TICKS = 100;

function childrenOf(parent: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) found.push(Number(entry));
    } catch {
      // the process ended between readdir and read
    }
  }
  return found;
}

/**
 * Samples the memory of the API, this process and PostgreSQL every 100 ms
 * while a phase runs (read from /proc), and keeps the peaks. A sample
 * cannot run while this process computes synchronously, so its own peak is
 * also taken from the kernel's high-water mark when that rose in the phase.
 */
export class RssSampler {
  private peak = { api: 0, worker: 0, postgres: 0 };
  private timer: NodeJS.Timeout | undefined;
  private pgChildren: number[] = [];
  private lastChildScan = 0;

  constructor(private readonly pids: { api?: number; postgres: number }) {}

  private cpuAtStart = { api: 0, worker: 0, postgres: 0 };

  private cpuNow() {
    const own = process.cpuUsage();
    return {
      api: this.pids.api ? cpuTicks(this.pids.api, false) : 0,
      worker: (own.user + own.system) / 1e6,
      postgres: cpuTicks(this.pids.postgres, true) + childrenOf(this.pids.postgres).reduce((t, pid) => t + cpuTicks(pid, false), 0),
    };
  }

  start(): void {
    this.peak = { api: 0, worker: 0, postgres: 0 };
    this.cpuAtStart = this.cpuNow();
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  stop(): PeakRss {
    clearInterval(this.timer);
    this.sample();
    const mb = (kb: number) => Math.round(kb / 1024);
    const cpu = this.cpuNow();
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      apiMb: this.pids.api ? mb(this.peak.api) : null,
      workerMb: mb(this.peak.worker),
      postgresMb: mb(this.peak.postgres),
      cpuSeconds: {
        api: this.pids.api ? round((cpu.api - this.cpuAtStart.api) / TICKS) : null,
        worker: round(cpu.worker - this.cpuAtStart.worker),
        postgres: round((cpu.postgres - this.cpuAtStart.postgres) / TICKS),
      },
    };
  }

  private sample(): void {
    this.peak.worker = Math.max(this.peak.worker, Math.round(process.memoryUsage().rss / 1024));
    if (this.pids.api) {
      const s = statusOf(this.pids.api);
      if (s) this.peak.api = Math.max(this.peak.api, kbField(s, 'VmRSS'));
    }
    if (Date.now() - this.lastChildScan > 2000) {
      this.pgChildren = childrenOf(this.pids.postgres);
      this.lastChildScan = Date.now();
    }
    let privateKb = 0;
    let sharedKb = 0;
    for (const pid of [this.pids.postgres, ...this.pgChildren]) {
      const s = statusOf(pid);
      if (!s) continue;
      privateKb += kbField(s, 'RssAnon') + kbField(s, 'RssFile');
      sharedKb = Math.max(sharedKb, kbField(s, 'RssShmem'));
    }
    this.peak.postgres = Math.max(this.peak.postgres, privateKb + sharedKb);
  }
}

/** The machine and the PostgreSQL settings a figure was measured on. */
export async function describeMachine(em: Em): Promise<Record<string, unknown>> {
  const settings = await rows(
    em,
    sql<{ name: string; setting: string; unit: string | null }>`
      select name, setting, unit from pg_settings
      where name in ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'synchronous_commit', 'fsync', 'full_page_writes',
                     'wal_level', 'max_wal_size', 'checkpoint_timeout', 'effective_cache_size', 'max_parallel_workers_per_gather',
                     'wal_compression', 'jit')
      order by name`,
  );
  const version = await rows(em, sql<{ v: string }>`select version() as v`);
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: version[0]?.v ?? 'unknown',
    postgresSettings: Object.fromEntries(settings.map((s) => [s.name, s.unit ? `${s.setting} (${s.unit})` : s.setting])),
  };
}
