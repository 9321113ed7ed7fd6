import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse, seedShape, type SeedSummary } from '../db/seed';
import { freshDatabase, type TestDatabase } from './support/db';

type Row = Record<string, unknown>;

let db: TestDatabase;
let first: SeedSummary;

async function q(sql: string, params: unknown[] = []): Promise<Row[]> {
  return db.orm.em.fork().execute<Row[]>(sql, params);
}

async function one(sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await q(sql, params);
  return Number(Object.values(row ?? {})[0]);
}

function counts(s: SeedSummary) {
  const { warehouseCode, zones, locations, items, positions, blockings, movements } = s;
  return { warehouseCode, zones, locations, items, positions, blockings, movements };
}

async function tableCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['warehouse', 'zone', 'location', 'item', 'stock_position', 'blocking', 'movement']) {
    out[t] = await one(`select count(*) from ${t}`);
  }
  return out;
}

beforeAll(async () => {
  db = await freshDatabase();
  first = await seedDemoWarehouse(db.orm, { positions: 2000 });
});

afterAll(async () => {
  await db?.close();
});

describe('seedDemoWarehouse', () => {
  it('creates the requested shape with exact counts', async () => {
    expect(seedShape(2000)).toMatchObject({ zones: 2, locations: 250, items: 100 });
    expect(first).toMatchObject({
      warehouseCode: 'WH1',
      created: true,
      zones: 2,
      locations: 250,
      items: 100,
      positions: 2000,
      movements: 2000,
    });
    expect(await one(`select count(*) from stock_position where warehouse_code = 'WH1'`)).toBe(2000);
    expect(await one(`select count(*) from zone where warehouse_code = 'WH1'`)).toBe(2);
    expect(await one(`select count(*) from location where warehouse_code = 'WH1'`)).toBe(250);
    expect(await one(`select count(distinct item_id) from stock_position where warehouse_code = 'WH1'`)).toBe(100);
    expect(await one(`select count(*) from item`)).toBe(100);
    expect(await one(`select count(*) from blocking`)).toBe(first.blockings);
    expect(await one(`select count(*) from movement`)).toBe(2000);

    const zones = await q(`select code from zone where warehouse_code = 'WH1' order by code`);
    expect(zones.map((z) => z.code)).toEqual(['Z01', 'Z02']);
    // 250 locations over 2 zones: 125 each, 8 positions per location
    expect(await one(`select count(*) from location l join zone z on z.id = l.zone_id where z.code = 'Z01'`)).toBe(125);
    expect(await one(`select count(*) from location where code !~ '^Z0[12]-[A-Z]-[0-9]{3}-[1-4]$'`)).toBe(0);
    expect(await one(`select count(*) from location l join zone z on z.id = l.zone_id where l.code not like z.code || '-%'`)).toBe(0);
    expect(
      await one(`select count(*) from (select location_id from stock_position group by location_id having count(*) <> 8) x`),
    ).toBe(0);
    expect(await one(`select count(*) from item where code !~ '^ITEM-[0-9]{6}$'`)).toBe(0);
    const [range] = await q(`select min(code) as lo, max(code) as hi from item`);
    expect(range).toEqual({ lo: 'ITEM-000001', hi: 'ITEM-000100' });
  });

  it('gives every position exactly one receipt movement of its quantity, before now', async () => {
    const bad = await q(`
      select p.id from stock_position p left join movement m on m.stock_position_id = p.id
      group by p.id, p.quantity
      having count(m.id) <> 1 or coalesce(sum(m.quantity), 0) <> p.quantity
          or bool_or(m.kind <> 'receipt') or max(m.occurred_at) >= now()`);
    expect(bad).toEqual([]);
    expect(await one(`select count(*) from movement where kind = 'receipt'`)).toBe(2000);
    // the log explains the stock, in total as well
    const [tot] = await q(`select (select sum(quantity) from stock_position) = (select sum(quantity) from movement) as ok`);
    expect(tot?.ok).toBe(true);
  });

  it('keeps quantities, units and costs in their ranges', async () => {
    expect(await one(`select count(*) from stock_position where quantity < 1 or quantity > 500`)).toBe(0);
    // fractional quantities only for items weighed in KG
    expect(
      await one(`select count(*) from stock_position p join item i on i.id = p.item_id
                 where p.quantity <> trunc(p.quantity) and i.storage_unit <> 'KG'`),
    ).toBe(0);
    expect(
      await one(`select count(*) from stock_position p join item i on i.id = p.item_id
                 where p.quantity <> trunc(p.quantity) and i.storage_unit = 'KG'`),
    ).toBeGreaterThan(0);
    expect(await one(`select count(*) from item where standard_cost < 0.5 or standard_cost > 500`)).toBe(0);
    expect(
      await one(`select count(*) from item where not ((storage_unit, inventory_unit, conversion_factor) in
                 (('PCS','PCS',1), ('BOX','PCS',12), ('CASE','PCS',24), ('KG','KG',1), ('BAG','KG',25), ('ROLL','M',50)))`),
    ).toBe(0);
    expect(await one(`select count(distinct storage_unit) from item`)).toBeGreaterThanOrEqual(4);
    expect(await one(`select count(*) from item where lot_tracked and serial_tracked`)).toBe(0);
  });

  it('tracks lots and serials as the items demand', async () => {
    const serialPositions = await one(
      `select count(*) from stock_position p join item i on i.id = p.item_id where i.serial_tracked`,
    );
    expect(serialPositions).toBeGreaterThan(0);
    expect(
      await one(`select count(*) from stock_position p join item i on i.id = p.item_id
                 where i.serial_tracked and (p.quantity <> 1 or p.serial !~ '^SN[0-9]+$' or i.storage_unit <> 'PCS')`),
    ).toBe(0);
    expect(await one(`select count(*) - count(distinct serial) from stock_position where serial <> ''`)).toBe(0);

    const lotPositions = await one(`select count(*) from stock_position p join item i on i.id = p.item_id where i.lot_tracked`);
    expect(lotPositions).toBeGreaterThan(0);
    expect(
      await one(`select count(*) from stock_position p join item i on i.id = p.item_id
                 where i.lot_tracked and p.lot !~ '^L[0-9]+$'`),
    ).toBe(0);
    // untracked items carry neither
    expect(
      await one(`select count(*) from stock_position p join item i on i.id = p.item_id
                 where (not i.lot_tracked and p.lot <> '') or (not i.serial_tracked and p.serial <> '')`),
    ).toBe(0);
    // exactly 10% lot- and 3% serial-tracked items (of 100)
    const lotItems = await one(`select count(*) from item where lot_tracked`);
    const serialItems = await one(`select count(*) from item where serial_tracked`);
    expect(lotItems).toBe(10);
    expect(serialItems).toBe(3);
    // handling units and owners occur, but are not the rule
    const hu = await one(`select count(*) from stock_position where handling_unit ~ '^HU[0-9]+$'`);
    expect(hu).toBeGreaterThan(0);
    expect(hu).toBeLessThan(1000);
    expect(await one(`select count(*) from stock_position where handling_unit not in ('') and handling_unit !~ '^HU[0-9]+$'`)).toBe(0);
    const owners = await q(`select owner, count(*)::int as n from stock_position group by owner order by owner`);
    expect(owners.map((o) => o.owner)).toEqual(['', 'VMI-ACME', 'VMI-GLOBEX']);
    expect(Number(owners[0]?.n)).toBeGreaterThan(1700);
  });

  it('blocks about 2% of positions, never more than the position holds', async () => {
    expect(first.blockings).toBeGreaterThanOrEqual(20);
    expect(first.blockings).toBeLessThanOrEqual(60);
    expect(
      await one(`select count(*) from blocking b join stock_position p on p.id = b.stock_position_id
                 where b.quantity <= 0 or b.quantity > p.quantity`),
    ).toBe(0);
    expect(await one(`select count(*) from blocking where reason not in ('damaged', 'quality', 'pending_putaway')`)).toBe(0);
    expect(await one(`select count(distinct reason) from blocking`)).toBe(3);
  });

  it('is a no-op when the warehouse exists', async () => {
    const before = await tableCounts();
    const again = await seedDemoWarehouse(db.orm, { positions: 5000 });
    expect(again.created).toBe(false);
    expect(counts(again)).toEqual(counts(first));
    expect(await tableCounts()).toEqual(before);
  });

  it('lets a second warehouse coexist, sharing the item master, with the same deterministic layout', async () => {
    const before = await tableCounts();
    const second = await seedDemoWarehouse(db.orm, { positions: 2000, warehouseCode: 'WH2' });
    expect(second).toMatchObject({ warehouseCode: 'WH2', created: true, zones: 2, locations: 250, items: 100, positions: 2000 });
    expect(second.blockings).toBe(first.blockings);
    expect(second.movements).toBe(2000);
    const after = await tableCounts();
    expect(after).toEqual({
      warehouse: before.warehouse! + 1,
      zone: before.zone! + 2,
      location: before.location! + 250,
      item: before.item, // same 100 items, reused
      stock_position: before.stock_position! + 2000,
      blocking: before.blocking! + first.blockings,
      movement: before.movement! + 2000,
    });
    // WH1 untouched
    expect(await one(`select count(*) from stock_position where warehouse_code = 'WH1'`)).toBe(2000);

    // Deterministic: both warehouses have the same layout, item by item (ids and serials differ).
    const layout = (wh: string) =>
      q(
        `select l.code as loc, i.code as item, p.lot, p.owner, p.quantity::text as qty,
                p.handling_unit <> '' as hu, p.serial <> '' as sn, b.reason, b.quantity::text as blocked
         from stock_position p join location l on l.id = p.location_id join item i on i.id = p.item_id
         left join blocking b on b.stock_position_id = p.id
         where p.warehouse_code = ? order by l.code, i.code`,
        [wh],
      );
    const [a, b] = [await layout('WH1'), await layout('WH2')];
    expect(a).toHaveLength(2000);
    expect(b).toEqual(a);

    // A larger third warehouse adds only the items it lacks.
    const third = await seedDemoWarehouse(db.orm, { positions: 3000, warehouseCode: 'WH3' });
    expect(third).toMatchObject({ created: true, positions: 3000, items: 150, locations: 375 });
    expect(await one(`select count(*) from item`)).toBe(150);
  });

  it('blocks a serial-tracked position as its whole single piece', async () => {
    // 20,000 positions hold ~600 serial-tracked ones, enough for a few to be blocked.
    const s = await seedDemoWarehouse(db.orm, { positions: 20_000, warehouseCode: 'WH4' });
    expect(s).toMatchObject({ created: true, positions: 20_000, movements: 20_000, items: 1000 });
    const serialBlocked = await q(
      `select b.quantity::text as blocked, p.quantity::text as held from blocking b
       join stock_position p on p.id = b.stock_position_id join item i on i.id = p.item_id
       where p.warehouse_code = 'WH4' and i.serial_tracked`,
    );
    expect(serialBlocked.length).toBeGreaterThan(0);
    expect(serialBlocked.filter((r) => r.blocked !== '1.0000' || r.held !== '1.0000')).toEqual([]);
    expect(
      await one(`select count(*) from blocking b join stock_position p on p.id = b.stock_position_id
                 where p.warehouse_code = 'WH4' and (b.quantity <= 0 or b.quantity > p.quantity)`),
    ).toBe(0);
  });

  it('rejects bad sizes before touching the database', async () => {
    const before = await tableCounts();
    for (const positions of [0, -1, 1.5, Number.NaN]) {
      await expect(seedDemoWarehouse(db.orm, { positions, warehouseCode: 'BAD' })).rejects.toThrow(RangeError);
    }
    await expect(seedDemoWarehouse(db.orm, { positions: 10, warehouseCode: "x'; drop" })).rejects.toThrow(RangeError);
    expect(await tableCounts()).toEqual(before);
  });
});
