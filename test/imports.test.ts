import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { applied, csv, fingerprint, integration, jsonl, positionState, postLoad } from './support/imports';
import { expectProblem } from './support/problem-checks';
import { useStack, type Stack } from './support/stack';

/**
 * POST /imports/{kind}: master data and stock loaded from CSV and JSON lines
 * over real HTTP into a real PostgreSQL, once per Import-Id, whole or not at all.
 */

const STOCK_HEADER = ['warehouse', 'location', 'item', 'lot', 'serial', 'handlingUnit', 'owner', 'quantity', 'blocked'];
const FORMATS = ['csv', 'jsonl'] as const;
type Format = (typeof FORMATS)[number];

/** The same records as a CSV body (header from `header`; a `blocked` object as reason=qty;...) or as JSON lines. */
function body(format: Format, header: string[], records: Array<Record<string, unknown>>): string {
  if (format === 'jsonl') return jsonl(records);
  const text = records.map((r) => {
    const blocked = r.blocked as Record<string, number> | undefined;
    return blocked ? { ...r, blocked: Object.entries(blocked).map(([k, v]) => `${k}=${v}`).join(';') } : r;
  });
  return csv(header, text);
}

async function count(stack: Stack, query: ReturnType<typeof sql>): Promise<number> {
  return (await one(stack.db.orm.em.fork(), sql<{ n: number }>`select (${query})::int as n`))!.n;
}

async function movementsOf(stack: Stack, importId: string) {
  return rows(stack.db.orm.em.fork(), sql<{ location: string; item: string; lot: string; serial: string; kind: string; quantity: number }>`
    select l.code as location, i.code as item, p.lot, p.serial, m.kind, m.quantity::float8 as quantity
    from movement m join stock_position p on p.id = m.stock_position_id
    join location l on l.id = p.location_id join item i on i.id = p.item_id
    where m.reference = ${'import ' + importId} order by l.code, i.code`);
}

