import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createActivities } from '../activities';
import { migrate, openOrm } from '../db/orm';
import { seedDemoWarehouse } from '../db/seed';
import { rows, sizeForBulk, sql, type Em } from '../db/sql';
import { assignCountOrder, completeCountOrder } from '../store/count-orders';
import { POSTING_BATCH_ROWS } from '../store/release/post';
import { createReconciliation } from '../store/reconciliations';
import { upsertUser } from '../store/users';
import * as baseline from './baselines';
import { startBenchPostgres } from './postgres';
import { describeMachine, figure, ratio, RssSampler, type Figure, type PeakRss } from './measure';
import { costliestStatements, enableStatementProfile, resetStatementProfile, type StatementCost } from './statements';

/**
 * `npm run bench:count -- --positions N [--runs K] [--only phase]... [--out file]`:
 * the steps of a count reconciliation at scale on a throwaway embedded
 * PostgreSQL (durable commits; memory settings of bench/postgres.ts), each beside its baseline
 * in the same run (bench/baselines.ts: the hand-written set-based SQL of the
 * same step on the same schema, for a copy of the document), interleaved:
 * odd runs time Stocktake first, even runs the baseline first, so neither
 * always gets the warmer cache. After every phase the two documents'
 * results are compared row for row. Device submissions go over real HTTP
 * to the API in a process of its own, several devices at once. Each figure
 * is the median of K runs with min and max; memory peaks of the API, the
 * bench process (which runs the activities, as a worker would) and
 * PostgreSQL per phase.
 */
// --entry-files: devices send each order's entries as one file (POST /count-orders/{id}/entry-files) instead of batches of 500.
const ENTRY_FILES = process.argv.includes('--entry-files');
const PHASES = ['snapshot', 'countOrders', 'submissions', 'populate', 'approve', 'planRelease', 'post', 'adjustmentOrder'] as const;
type Phase = (typeof PHASES)[number];
const LABEL: Record<Phase, { stocktake: string; baseline: string }> = {
  snapshot: { stocktake: 'snapshot (generateSnapshot)', baseline: 'INSERT ... SELECT of the rows and their blockings' },
  countOrders: { stocktake: 'count orders (createInitialCountOrders, 500 locations each)', baseline: 'INSERT ... SELECT of orders and tasks' },
  submissions: {
    stocktake: ENTRY_FILES
      ? 'device submissions over HTTP as entry files (one streamed CSV per order, stored by COPY; several devices at once) and completion'
      : 'device submissions over HTTP (500 entries per request, several devices at once) and completion',
    baseline: 'database limit: every entry in one INSERT ... SELECT, no HTTP, no checks',
  },
  populate: { stocktake: 'populate counted quantities (populateCountedQuantities)', baseline: 'one UPDATE ... FROM with variance and verdict in SQL, then the blockings' },
  approve: { stocktake: 'approval by filter (approveRows, approval = to_approve)', baseline: 'one UPDATE and its audit events' },
  planRelease: { stocktake: 'release: planning (prepareRelease)', baseline: 'one statement: the postings, and the rows they post' },
  post: { stocktake: `release: posting (postPendingRows, ${POSTING_BATCH_ROWS} rows per transaction)`, baseline: 'one statement: postings done, movements, audit, stock' },
  adjustmentOrder: { stocktake: 'adjustment order (finishRelease)', baseline: 'INSERT ... SELECT of the lines' },
};

const { values } = parseArgs({
  options: {
    positions: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '1' },
    devices: { type: 'string', default: '4' },
    only: { type: 'string', multiple: true },
    'entry-files': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join('.test-data', 'bench-count.json') },
  },
});
const positions = Number(values.positions);
const runCount = Number(values.runs);
const devices = Number(values.devices);
const only = (values.only ?? []) as Phase[];
if (only.some((p) => !PHASES.includes(p)) || !(positions > 0) || !(runCount > 0) || !(devices > 0)) {
  console.error(`usage: tsx bench/run.ts --positions N [--runs K] [--devices D] [--only ${PHASES.join('|')}]... [--entry-files] [--out file]`);
  process.exit(2);
}
// Phases before the last one asked for still run (each needs the one before), unreported.
const lastPhase = only.length > 0 ? Math.max(...only.map((p) => PHASES.indexOf(p))) : PHASES.length - 1;
const reported = (p: Phase) => only.length === 0 || only.includes(p);

