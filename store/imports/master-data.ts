import { affected, one, sql, type Em } from '../../db/sql';
import { column, type ItemRow, type KindSpec, type LocationRow, type MergeCounts, type UnitRow, type WarehouseRow, type ZoneRow } from './kinds';

/**
 * Loads of master data: warehouses, zones, locations, units and items, each
 * created or updated by its code (upsert); what a load does not list is left
 * alone. References (a zone's warehouse, a location's zone, an item's units)
 * must exist before the load.
 */

/** Lines that repeat the key of an earlier line in the same load. */
function duplicates(key: RawKey, what: string) {
  return sql`
    insert into import_problem (line, problem)
    select line, ${'the same ' + what + ' as line '}::text || first from (
      select line, min(line) over (partition by ${key}) as first from import_row
    ) d where line > first`;
}
type RawKey = ReturnType<typeof sql.raw>;

function unknownWarehouse() {
  return sql`
    insert into import_problem (line, problem)
    select r.line, 'unknown warehouse ' || r.warehouse from import_row r
    where not exists (select 1 from warehouse w where w.code = r.warehouse)`;
}

/** created/updated from an upsert's RETURNING (xmax = 0) as created. */
async function upsertCounts(em: Em, upsert: ReturnType<typeof sql>): Promise<MergeCounts> {
  const r = await one(em, sql<{ created: number; updated: number }>`
    with up as (${upsert})
    select count(*) filter (where created)::int as created, count(*) filter (where not created)::int as updated from up`);
  return { created: r?.created ?? 0, updated: r?.updated ?? 0, movements: 0 };
}

export const warehouses: KindSpec<WarehouseRow> = {
  staging: [sql`create temp table import_row (line int not null, code text not null, name text not null) on commit drop`],
  warehouseOf: (r) => r.code,
  warehouseScoped: false,
  async stage(em, batch) {
    await affected(em, sql`
      insert into import_row (line, code, name)
      select * from unnest(${batch.map((l) => l.line)}::int[], ${column(batch, (r) => r.code)}::text[], ${column(batch, (r) => r.name)}::text[])`);
  },
  checks: [duplicates(sql.raw('code'), 'warehouse')],
  merge: (em) =>
    upsertCounts(em, sql`
      insert into warehouse (code, name) select code, name from import_row order by code
      on conflict (code) do update set name = excluded.name where warehouse.name is distinct from excluded.name
      returning (xmax = 0) as created`),
};

export const zones: KindSpec<ZoneRow> = {
  staging: [sql`create temp table import_row (line int not null, warehouse text not null, code text not null) on commit drop`],
  warehouseOf: (r) => r.warehouse,
  warehouseScoped: true,
  async stage(em, batch) {
    await affected(em, sql`
      insert into import_row (line, warehouse, code)
      select * from unnest(${batch.map((l) => l.line)}::int[], ${column(batch, (r) => r.warehouse)}::text[], ${column(batch, (r) => r.code)}::text[])`);
  },
  checks: [unknownWarehouse(), duplicates(sql.raw('warehouse, code'), 'zone')],
  // A zone is its warehouse and code: there is nothing to update.
  merge: (em) =>
    upsertCounts(em, sql`
      insert into zone (warehouse_code, code) select warehouse, code from import_row order by warehouse, code
      on conflict (warehouse_code, code) do nothing
      returning true as created`),
};

export const locations: KindSpec<LocationRow> = {
  staging: [sql`create temp table import_row (line int not null, warehouse text not null, zone text not null, code text not null) on commit drop`],
  warehouseOf: (r) => r.warehouse,
  warehouseScoped: true,
  async stage(em, batch) {
    await affected(em, sql`
      insert into import_row (line, warehouse, zone, code)
      select * from unnest(${batch.map((l) => l.line)}::int[], ${column(batch, (r) => r.warehouse)}::text[],
                           ${column(batch, (r) => r.zone)}::text[], ${column(batch, (r) => r.code)}::text[])`);
  },
  checks: [
    unknownWarehouse(),
    sql`
      insert into import_problem (line, problem)
      select r.line, 'unknown zone ' || r.zone || ' in warehouse ' || r.warehouse from import_row r
      where exists (select 1 from warehouse w where w.code = r.warehouse)
        and not exists (select 1 from zone z where z.warehouse_code = r.warehouse and z.code = r.zone)`,
    duplicates(sql.raw('warehouse, code'), 'location'),
  ],
  // A location that exists moves to the zone the load names.
  merge: (em) =>
    upsertCounts(em, sql`
      insert into location (warehouse_code, zone_id, code)
      select r.warehouse, z.id, r.code from import_row r join zone z on z.warehouse_code = r.warehouse and z.code = r.zone
      order by r.warehouse, r.code
      on conflict (warehouse_code, code) do update set zone_id = excluded.zone_id where location.zone_id <> excluded.zone_id
      returning (xmax = 0) as created`),
};

