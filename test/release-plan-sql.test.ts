import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { affected, rows, sql } from '../db/sql';
import { planPostings, postingKey } from '../domain/posting-order';
import { createReconciliation } from '../store/reconciliations';
import { planRelease } from '../store/release/plan';
import { insertSnapshotRows } from '../store/rows/snapshot';
import { freshDatabase, type TestDatabase } from './support/db';

/**
 * Release planning writes the postings of most rows (a difference, blockings
 * as they were) with one statement, and those of rows whose blockings changed
 * with the domain's rules (domain/posting-order.ts). Both must give exactly
 * the postings planPostings and postingKey give, for every decided row.
 */
interface Posting {
  key: string;
  row: number;
  step: number;
  kind: string;
  direction: string | null;
  quantity: number | null;
  reason: string | null;
  from: number | null;
  to: number | null;
}

let db: TestDatabase;
let id: string;
let planned: Posting[];
let expected: Posting[];
let states: Array<{ id: number; state: string; steps: number }>;

const byKey = (a: Posting, b: Posting) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const num = (v: string | null) => (v === null ? null : Number(v));

beforeAll(async () => {
  db = await freshDatabase();
  await seedDemoWarehouse(db.orm, { positions: 300, warehouseCode: 'RP' });
  const em = db.orm.em.fork();
  const { record } = await createReconciliation(em, {
    warehouse: 'RP', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'by_size', maxLocations: 500 },
    tolerance: { default: { quantity: { plus: 0, minus: 0 } } }, blindCount: true, maxRecountRounds: 2, countDeadlineMinutes: null,
    managerApprovalLimit: 1e9,
  }, 'manager-1', undefined);
  id = record.id;
  await em.transactional(async (tx) => {
    await insertSnapshotRows(tx, id, 'RP', { kind: 'warehouse' });
    // Differences of both signs, zero and the smallest step; a few rows stay undecidable-free but not decided (deleted).
    await affected(tx, sql`
      update reconciliation_row r set state = case when r.id % 17 = 0 then 'deleted' else 'counted' end,
             approval = case when r.id % 3 = 0 then 'approved' else 'not_required' end,
             counted_round = 0, counted_quantity = r.snapshot_quantity + d.v, expected_quantity = r.snapshot_quantity, variance_quantity = d.v,
             variance_inventory_quantity = d.v, variance_value = 0
      from (select id, case when id % 11 = 0 then 0.0001 when id % 13 = 0 then -0.0001 else ((id % 9) - 4) * 0.75 end as v
            from reconciliation_row where reconciliation_id = ${id}) d
      where d.id = r.id`);
    // Blockings that decrease, increase, stay, appear from nothing, with reasons that need escaping in a key.
    await affected(tx, sql`
      insert into reconciliation_row_blocking (row_id, reason, snapshot_quantity, counted_quantity)
      select r.id, b.reason, b.snapshot, b.counted
      from reconciliation_row r
      cross join (values ('DAMAGED', 2.0, 1.0), ('QC', 0.0, 1.5), ('a:b c', 1.0, 1.0), ('ZZ', 3.0, null)) b(reason, snapshot, counted)
      where r.reconciliation_id = ${id} and r.id % 7 = 0
      on conflict (row_id, reason) do update set snapshot_quantity = excluded.snapshot_quantity, counted_quantity = excluded.counted_quantity`);
    await affected(tx, sql`
      update reconciliation_row_blocking b set counted_quantity = b.snapshot_quantity
      from reconciliation_row r where r.id = b.row_id and r.reconciliation_id = ${id} and r.id % 7 <> 0`);
  });

  const decided = await rows(em, sql<{ id: number; difference: string; blockings: Array<{ reason: string; expected: string; counted: string }> }>`
    select r.id::int, r.variance_quantity::text as difference,
           coalesce((select jsonb_agg(jsonb_build_object('reason', b.reason, 'expected', b.snapshot_quantity::text,
                                                         'counted', coalesce(b.counted_quantity, b.snapshot_quantity)::text))
                     from reconciliation_row_blocking b where b.row_id = r.id), '[]') as blockings
    from reconciliation_row r where r.reconciliation_id = ${id} and r.state = 'counted'`);
  expected = decided.flatMap((row) =>
    planPostings({
      difference: Number(row.difference),
      blockings: row.blockings.map((b) => ({ reason: b.reason, expected: Number(b.expected), counted: Number(b.counted) })),
    }).map((step, i) => ({
      key: postingKey(id, row.id, i, step),
      row: row.id,
      step: i,
      kind: step.kind,
      direction: step.kind === 'transaction' ? step.direction : null,
      quantity: step.kind === 'transaction' ? step.quantity : null,
      reason: step.kind === 'blocking_correction' ? step.reason : null,
      from: step.kind === 'blocking_correction' ? step.from : null,
      to: step.kind === 'blocking_correction' ? step.to : null,
    })),
  );

  await em.fork().transactional((tx) => planRelease(tx, id));
  const stored = await rows(em, sql<{ key: string; row: number; step: number; kind: string; direction: string | null; quantity: string | null;
    reason: string | null; from: string | null; to: string | null }>`
    select key, row_id::int as row, step_index as step, kind, direction, quantity::text, reason, blocked_from::text as from, blocked_to::text as to
    from posting where reconciliation_id = ${id}`);
  planned = stored.map((p) => ({ ...p, quantity: num(p.quantity), from: num(p.from), to: num(p.to) }));
  states = await rows(em, sql<{ id: number; state: string; steps: number }>`
    select r.id::int, r.state, (select count(*)::int from posting p where p.row_id = r.id) as steps
    from reconciliation_row r where r.reconciliation_id = ${id}`);
});

afterAll(async () => {
  await db?.close();
});

describe('release planning', () => {
  it('writes exactly the postings planPostings and postingKey give every decided row', () => {
    expect([...planned].sort(byKey)).toEqual([...expected].sort(byKey));
  });

  it('plans rows of both kinds: a difference alone, and blockings that changed around a difference', () => {
    const rowsWithCorrections = new Set(expected.filter((p) => p.kind === 'blocking_correction').map((p) => p.row));
    const transactionOnly = new Set(expected.filter((p) => !rowsWithCorrections.has(p.row)).map((p) => p.row));
    expect(rowsWithCorrections.size).toBeGreaterThan(10);
    expect(transactionOnly.size).toBeGreaterThan(100);
    expect(expected.some((p) => p.direction === 'IN')).toBe(true);
    expect(expected.some((p) => p.direction === 'OUT')).toBe(true);
  });

  it('marks posting exactly the rows with postings and leaves every other row as it was', () => {
    const wrong = states.filter((r) => (r.steps > 0) !== (r.state === 'posting'));
    expect(wrong).toEqual([]);
    expect(states.filter((r) => r.state === 'deleted').length).toBeGreaterThan(5);
  });
});
