import type { Orm } from './orm';
import { sizeForBulk } from './sql';

/**
 * Demo data: one warehouse with zones, locations, items (shared item master),
 * stock positions, a few blockings and one receipt movement per position.
 *
 * Everything is generated inside PostgreSQL with set-based
 * `INSERT ... SELECT ... FROM generate_series(...)`, in one transaction, so a
 * million positions cost Node almost nothing. The data is deterministic: the
 * variety comes from hashing the series index (see `hash`), never from random().
 * Seeding the same code twice changes nothing.
 */
export interface SeedSummary {
  warehouseCode: string;
  /** false when the warehouse already existed; the counts are then its current ones. */
  created: boolean;
  zones: number;
  locations: number;
  /** Distinct items stocked in this warehouse (the item master is shared between warehouses). */
  items: number;
  positions: number;
  /** Blockings on this warehouse's stock positions. */
  blockings: number;
  /** Movements of this warehouse's stock positions. */
  movements: number;
  ms: number;
}

export interface SeedOptions {
  positions: number;
  /** Default 'WH1'. */
  warehouseCode?: string;
}

/**
 * The stock is one INSERT statement, whose foreign-key checks PostgreSQL queues in backend
 * memory until the statement ends (about 50 bytes per position): 10M positions is ~0.5 GB.
 */
export const MAX_SEED_POSITIONS = 10_000_000;
export const POSITIONS_PER_LOCATION = 8;

export interface SeedShape {
  zones: number;
  locations: number;
  /** Items in the item master used by the seed (ITEM-000001 .. ITEM-<items>). */
  items: number;
  /** Multiplier coprime to `items`: position i holds item (i * itemStride) mod items. */
  itemStride: number;
}

/** Sizes derived from the requested number of positions. */
export function seedShape(positions: number): SeedShape {
  assertPositions(positions);
  const locations = Math.ceil(positions / POSITIONS_PER_LOCATION);
  const zones = Math.min(26, Math.max(2, Math.ceil(Math.sqrt(positions) / 40)));
  const items = Math.max(20, Math.ceil(positions / 20));
  let itemStride = 7919; // a prime; walk on in the rare case it shares a factor with `items`
  while (gcd(itemStride, items) !== 1) itemStride += 2;
  return { zones, locations, items, itemStride };
}

