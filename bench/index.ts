import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { figure, ratio } from './measure';

/**
 * `npm run bench -- --positions N [--runs K] [--only bench|phase]... [--entry-files] [--out file]`:
 * every benchmark at one size, each beside its baseline in the same run,
 * written to bench/results.json (or --out) with the machine described:
 * - count: the steps of a count reconciliation (bench/run.ts; --only takes
 *   its phase names too: snapshot, submissions, populate, ...);
 * - comparison: the ERP-vs-WMS comparison of N positions per side beside
 *   hand-written SQL (bench/system-comparison.ts);
 * - imports: a stock import of N lines over HTTP beside PostgreSQL alone
 *   (bench/imports.ts);
 * - open (only when asked for, `--only open`; N does not apply): the Update
 *   round trip with 100 reconciliations open and 1,000 open on one worker,
 *   on a Temporal server (bench/open-reconciliations.ts). Its figures are
 *   merged into the results file under `openReconciliations`, keeping what
 *   is there, so the slow million-position runs need not be repeated.
 * Each runs in a process (group) of its own, on a throwaway embedded
 * PostgreSQL, so one's memory peak is not another's; comparison and imports
 * run K times for their medians.
 */
const COUNT_PHASES = ['snapshot', 'countOrders', 'submissions', 'populate', 'approve', 'planRelease', 'post', 'adjustmentOrder'];
const BENCHES = ['count', 'comparison', 'imports'] as const;
type Bench = (typeof BENCHES)[number];

const { values } = parseArgs({
  options: {
    positions: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '1' },
    only: { type: 'string', multiple: true },
    out: { type: 'string', default: path.join('bench', 'results.json') },
    notes: { type: 'string' },
    'other-runs': { type: 'string' },
    // Devices send each order as one entry file instead of batches of 500 (bench/run.ts).
    'entry-files': { type: 'boolean', default: false },
  },
});
const only = values.only ?? [];
const OPEN = 'open';
const unknown = only.filter((o) => !(BENCHES as readonly string[]).includes(o) && !COUNT_PHASES.includes(o) && o !== OPEN);
if (unknown.length > 0 || !/^[1-9][0-9]*$/.test(values.positions) || !/^[1-9][0-9]*$/.test(values.runs)) {
  console.error(`usage: npm run bench -- --positions N [--runs K] [--only ${[...BENCHES, OPEN, ...COUNT_PHASES].join('|')}]... [--out file]`);
  process.exit(2);
}
const phases = only.filter((o) => COUNT_PHASES.includes(o));
const chosen: Bench[] = only.length === 0 ? [...BENCHES] : BENCHES.filter((b) => only.includes(b) || (b === 'count' && phases.length > 0));
const runs = Number(values.runs);
// Comparison and imports may run fewer times than the count phases (at a million positions each takes minutes).
const otherRuns = Number(values['other-runs'] ?? values.runs);
const scratch = path.join('.test-data', `bench-index-${process.pid}`);
fs.mkdirSync(scratch, { recursive: true });

/** Runs a bench in a process group of its own; the group is killed if this process is interrupted. */
function runChild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: 'inherit', detached: true });
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      process.exit(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (code === 0) resolve();
      else reject(new Error(`${args[0]} exited with ${code ?? signal}`));
    });
  });
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
const results: Record<string, unknown> = {};
const failures: string[] = [];

/** results.json as far as the benches got: written after each, so a run stopped early keeps what it measured. */
function writeResults() {
  const count = results.count as { machine?: Record<string, unknown>; phases?: Array<{ matched: boolean }> } | undefined;
  const report = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
    positions: Number(values.positions),
    runs,
    machine: { ...(count?.machine ?? {}), loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    notes: [
      values.notes,
      'Durable default settings: synchronous_commit=on, fsync=on, full_page_writes=on; nothing on the measured path relaxes them.',
      'Figures are medians of the runs with min and max; each phase is timed beside its baseline in the same run, interleaved (odd runs Stocktake first, even runs the baseline first).',
      'ratio = Stocktake median / baseline median; matched = both produced the same result in every run.',
    ].filter(Boolean),
    ...results,
    notMeasured: [
      'Update round trip with 100 reconciliations open, and 1,000 open on one worker: measured by `npm run bench -- --only open` (bench/open-reconciliations.ts), merged in under openReconciliations.',
    ],
    failures,
  };
  fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  fs.writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  return count;
}

