import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { migrate, openOrm } from '../db/orm';
import { rows, sql } from '../db/sql';
import { seedDemoWarehouse } from '../db/seed';
import { freePort } from '../platform/free-port';
import { startTemporalDevServer } from '../platform/temporal-dev-server';
import { upsertUser } from '../store/users';
import { startBenchPostgres } from './postgres';
import { describeMachine } from './measure';

/**
 * `npm run bench -- --only open`: what the count bench cannot show, because
 * it runs the activities without Temporal. On a throwaway PostgreSQL, a
 * Temporal dev server, the API (api/main.ts) and one worker
 * (scripts/worker.ts), each a process of its own:
 * 1. with `--update-open` reconciliations open (status ready), the round trip
 *    of a manager decision over HTTP, which is a signed workflow Update
 *    (the deletion of one of the document's rows, repeatable), beside the same number of
 *    plain authenticated GETs of its rows (the database only, no workflow)
 *    and of its progress (a workflow query);
 * 2. `--open` reconciliations open at once, each waiting in counting: the
 *    worker's resident memory (read from /proc), and the history length of
 *    one reconciliation at 10 rows and one at `--large-rows` rows, taken
 *    through snapshot, initial count, populate and review.
 */
const { values } = parseArgs({
  options: {
    open: { type: 'string', default: '1000' },
    'update-open': { type: 'string', default: '100' },
    decisions: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '4' },
    'large-rows': { type: 'string', default: '100000' },
    out: { type: 'string', default: path.join('.test-data', 'bench-open.json') },
  },
});
const num = (name: keyof typeof values) => Number(values[name]);
const OPEN = num('open');
const UPDATE_OPEN = num('update-open');
const DECISIONS = num('decisions');
const CLIENTS = num('clients');
const LARGE_ROWS = num('large-rows');
if (![OPEN, UPDATE_OPEN, DECISIONS, CLIENTS, LARGE_ROWS].every((n) => Number.isSafeInteger(n) && n > 0) || UPDATE_OPEN > OPEN) {
  console.error('usage: tsx bench/open-reconciliations.ts [--open N] [--update-open M <= N] [--decisions D] [--clients C] [--large-rows R] [--out file]');
  process.exit(2);
}

const TASK_QUEUE = 'bench-open';
const MANAGER = { name: 'bench-manager', token: `bench-manager-${randomBytes(8).toString('hex')}` };
const DEVICE = { name: 'bench-device', token: `bench-device-${randomBytes(8).toString('hex')}` };
const decisionKey = randomBytes(32).toString('hex');

const dataDir = path.resolve('.test-data', `bench-open-${process.pid}`);
const children: ChildProcess[] = [];
const stops: Array<() => Promise<unknown>> = [];

/** node with tsx's loader, leading its own group (so a SIGKILL reaches the process itself); resolves once `ready` is printed. */
function startProcess(script: string, env: Record<string, string>, ready: RegExp, timeoutMs: number): Promise<ChildProcess> {
  // BENCH_NODE_ARGS: node options for the API and the worker, e.g. '--cpu-prof --cpu-prof-dir=...' to see where their time goes.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready within ${timeoutMs / 1000} s: ${tail}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}: ${tail}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 20_000);
  await exited;
  clearTimeout(timer);
}

const kb = (pid: number, field: string) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
};
const mb = (k: number) => Math.round(k / 1024);

/** Latency figures of one kind of request, in ms. */
function latency(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.max(0, Math.ceil(q * s.length) - 1)]! * 10) / 10;
  return { requests: s.length, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: Math.round(s[s.length - 1]! * 10) / 10 };
}

/** The events one decision (a workflow Update) wrote, from the workflow task that accepted it to its completion, timed from the first. */
async function oneDecision(client: Client, workflowId: string): Promise<Array<{ event: string; atMs: number }>> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const kind = (e: object) => Object.entries(e).find(([k, v]) => k.endsWith('EventAttributes') && v)?.[0].replace('EventAttributes', '') ?? 'unknown';
  const at = (e: (typeof events)[number]) => Number(String(e.eventTime?.seconds ?? 0)) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const accepted = events.map(kind).lastIndexOf('workflowExecutionUpdateAccepted');
  const slice = events.slice(Math.max(0, accepted - 3));
  return slice.map((e) => ({ event: kind(e), atMs: Math.round((at(e) - at(slice[0]!)) * 10) / 10 }));
}

