import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affected, one, rows, sql } from '../db/sql';
import { createReconciliation } from '../store/reconciliations';
import { planRelease } from '../store/release/plan';
import { postBatch } from '../store/release/post';
import { listRows, rowCounts } from '../store/rows/queries';
import { insertSnapshotRows } from '../store/rows/snapshot';
import { move, smallWarehouse } from './support/fixtures';
import { freshDatabase, type TestDatabase } from './support/db';

/**
 * Release on the store alone: which rows planning touches, and the verdict
 * each posting batch gives a row on today's stock before it moves anything.
 * Counts are written straight into the rows, so every quantity is chosen.
 */
describe('release planning and posting verdicts', () => {
  let db: TestDatabase;
  let id: string;
  let positions: Awaited<ReturnType<typeof smallWarehouse>>;
  const rowOf: Record<string, number> = {};
  let planned: Awaited<ReturnType<typeof planRelease>>;
  let storedStatesAfterPlanning: Record<string, string>;

  async function count(location: string, item: string, counted: number, blocked?: number) {
    const em = db.orm.em.fork();
    const r = await one(em, sql<{ id: number }>`
      update reconciliation_row r set state = 'counted', approval = 'approved', counted_round = 0, counted_by = 'dev-1', counted_at = now(),
             counted_quantity = ${counted}::numeric, expected_quantity = r.snapshot_quantity,
             variance_quantity = ${counted}::numeric - r.snapshot_quantity, variance_inventory_quantity = ${counted}::numeric - r.snapshot_quantity,
             variance_value = 0
      from item i, location l
      where i.id = r.item_id and l.id = r.location_id and r.reconciliation_id = ${id} and l.code = ${location} and i.code = ${item}
      returning r.id::int`);
    if (blocked !== undefined) await affected(em, sql`update reconciliation_row_blocking set counted_quantity = ${blocked}::numeric where row_id = ${r!.id}`);
    rowOf[`${item}@${location}`] = r!.id;
  }

  const storedStates = async () =>
    Object.fromEntries((await rows(db.orm.em.fork(), sql<{ id: number; state: string }>`
      select id::int, state from reconciliation_row where reconciliation_id = ${id}`)).map((r) => [r.id, r.state]));

  beforeAll(async () => {
    db = await freshDatabase();
    positions = await smallWarehouse(db.orm);
    const em = db.orm.em.fork();
    const { record } = await createReconciliation(em, {
      warehouse: 'W1', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'by_size', maxLocations: 500 },
      tolerance: { default: { quantity: { plus: 0, minus: 0 } } }, blindCount: true, maxRecountRounds: 2, countDeadlineMinutes: null,
      managerApprovalLimit: 1e9,
    }, 'manager-1', undefined);
    id = record.id;
    await em.transactional(async (tx) => {
      await insertSnapshotRows(tx, id, 'W1', { kind: 'warehouse' });
      await affected(tx, sql`update reconciliation set snapshot_at = now() where id = ${id}`);
    });
    await count('A-01', 'P1', 12); // +2: an IN that posts
    await count('A-01', 'BOX', 3); // -2: an OUT, but 4 boxes leave after the count
    await count('A-02', 'P1', 4, 3); // no difference; 3 of the 4 damaged (1 before), but 2 leave after the count
    await count('B-01', 'LOT', 20); // nothing to post
    await count('B-01', 'SER', 1); // nothing to post
    await move(db.orm, positions.a01Box, 'issue', 4);
    await move(db.orm, positions.a02P1, 'issue', 2);
    const before = await storedStates();
    planned = await db.orm.em.fork().transactional((tx) => planRelease(tx, id));
    storedStatesAfterPlanning = await storedStates();
    expect(Object.keys(before)).toHaveLength(5);
    await affected(db.orm.em.fork(), sql`update reconciliation set status = 'releasing' where id = ${id}`);
    for (let after = 0; ;) {
      const batch = await db.orm.em.fork().transactional((tx) => postBatch(tx, id, after));
      if (!batch) break;
      after = batch.lastId;
    }
  });
  afterAll(async () => db?.close());

  it('plans postings for the rows with a difference or a changed blocking, and counts the rest as processed without posting', () => {
    expect(planned).toEqual({ rowsToPost: 3, postings: 3, processedWithoutPosting: 2 });
  });

  it('rewrites only the rows it plans postings for: the rows with nothing to post keep their stored state', () => {
    expect(storedStatesAfterPlanning[rowOf['LOT@B-01']!]).toBe('counted');
    expect(storedStatesAfterPlanning[rowOf['SER@B-01']!]).toBe('counted');
    expect(storedStatesAfterPlanning[rowOf['P1@A-01']!]).toBe('posting');
  });

  it('shows the rows with nothing to post as processed, in the listing, the state filter and the counts', async () => {
    const em = db.orm.em.fork();
    const listed = await listRows(em, id, {}, { after: 0, limit: 10 });
    const stateOf = Object.fromEntries(listed.rows.map((r) => [r.id, (r as unknown as { state: string }).state]));
    expect(stateOf[rowOf['LOT@B-01']!]).toBe('processed');
    const processed = await listRows(em, id, { filter: { state: 'processed' } }, { after: 0, limit: 10 });
    expect(processed.rows.map((r) => r.id).sort()).toEqual([rowOf['P1@A-01'], rowOf['LOT@B-01'], rowOf['SER@B-01']].sort());
    expect(await rowCounts(em, id)).toMatchObject({ processed: 3, failed: 2, counted: 0, posting: 0 });
  });

  it('fails a row whose OUT would drive stock negative, with on hand and difference in the reason', async () => {
    const r = await one(db.orm.em.fork(), sql<{ state: string; failure_reason: string }>`
      select state, failure_reason from reconciliation_row where id = ${rowOf['BOX@A-01']!}`);
    expect(r).toEqual({ state: 'failed', failure_reason: 'posting would drive stock negative: on hand 1, difference -2' });
  });

  it('fails a row whose blocking correction would block more than the stock left', async () => {
    const r = await one(db.orm.em.fork(), sql<{ state: string; failure_reason: string }>`
      select state, failure_reason from reconciliation_row where id = ${rowOf['P1@A-02']!}`);
    expect(r).toEqual({ state: 'failed', failure_reason: 'blocked quantity 3 would exceed stock 2' });
  });

  it('posts the row that can post and moves only its stock', async () => {
    const stock = await rows(db.orm.em.fork(), sql<{ id: number; quantity: string }>`
      select id::int, quantity::text from stock_position where id = any(${[positions.a01P1, positions.a01Box, positions.a02P1]}::bigint[]) order by id`);
    expect(stock.map((s) => Number(s.quantity))).toEqual([12, 1, 2]);
    const blocked = await one(db.orm.em.fork(), sql<{ quantity: string }>`
      select quantity::text from blocking where stock_position_id = ${positions.a02P1} and reason = 'damaged'`);
    expect(Number(blocked!.quantity)).toBe(1);
  });
});