for (const bench of chosen) {
  const times = bench === 'count' ? runs : otherRuns;
  console.log(`\n== ${bench} (${values.positions}, ${times} run${times > 1 ? 's' : ''}) ==`);
  try {
    if (bench === 'count') {
      const out = path.join(scratch, 'count.json');
      try {
        await runChild([
          'bench/run.ts', '--positions', values.positions, '--runs', values.runs, '--out', out,
          ...phases.flatMap((p) => ['--only', p]), ...(values['entry-files'] ? ['--entry-files'] : []),
        ]);
      } finally {
        // A count bench that failed or was stopped part way still wrote the runs it finished.
        if (fs.existsSync(out)) results.count = readJson(out);
      }
    }
    if (bench === 'comparison') {
      const each: Array<Record<string, unknown>> = [];
      for (let k = 0; k < otherRuns; k++) {
        const out = path.join(scratch, `comparison-${k}.json`);
        await runChild(['bench/system-comparison.ts', '--positions', values.positions, '--out', out]);
        each.push(readJson(out));
      }
      const s = figure(each.map((e) => e.compareMs as number));
      const b = figure(each.map((e) => Math.min(...(e.baselineMs as number[]))));
      results.comparison = {
        phase: 'ERP-vs-WMS comparison (compareSources)',
        stocktake: s,
        baseline: { ...b, what: 'hand-written set-based SQL of the same rules (faster of two runs)' },
        ratio: ratio(s, b),
        matched: each.every((e) => e.identical === true),
        peakRss: {
          workerMb: Math.max(...each.map((e) => e.nodePeakRssMb as number)),
          postgresBackendMb: Math.max(...each.map((e) => (e.compareWithWorkersPeakRssMb as number | null) ?? 0)),
        },
        runs: each,
      };
    }
    if (bench === 'imports') {
      const each: Array<{ results: Array<{ load: string; ms: number; linesPerSecond: number }>; peakRssMb: number }> = [];
      for (let k = 0; k < otherRuns; k++) {
        const out = path.join(scratch, `imports-${k}.json`);
        await runChild(['bench/imports.ts', '--lines', values.positions, '--out', out]);
        each.push(readJson(out) as (typeof each)[number]);
      }
      const ms = (load: string) => each.map((e) => e.results.find((r) => r.load.startsWith(load))!.ms);
      const s = figure(ms('stock, new positions'));
      const b = figure(ms('baseline'));
      const limit = figure(ms('limit'));
      results.imports = {
        phase: 'import of stock over HTTP (new positions)',
        stocktake: s,
        baseline: { ...b, what: 'the same CSV body by hand-written SQL: COPY into a staging table, then one INSERT ... SELECT each for positions, blockings and movements' },
        ratio: ratio(s, b),
        limit: { ...limit, what: 'the same positions, blockings and movements generated inside PostgreSQL by one INSERT ... SELECT (no body to read)' },
        ratioToLimit: ratio(s, limit),
        // bench/imports.ts throws when the hand-written load wrote other stock than Stocktake's.
        matched: true,
        updates: { everyQuantityChanged: figure(ms('stock, every quantity changed')), nothingChanged: figure(ms('stock, nothing changed')) },
        peakRss: { apiAndClientMb: Math.max(...each.map((e) => e.peakRssMb)) },
        runs: each,
      };
    }
  } catch (e) {
    failures.push(`${bench}: ${(e as Error).message}`);
    console.error(`${bench}: ${(e as Error).message}`);
  }
  writeResults();
}
const count = chosen.length > 0 ? writeResults() : undefined;

if (only.includes(OPEN)) {
  console.log('\n== open reconciliations (100 open for the Update round trip, 1,000 on one worker) ==');
  try {
    const out = path.join(scratch, 'open.json');
    await runChild(['bench/open-reconciliations.ts', '--out', out]);
    const merged = fs.existsSync(values.out) ? readJson(values.out) : {};
    merged.openReconciliations = { command: `npm run bench -- ${process.argv.slice(2).join(' ')}`, notes: values.notes, ...readJson(out) };
    delete merged.notMeasured;
    fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    fs.writeFileSync(values.out, JSON.stringify(merged, null, 2) + '\n');
  } catch (e) {
    failures.push(`${OPEN}: ${(e as Error).message}`);
    console.error(`${OPEN}: ${(e as Error).message}`);
  }
}

fs.rmSync(scratch, { recursive: true, force: true });
console.log(`\nresults written to ${values.out}`);
const mismatched = (count?.phases ?? []).some((p) => !p.matched);
if (failures.length > 0 || mismatched) process.exitCode = 1;
