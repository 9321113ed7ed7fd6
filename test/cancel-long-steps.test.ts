import './support/small-posting-batches';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, rows, sql } from '../db/sql';
import { countAll, ONE_MORE } from './support/counting';
import { maybeSaveHistory } from './support/histories';
import { expectProblem, storedStatus, timed } from './support/problem-checks';
import { useStack, type Stack } from './support/stack';
import { eventually } from './support/wait';

/**
 * A cancel stops a running bulk step on the real stack: a snapshot of
 * 150,000 positions rolls back, a populate over every row rolls back (the
 * counts stay), a release stops between batches keeping what it posted
 * (exactly once, reported to the ERP) and withdrawing the rest. Each cancel
 * answers in bounded time.
 */
const POSITIONS = 150_000;
const CANCEL_BOUND_MS = 30_000;
const STARTED = 2; // PendingActivityState.PENDING_ACTIVITY_STATE_STARTED

/** Waits until the workflow's activity of this type is running on the worker. */
async function activityRunning(stack: Stack, workflowId: string, type: string): Promise<void> {
  await eventually(async () => {
    const d = await stack.client.workflow.getHandle(workflowId).describe();
    return (d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === type && a.state === STARTED) ? true : undefined;
  }, `activity ${type} to run`, 120_000);
}