async function main() {
  const pg = await startBenchPostgres(dataDir);
  stops.unshift(() => pg.stop());
  const orm = await openOrm(pg.adminUrl, { poolMax: 4 });
  stops.unshift(() => orm.close());
  await migrate(orm);
  const machine = await describeMachine(orm.em.fork());
  await upsertUser(orm.em.fork(), MANAGER.name, 'senior_manager', MANAGER.token, { kind: 'person' });
  await upsertUser(orm.em.fork(), DEVICE.name, 'counter', DEVICE.token, { kind: 'device' });
  // One location (8 positions) per open reconciliation, so their scopes do not overlap.
  await seedDemoWarehouse(orm, { positions: OPEN * 8, warehouseCode: 'OPEN' });
  await seedDemoWarehouse(orm, { positions: 10, warehouseCode: 'SMALL' });
  await seedDemoWarehouse(orm, { positions: LARGE_ROWS, warehouseCode: 'LARGE' });
  const locations = (await rows(orm.em.fork(), sql<{ code: string }>`select code from location where warehouse_code = 'OPEN' order by id limit ${OPEN}`)).map((r) => r.code);

  const temporal = await startTemporalDevServer({ port: await freePort(), uiPort: await freePort(), namespace: 'default', log: () => {} });
  stops.unshift(() => temporal.stop());
  const env = { DATABASE_URL: pg.adminUrl, TEMPORAL_ADDRESS: temporal.address, TASK_QUEUE, STOCKTAKE_DECISION_KEY: decisionKey };
  const port = await freePort();
  const [api, worker] = await Promise.all([
    startProcess('api/main.ts', { ...env, PORT: String(port) }, /Stocktake API on/, 180_000),
    startProcess('scripts/worker.ts', env, /worker polling/, 300_000),
  ]);
  const workerRssAtStartMb = mb(kb(worker.pid!, 'VmRSS'));
  const connection = await Connection.connect({ address: temporal.address });
  stops.unshift(() => connection.close());
  const client = new Client({ connection, namespace: 'default' });

  const base = `http://127.0.0.1:${port}`;
  async function http(method: string, url: string, body?: unknown, token = MANAGER.token): Promise<{ status: number; body: any }> {
    const res = await fetch(base + url, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 500)}`);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  /** Runs `work(i)` for i in [from, to) on CLIENTS concurrent clients. */
  async function concurrently(from: number, to: number, work: (i: number) => Promise<void>) {
    let next = from;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < to) await work(next++);
    }));
  }
  async function untilStatus(ids: string[], status: string, timeoutMs: number) {
    const started = Date.now();
    for (;;) {
      const [row] = await rows(orm.em.fork(), sql<{ n: string }>`select count(*) as n from reconciliation where id = any(${ids}::uuid[]) and status = ${status}`);
      if (Number(row!.n) === ids.length) return;
      if (Date.now() - started > timeoutMs) throw new Error(`${ids.length - Number(row!.n)} of ${ids.length} reconciliations not ${status} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const recs: Array<{ id: string; workflowId: string; location: string; firstRow?: number }> = [];
  async function openReconciliations(from: number, to: number) {
    await concurrently(from, to, async (i) => {
      const res = await http('POST', '/reconciliations', { warehouse: 'OPEN', scope: { kind: 'locations', locations: [locations[i]!] }, splitPolicy: { kind: 'none' } });
      recs[i] = { id: res.body.id, workflowId: res.body.workflowId, location: locations[i]! };
    });
    await untilStatus(recs.slice(from, to).map((r) => r.id), 'ready', 600_000);
  }

  // 1. The Update round trip with UPDATE_OPEN open, beside reads that do not touch the workflow.
  console.log(`opening ${UPDATE_OPEN} reconciliations`);
  await openReconciliations(0, UPDATE_OPEN);
  // The decision timed is the deletion of one row of the document (of its 8): deleting a deleted row again is allowed, so it repeats.
  for (const rec of recs) {
    const [first] = await rows(orm.em.fork(), sql<{ id: string }>`select min(id) as id from reconciliation_row where reconciliation_id = ${rec.id}`);
    rec.firstRow = Number(first!.id);
  }
  const timed = { update: [] as number[], rowsGet: [] as number[], progressGet: [] as number[] };
  const kinds: Array<[keyof typeof timed, (i: number) => Promise<unknown>]> = [
    ['update', (i) => http('POST', `/reconciliations/${recs[i % UPDATE_OPEN]!.id}/row-deletions`, { rowIds: [recs[i % UPDATE_OPEN]!.firstRow], reason: 'Benchmark decision' })],
    ['rowsGet', (i) => http('GET', `/reconciliations/${recs[i % UPDATE_OPEN]!.id}/rows?limit=8`)],
    ['progressGet', (i) => http('GET', `/reconciliations/${recs[i % UPDATE_OPEN]!.id}`)],
  ];
  // Warm-up (connections, caches, the workflows' first Update), then blocks of each kind in turn, so all see the same load.
  for (const [, send] of kinds) await concurrently(0, Math.min(UPDATE_OPEN, 50), async (i) => void (await send(i)));
  const BLOCK = Math.max(1, Math.min(100, Math.floor(DECISIONS / 10)));
  console.log(`timing ${DECISIONS} decisions (workflow Updates) and ${DECISIONS} of each GET on ${CLIENTS} clients`);
  for (let done = 0; done < DECISIONS; done += BLOCK) {
    for (const [kind, send] of kinds) {
      await concurrently(done, Math.min(DECISIONS, done + BLOCK), async (i) => {
        const t = performance.now();
        await send(i);
        timed[kind].push(performance.now() - t);
      });
    }
  }
  const update = latency(timed.update);
  const lastDecision = await oneDecision(client, recs[0]!.workflowId);
  const rowsGet = latency(timed.rowsGet);
  const loadDuringUpdates = os.loadavg().map((l) => Math.round(l * 100) / 100);

  // 2. OPEN reconciliations open on one worker, each moved to counting (one more Update each).
  console.log(`opening ${OPEN - UPDATE_OPEN} more reconciliations (${OPEN} in all) and starting their counts`);
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(kb(worker.pid!, 'VmRSS')), 250);
  const openStarted = performance.now();
  await openReconciliations(UPDATE_OPEN, OPEN);
  await concurrently(0, OPEN, async (i) => void (await http('POST', `/reconciliations/${recs[i]!.id}/initial-count`)));
  await untilStatus(recs.map((r) => r.id), 'counting', 600_000);
  const openMs = Math.round(performance.now() - openStarted);
  // Then idle for a while with all of them open: what the worker holds while they wait.
  await new Promise((r) => setTimeout(r, 10_000));
  clearInterval(sampler);
  const waiting = mb(kb(worker.pid!, 'VmRSS'));
  const lengths: number[] = [];
  await concurrently(0, OPEN, async (i) => void (lengths[i] = (await client.workflow.getHandle(recs[i]!.workflowId).describe()).historyLength));
  const spread = (ls: number[]) => {
    const s = [...ls].sort((a, b) => a - b);
    return s.length === 0 ? null : { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
  };

  // History length at 10 and at LARGE_ROWS rows: snapshot, initial count, populate, review.
  async function historyThroughReview(warehouse: string) {
    const rec = (await http('POST', '/reconciliations', { warehouse, scope: { kind: 'warehouse' }, splitPolicy: { kind: 'none' } })).body as { id: string; workflowId: string };
    await untilStatus([rec.id], 'ready', 600_000);
    const atReady = (await client.workflow.getHandle(rec.workflowId).describe()).historyLength;
    await http('POST', `/reconciliations/${rec.id}/initial-count`);
    const orders = (await http('GET', `/reconciliations/${rec.id}/count-orders`)).body.countOrders as Array<{ id: number }>;
    const atCounting = (await client.workflow.getHandle(rec.workflowId).describe()).historyLength;
    for (const order of orders) {
      await http('POST', `/count-orders/${order.id}/assignment`, { device: DEVICE.name });
      // Nothing found anywhere: every row is counted zero, so populate touches every row.
      await http('POST', `/count-orders/${order.id}/completion`, {}, DEVICE.token);
    }
    await untilStatus([rec.id], 'review', 900_000);
    const [counted] = await rows(orm.em.fork(), sql<{ n: string }>`select count(*) as n from reconciliation_row where reconciliation_id = ${rec.id}`);
    const atReview = (await client.workflow.getHandle(rec.workflowId).describe()).historyLength;
    return { rows: Number(counted!.n), historyLength: { ready: atReady, counting: atCounting, review: atReview } };
  }
  console.log('history length at 10 rows');
  const small = await historyThroughReview('SMALL');
  console.log(`history length at ${LARGE_ROWS} rows`);
  const large = await historyThroughReview('LARGE');

  const result = {
    generatedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    setup: `PostgreSQL (bench/postgres.ts), Temporal dev server (in memory), API (api/main.ts) and one worker (scripts/worker.ts, default cache and pollers, 8 concurrent activities), each a process of its own; ${CLIENTS} concurrent HTTP clients in the bench process`,
    updateRoundTrip: {
      openReconciliations: UPDATE_OPEN,
      clients: CLIENTS,
      update: { what: 'POST /reconciliations/{id}/row-deletions of one row (a signed workflow Update; its activity checks the selection, updates the row and writes the audit), round trip over HTTP', ...update },
      baseline: { what: 'GET /reconciliations/{id}/rows?limit=8, authenticated, database only (does not touch the workflow)', ...rowsGet },
      progressQuery: { what: 'GET /reconciliations/{id}: document and live progress, a workflow query', ...latency(timed.progressGet) },
      lastDecisionInHistory: {
        what: "the events of one reconciliation's last timed decision, ms after the workflow task that accepted it was scheduled (Temporal's timestamps; the round trip adds the API and its hops to Temporal)",
        events: lastDecision,
      },
      ratioP50: Math.round((update.p50Ms / rowsGet.p50Ms) * 100) / 100,
      ratioP99: Math.round((update.p99Ms / rowsGet.p99Ms) * 100) / 100,
      loadAverage: loadDuringUpdates,
      target: 'p99 < 100 ms with 100 open',
      targetMet: update.p99Ms < 100,
    },
    openOnOneWorker: {
      openReconciliations: OPEN,
      status: 'counting (each waiting for its count order)',
      rowsEach: 8,
      openAndCountingMs: openMs,
      workerRss: {
        atStartMb: workerRssAtStartMb,
        peakWhileOpeningMb: mb(Math.max(...rssSamples)),
        whileAllWaitMb: waiting,
        highWaterMarkMb: mb(kb(worker.pid!, 'VmHWM')),
      },
      historyLengthOfTheOpen: {
        afterTheTimedDecisions: spread(lengths.slice(0, UPDATE_OPEN)),
        withoutDecisionsButTheInitialCount: spread(lengths.slice(UPDATE_OPEN)),
      },
      target: 'worker RSS < 1 GiB with 1,000 open',
      targetMet: mb(kb(worker.pid!, 'VmHWM')) < 1024,
    },
    historyLength: {
      small,
      large,
      differenceAtReview: large.historyLength.review - small.historyLength.review,
      target: 'history length independent of row count',
      targetMet: Math.abs(large.historyLength.review - small.historyLength.review) <= 2,
    },
  };
  fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  fs.writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify({ updateRoundTrip: result.updateRoundTrip, openOnOneWorker: result.openOnOneWorker, historyLength: result.historyLength }, null, 2));
  void api;
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  for (const child of children.reverse()) await stopProcess(child);
  for (const stop of stops) await stop().catch((e: unknown) => console.error(e));
}
process.exit(failed ? 1 : 0);
