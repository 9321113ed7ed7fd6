import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, rows, sql } from '../db/sql';
import { upsertUser } from '../store/users';
import type { SpawnedGroup } from './support/processes';
import { spawnWorker } from './support/worker-process';
import { startStack, tokenOf, type Stack } from './support/stack';
import { WMS } from './support/systems-stack';
import { eventually } from './support/wait';

/**
 * Processing a system reconciliation order posts through the count release's
 * exactly-once postings: the worker is killed (SIGKILL) in the middle, a new
 * one finishes, and every approved line is posted once, no more.
 */
const POSITIONS = 3_000;

describe('processing survives a worker killed mid-posting', () => {
  let stack: Stack;
  const workers: SpawnedGroup[] = [];
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    await seedDemoWarehouse(stack.db.orm, { positions: POSITIONS, warehouseCode: 'SYS' });
    await upsertUser(stack.db.orm.em.fork(), 'wms-dc1', 'integration', tokenOf('wms-dc1'), { kind: 'system', warehouses: ['SYS'] });
    expect((await stack.http('POST', '/systems', WMS, { 'x-as': 'admin-1' })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    for (const worker of workers) await worker.kill();
    for (const worker of workers) expect(worker.leftovers()).toEqual([]);
    await stack?.close();
  }, 60_000);

  function startWorker(): SpawnedGroup {
    const worker = spawnWorker(stack, { POSTING_BATCH_ROWS: '20' });
    workers.push(worker);
    return worker;
  }

  const status = async (id: string) => (await stack.http('GET', `/system-reconciliations/${id}`)).body as { status: string; statusFrom: string };
  const until = (id: string, wanted: string, timeoutMs = 120_000) =>
    eventually(async () => {
      const s = await status(id);
      return s.statusFrom === 'workflow' && s.status === wanted ? s : undefined;
    }, `the run to be ${wanted}`, timeoutMs);

  it('posts every approved line exactly once after a SIGKILL', async () => {
    const first = startWorker();
    const created = await stack.http('POST', '/system-reconciliations', { sourceA: 'book', sourceB: 'wms-dc1', warehouse: 'SYS', managerApprovalLimit: 1e12 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    // The WMS has one more of every item held at a location by a single unblocked position (one it can be processed for).
    const levels = await rows(stack.db.orm.em.fork(), sql<{ line: string }>`
      select i.code || ',SYS,' || l.code || ',available,' || trim_scale(sum(sp.quantity) + case when count(*) = 1 and not bool_or(i.serial_tracked)
               and not exists (select 1 from blocking b where b.stock_position_id = any(array_agg(sp.id)) and b.quantity > 0) then 1 else 0 end) as line
      from stock_position sp join item i on i.id = sp.item_id join location l on l.id = sp.location_id
      where sp.warehouse_code = 'SYS'
        and not exists (select 1 from blocking b where b.stock_position_id = sp.id and b.quantity > 0)
      group by i.code, l.code order by i.code, l.code`);
    await eventually(async () => ((await status(id)).status === 'requesting' ? true : undefined), 'the run to request levels');
    const upload = await fetch(`${stack.baseUrl}/system-reconciliations/${id}/levels?source=wms-dc1`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${tokenOf('wms-dc1')}` },
      body: ['item,warehouse,location,status,quantity', ...levels.map((l) => l.line)].join('\n'),
    });
    expect(upload.status, await upload.text()).toBe(201);
    await until(id, 'review');
    const open = await rows(stack.db.orm.em.fork(), sql<{ line: number }>`
      select d.line from system_difference d where d.system_reconciliation_id = ${id} and d.difference = 1 and d.category = 'available'
        and not exists (select 1 from system_difference o where o.system_reconciliation_id = d.system_reconciliation_id
                          and o.item_id = d.item_id and o.location_code = d.location_code and o.line <> d.line)
      order by d.line`);
    const chosen = open.map((o) => o.line);
    expect(chosen.length).toBeGreaterThan(500);
    expect((await stack.http('POST', `/system-reconciliations/${id}/line-approvals`, { lines: chosen }, { 'x-as': 'senior-1' })).status).toBe(200);
    const stockBefore = Number((await one(stack.db.orm.em.fork(), sql<{ s: string }>`select sum(quantity)::text as s from stock_position where warehouse_code = 'SYS'`))!.s);
    const processing = await stack.http('POST', `/system-reconciliations/${id}/processing`, { lines: chosen }, { 'x-as': 'senior-1' });
    expect(processing.status, JSON.stringify(processing.body)).toBe(200);
    const doc = processing.body.reconciliationId as string;

    const done = async () => (await one(stack.db.orm.em.fork(), sql<{ done: number; pending: number }>`
      select count(*) filter (where status = 'done')::int as done, count(*) filter (where status = 'pending')::int as pending
      from posting where reconciliation_id = ${doc}`))!;
    await eventually(async () => ((await done()).done > 0 ? true : undefined), 'the first postings', 60_000);
    await first.kill();
    expect((await done()).pending).toBeGreaterThan(0);

    startWorker();
    await until(id, 'review', 180_000);
    const after = (await one(stack.db.orm.em.fork(), sql<Record<string, string | number>>`
      select (select count(*)::int from movement where posting_key like ${doc + ':%'}) as movements,
             (select count(distinct posting_key)::int from movement where posting_key like ${doc + ':%'}) as keys,
             (select count(*)::int from posting where reconciliation_id = ${doc} and status <> 'done') as undone,
             (select sum(quantity)::text from stock_position where warehouse_code = 'SYS') as stock,
             (select count(*)::int from system_difference where system_reconciliation_id = ${id} and state = 'processed') as processed`))!;
    expect(after).toMatchObject({ movements: chosen.length, keys: chosen.length, undone: 0, processed: chosen.length });
    expect(Number(after.stock)).toBeCloseTo(stockBefore + chosen.length, 4);
  }, 600_000);
});
