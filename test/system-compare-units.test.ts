import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { storageQuantity, unitMappingJoins } from '../store/system-reconciliation/keys';
import { storageUnitsSql } from '../store/systems';
import { freshDatabase, type TestDatabase } from './support/db';

/**
 * The comparison converts units with joins (it runs over millions of level
 * rows); the levels ingestion checks units with store/systems.ts
 * storageUnitsSql. Both must give the same storage units for every source,
 * item and unit, or a level the ingestion accepted could be compared wrongly.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
  const em = db.orm.em.fork();
  await em.execute(`insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost)
    values ('U-PCS', 'PCS', 'PCS', 1, 1), ('U-BOX', 'BOX', 'PCS', 12, 1), ('U-KG', 'KG', 'G', 1000, 1), ('U-ROLL', 'ROLL', 'M', 50, 1)`);
  await em.execute(`insert into unit_mapping (source, unit, item_code, storage_units) values
    ('S', 'CASE', 'U-PCS', 24), ('S', 'CASE', '', 6), ('S', 'EA', '', 1), ('S', 'BOX', 'U-BOX', 2), ('S', 'PAL', 'U-BOX', 40),
    ('T', 'CASE', '', 10)`);
});

afterAll(async () => {
  await db?.close();
});

describe('unit conversion in the comparison', () => {
  it('gives the same storage units as the ingestion rule for every source, item and unit', async () => {
    const cases = await rows(
      db.orm.em.fork(),
      sql<{ source: string; item: string; unit: string; comparison: string | null; ingestion: string | null }>`
        select x.source, x.item_code as item, x.unit,
               round(${storageQuantity('x')}, 12)::text as comparison,
               round(${storageUnitsSql(sql`x.source`, sql`x.item_code`, sql`x.unit`)}, 12)::text as ingestion
        from (select s.source, i.code as item_code, u.unit, 1::numeric as quantity
              from unnest(array['S', 'T', 'book']) s(source)
              cross join item i
              cross join unnest(array['PCS', 'BOX', 'CASE', 'EA', 'PAL', 'KG', 'G', 'M', 'ROLL', 'XX']) u(unit)
              where i.code like 'U-%') x
        join item i on i.code = x.item_code
        ${unitMappingJoins('x')}
        order by 1, 2, 3`,
    );
    expect(cases.length).toBe(3 * 4 * 10);
    const disagreeing = cases.filter((c) => c.comparison !== c.ingestion);
    expect(disagreeing).toEqual([]);
    // Spot checks of the rule itself: an item's own mapping first, then its units, then the mapping for all items.
    const at = (source: string, item: string, unit: string) => cases.find((c) => c.source === source && c.item === item && c.unit === unit)?.comparison;
    expect(at('S', 'U-BOX', 'BOX')).toBe('2.000000000000');
    expect(at('T', 'U-BOX', 'PCS')).toBe('0.083333333333');
    expect(at('S', 'U-PCS', 'CASE')).toBe('24.000000000000');
    expect(at('S', 'U-BOX', 'CASE')).toBe('6.000000000000');
    expect(at('book', 'U-PCS', 'XX')).toBeNull();
  });
});