describe('imports', () => {
  const t = useStack(async (stack) => {
    for (const w of ['W1', 'W2', 'W3', 'W4']) await smallWarehouse(stack.db.orm, w);
    await integration(stack, 'wms-dc1');
    await integration(stack, 'wms-w1', ['W1']);
  });

  describe.each(FORMATS)('each kind from %s', (format) => {
    const load = (kind: string, header: string[], records: Array<Record<string, unknown>>) =>
      postLoad(t.stack, kind, body(format, header, records), { format });

    it('loads warehouses: a new code is created, a known one renamed', async () => {
      const res = await load('warehouses', ['code', 'name'], [{ code: `N-${format}`, name: 'New, north' }, { code: 'W4', name: `Renamed by ${format}` }]);
      expect(applied(res)).toMatchObject({ kind: 'warehouses', lines: 2, created: 1, updated: 1, unchanged: 0, movements: 0 });
      const names = await rows(t.stack.db.orm.em.fork(), sql<{ code: string; name: string }>`
        select code, name from warehouse where code in (${`N-${format}`}, 'W4') order by code`);
      expect(names).toEqual([{ code: `N-${format}`, name: 'New, north' }, { code: 'W4', name: `Renamed by ${format}` }]);
    });

    it('loads zones: a new one is created, a known one is unchanged', async () => {
      const res = await load('zones', ['warehouse', 'code'], [{ warehouse: 'W1', code: `Z-${format}` }, { warehouse: 'W1', code: 'A' }]);
      expect(applied(res)).toMatchObject({ kind: 'zones', lines: 2, created: 1, updated: 0, unchanged: 1 });
      expect(await count(t.stack, sql`select count(*) from zone where warehouse_code = 'W1' and code = ${`Z-${format}`}`)).toBe(1);
    });

    it('loads locations: created in their zone, a known one moved to the zone the load names', async () => {
      await postLoad(t.stack, 'locations', csv(['warehouse', 'zone', 'code'], [{ warehouse: 'W4', zone: 'A', code: `MV-${format}` }]));
      const res = await load('locations', ['warehouse', 'zone', 'code'], [
        { warehouse: 'W4', zone: 'B', code: `L-${format}` },
        { warehouse: 'W4', zone: 'B', code: `MV-${format}` },
        { warehouse: 'W4', zone: 'A', code: 'A-01' },
      ]);
      expect(applied(res)).toMatchObject({ kind: 'locations', lines: 3, created: 1, updated: 1, unchanged: 1 });
      const zones = await rows(t.stack.db.orm.em.fork(), sql<{ code: string; zone: string }>`
        select l.code, z.code as zone from location l join zone z on z.id = l.zone_id
        where l.warehouse_code = 'W4' and l.code in (${`L-${format}`}, ${`MV-${format}`}) order by l.code`);
      expect(zones).toEqual([{ code: `L-${format}`, zone: 'B' }, { code: `MV-${format}`, zone: 'B' }]);
    });

    it('loads units: a new one with its decimals, a known one unchanged', async () => {
      const res = await load('units', ['code', 'decimals'], [{ code: `U-${format}`, decimals: 2 }, { code: 'KG', decimals: 3 }]);
      expect(applied(res)).toMatchObject({ kind: 'units', lines: 2, created: 1, updated: 0, unchanged: 1 });
      expect(await count(t.stack, sql`select decimals from unit where code = ${`U-${format}`}`)).toBe(2);
    });

    it('loads items: created, updated and unchanged by code, with units, conversion, cost and tracking', async () => {
      await t.stack.db.orm.em.fork().execute(
        `insert into item (code, description, storage_unit, inventory_unit, conversion_factor, standard_cost) values (?, 'old', 'PCS', 'PCS', 1, 1)`,
        [`OLD-${format}`],
      );
      const header = ['code', 'description', 'storageUnit', 'inventoryUnit', 'conversionFactor', 'standardCost', 'lotTracked', 'serialTracked'];
      const res = await load('items', header, [
        { code: `I-${format}`, description: 'Widget, "large"', storageUnit: 'CASE', inventoryUnit: 'PCS', conversionFactor: 24, standardCost: 1.25, lotTracked: true, serialTracked: false },
        { code: `OLD-${format}`, description: 'new', storageUnit: 'PCS', inventoryUnit: 'PCS', conversionFactor: 1, standardCost: 2.5, lotTracked: false, serialTracked: true },
        { code: 'P1', description: '', storageUnit: 'PCS', inventoryUnit: 'PCS', conversionFactor: 1, standardCost: 10, lotTracked: false, serialTracked: false },
      ]);
      expect(applied(res)).toMatchObject({ kind: 'items', lines: 3, created: 1, updated: 1, unchanged: 1 });
      const items = await rows(t.stack.db.orm.em.fork(), sql`
        select code, description, storage_unit, inventory_unit, conversion_factor::float8, standard_cost::float8, lot_tracked, serial_tracked
        from item where code in (${`I-${format}`}, ${`OLD-${format}`}) order by code`);
      expect(items).toEqual([
        { code: `I-${format}`, description: 'Widget, "large"', storage_unit: 'CASE', inventory_unit: 'PCS', conversion_factor: 24, standard_cost: 1.25, lot_tracked: true, serial_tracked: false },
        { code: `OLD-${format}`, description: 'new', storage_unit: 'PCS', inventory_unit: 'PCS', conversion_factor: 1, standard_cost: 2.5, lot_tracked: false, serial_tracked: true },
      ]);
    });

    it('loads stock: quantities and blockings of the listed positions, a new position created', async () => {
      // csv: W2 A-01/P1 10 -> 7 with blockings, a new lot of LOT; jsonl: W2 A-02/P1 keeps 4 but loses its blocking, a new serial of SER.
      const records = format === 'csv'
        ? [{ warehouse: 'W2', location: 'A-01', item: 'P1', quantity: 7, blocked: { damaged: 2, quality: 1 } },
           { warehouse: 'W2', location: 'B-01', item: 'LOT', lot: 'L-csv', quantity: 2.5 }]
        : [{ warehouse: 'W2', location: 'A-02', item: 'P1', quantity: 4, blocked: {} },
           { warehouse: 'W2', location: 'B-01', item: 'SER', serial: 'S-jsonl', quantity: 1 }];
      const res = await load('stock', STOCK_HEADER, records);
      expect(applied(res)).toMatchObject({ kind: 'stock', lines: 2, created: 1, updated: 1, unchanged: 0, movements: format === 'csv' ? 2 : 1 });
      if (format === 'csv') {
        expect(await positionState(t.stack, 'W2', 'A-01', 'P1')).toMatchObject({ quantity: 7, blocked: { damaged: 2, quality: 1 } });
        expect(await positionState(t.stack, 'W2', 'B-01', 'LOT', { lot: 'L-csv' })).toMatchObject({ quantity: 2.5, blocked: {} });
      } else {
        expect(await positionState(t.stack, 'W2', 'A-02', 'P1')).toMatchObject({ quantity: 4, blocked: {} });
        expect(await positionState(t.stack, 'W2', 'B-01', 'SER', { serial: 'S-jsonl' })).toMatchObject({ quantity: 1, blocked: {} });
      }
    });
  });

  it('a stock load sets quantities and blockings, writes exactly the movements of the differences and leaves other positions alone', async () => {
    const { stack } = t;
    const serBefore = await positionState(stack, 'W1', 'B-01', 'SER', { serial: 'S1' });
    const positionsBefore = await count(stack, sql`select count(*) from stock_position`);
    const res = await postLoad(stack, 'stock', jsonl([
      { warehouse: 'W1', location: 'A-01', item: 'P1', quantity: 12, blocked: { quality: 2 } },
      { warehouse: 'W1', location: 'A-01', item: 'BOX', quantity: 5 },
      { warehouse: 'W1', location: 'A-02', item: 'P1', quantity: 4, blocked: { damaged: 3 } },
      { warehouse: 'W1', location: 'B-01', item: 'LOT', lot: 'L1', quantity: 18.5 },
      { warehouse: 'W1', location: 'A-02', item: 'BOX', quantity: 3 },
    ]), { format: 'jsonl', importId: 'stock-semantics' });
    expect(applied(res)).toEqual({ importId: 'stock-semantics', kind: 'stock', lines: 5, created: 1, updated: 3, unchanged: 1, movements: 3 });
    expect(await movementsOf(stack, 'stock-semantics')).toEqual([
      { location: 'A-01', item: 'P1', lot: '', serial: '', kind: 'adjustment', quantity: 2 },
      { location: 'A-02', item: 'BOX', lot: '', serial: '', kind: 'adjustment', quantity: 3 },
      { location: 'B-01', item: 'LOT', lot: 'L1', serial: '', kind: 'adjustment', quantity: -1.5 },
    ]);
    expect(await positionState(stack, 'W1', 'A-01', 'P1')).toMatchObject({ quantity: 12, blocked: { quality: 2 } });
    expect(await positionState(stack, 'W1', 'A-01', 'BOX')).toMatchObject({ quantity: 5, blocked: {} });
    expect(await positionState(stack, 'W1', 'A-02', 'P1')).toMatchObject({ quantity: 4, blocked: { damaged: 3 } });
    expect(await positionState(stack, 'W1', 'B-01', 'LOT', { lot: 'L1' })).toMatchObject({ quantity: 18.5, blocked: {} });
    expect(await positionState(stack, 'W1', 'A-02', 'BOX')).toMatchObject({ quantity: 3, blocked: {} });
    expect(await positionState(stack, 'W1', 'B-01', 'SER', { serial: 'S1' })).toEqual(serBefore);
    expect(await count(stack, sql`select count(*) from stock_position`)).toBe(positionsBefore + 1);
  });

  it('a count in progress sees a stock load after its snapshot as a movement: expected = snapshot + the loaded difference', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'W3', scope: { kind: 'zones', zones: ['A'] }, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    applied(await postLoad(stack, 'stock', csv(STOCK_HEADER, [{ warehouse: 'W3', location: 'A-01', item: 'P1', quantity: 13 }]), { importId: 'during-count' }));
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    const res = await f.submit(order!.id, 'ic-1', [
      { location: 'A-01', item: 'P1', quantity: 13 },
      { location: 'A-01', item: 'BOX', quantity: 5 },
      { location: 'A-02', item: 'P1', quantity: 4 },
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await f.complete(order!.id);
    await f.waitFor(rec.id, 'review', 0);
    expect(await f.row(rec.id, 'P1', 'A-01')).toMatchObject({ snapshotQuantity: 10, expectedQuantity: 13, varianceQuantity: 0, movedAfterSnapshot: true });
  });

  it('the same load sent twice changes nothing the second time and answers 200 with the first summary', async () => {
    const { stack } = t;
    const text = csv(STOCK_HEADER, [{ warehouse: 'W1', location: 'B-01', item: 'LOT', lot: 'L-twice', quantity: 3, blocked: 'quality=1' }]);
    const first = applied(await postLoad(stack, 'stock', text, { importId: 'twice' }));
    expect(first).toMatchObject({ created: 1, movements: 1 });
    const before = await fingerprint(stack);
    const second = applied(await postLoad(stack, 'stock', text, { importId: 'twice' }), 200);
    expect(second).toEqual(first);
    expect(await fingerprint(stack)).toEqual(before);
  });

  it('the same Import-Id with another body is refused (422 import-id-reused) and applies nothing', async () => {
    const { stack } = t;
    applied(await postLoad(stack, 'zones', csv(['warehouse', 'code'], [{ warehouse: 'W1', code: 'REUSE-1' }]), { importId: 'reused' }));
    const before = await fingerprint(stack);
    const res = await postLoad(stack, 'zones', csv(['warehouse', 'code'], [{ warehouse: 'W1', code: 'REUSE-2' }]), { importId: 'reused' });
    expectProblem(res, 422, 'import-id-reused');
    expect(await fingerprint(stack)).toEqual(before);
  });

  it('the same Import-Id and body for another kind or from another caller is refused', async () => {
    const { stack } = t;
    const text = csv(['code', 'name'], [{ code: 'W1', name: 'Warehouse W1' }]);
    applied(await postLoad(stack, 'warehouses', text, { importId: 'bound' }));
    expectProblem(await postLoad(stack, 'warehouses', text, { importId: 'bound', as: 'admin-1' }), 422, 'import-id-reused');
    expectProblem(await postLoad(stack, 'zones', text, { importId: 'bound' }), 422, 'import-id-reused');
  });

  it('two loads with the same Import-Id sent at once apply once', async () => {
    const { stack } = t;
    const text = csv(STOCK_HEADER, [{ warehouse: 'W1', location: 'B-01', item: 'LOT', lot: 'L-race', quantity: 7 }]);
    const answers = await Promise.all([1, 2, 3].map(() => postLoad(stack, 'stock', text, { importId: 'race' })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(await movementsOf(stack, 'race')).toEqual([{ location: 'B-01', item: 'LOT', lot: 'L-race', serial: '', kind: 'adjustment', quantity: 7 }]);
  });

  it('CSV with bad lines is refused (422) listing exactly those lines, and nothing is applied', async () => {
    const { stack } = t;
    const text = [
      STOCK_HEADER.join(','),
      'W1,A-01,P1,,,,,5,', // 2: fine
      'W1,NOPE,P1,,,,,1,', // 3: unknown location
      'W1,A-01,BOX,,,,,2.5,', // 4: 2.5 of an item counted in whole boxes
      'W1,B-01,SER,,S9,,,2,', // 5: a serial-tracked item is 0 or 1
      'W1,A-02,P1,,,,,3,damaged=4', // 6: blocked above the quantity
      'W1,A-\u000001,P1,,,,,1,', // 7: NUL in a code
      'W1,B-01,LOT,L7,,,,1.5,', // 8: fine
      'W1,A-01,"P1"x,,,,,1,', // 9: malformed: text after a closing quote; reading stops here
      'W1,A-01,P1,,,,,6,', // 10: never read
    ].join('\r\n');
    const before = await fingerprint(stack);
    const res = await postLoad(stack, 'stock', text);
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.lines.map((l: { line: number }) => l.line)).toEqual([3, 4, 5, 6, 7, 9]);
    expect(res.body.badLines).toBe(6);
    const problems = Object.fromEntries(res.body.lines.map((l: { line: number; problem: string }) => [l.line, l.problem]));
    expect(problems[3]).toContain('unknown location NOPE');
    expect(problems[4]).toContain('whole numbers');
    expect(problems[5]).toContain('0 or 1');
    expect(problems[6]).toContain('exceeds');
    expect(problems[7]).toContain('control characters');
    expect(problems[9]).toContain('closing quote');
    expect(await fingerprint(stack)).toEqual(before);
  });

  it('JSON lines with bad lines are refused (422) listing exactly those lines, and nothing is applied', async () => {
    const { stack } = t;
    const text = [
      { warehouse: 'W1', location: 'A-01', item: 'P1', quantity: 5 },
      { warehouse: 'W1', location: 'NOPE', item: 'P1', quantity: 1 },
      { warehouse: 'W1', location: 'A-01', item: 'BOX', quantity: 2.5 },
      { warehouse: 'W1', location: 'B-01', item: 'SER', serial: 'S9', quantity: 2 },
      { warehouse: 'W1', location: 'A-02', item: 'P1', quantity: 3, blocked: { damaged: 4 } },
      { warehouse: 'W1', location: 'A-0\u00001', item: 'P1', quantity: 1 },
    ].map((r) => JSON.stringify(r)).concat(['[1, 2]', JSON.stringify({ warehouse: 'W1', location: 'A-01', item: 'P1', quantity: 6 })]).join('\n');
    const before = await fingerprint(stack);
    const res = await postLoad(stack, 'stock', text, { format: 'jsonl' });
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.lines.map((l: { line: number }) => l.line)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(res.body.lines[5].problem).toContain('not a JSON object');
    expect(await fingerprint(stack)).toEqual(before);
  });

  it('a stock line of a warehouse the caller is not granted is a bad line', async () => {
    const { stack } = t;
    const before = await fingerprint(stack);
    const res = await postLoad(stack, 'stock', csv(STOCK_HEADER, [
      { warehouse: 'W1', location: 'A-01', item: 'P1', quantity: 5 },
      { warehouse: 'W2', location: 'A-01', item: 'P1', quantity: 5 },
      { warehouse: 'W9', location: 'A-01', item: 'P1', quantity: 5 },
    ]), { as: 'wms-w1' });
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.lines).toEqual([
      { line: 3, problem: 'warehouse W2 is not granted to wms-w1' },
      { line: 4, problem: 'warehouse W9 is not granted to wms-w1' },
    ]);
    expect(await fingerprint(stack)).toEqual(before);
  });

  it('the same key twice in one load makes the later line bad', async () => {
    const res = await postLoad(t.stack, 'stock', csv(STOCK_HEADER, [
      { warehouse: 'W1', location: 'A-01', item: 'P1', quantity: 5 },
      { warehouse: 'W1', location: 'A-02', item: 'P1', quantity: 5 },
      { warehouse: 'W1', location: 'A-01', item: 'P1', quantity: 6 },
    ]));
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.lines).toEqual([{ line: 4, problem: 'the same stock position as line 2' }]);
  });

  it('an item load refuses unknown units and a new storage unit for an item with stock', async () => {
    const header = ['code', 'storageUnit', 'inventoryUnit', 'conversionFactor', 'standardCost'];
    const res = await postLoad(t.stack, 'items', csv(header, [
      { code: 'NU-1', storageUnit: 'NOUNIT', inventoryUnit: 'PCS', conversionFactor: 1, standardCost: 0 },
      { code: 'P1', storageUnit: 'BOX', inventoryUnit: 'PCS', conversionFactor: 1, standardCost: 10 },
      { code: 'NU-2', storageUnit: 'PCS', inventoryUnit: 'PCS', conversionFactor: 0, standardCost: 0 },
    ]));
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.lines).toEqual([
      { line: 2, problem: 'unknown unit NOUNIT' },
      { line: 3, problem: 'item P1 has stock in PCS: its storage unit cannot change to BOX' },
      { line: 4, problem: 'conversionFactor: must be above 0' },
    ]);
  });

  it('an item load can use a unit loaded before it, and stock of that item follows its decimals', async () => {
    const { stack } = t;
    applied(await postLoad(stack, 'units', csv(['code', 'decimals'], [{ code: 'DRUM', decimals: 1 }])));
    applied(await postLoad(stack, 'items', csv(['code', 'storageUnit', 'inventoryUnit', 'conversionFactor', 'standardCost'], [
      { code: 'OIL', storageUnit: 'DRUM', inventoryUnit: 'L', conversionFactor: 200, standardCost: 1.5 },
    ])));
    const bad = await postLoad(stack, 'stock', csv(STOCK_HEADER, [{ warehouse: 'W1', location: 'B-01', item: 'OIL', quantity: 2.25 }]));
    expectProblem(bad, 422, 'invalid-import');
    expect(bad.body.lines).toEqual([{ line: 2, problem: 'item OIL: DRUM allows at most 1 decimals' }]);
    applied(await postLoad(stack, 'stock', csv(STOCK_HEADER, [{ warehouse: 'W1', location: 'B-01', item: 'OIL', quantity: 2.5 }])));
    expect(await positionState(stack, 'W1', 'B-01', 'OIL')).toMatchObject({ quantity: 2.5 });
  });

  it('a unit keeps its decimals while stock in it has more', async () => {
    const { stack } = t;
    applied(await postLoad(stack, 'stock', csv(STOCK_HEADER, [{ warehouse: 'W4', location: 'B-01', item: 'LOT', lot: 'L-half', quantity: 0.5 }])));
    const res = await postLoad(stack, 'units', csv(['code', 'decimals'], [{ code: 'KG', decimals: 0 }]));
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.lines).toEqual([{ line: 2, problem: 'unit KG cannot allow fewer decimals (0): stock in it has more' }]);
  });

  it('lists the first 1,000 bad lines with the number of all of them', async () => {
    const records = Array.from({ length: 1_500 }, (_, i) => ({ warehouse: 'NOWHERE', code: `Z${i}` }));
    const res = await postLoad(t.stack, 'zones', csv(['warehouse', 'code'], records));
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.badLines).toBe(1_500);
    expect(res.body.lines).toHaveLength(1_000);
    expect(res.body.lines[0]).toEqual({ line: 2, problem: 'unknown warehouse NOWHERE' });
    expect(res.body.lines[999].line).toBe(1_001);
  });

  it('records one audit event per applied load, with the warehouse of a single-warehouse load', async () => {
    const { stack } = t;
    const summary = applied(await postLoad(stack, 'zones', csv(['warehouse', 'code'], [{ warehouse: 'W1', code: 'AUD' }]), { importId: 'audited' }));
    applied(await postLoad(stack, 'zones', csv(['warehouse', 'code'], [{ warehouse: 'W1', code: 'AUD' }]), { importId: 'audited' }), 200);
    const events = await rows(stack.db.orm.em.fork(), sql<{ actor: string; warehouse_code: string | null; after: unknown }>`
      select actor, warehouse_code, after from audit_event where action = 'import_applied' and subject = 'import audited'`);
    expect(events).toEqual([{ actor: 'wms-dc1', warehouse_code: 'W1', after: summary }]);
  });

  it('concurrent stock loads over the same positions all apply, each movement the exact difference', async () => {
    const { stack } = t;
    const lots = Array.from({ length: 300 }, (_, i) => `C-${String(i).padStart(3, '0')}`);
    const loads = Array.from({ length: 6 }, (_, n) => {
      const order = n % 2 === 0 ? lots : [...lots].reverse();
      return csv(STOCK_HEADER, order.map((lot) => ({ warehouse: 'W3', location: 'B-01', item: 'LOT', lot, quantity: n + 1 })));
    });
    const answers = await Promise.all(loads.map((b, n) => postLoad(stack, 'stock', b, { importId: `concurrent-${n}` })));
    for (const a of answers) applied(a);
    const drift = await rows(stack.db.orm.em.fork(), sql<{ lot: string }>`
      select p.lot from stock_position p join item i on i.id = p.item_id
      where p.warehouse_code = 'W3' and i.code = 'LOT' and p.lot like 'C-%'
        and p.quantity <> (select coalesce(sum(m.quantity), 0) from movement m where m.stock_position_id = p.id)`);
    expect(drift).toEqual([]);
    expect(await count(stack, sql`select count(*) from stock_position p where p.warehouse_code = 'W3' and p.lot like 'C-%'`)).toBe(300);
  });

  it('audits a load that spans warehouses once per warehouse, each with its own lines only', async () => {
    const { stack } = t;
    const records = [{ warehouse: 'W1', code: 'SPAN' }, { warehouse: 'W3', code: 'SPAN' }, { warehouse: 'W3', code: 'SPAN2' }];
    applied(await postLoad(stack, 'zones', csv(['warehouse', 'code'], records), { importId: 'spanning' }));
    const events = await rows(stack.db.orm.em.fork(), sql<{ warehouse_code: string | null; after: unknown }>`
      select warehouse_code, after from audit_event where action = 'import_applied' and subject = 'import spanning' order by warehouse_code`);
    expect(events).toEqual([
      { warehouse_code: 'W1', after: { importId: 'spanning', kind: 'zones', lines: 1 } },
      { warehouse_code: 'W3', after: { importId: 'spanning', kind: 'zones', lines: 2 } },
    ]);
  });

  it('managers, counters and auditors may not load (403)', async () => {
    for (const as of ['manager-1', 'senior-1', 'dev-1', 'auditor-1']) {
      expectProblem(await postLoad(t.stack, 'zones', csv(['warehouse', 'code'], [{ warehouse: 'W1', code: 'NO' }]), { as }), 403, 'forbidden', as);
    }
  });

  it('an admin may load', async () => {
    applied(await postLoad(t.stack, 'zones', csv(['warehouse', 'code'], [{ warehouse: 'W1', code: 'ADM' }]), { as: 'admin-1' }));
  });

  it('a load without an Import-Id is refused (422 invalid-import-id)', async () => {
    expectProblem(await postLoad(t.stack, 'zones', 'warehouse,code\nW1,X\n', { importId: null }), 422, 'invalid-import-id');
  });

  it('a body that is neither CSV nor JSON lines is refused (415)', async () => {
    expectProblem(await postLoad(t.stack, 'zones', '{"warehouse":"W1","code":"X"}', { contentType: 'application/json' }), 415, 'unsupported-media-type');
  });

  it('an empty load is refused', async () => {
    expectProblem(await postLoad(t.stack, 'zones', '', { format: 'jsonl' }), 422, 'invalid-import');
    expectProblem(await postLoad(t.stack, 'zones', 'warehouse,code\n'), 422, 'invalid-import');
  });
});