const dataDir = path.resolve('.test-data', `bench-${process.pid}`);
const pg = await startBenchPostgres(dataDir);
const orm = await openOrm(pg.adminUrl, { poolMax: 8 });
let api: ChildProcess | undefined;

interface Side {
  runsMs: number[];
  rss: PeakRss[];
}
const measured = new Map<Phase, { stocktake: Side; baseline: Side; differences: number[]; detail: string; statements: StatementCost[] }>();
const by = { user: 'bench', role: 'senior_manager' as const };
const WAREHOUSE = 'BENCH';

try {
  await migrate(orm);
  await enableStatementProfile(orm.em.fork());
  const machine = await describeMachine(orm.em.fork());
  const seeded = await seedDemoWarehouse(orm, { positions, warehouseCode: WAREHOUSE });
  console.log(`seeded ${seeded.positions} positions, ${seeded.locations} locations, ${seeded.blockings} blockings in ${seeded.ms} ms`);
  const deviceNames = Array.from({ length: devices }, (_, d) => `bench-device-${d}`);
  for (const name of deviceNames) await upsertUser(orm.em.fork(), name, 'counter', `token-${name}`, { kind: 'device' });
  const { port, child } = await startApi(pg.adminUrl);
  api = child;
  const sampler = new RssSampler({ api: child.pid, postgres: pg.pid });
  const acts = createActivities(orm);

  for (let run = 0; run < runCount; run++) {
    const { record } = await createReconciliation(
      orm.em.fork(),
      {
        warehouse: WAREHOUSE,
        scope: { kind: 'warehouse' },
        splitPolicy: { kind: 'by_size', maxLocations: 500 },
        tolerance: { default: { quantity: { plus: 0, minus: 0 } } },
        blindCount: true,
        maxRecountRounds: 2,
        countDeadlineMinutes: null,
        managerApprovalLimit: 1e9,
      },
      'bench',
      undefined,
    );
    const rid = record.id;
    const bid = await orm.em.fork().transactional((em) => baseline.copyDocument(em, rid));
    let seq = 0;
    const next = (to: 'ready' | 'counting' | 'review' | 'releasing' | 'released') => ({ seq: ++seq, to });
    let orderIds: number[] = [];
    let prepared: Prepared | undefined;
    // The same memory for sorts and hashes as Stocktake's steps (activities/step.ts), so the ratio compares statements, not settings.
    const inBaseline = (step: (em: Em, id: string) => Promise<void>) => () =>
      orm.em.fork().transactional(async (em) => {
        await sizeForBulk(em);
        await step(em, bid);
      });

    const stocktake: Record<Phase, () => Promise<string>> = {
      snapshot: async () => `${(await acts.generateSnapshot({ reconciliationId: rid, transition: next('ready') })).outcome.rows} rows`,
      countOrders: async () => {
        const d = await acts.createInitialCountOrders({ reconciliationId: rid, by, transition: next('counting') });
        orderIds = d.outcome.countOrderIds;
        return `${d.outcome.orders} orders, ${d.outcome.tasks} tasks`;
      },
      submissions: () => submitOverHttp(port, prepared!),
      populate: async () => {
        const d = (await acts.populateCountedQuantities({ reconciliationId: rid, round: 0, transition: next('review') })).outcome;
        return `${d.rowsCounted} rows, ${d.toApprove} to approve`;
      },
      approve: async () => `${(await acts.approveRows({ reconciliationId: rid, by, selection: { filter: { approval: 'to_approve' } } })).outcome.rows} rows`,
      planRelease: async () => `${(await acts.prepareRelease({ reconciliationId: rid, by, transition: next('releasing') })).outcome.postings} postings`,
      post: async () => {
        const d = await acts.postPendingRows({ reconciliationId: rid });
        return `${d.processed} rows processed, ${d.failed} failed`;
      },
      adjustmentOrder: async () => `${(await acts.finishRelease({ reconciliationId: rid, transition: next('released') })).outcome.lines} lines`,
    };
    const baselines: Record<Phase, () => Promise<void>> = {
      snapshot: inBaseline(baseline.snapshot),
      countOrders: inBaseline((em, id) => baseline.countOrders(em, id, 500)),
      submissions: inBaseline(baseline.submissions),
      populate: inBaseline(baseline.populate),
      approve: inBaseline(baseline.approveAll),
      planRelease: inBaseline(baseline.planRelease),
      post: inBaseline(baseline.post),
      adjustmentOrder: inBaseline(baseline.adjustmentOrder),
    };

    for (const phase of PHASES.slice(0, lastPhase + 1)) {
      const m = measured.get(phase) ?? { stocktake: { runsMs: [], rss: [] }, baseline: { runsMs: [], rss: [] }, differences: [], detail: '', statements: [] };
      const timed = async (side: Side, work: () => Promise<unknown>) => {
        sampler.start();
        const t0 = performance.now();
        const result = await work();
        side.runsMs.push(Math.round(performance.now() - t0));
        side.rss.push(sampler.stop());
        return result;
      };
      // Untimed: what the devices will send, read from the snapshot and serialised before the clock starts.
      if (phase === 'submissions') prepared = await prepareSubmissions(orm.em.fork(), rid, orderIds, deviceNames);
      const profiled = async () => {
        await resetStatementProfile(orm.em.fork());
        m.detail = (await timed(m.stocktake, stocktake[phase])) as string;
        m.statements = await costliestStatements(orm.em.fork());
      };
      if (run % 2 === 0) {
        await profiled();
        await timed(m.baseline, baselines[phase]);
      } else {
        await timed(m.baseline, baselines[phase]);
        await profiled();
      }
      m.differences.push(await baseline.differences(orm.em.fork(), phase, rid, bid));
      measured.set(phase, m);
      if (run === 0 || phase === PHASES[lastPhase]) writeReport(machine, seeded, run + 1);
      const last = (s: Side) => s.runsMs[s.runsMs.length - 1]!;
      console.log(
        `run ${run + 1} ${phase.padEnd(16)} stocktake ${String(last(m.stocktake)).padStart(8)} ms  baseline ${String(last(m.baseline)).padStart(8)} ms` +
          `  x${(last(m.stocktake) / Math.max(1, last(m.baseline))).toFixed(2)}  ${m.differences.at(-1) === 0 ? 'same result' : `${m.differences.at(-1)} rows differ`}  ${m.detail}`,
      );
    }
    // A run stopped before the release leaves its document active, and the next run's would overlap it.
    if (lastPhase < PHASES.length - 1) {
      await acts.cancelReconciliation({ reconciliationId: rid, by, transition: { seq: ++seq, to: 'cancelled' }, reason: 'bench run ends here' });
    }
  }

  const report = writeReport(machine, seeded, runCount);
  printSummary(report);
  if (report.phases.some((p) => !p.matched)) process.exitCode = 1;
} finally {
  if (api?.pid) {
    try {
      process.kill(-api.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await orm.close();
  await pg.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** Written after every phase of the first run and after every run: a bench stopped early still leaves its figures. */
function writeReport(machine: Record<string, unknown>, seeded: { positions: number; locations: number; blockings: number }, runsDone: number) {
  const report = { ...buildReport(machine, seeded), runsDone };
  fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  fs.writeFileSync(values.out, JSON.stringify(report, null, 2));
  return report;
}

/** Extra node options for the API process only, e.g. BENCH_API_NODE_ARGS='--cpu-prof --cpu-prof-dir=.scratch/prof'. */
function apiNodeArgs(): string[] {
  return (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

/** The API in a process group of its own; resolves with its port once it listens. */
async function startApi(url: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...apiNodeArgs(), '--import', 'tsx', path.resolve('bench/api-server.ts'), url], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the bench API exited with ${code}`)));
    lines.on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, child };
}

interface Prepared {
  /** Per device: its orders, each with its request bodies (JSON text, 500 entries each; with --entry-files one CSV). */
  byDevice: Array<{ device: string; orders: Array<{ id: number; bodies: string[] }> }>;
  entries: number;
}

/**
 * Not timed: each order assigned to a device (round robin), and the entries
 * each device will send built from what the snapshot expects, as a handheld
 * would report them: every position, a tenth of them one more than expected.
 */
async function prepareSubmissions(em: Em, reconciliationId: string, orderIds: number[], deviceNames: string[]): Promise<Prepared> {
  const byDevice = deviceNames.map((device) => ({ device, orders: [] as Array<{ id: number; bodies: string[] }> }));
  let entries = 0;
  for (const [n, orderId] of orderIds.entries()) {
    const device = byDevice[n % byDevice.length]!;
    await assignCountOrder(em.fork(), orderId, device.device, 'bench');
    const expected = await rows(
      em,
      sql<{ location: string; item: string; lot: string; serial: string; handlingUnit: string; owner: string; quantity: string }>`
        select l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner,
               (r.snapshot_quantity + case when ${baseline.BUMPED} then 1 else 0 end)::text as quantity
        from count_task t
        join reconciliation_row r on r.reconciliation_id = ${reconciliationId} and r.location_id = t.location_id
        join location l on l.id = r.location_id join item i on i.id = r.item_id
        where t.count_order_id = ${orderId} order by r.id`,
    );
    const bodies: string[] = [];
    if (ENTRY_FILES) {
      const csv = expected.map((e) => [e.location, e.item, e.lot, e.serial, e.handlingUnit, e.owner, e.quantity].join(','));
      bodies.push(['location,item,lot,serial,handlingUnit,owner,quantity', ...csv].join('\n') + '\n');
    }
    for (let i = 0; !ENTRY_FILES && i < expected.length; i += 500) {
      const chunk = expected.slice(i, i + 500).map((e) => ({ ...e, quantity: Number(e.quantity) }));
      bodies.push(JSON.stringify({ submissionId: `o${orderId}-${i}`, entries: chunk }));
    }
    entries += expected.length;
    device.orders.push({ id: orderId, bodies });
  }
  return { byDevice, entries };
}

/** Every device at once, each sending its orders' requests one after the other, then completing each order. */
async function submitOverHttp(port: number, p: Prepared): Promise<string> {
  let requests = 0;
  await Promise.all(
    p.byDevice.map(async ({ device, orders }) => {
      for (const order of orders) {
        for (const [n, body] of order.bodies.entries()) {
          const res = await fetch(`http://127.0.0.1:${port}/count-orders/${order.id}/${ENTRY_FILES ? 'entry-files' : 'submissions'}`, {
            method: 'POST',
            headers: ENTRY_FILES
              ? { authorization: `Bearer token-${device}`, 'content-type': 'text/csv', 'submission-id': `o${order.id}-file-${n}` }
              : { authorization: `Bearer token-${device}`, 'content-type': 'application/json' },
            body,
          });
          const text = await res.text();
          if (res.status !== 201) throw new Error(`submission to order ${order.id}: ${res.status} ${text.slice(0, 300)}`);
          requests++;
        }
        // Completion signals the workflow when it comes over HTTP; the bench has none, so it completes through the store.
        await completeCountOrder(orm.em.fork(), order.id, device, device);
      }
    }),
  );
  return `${p.entries} entries in ${requests} requests from ${p.byDevice.length} devices`;
}