describe('cancel of long steps', () => {
  const t = useStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: POSITIONS, warehouseCode: 'BIG' });
  });
  const db = () => t.stack.db.orm.em.fork();
  const cancel = async (id: string, what: string) => {
    const { result, ms } = await timed(() => t.stack.http('POST', `/reconciliations/${id}/cancellation`, { reason: `stop the ${what}` }));
    console.log(`cancel while ${what}: answered ${result.status} in ${Math.round(ms)} ms`);
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    expect(ms).toBeLessThan(CANCEL_BOUND_MS);
    return result.body as { status: string; cancelledWhile: string; countOrdersCancelled: number; postingsDone: number; postingsWithdrawn: number; rowsWithdrawn: number; adjustmentOrder: { orderNumber: number; lines: number } | null };
  };

  it('cancel while snapshotting 150,000 positions: 200, and either the snapshot rolled back or it had committed (ready)', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'BIG', scope: { kind: 'warehouse' } });
    expect((await f.progress(rec.id))!.status).toBe('snapshotting');
    await activityRunning(stack, rec.workflowId, 'generateSnapshot');

    const result = await cancel(rec.id, 'snapshotting');
    const snapshot = (await one(db(), sql<{ rows: number; stamped: boolean }>`
      select (select count(*)::int from reconciliation_row where reconciliation_id = ${rec.id}) as rows,
             (select snapshot_at is not null from reconciliation where id = ${rec.id}) as stamped`))!;
    expect([
      { cancelledWhile: 'snapshotting', rows: 0, stamped: false },
      { cancelledWhile: 'ready', rows: POSITIONS, stamped: true },
    ]).toContainEqual({ cancelledWhile: result.cancelledWhile, ...snapshot });
    console.log(`cancel while snapshotting: the reconciliation was ${result.cancelledWhile}, ${snapshot.rows} rows kept`);
    expect(result).toMatchObject({ status: 'cancelled', countOrdersCancelled: 0, postingsDone: 0, adjustmentOrder: null });
    expect((await f.progress(rec.id))!.status).toBe('cancelled');
    expect((await storedStatus(stack, rec.id)).status).toBe('cancelled');
    expect(await stack.client.workflow.getHandle(rec.workflowId).result()).toEqual({ status: 'cancelled' });
    await maybeSaveHistory(stack, rec.workflowId, 'cancelled-while-snapshotting');
  }, 120_000);

  it('cancel while populating every row of a large scope: 200, populate rolled back, the counts stored remain', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'BIG', scope: { kind: 'warehouse' }, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready', undefined, 120_000);
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    // A few counts; every other row was counted as not found, so populate decides all 150,000 rows.
    const entries = await rows(db(), sql<Record<string, string | number>>`
      select l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner, r.snapshot_quantity::float8 as quantity
      from reconciliation_row r join location l on l.id = r.location_id join item i on i.id = r.item_id
      where r.reconciliation_id = ${rec.id} order by r.id limit 20`);
    expect((await f.submit(order!.id, 'some', entries)).status).toBe(201);
    // Populate of 150,000 rows takes about a second: it would often finish before a cancel reached it. A lock held
    // here stops it at the movements (it reads them after deciding every row), so the cancel meets it inside a statement.
    const holder = new pg.Client({ connectionString: stack.db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table movement in access exclusive mode');
    let result: Awaited<ReturnType<typeof cancel>>;
    try {
      await f.complete(order!.id);
      await f.waitFor(rec.id, 'populating', undefined, 60_000);
      await activityRunning(stack, rec.workflowId, 'populateCountedQuantities');
      await eventually(async () => (await holder.query(`select 1 from pg_locks where relation = 'movement'::regclass and not granted`)).rowCount ? true : undefined,
        'populate to wait for the movements', 60_000);
      result = await cancel(rec.id, 'populating');
    } finally {
      await holder.query('rollback');
      await holder.end();
    }

    expect(result).toMatchObject({ status: 'cancelled', cancelledWhile: 'populating', countOrdersCancelled: 0, postingsDone: 0, adjustmentOrder: null });
    expect((await f.progress(rec.id))!.status).toBe('cancelled');
    expect((await storedStatus(stack, rec.id)).status).toBe('cancelled');
    const after = (await one(db(), sql<{ entries: number; rows: number; decided: number; counts: number }>`
      select (select count(*)::int from count_entry where count_order_id = ${order!.id}) as entries,
             count(*)::int as rows,
             count(*) filter (where counted_quantity is not null or state <> 'awaiting_count' or origin = 'found')::int as decided,
             (select count(*)::int from row_count c join reconciliation_row r2 on r2.id = c.row_id where r2.reconciliation_id = ${rec.id}) as counts
      from reconciliation_row where reconciliation_id = ${rec.id}`))!;
    expect(after).toEqual({ entries: 20, rows: POSITIONS, decided: 0, counts: 0 });
    expect(await stack.client.workflow.getHandle(rec.workflowId).result()).toEqual({ status: 'cancelled' });
  }, 180_000);

  it('cancel while releasing: 200 with postings done, each posted once and kept, the rest withdrawn, and the ERP order lists exactly the posted rows', async () => {
    const { stack, f } = t;
    const rec = await f.create({
      warehouse: 'BIG', scope: { kind: 'zones', zones: ['Z01', 'Z02'] },
      tolerance: { default: { quantity: { plus: 0.5, minus: 0.5 } } }, managerApprovalLimit: 1e12,
    });
    await f.waitFor(rec.id, 'ready', undefined, 60_000);
    await countAll(stack, f, rec.id, ONE_MORE, 120_000);
    await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } });
    const stockBefore = (await one(db(), sql<{ s: string }>`select sum(quantity)::text as s from stock_position where warehouse_code = 'BIG'`))!.s;

    const released = await f.decide(rec.id, 'release');
    expect(released.rowsToPost).toBeGreaterThan(20_000);
    const progress = async () =>
      (await one(db(), sql<{ done: number; pending: number }>`
        select count(*) filter (where status = 'done')::int as done, count(*) filter (where status = 'pending')::int as pending
        from posting where reconciliation_id = ${rec.id}`))!;
    await eventually(async () => ((await progress()).done > 0 ? true : undefined), 'the first postings', 60_000);

    const result = await cancel(rec.id, 'releasing');
    expect(result).toMatchObject({ status: 'cancelled', cancelledWhile: 'releasing', countOrdersCancelled: 0 });
    expect(result.postingsDone).toBeGreaterThan(0);
    expect(result.postingsWithdrawn).toBeGreaterThan(0);
    console.log(`cancel while releasing: ${result.postingsDone} postings done, ${result.postingsWithdrawn} withdrawn, ${result.rowsWithdrawn} rows withdrawn`);

    const ledger = (await one(db(), sql<{
      done: number; pending: number; withdrawn: number; doneTransactions: number; movements: number; onePerPosting: boolean;
      strayMovements: number; moved: string | null; processedPosted: number; withdrawnRows: number; rowsPosting: number; mixedRows: number;
    }>`
      with p as (select * from posting where reconciliation_id = ${rec.id}),
      m as (select * from movement where posting_key like ${rec.id + ':%'})
      select (select count(*) filter (where status = 'done') from p)::int as done,
             (select count(*) filter (where status = 'pending') from p)::int as pending,
             (select count(*) filter (where status = 'withdrawn') from p)::int as withdrawn,
             (select count(*) filter (where status = 'done' and kind = 'transaction') from p)::int as "doneTransactions",
             (select count(*) from m)::int as movements,
             -- Grouped, not a count per posting: a correlated count over the movements is quadratic in the postings done.
             (select bool_and(n = 1) from (select count(m.posting_key) as n from p left join m on m.posting_key = p.key
                where p.status = 'done' and p.kind = 'transaction' group by p.key) per) as "onePerPosting",
             (select count(*) from m where not exists (select 1 from p where p.key = m.posting_key and p.status = 'done'))::int as "strayMovements",
             (select sum(quantity)::text from m) as moved,
             (select count(*) from reconciliation_row r where r.reconciliation_id = ${rec.id} and r.state = 'processed'
                and exists (select 1 from p where p.row_id = r.id))::int as "processedPosted",
             (select count(*) from reconciliation_row r where r.reconciliation_id = ${rec.id} and r.state = 'withdrawn')::int as "withdrawnRows",
             (select count(*) from reconciliation_row r where r.reconciliation_id = ${rec.id} and r.state in ('posting', 'failed'))::int as "rowsPosting",
             (select count(distinct p1.row_id) from p p1 join p p2 on p2.row_id = p1.row_id and p2.status <> p1.status)::int as "mixedRows"`))!;
    expect(ledger).toMatchObject({
      done: result.postingsDone,
      pending: 0,
      withdrawn: result.postingsWithdrawn,
      movements: ledger.doneTransactions,
      onePerPosting: true,
      strayMovements: 0,
      withdrawnRows: result.rowsWithdrawn,
      rowsPosting: 0,
      mixedRows: 0,
    });
    expect(ledger.processedPosted).toBeGreaterThan(0);

    // Stock moved by exactly the done postings.
    const stock = (await one(db(), sql<{ now: string; want: string }>`
      select (select sum(quantity) from stock_position where warehouse_code = 'BIG')::text as now,
             (${stockBefore}::numeric + coalesce(${ledger.moved}::numeric, 0))::text as want`))!;
    expect(stock.now).toBe(stock.want);

    // The ERP hears of exactly what was posted: one line per processed row with a variance.
    expect(result.adjustmentOrder).not.toBeNull();
    const order = await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`);
    expect(order.status).toBe(200);
    const lineRows = (order.body.lines as Array<{ rowId: number }>).map((l) => l.rowId).sort((a, b) => a - b);
    const processedWithVariance = (await rows(db(), sql<{ id: number }>`
      select id::int from reconciliation_row where reconciliation_id = ${rec.id} and state = 'processed' and variance_quantity <> 0 order by id`)).map((r) => r.id);
    expect(lineRows).toEqual(processedWithVariance);
    expect(result.adjustmentOrder!.lines).toBe(processedWithVariance.length);
    expect(processedWithVariance.length).toBe(ledger.processedPosted);

    expect((await f.progress(rec.id))!.status).toBe('cancelled');
    expectProblem(await stack.http('POST', `/reconciliations/${rec.id}/failed-rows/retry`, { filter: { approval: 'approved' } }), 409);
  }, 240_000);
});
