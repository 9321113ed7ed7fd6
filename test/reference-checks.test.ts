import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, sql } from '../db/sql';
import { createReconciliation } from '../store/reconciliations';
import { freshDatabase, type TestDatabase } from './support/db';

/**
 * Migration 0008 checks references once per statement instead of once per
 * row; these pin down that the database still refuses every dangling
 * reference, whoever writes it, and that a referenced row cannot be removed.
 */
let db: TestDatabase;
let reconciliationId: string;
let position: { id: number; location_id: number; item_id: number; zone_id: number };

const run = (statement: ReturnType<typeof sql>) => statement.execute(db.orm.em.fork().getKysely());
const sqlState = async (statement: ReturnType<typeof sql>) => {
  try {
    await run(statement);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};
const rowsOfReconciliation = async () =>
  (await one(db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from reconciliation_row where reconciliation_id = ${reconciliationId}`))!.n;

beforeAll(async () => {
  db = await freshDatabase();
  await seedDemoWarehouse(db.orm, { positions: 100, warehouseCode: 'REF' });
  const { record } = await createReconciliation(
    db.orm.em.fork(),
    {
      warehouse: 'REF',
      scope: { kind: 'warehouse' },
      splitPolicy: { kind: 'by_size', maxLocations: 500 },
      tolerance: { default: { quantity: { plus: 0, minus: 0 } } },
      blindCount: true,
      maxRecountRounds: 0,
      countDeadlineMinutes: null,
      managerApprovalLimit: 1000,
    },
    'tester',
    undefined,
  );
  reconciliationId = record.id;
  position = (await one(db.orm.em.fork(), sql<typeof position>`
    select sp.id::int, sp.location_id, sp.item_id, l.zone_id from stock_position sp join location l on l.id = sp.location_id
    where sp.warehouse_code = 'REF' order by sp.id limit 1`))!;
});

afterAll(async () => {
  await db?.close();
});

const insertRow = (over: Partial<{ location: number; item: number; position: number }>) => sql`
  insert into reconciliation_row (reconciliation_id, stock_position_id, origin, zone_id, location_id, item_id, lot, serial, handling_unit, owner,
                                  snapshot_quantity, state)
  select ${reconciliationId}, v.position, 'snapshot', ${position.zone_id}, v.location, v.item, '', '', '', 'o' || v.n, 1, 'awaiting_count'
  from (values (1, ${position.location_id}::int, ${position.item_id}::int, ${position.id}::bigint),
               (2, ${over.location ?? position.location_id}::int, ${over.item ?? position.item_id}::int, ${over.position ?? position.id}::bigint))
    as v(n, location, item, position)`;

describe('references checked once per statement (migration 0008)', () => {
  it('refuses a whole insert of which one row names a location that does not exist, as a foreign key would (23503)', async () => {
    expect(await sqlState(insertRow({ location: 999_999 }))).toBe('23503');
    expect(await rowsOfReconciliation()).toBe(0);
  });

  it('refuses an insert naming a stock position that does not exist', async () => {
    expect(await sqlState(insertRow({ position: 999_999_999 }))).toBe('23503');
    expect(await rowsOfReconciliation()).toBe(0);
  });

  it('accepts an insert whose every reference exists', async () => {
    expect(await sqlState(insertRow({}))).toBe('ok');
    expect(await rowsOfReconciliation()).toBe(2);
  });

  it('refuses changing a row to reference an item that does not exist', async () => {
    expect(await sqlState(sql`update reconciliation_row set item_id = 999_999 where reconciliation_id = ${reconciliationId}`)).toBe('23503');
  });

  it('refuses deleting a referenced location, stock position or reconciliation', async () => {
    expect(await sqlState(sql`delete from location where id = ${position.location_id}`)).toBe('23503');
    expect(await sqlState(sql`delete from stock_position where id = ${position.id}`)).toBe('23503');
    expect(await sqlState(sql`delete from reconciliation where id = ${reconciliationId}`)).toBe('23503');
    expect(await sqlState(sql`truncate item cascade`)).toBe('23503');
  });

  it('refuses a new stock position naming a warehouse, location or item that does not exist (migration 0010)', async () => {
    const newPosition = (warehouse: string, location: number, item: number) => sql`
      insert into stock_position (warehouse_code, location_id, item_id, owner, quantity)
      values ('REF', ${position.location_id}, ${position.item_id}, 'fine', 1), (${warehouse}, ${location}, ${item}, 'dangling', 1)`;
    expect(await sqlState(newPosition('NOWHERE', position.location_id, position.item_id))).toBe('23503');
    expect(await sqlState(newPosition('REF', 999_999, position.item_id))).toBe('23503');
    expect(await sqlState(newPosition('REF', position.location_id, 999_999))).toBe('23503');
    expect((await one(db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from stock_position where owner in ('fine', 'dangling')`))!.n).toBe(0);
  });

  it('refuses a blocking of a stock position that does not exist, and moving a position to a location that does not exist', async () => {
    expect(await sqlState(sql`insert into blocking (stock_position_id, reason, quantity) values (999_999_999, 'damaged', 1)`)).toBe('23503');
    expect(await sqlState(sql`update stock_position set location_id = 999_999 where id = ${position.id}`)).toBe('23503');
  });

  it('refuses deleting or re-keying a warehouse', async () => {
    expect(await sqlState(sql`delete from warehouse where code = 'REF'`)).toBe('23503');
    expect(await sqlState(sql`update warehouse set code = 'REF2' where code = 'REF'`)).toBe('23503');
  });

  it("refuses re-keying a referenced row", async () => {
    expect(await sqlState(sql`update item set id = id + 1000000 where id = ${position.item_id}`)).toBe('23503');
  });
});
