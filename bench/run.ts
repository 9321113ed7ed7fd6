import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createActivities } from '../activities';
import { completeCountOrder } from '../store/count-orders';
import { submitCounts, type CountEntryInput } from '../store/count-entries';
import { createReconciliation } from '../store/reconciliations';
import { migrate, openOrm } from '../db/orm';
import { seedDemoWarehouse } from '../db/seed';
import { rows, sql } from '../db/sql';
import { startEmbeddedPostgres } from '../platform/embedded-postgres';

/**
 * `npm run bench [-- --positions 1000000]`: the bulk steps of a reconciliation
 * at scale on a throwaway embedded PostgreSQL, timed one by one, with Node's
 * peak RSS. The workflow around them only passes ids and counts, so these are
 * the costs that grow with the warehouse.
 */
const { values } = parseArgs({ options: { positions: { type: 'string', default: '200000' } } });
const positions = Number(values.positions);
const dataDir = path.resolve('.test-data', `bench-${process.pid}`);
const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
const orm = await openOrm(pg.adminUrl, { poolMax: 4 });
const results: Array<{ step: string; ms: number; detail: string }> = [];
async function step<T>(name: string, fn: () => Promise<T>, detail: (r: T) => string): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  results.push({ step: name, ms: Math.round(performance.now() - t0), detail: detail(r) });
  console.log(`${name.padEnd(34)} ${String(results.at(-1)!.ms).padStart(7)} ms  ${results.at(-1)!.detail}`);
  return r;
}

try {
  await migrate(orm);
  const acts = createActivities(orm);
  await step('seed demo warehouse', () => seedDemoWarehouse(orm, { positions, warehouseCode: 'BENCH' }), (s) => `${s.positions} positions, ${s.locations} locations`);
  const { record } = await createReconciliation(
    orm.em.fork(),
    {
      warehouse: 'BENCH',
      scope: { kind: 'warehouse' },
      splitPolicy: { kind: 'by_size', maxLocations: 500 },
      tolerance: { default: { quantity: { plus: 1, minus: 1 }, value: { plus: 50, minus: 50 } } },
      blindCount: true,
      maxRecountRounds: 2,
      countDeadlineMinutes: null,
      managerApprovalLimit: 1000,
    },
    'bench',
    undefined,
  );
  // The workflow numbers its status transitions; the bench drives the same activities in the same order.
  let seq = 0;
  const to = (status: 'ready' | 'counting' | 'review') => ({ seq: ++seq, to: status });
  const by = { user: 'bench', role: 'manager' as const };
  await step('generate snapshot', () => acts.generateSnapshot({ reconciliationId: record.id, transition: to('ready') }), (r) => `${r.outcome.rows} rows`);
  const orders = (await step('create initial count orders', () => acts.createInitialCountOrders({ reconciliationId: record.id, by, transition: to('counting') }), (r) => `${r.outcome.orders} orders, ${r.outcome.tasks} tasks`)).outcome;

  // Devices report every position, a tenth of them one short, in batches of 5,000 entries,
  // read per order so the bench itself holds no more than one order in memory.
  let submissions = 0;
  let entries = 0;
  await step('device submissions (5,000 per batch)', async () => {
    for (const orderId of orders.countOrderIds) {
      const expected = await rows(
        orm.em.fork(),
        sql<{ id: number; location: string; item: string; lot: string; serial: string; hu: string; owner: string; qty: string }>`
          select r.id::int, l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as hu, r.owner, r.snapshot_quantity as qty
          from count_task t join count_order o on o.id = t.count_order_id
          join reconciliation_row r on r.reconciliation_id = o.reconciliation_id and r.location_id = t.location_id
          join location l on l.id = r.location_id join item i on i.id = r.item_id
          where t.count_order_id = ${orderId} order by r.id`,
      );
      const counted: CountEntryInput[] = expected.map((e) => ({
        location: e.location, item: e.item, lot: e.lot, serial: e.serial, handlingUnit: e.hu, owner: e.owner,
        quantity: Math.max(0, Number(e.qty) - (e.id % 10 === 0 ? 1 : 0)),
      }));
      for (let i = 0; i < counted.length; i += 5000) {
        await submitCounts(orm.em.fork(), orderId, { submissionId: `b-${i}`, device: 'bench', countedBy: 'bench', entries: counted.slice(i, i + 5000) });
        submissions++;
      }
      entries += counted.length;
      await completeCountOrder(orm.em.fork(), orderId, 'bench', 'bench');
    }
  }, () => `${entries} entries in ${submissions} submissions, ${orders.orders} orders completed`);
  await step('populate counted quantities', () => acts.populateCountedQuantities({ reconciliationId: record.id, round: 0, transition: to('review') }), (r) => `${r.outcome.rowsCounted} rows, ${r.outcome.toApprove} to approve`);
  await step('mark for recount (filter)', () => acts.markForRecount({ reconciliationId: record.id, by, selection: { filter: { approval: 'to_approve' } } }), (r) => `${r.outcome.rows} rows`);
  await step('create recount order', () => acts.createRecountOrder({ reconciliationId: record.id, by, round: 1, transition: to('counting') }), (r) => `${r.outcome.tasks} tasks`);
} finally {
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(`peak RSS of the Node process: ${peakRssMb} MB`);
  fs.mkdirSync('.test-data', { recursive: true });
  fs.writeFileSync(path.join('.test-data', 'bench.json'), JSON.stringify({ positions, peakRssMb, results }, null, 2));
  await orm.close();
  await pg.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
