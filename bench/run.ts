import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createActivities } from '../activities';
import { migrate, openOrm, type Orm } from '../db/orm';
import { seedDemoWarehouse } from '../db/seed';
import { rows, sql } from '../db/sql';
import { startEmbeddedPostgres } from '../platform/embedded-postgres';
import { completeCountOrder } from '../store/count-orders';
import { submitCounts, type CountEntryInput } from '../store/count-entries';
import { createReconciliation } from '../store/reconciliations';

/**
 * `npm run bench:count [-- --positions 200000]`: the steps of a reconciliation at
 * scale on a throwaway embedded PostgreSQL, each timed twice in the same run:
 * as Stocktake runs them (every commit durable) and, beside them, the same
 * code on a connection pool whose sessions set `synchronous_commit = off`,
 * which is what durability costs. The baseline is a measurement only:
 * nothing Stocktake acknowledges ever runs on such a session. Node's peak RSS
 * at the end; results in .test-data/bench.json.
 */
const { values } = parseArgs({ options: { positions: { type: 'string', default: '200000' } } });
const positions = Number(values.positions);
const dataDir = path.resolve('.test-data', `bench-${process.pid}`);
const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
const durable = await openOrm(pg.adminUrl, { poolMax: 4 });
const relaxed = await openOrm(`${pg.adminUrl}?options=${encodeURIComponent('-c synchronous_commit=off')}`, { poolMax: 4 });

type Row = { step: string; durableMs: number; relaxedMs: number; detail: string };
const results: Row[] = [];

/** Runs one step on both pools (durable first, then the baseline) and prints both. */
async function step<T>(name: string, run: (run: Run) => Promise<T>, detail: (r: T) => string): Promise<void> {
  const times: number[] = [];
  let last: T | undefined;
  for (const r of runs) {
    const t0 = performance.now();
    last = await run(r);
    times.push(Math.round(performance.now() - t0));
  }
  const row = { step: name, durableMs: times[0]!, relaxedMs: times[1]!, detail: detail(last!) };
  results.push(row);
  const ratio = row.relaxedMs > 0 ? (row.durableMs / row.relaxedMs).toFixed(2) : '-';
  console.log(`${name.padEnd(36)} ${String(row.durableMs).padStart(8)} ms ${String(row.relaxedMs).padStart(8)} ms  x${ratio.padEnd(5)} ${row.detail}`);
}

interface Run {
  orm: Orm;
  warehouse: string;
  reconciliationId: string;
  seq: number;
  orderIds: number[];
}
const runs: Run[] = [
  { orm: durable, warehouse: 'BENCH', reconciliationId: '', seq: 0, orderIds: [] },
  { orm: relaxed, warehouse: 'BASELINE', reconciliationId: '', seq: 0, orderIds: [] },
];
const by = { user: 'bench', role: 'senior_manager' as const };
const next = (r: Run, to: 'ready' | 'counting' | 'review' | 'releasing' | 'released') => ({ seq: ++r.seq, to });

try {
  await migrate(durable);
  console.log(`${'step'.padEnd(36)} ${'durable'.padStart(11)} ${'sync. commit off'.padStart(11)}`);
  await step('seed demo warehouse', (r) => seedDemoWarehouse(r.orm, { positions, warehouseCode: r.warehouse }), (s) => `${s.positions} positions`);
  for (const r of runs) {
    const { record } = await createReconciliation(
      r.orm.em.fork(),
      {
        warehouse: r.warehouse,
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
    r.reconciliationId = record.id;
  }
  const acts = (r: Run) => createActivities(r.orm);
  await step('generate snapshot', (r) => acts(r).generateSnapshot({ reconciliationId: r.reconciliationId, transition: next(r, 'ready') }), (d) => `${d.outcome.rows} rows`);
  await step('initial count orders', async (r) => {
    const d = await acts(r).createInitialCountOrders({ reconciliationId: r.reconciliationId, by, transition: next(r, 'counting') });
    r.orderIds = d.outcome.countOrderIds;
    return d;
  }, (d) => `${d.outcome.orders} orders`);
  // Every position reported, a tenth of them one more than expected; 500 entries per submission, as a handheld sends them.
  await step('device submissions (500 per commit)', (r) => submitAll(r), (n) => `${n.entries} entries in ${n.submissions} commits`);
  await step('populate counted quantities', (r) => acts(r).populateCountedQuantities({ reconciliationId: r.reconciliationId, round: 0, transition: next(r, 'review') }), (d) => `${d.outcome.rowsCounted} rows, ${d.outcome.toApprove} to approve`);
  await step('approve by filter', (r) => acts(r).approveRows({ reconciliationId: r.reconciliationId, by, selection: { filter: { approval: 'to_approve' } } }), (d) => `${d.outcome.rows} rows`);
  await step('release: plan postings', (r) => acts(r).prepareRelease({ reconciliationId: r.reconciliationId, by, transition: next(r, 'releasing') }), (d) => `${d.outcome.postings} postings`);
  await step('release: post (500 rows per commit)', (r) => acts(r).postPendingRows({ reconciliationId: r.reconciliationId }), (d) => `${d.processed} rows processed`);
  await step('adjustment order', (r) => acts(r).finishRelease({ reconciliationId: r.reconciliationId, transition: next(r, 'released') }), (d) => `${d.outcome.lines} lines`);
} finally {
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(`peak RSS of the Node process: ${peakRssMb} MB`);
  fs.mkdirSync('.test-data', { recursive: true });
  fs.writeFileSync(path.join('.test-data', 'bench.json'), JSON.stringify({ positions, peakRssMb, results }, null, 2));
  await durable.close();
  await relaxed.close();
  await pg.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

async function submitAll(r: Run): Promise<{ entries: number; submissions: number }> {
  let entries = 0;
  let submissions = 0;
  for (const orderId of r.orderIds) {
    const expected = await rows(
      r.orm.em.fork(),
      sql<{ id: number; location: string; item: string; lot: string; serial: string; hu: string; owner: string; qty: string; serial_tracked: boolean }>`
        select r.id::int, l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as hu, r.owner, r.snapshot_quantity as qty,
               i.serial_tracked
        from count_task t join count_order o on o.id = t.count_order_id
        join reconciliation_row r on r.reconciliation_id = o.reconciliation_id and r.location_id = t.location_id
        join location l on l.id = r.location_id join item i on i.id = r.item_id
        where t.count_order_id = ${orderId} order by r.id`,
    );
    const counted: CountEntryInput[] = expected.map((e) => ({
      location: e.location, item: e.item, lot: e.lot, serial: e.serial, handlingUnit: e.hu, owner: e.owner,
      // Through decimal text, as a device sends it: 12.345 + 1 in binary floating point is 13.344999999999999.
      quantity: Number((Number(e.qty) + (e.id % 10 === 0 && !e.serial_tracked ? 1 : 0)).toFixed(4)),
    }));
    for (let i = 0; i < counted.length; i += 500) {
      await submitCounts(r.orm.em.fork(), orderId, { submissionId: `b-${i}`, device: 'scanner', countedBy: 'counter', entries: counted.slice(i, i + 500) });
      submissions++;
    }
    entries += counted.length;
    await completeCountOrder(r.orm.em.fork(), orderId, 'scanner', 'counter');
  }
  return { entries, submissions };
}