export const units: KindSpec<UnitRow> = {
  staging: [sql`create temp table import_row (line int not null, code text not null, decimals int not null) on commit drop`],
  warehouseScoped: false,
  async stage(em, batch) {
    await affected(em, sql`
      insert into import_row (line, code, decimals)
      select * from unnest(${batch.map((l) => l.line)}::int[], ${column(batch, (r) => r.code)}::text[], ${column(batch, (r) => r.decimals)}::int[])`);
  },
  checks: [
    duplicates(sql.raw('code'), 'unit'),
    // Fewer decimals only while no stock or blocking in the unit has more: the records must stay countable.
    sql`
      insert into import_problem (line, problem)
      select r.line, 'unit ' || r.code || ' cannot allow fewer decimals (' || r.decimals || '): stock in it has more' from import_row r
      join unit u on u.code = r.code
      where r.decimals < u.decimals
        and (exists (select 1 from item i join stock_position p on p.item_id = i.id
                     where i.storage_unit = r.code and p.quantity <> round(p.quantity, r.decimals))
             or exists (select 1 from item i join stock_position p on p.item_id = i.id join blocking b on b.stock_position_id = p.id
                        where i.storage_unit = r.code and b.quantity <> round(b.quantity, r.decimals)))`,
  ],
  merge: (em) =>
    upsertCounts(em, sql`
      insert into unit (code, decimals) select code, decimals from import_row order by code
      on conflict (code) do update set decimals = excluded.decimals where unit.decimals <> excluded.decimals
      returning (xmax = 0) as created`),
};

export const items: KindSpec<ItemRow> = {
  staging: [
    sql`create temp table import_row (
          line int not null, code text not null, description text not null, storage_unit text not null, inventory_unit text not null,
          conversion_factor numeric not null, standard_cost numeric not null, lot_tracked boolean not null, serial_tracked boolean not null
        ) on commit drop`,
  ],
  warehouseScoped: false,
  async stage(em, batch) {
    await affected(em, sql`
      insert into import_row
      select * from unnest(${batch.map((l) => l.line)}::int[], ${column(batch, (r) => r.code)}::text[],
                           ${column(batch, (r) => r.description)}::text[], ${column(batch, (r) => r.storageUnit)}::text[],
                           ${column(batch, (r) => r.inventoryUnit)}::text[], ${column(batch, (r) => String(r.conversionFactor))}::numeric[],
                           ${column(batch, (r) => String(r.standardCost))}::numeric[], ${column(batch, (r) => r.lotTracked)}::boolean[],
                           ${column(batch, (r) => r.serialTracked)}::boolean[])`);
  },
  checks: [
    duplicates(sql.raw('code'), 'item'),
    sql`
      insert into import_problem (line, problem)
      select r.line, 'unknown unit ' || u.unit from import_row r
      cross join lateral (values (1, r.storage_unit), (2, r.inventory_unit)) as u(n, unit)
      where not exists (select 1 from unit x where x.code = u.unit)
      order by r.line, u.n`,
    // Stock quantities are in the storage unit: while an item has stock, its storage unit stays.
    sql`
      insert into import_problem (line, problem)
      select r.line, 'item ' || r.code || ' has stock in ' || i.storage_unit || ': its storage unit cannot change to ' || r.storage_unit
      from import_row r join item i on i.code = r.code
      where i.storage_unit <> r.storage_unit and exists (select 1 from stock_position p where p.item_id = i.id and p.quantity <> 0)`,
  ],
  merge: (em) =>
    upsertCounts(em, sql`
      insert into item (code, description, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked)
      select code, description, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked
      from import_row order by code
      on conflict (code) do update set
        description = excluded.description, storage_unit = excluded.storage_unit, inventory_unit = excluded.inventory_unit,
        conversion_factor = excluded.conversion_factor, standard_cost = excluded.standard_cost,
        lot_tracked = excluded.lot_tracked, serial_tracked = excluded.serial_tracked
      where (item.description, item.storage_unit, item.inventory_unit, item.conversion_factor, item.standard_cost, item.lot_tracked, item.serial_tracked)
        is distinct from (excluded.description, excluded.storage_unit, excluded.inventory_unit, excluded.conversion_factor,
                          excluded.standard_cost, excluded.lot_tracked, excluded.serial_tracked)
      returning (xmax = 0) as created`),
};
