import { describe, expect, it } from 'vitest';
import { one, sql } from '../db/sql';
import { applied, integration, postLoad } from './support/imports';
import { expectProblem } from './support/problem-checks';
import { useStack } from './support/stack';

/** A stock load of 100,000 lines over HTTP, streamed, in one transaction. */

const LOCATIONS = 1_000;
const ITEMS = 100;
const LINES = 100_000;

function lines(n: number, line: (i: number) => string): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(line(i));
  return out.join('\n') + '\n';
}

const stockCsv = () =>
  'warehouse,location,item,quantity,blocked\n' +
  lines(LINES, (i) => `BIG,L${i % LOCATIONS},I${Math.floor(i / LOCATIONS)},${1 + (i % 7)},${i % 10 === 0 ? 'damaged=1' : ''}`);

describe('imports at scale', () => {
  const t = useStack(async (stack) => {
    await integration(stack, 'wms-dc1');
    applied(await postLoad(stack, 'warehouses', 'code,name\nBIG,Big warehouse\n'));
    applied(await postLoad(stack, 'zones', 'warehouse,code\nBIG,Z\n'));
    applied(await postLoad(stack, 'locations', 'warehouse,zone,code\n' + lines(LOCATIONS, (i) => `BIG,Z,L${i}`)));
    applied(await postLoad(stack, 'items', 'code,storageUnit,inventoryUnit,conversionFactor,standardCost\n' + lines(ITEMS, (i) => `I${i},PCS,PCS,1,2.5`)));
  }, { worker: false });

  it(`loads ${LINES.toLocaleString('en')} stock lines from CSV in one load`, async () => {
    const summary = applied(await postLoad(t.stack, 'stock', stockCsv(), { importId: 'big' }));
    expect(summary).toEqual({ importId: 'big', kind: 'stock', lines: LINES, created: LINES, updated: 0, unchanged: 0, movements: LINES });
    const r = await one(t.stack.db.orm.em.fork(), sql<{ positions: number; blocked: number; movements: number }>`
      select (select count(*)::int from stock_position where warehouse_code = 'BIG') as positions,
             (select count(*)::int from blocking b join stock_position p on p.id = b.stock_position_id where p.warehouse_code = 'BIG') as blocked,
             (select count(*)::int from movement where reference = 'import big') as movements`);
    expect(r).toEqual({ positions: LINES, blocked: LINES / 10, movements: LINES });
  }, 120_000);

  it('refuses a caller without the role before reading a large body (403)', async () => {
    expectProblem(await postLoad(t.stack, 'stock', stockCsv(), { as: 'manager-1' }), 403, 'forbidden');
  }, 120_000);
});