interface PhaseReport {
  phase: string;
  stocktake: Figure & { what: string; peakRss: PeakRss };
  baseline: Figure & { what: string; peakRss: PeakRss };
  ratio: number | null;
  /** Both documents ended the phase with the same result, in every run. */
  matched: boolean;
  detail: string;
  throughput?: { unit: string; stocktake: number; baseline: number };
  /** Stocktake's costliest statements in the last run of the phase (bench/statements.ts). */
  statements: StatementCost[];
}

function peakOf(rss: PeakRss[]): PeakRss {
  return {
    apiMb: rss.some((r) => r.apiMb !== null) ? Math.max(...rss.map((r) => r.apiMb ?? 0)) : null,
    workerMb: Math.max(...rss.map((r) => r.workerMb)),
    postgresMb: Math.max(...rss.map((r) => r.postgresMb)),
    // Of the last run, as the statements are.
    cpuSeconds: rss[rss.length - 1]?.cpuSeconds,
  };
}

function buildReport(machine: Record<string, unknown>, seeded: { positions: number; locations: number; blockings: number }) {
  const phases: PhaseReport[] = [];
  const perSecond = (count: number, ms: number) => Math.round(count / Math.max(ms, 1) * 1000);
  const countIn = (detail: string, what: string) => Number(new RegExp(`(\\d+) ${what}`).exec(detail)?.[1] ?? 0);
  for (const phase of PHASES) {
    const m = measured.get(phase);
    if (!m || !reported(phase)) continue;
    const s = figure(m.stocktake.runsMs);
    const b = figure(m.baseline.runsMs);
    const report: PhaseReport = {
      phase,
      stocktake: { ...s, what: LABEL[phase].stocktake, peakRss: peakOf(m.stocktake.rss) },
      baseline: { ...b, what: LABEL[phase].baseline, peakRss: peakOf(m.baseline.rss) },
      ratio: ratio(s, b),
      matched: m.differences.every((d) => d === 0),
      detail: m.detail,
      statements: m.statements,
    };
    if (phase === 'submissions') {
      const n = countIn(m.detail, 'entries');
      report.throughput = { unit: 'entries/s', stocktake: perSecond(n, s.medianMs), baseline: perSecond(n, b.medianMs) };
    }
    if (phase === 'post') {
      const n = countIn(measured.get('planRelease')?.detail ?? '', 'postings');
      report.throughput = { unit: 'postings/s', stocktake: perSecond(n, s.medianMs), baseline: perSecond(n, b.medianMs) };
    }
    phases.push(report);
  }
  // Sums per run: the release (planning + posting) and the whole reconciliation (snapshot to adjustment order).
  const derived: Array<{ phase: string; stocktake: Figure; baseline: Figure; ratio: number | null; throughput?: PhaseReport['throughput'] }> = [];
  const sum = (parts: Phase[], side: 'stocktake' | 'baseline') => {
    const complete = Math.min(...parts.map((p) => measured.get(p)?.[side].runsMs.length ?? 0));
    if (complete === 0) return undefined;
    return figure(Array.from({ length: complete }, (_, k) => parts.reduce((t, p) => t + measured.get(p)![side].runsMs[k]!, 0)));
  };
  for (const [phase, parts] of [['release (planning + posting)', ['planRelease', 'post']], ['whole reconciliation, snapshot to adjustment order (sum of the steps)', [...PHASES]]] as const) {
    const s = sum([...parts], 'stocktake');
    const b = sum([...parts], 'baseline');
    if (!s || !b || (only.length > 0 && !parts.every(reported))) continue;
    const entry: (typeof derived)[number] = { phase, stocktake: s, baseline: b, ratio: ratio(s, b) };
    if (parts.length === 2) {
      const n = countIn(measured.get('planRelease')?.detail ?? '', 'postings');
      entry.throughput = { unit: 'postings/s', stocktake: perSecond(n, s.medianMs), baseline: perSecond(n, b.medianMs) };
    }
    derived.push(entry);
  }
  return { positions, runs: runCount, devices, seeded, machine, phases, derived };
}

