import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, rows, sql } from '../db/sql';
import { flow } from './support/flow';
import type { SpawnedGroup } from './support/processes';
import { spawnWorker } from './support/worker-process';
import { startStack, type Stack } from './support/stack';
import { eventually } from './support/wait';

/**
 * The worker process is killed (SIGKILL) in the middle of posting a release
 * of 10,000 rows; a new worker finishes it. Every row is posted exactly once:
 * the movements add up to the approved differences and no key repeats.
 */
const ROWS = 10_000;

describe('release survives a worker killed mid-posting', () => {
  let stack: Stack;
  let f: ReturnType<typeof flow>;
  const workers: SpawnedGroup[] = [];
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    f = flow(stack);
    await seedDemoWarehouse(stack.db.orm, { positions: ROWS, warehouseCode: 'CRASH' });
  }, 120_000);
  afterAll(async () => {
    // Each worker leads its own process group: killing the group also kills tsx's node child.
    for (const worker of workers) await worker.kill();
    for (const worker of workers) expect(worker.leftovers()).toEqual([]);
    await stack?.close();
  }, 60_000);

  function startWorker(): ChildProcess {
    // Small batches: many commits, so the kill lands between some of them.
    const worker = spawnWorker(stack, { POSTING_BATCH_ROWS: '50' });
    workers.push(worker);
    return worker.child;
  }

  it('posts every row exactly once after a SIGKILL', async () => {
    const first = startWorker();
    const rec = await f.create({ warehouse: 'CRASH', scope: { kind: 'warehouse' }, tolerance: { default: {} }, managerApprovalLimit: 1e9 });
    await f.waitFor(rec.id, 'ready', undefined, 120_000);
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);

    // Counts: one more than expected on even rows, one fewer on odd rows (never below zero or under a blocking).
    const counted = await rows(stack.db.orm.em.fork(), sql<Record<string, string | number>>`
      select l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner,
             (case when i.serial_tracked then r.snapshot_quantity
                   when r.id % 2 = 0 or exists (select 1 from reconciliation_row_blocking b where b.row_id = r.id)
                     or r.snapshot_quantity < 1 then r.snapshot_quantity + 1
                   else r.snapshot_quantity - 1 end)::float8 as quantity
      from reconciliation_row r join location l on l.id = r.location_id join item i on i.id = r.item_id
      where r.reconciliation_id = ${rec.id} order by r.id`);
    for (let i = 0; i < counted.length; i += 5000) {
      expect((await f.submit(order!.id, `s-${i}`, counted.slice(i, i + 5000))).status).toBe(201);
    }
    await f.complete(order!.id);
    await f.waitFor(rec.id, 'review', 0, 120_000);
    await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } });
    const before = await one(stack.db.orm.em.fork(), sql<{ stock: string; differences: string; nonzero: number }>`
      select (select sum(quantity) from stock_position where warehouse_code = 'CRASH') as stock,
             sum(variance_quantity) as differences, count(*) filter (where variance_quantity <> 0)::int as nonzero
      from reconciliation_row where reconciliation_id = ${rec.id}`);
    expect(before!.nonzero).toBeGreaterThan(ROWS * 0.9);

    await f.decide(rec.id, 'release');
    const donePostings = async () =>
      (await one(stack.db.orm.em.fork(), sql<{ done: number; pending: number }>`
        select count(*) filter (where status = 'done')::int as done, count(*) filter (where status = 'pending')::int as pending
        from posting where reconciliation_id = ${rec.id}`))!;
    await eventually(async () => ((await donePostings()).done > 0 ? true : undefined), 'the first postings', 60_000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const atKill = await donePostings();
    expect(atKill.pending).toBeGreaterThan(0);

    startWorker();
    const released = await f.waitFor(rec.id, 'released', undefined, 180_000);
    expect(released.rows.processed).toBe(ROWS);

    const after = await one(stack.db.orm.em.fork(), sql<{ stock: string; moved: string; movements: number; keys: number; transactions: number; pending: number }>`
      select (select sum(quantity) from stock_position where warehouse_code = 'CRASH') as stock,
             (select sum(quantity) from movement where posting_key like ${rec.id + ':%'}) as moved,
             (select count(*)::int from movement where posting_key like ${rec.id + ':%'}) as movements,
             (select count(distinct posting_key)::int from movement where posting_key like ${rec.id + ':%'}) as keys,
             (select count(*)::int from posting where reconciliation_id = ${rec.id} and kind = 'transaction') as transactions,
             (select count(*)::int from posting where reconciliation_id = ${rec.id} and status = 'pending') as pending`);
    expect(after!.pending).toBe(0);
    expect(after!.movements).toBe(after!.transactions);
    expect(after!.keys).toBe(after!.movements);
    expect(after!.transactions).toBe(before!.nonzero);
    expect(Number(after!.moved)).toBeCloseTo(Number(before!.differences), 4);
    expect(Number(after!.stock)).toBeCloseTo(Number(before!.stock) + Number(before!.differences), 4);
  }, 600_000);
});