function assertPositions(positions: number): void {
  if (!Number.isSafeInteger(positions) || positions < 1 || positions > MAX_SEED_POSITIONS) {
    throw new RangeError(`positions must be an integer between 1 and ${MAX_SEED_POSITIONS}, got ${positions}`);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Deterministic pseudo-random 0 .. 2^32-1 from an integer expression: a multiplicative
 * (Fibonacci) hash of x + 1 with a per-attribute odd multiplier, then a multiply-xorshift
 * finaliser so that consecutive x do not give arithmetic progressions. x stays below 2^31,
 * every intermediate below 2^63, so plain bigint arithmetic never overflows.
 */
function hash(expr: string, multiplier: number): string {
  const a = `((((${expr})::bigint + 1) * ${multiplier}) & 4294967295)`;
  const b = `(((${a} # (${a} >> 16)) * 73244475) & 4294967295)`;
  return `(${b} # (${b} >> 16))`;
}

/** Odd 32-bit multipliers, one per attribute, so the attributes vary independently. */
const M = {
  itemUnit: 2246822519,
  itemCost: 3266489917,
  quantity: 668265263,
  lot: 3323198485,
  owner: 374761393,
  handlingUnit: 3432918353,
  receivedAt: 461845907,
  blocked: 2869860233,
  blockReason: 1540483477,
  blockShare: 2246822507,
} as const;

/** 'ITEM-000042'; wider numbers keep all their digits (lpad would truncate). */
function itemCode(n: string): string {
  return `('ITEM-' || lpad((${n})::text, greatest(6, length((${n})::text)), '0'))`;
}

/** Aisle label of a 0-based aisle number: A..Z, then AA..ZZ, then X<n> (never collides with letters only). */
function aisleLabel(a: string): string {
  return `(case when ${a} < 26 then chr(65 + (${a})::int)
    when ${a} < 702 then chr(65 + ((${a} - 26) / 26)::int) || chr(65 + ((${a} - 26) % 26)::int)
    else 'X' || ${a} end)`;
}

type Row = Record<string, unknown>;

export interface SeedStatement {
  sql: string;
  /** Values for the `?` placeholders. */
  params: unknown[];
}

/** The seed's SQL, in execution order; exported for inspection (EXPLAIN) and tooling. */
export function seedStatements(
  warehouseCode: string,
  positions: number,
): { items: SeedStatement; zones: SeedStatement; locations: SeedStatement; stock: SeedStatement } {
  const { zones: Z, locations: L, items: I, itemStride: A } = seedShape(positions);
  const N = positions;
  const W = warehouseCode;
  // Item master, shared by all warehouses: attributes depend only on the item number,
  // so a second warehouse reuses (and agrees on) the items the first one created.
  const items: SeedStatement = {
    params: [],
    sql: `
      insert into item (code, description, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked)
      select s.code,
             'Demo item ' || s.n || case when u.cf = 1 then '' else ' (' || u.su || ' of ' || u.cf || ' ' || u.iu || ')' end,
             u.su, u.iu, u.cf, s.cost, s.track between 3 and 12, s.track < 3
      from (
        select n, ${itemCode('n')} as code,
               -- 37 permutes the residues mod 100: exactly 3 serial- and 10 lot-tracked items per 100
               (n * 37) % 100 as track,
               ${hash('n', M.itemUnit)} % 20 as unit,
               round(0.5 + (${hash('n', M.itemCost)} % 4995001)::numeric / 10000, 4) as cost
        from generate_series(1, ${I}) as n
      ) s
      join (values (0, 9, 'PCS', 'PCS', 1), (10, 13, 'BOX', 'PCS', 12), (14, 15, 'CASE', 'PCS', 24),
                   (16, 17, 'KG', 'KG', 1), (18, 18, 'BAG', 'KG', 25), (19, 19, 'ROLL', 'M', 50))
        as u(lo, hi, su, iu, cf)
        -- serial-tracked items are counted in pieces
        on (case when s.track < 3 then 0 else s.unit end) between u.lo and u.hi
      order by s.n
      on conflict (code) do nothing`,
  };

  const zones: SeedStatement = {
    sql: `with ins as (
         insert into zone (warehouse_code, code)
         select ?, 'Z' || lpad(z::text, 2, '0') from generate_series(1, ${Z}) as z order by z
         returning 1)
       select count(*)::int as n from ins`,
    params: [W],
  };

  // Zone z (0-based) holds the locations floor(z*L/Z) .. floor((z+1)*L/Z)-1; within a zone,
  // k runs over levels 1-4, then bays 001-100, then aisles: 'Z01-A-003-2'.
  const locations: SeedStatement = {
    sql: `with ins as (
         insert into location (warehouse_code, zone_id, code)
         select ?, zn.id,
                zn.code || '-' || ${aisleLabel('k / 400')} || '-' || lpad(((k / 4) % 100 + 1)::text, 3, '0') || '-' || (k % 4 + 1)
         from generate_series(0::bigint, ${Z - 1}) as z
         join zone zn on zn.warehouse_code = ? and zn.code = 'Z' || lpad((z + 1)::text, 2, '0')
         cross join lateral generate_series(0::bigint, ((z + 1) * ${L}) / ${Z} - (z * ${L}) / ${Z} - 1) as k
         order by z, k
         returning 1)
       select count(*)::int as n from ins`,
    params: [W, W],
  };

  // Position i (0-based) lies in location j = i / 8 and holds item (i * A) mod I. The 8
  // positions of a location have 8 consecutive i, distinct modulo I (I >= 20) and A is
  // coprime to I, so (location, item) - hence the natural key - is distinct by construction,
  // and every item is stocked once N >= I.
  const stock: SeedStatement = {
    sql: `with loc as materialized (
         -- the warehouse's locations in id order: location j is ids[j + 1]
         select array_agg(id order by id) as ids from location where warehouse_code = ?
       ),
       itm as materialized (
         -- item k (0-based) is ITEM-<k+1>; kind bits: 1 lot-tracked, 2 serial-tracked, 4 weighed (KG)
         select array_agg(it.id order by n) as ids,
                array_agg((case when it.lot_tracked then 1 else 0 end
                         + case when it.serial_tracked then 2 else 0 end
                         + case when it.storage_unit = 'KG' then 4 else 0 end) order by n) as kinds
         from generate_series(1, ${I}) as n
         join item it on it.code = ${itemCode('n')}
       ),
       src as materialized (
         -- One scan of generate_series, no join and no sort: the arrays are one-row init plans,
         -- subscripted in O(1), and ids follow i.
         select id, i, location_id, item_id, kind,
                case when kind & 2 <> 0 then 1
                     when kind & 4 <> 0 then 1 + (${hash('i', M.quantity)} % 499000)::numeric / 1000
                     else 1 + ${hash('i', M.quantity)} % 500 end as quantity,
                case when kind & 1 <> 0 then 'L' || (100000 + ${hash('i', M.lot)} % 900000) else '' end as lot,
                case when ${hash('j', M.handlingUnit)} % 5 = 0 then 'HU' || location_id else '' end as handling_unit,
                case when ${hash('i', M.owner)} % 100 < 5 then 'VMI-ACME'
                     when ${hash('i', M.owner)} % 100 < 7 then 'VMI-GLOBEX' else '' end as owner,
                now() - make_interval(mins => (1 + ${hash('i', M.receivedAt)} % 525600)::int) as received_at,
                ${hash('i', M.blocked)} % 50 = 0 as blocked
         from (
           select nextval('stock_position_id_seq') as id, g.i, g.i / ${POSITIONS_PER_LOCATION} as j,
                  (select ids from loc)[g.i / ${POSITIONS_PER_LOCATION} + 1] as location_id,
                  (select ids from itm)[(g.i * ${A}) % ${I} + 1] as item_id,
                  (select kinds from itm)[(g.i * ${A}) % ${I} + 1] as kind
           from generate_series(0::bigint, ${N - 1}) as g(i)
         ) p
       ),
       -- No RETURNING: the inserts run to completion anyway, and an INSERT ... SELECT either
       -- inserts every row of src or fails the whole statement, so src's counts are exact.
       pos as (
         insert into stock_position (id, warehouse_code, location_id, item_id, lot, serial, handling_unit, owner, quantity, updated_at)
         select id, ?, location_id, item_id, lot, case when kind & 2 <> 0 then 'SN' || id else '' end,
                handling_unit, owner, quantity, received_at
         from src
       ),
       mv as (
         insert into movement (stock_position_id, kind, quantity, occurred_at, reference)
         select id, 'receipt', quantity, received_at, ? from src
       ),
       bl as (
         insert into blocking (stock_position_id, reason, quantity)
         select id, (array['damaged', 'quality', 'pending_putaway'])[1 + ${hash('i', M.blockReason)} % 3],
                case when kind & 2 <> 0 then quantity
                     when kind & 4 <> 0 then greatest(0.001, round(quantity * (1 + ${hash('i', M.blockShare)} % 100) / 100, 3))
                     else greatest(1, floor(quantity * (1 + ${hash('i', M.blockShare)} % 100) / 100)) end
         from src where blocked
       )
       select count(*) as positions, count(*) as movements, count(*) filter (where blocked) as blockings,
              count(distinct item_id) as items
       from src`,
    params: [W, W, `seed:${W}`],
  };
  return { items, zones, locations, stock };
}

export async function seedDemoWarehouse(orm: Orm, opts: SeedOptions): Promise<SeedSummary> {
  const started = performance.now();
  seedShape(opts.positions); // validates
  const warehouseCode = opts.warehouseCode ?? 'WH1';
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(warehouseCode)) {
    throw new RangeError(`warehouse code must be 1-32 letters, digits, '-' or '_', got '${warehouseCode}'`);
  }
  const W = warehouseCode;
  const st = seedStatements(W, opts.positions);

  const created = await orm.em.fork().transactional(async (em) => {
    const claimed = await em.execute<Row[]>(
      `insert into warehouse (code, name) values (?, ?) on conflict (code) do nothing returning code`,
      [W, `Demo warehouse ${W}`],
    );
    if (claimed.length === 0) return undefined;

    await em.execute(`set local synchronous_commit = off`);
    await sizeForBulk(em);

    await em.execute(st.items.sql, st.items.params);
    const zoneRows = await em.execute<Row[]>(st.zones.sql, st.zones.params);
    const locationRows = await em.execute<Row[]>(st.locations.sql, st.locations.params);
    const [counts] = await em.execute<Row[]>(st.stock.sql, st.stock.params);
    return {
      zones: Number(zoneRows[0]?.n),
      locations: Number(locationRows[0]?.n),
      items: Number(counts?.items),
      positions: Number(counts?.positions),
      blockings: Number(counts?.blockings),
      movements: Number(counts?.movements),
    };
  });

  if (!created) {
    return { warehouseCode, created: false, ...(await currentCounts(orm, W)), ms: Math.round(performance.now() - started) };
  }
  // Outside the transaction: the planner gets statistics of the committed data.
  await orm.em.fork().execute(`analyze warehouse, zone, location, item, stock_position, blocking, movement`);
  return { warehouseCode, created: true, ...created, ms: Math.round(performance.now() - started) };
}

/** Current counts of an existing warehouse, the same figures a fresh seed reports. */
export async function currentCounts(
  orm: Orm,
  warehouseCode: string,
): Promise<Omit<SeedSummary, 'warehouseCode' | 'created' | 'ms'>> {
  const [row] = await orm.em.fork().execute<Row[]>(
    `select (select count(*) from zone where warehouse_code = ?) as zones,
            (select count(*) from location where warehouse_code = ?) as locations,
            (select count(distinct item_id) from stock_position where warehouse_code = ?) as items,
            (select count(*) from stock_position where warehouse_code = ?) as positions,
            (select count(*) from blocking b join stock_position p on p.id = b.stock_position_id
              where p.warehouse_code = ?) as blockings,
            (select count(*) from movement m join stock_position p on p.id = m.stock_position_id
              where p.warehouse_code = ?) as movements`,
    [warehouseCode, warehouseCode, warehouseCode, warehouseCode, warehouseCode, warehouseCode],
  );
  return {
    zones: Number(row?.zones),
    locations: Number(row?.locations),
    items: Number(row?.items),
    positions: Number(row?.positions),
    blockings: Number(row?.blockings),
    movements: Number(row?.movements),
  };
}