function printSummary(report: ReturnType<typeof buildReport>): void {
  console.log(`\n${'phase'.padEnd(30)} ${'stocktake ms (min-max)'.padStart(26)} ${'baseline ms'.padStart(12)}  ratio  same  peak RSS MB api/worker/pg`);
  for (const p of report.phases) {
    const r = p.stocktake.peakRss;
    console.log(
      `${p.phase.padEnd(30)} ${`${p.stocktake.medianMs} (${p.stocktake.minMs}-${p.stocktake.maxMs})`.padStart(26)} ${String(p.baseline.medianMs).padStart(12)}` +
        `  x${String(p.ratio).padEnd(5)} ${p.matched ? 'yes ' : 'NO  '} ${r.apiMb ?? '-'}/${r.workerMb}/${r.postgresMb}` +
        (p.throughput ? `  ${p.throughput.stocktake} ${p.throughput.unit} (baseline ${p.throughput.baseline})` : ''),
    );
  }
  for (const d of report.derived) {
    console.log(`${d.phase.slice(0, 30).padEnd(30)} ${`${d.stocktake.medianMs} (${d.stocktake.minMs}-${d.stocktake.maxMs})`.padStart(26)} ${String(d.baseline.medianMs).padStart(12)}  x${d.ratio}`);
  }
}
