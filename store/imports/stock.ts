import { copierFor } from '../../db/copy';
import { affected, one, rows, sql, type Em } from '../../db/sql';
import { add, cmp, dec, toNumber, type Decimal } from '../../domain/decimal';
import { MAX_INVENTORY_QUANTITY, MAX_VALUE, quantityProblem } from '../../domain/quantity-bounds';
import { column, type KindSpec, type StockRow } from './kinds';

/**
 * A load of stock: each line is one stock position (warehouse, location,
 * item, lot, serial, handling unit, owner) with its quantity and its blocked
 * quantities. A listed position's quantity becomes the loaded one, with an
 * adjustment movement of the difference (so a count in progress sees it as a
 * movement after its snapshot), and its blockings become exactly the loaded
 * ones; a position the load does not list is left alone.
 */

interface ItemRules {
  code: string;
  id: number;
  unit: string;
  decimals: number;
  serial_tracked: boolean;
  lot_tracked: boolean;
  conversion_factor: number;
  standard_cost: number;
}

/** Why a stock line cannot be loaded for this item, by the rules counts follow (domain/quantity-bounds), or undefined. */
export function stockLineProblem(r: StockRow, item: ItemRules | undefined): string | undefined {
  if (!item) return `unknown item ${r.item}`;
  if (item.serial_tracked && r.serial === '') return `item ${r.item} is serial-tracked: give the serial and a quantity of 0 or 1`;
  if (item.lot_tracked && r.lot === '') return `item ${r.item} is lot-tracked: give the lot`;
  const rules = { decimals: item.decimals, serialTracked: item.serial_tracked };
  const quantity = quantityProblem(r.quantity, item.unit, rules);
  if (quantity) return `item ${r.item}: ${quantity}`;
  const reasons = Object.entries(r.blocked);
  if (reasons.length > 0) {
    let blocked: Decimal = dec(0);
    for (const [reason, q] of reasons) {
      const p = quantityProblem(q, item.unit, rules);
      if (p) return `item ${r.item}, blocked ${reason}: ${p}`;
      blocked = add(blocked, dec(q));
    }
    if (cmp(blocked, dec(r.quantity)) > 0) {
      return `item ${r.item}: the blocked quantity ${toNumber(blocked)} exceeds the quantity ${r.quantity}`;
    }
  }
  const inventory = r.quantity * item.conversion_factor;
  if (inventory > MAX_INVENTORY_QUANTITY || inventory * item.standard_cost > MAX_VALUE) {
    return `item ${r.item}: ${r.quantity} ${item.unit} at one stock position is more than the stock records can hold`;
  }
  return undefined;
}

const placeOf = (r: StockRow) => `${r.warehouse}\u0000${r.location}`;

/** The ids of the rows' locations, by warehouse and code; a location that does not exist is left out. */
async function locationIds(em: Em, rowsOf: StockRow[]): Promise<Map<string, number>> {
  const places = new Map(rowsOf.map((r) => [placeOf(r), r]));
  const found = await rows(em, sql<{ warehouse: string; code: string; id: number }>`
    select u.warehouse, u.code, l.id
    from unnest(${[...places.values()].map((r) => r.warehouse)}::text[], ${[...places.values()].map((r) => r.location)}::text[]) as u(warehouse, code)
    join location l on l.warehouse_code = u.warehouse and l.code = u.code`);
  return new Map(found.map((l) => [`${l.warehouse}\u0000${l.code}`, l.id]));
}

const KEY_COLUMNS = ['location_id', 'item_id', 'lot', 'serial', 'handling_unit', 'owner'];
/** The natural key of a stock position, columns of `alias`. */
const key = (alias?: string) => sql.raw(KEY_COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', '));
const KEY = key();

export const stock: KindSpec<StockRow> = {
  staging: [
    sql`create temp table import_row (
          line int not null, warehouse text not null, location text not null, location_id int, item_id int not null,
          lot text not null, serial text not null, handling_unit text not null, owner text not null, quantity numeric not null
        ) on commit drop`,
    // With its line's position key; position_id is filled by the merge, once the position exists.
    sql`create temp table import_blocking (
          line int not null, reason text not null, quantity numeric not null, location_id int, item_id int not null,
          lot text not null, serial text not null, handling_unit text not null, owner text not null, position_id bigint
        ) on commit drop`,
  ],
  warehouseOf: (r) => r.warehouse,
  warehouseScoped: true,

  /**
   * The batch's items (with their rules) and locations are looked up once per
   * batch by their unique indexes; the checked rows go to PostgreSQL by COPY.
   */
  async stage(em, batch, problems) {
    const codes = [...new Set(column(batch, (r) => r.item))];
    const found = await rows(em, sql<ItemRules>`
      select i.code, i.id, i.storage_unit as unit, u.decimals, i.serial_tracked, i.lot_tracked,
             i.conversion_factor::float8 as conversion_factor, i.standard_cost::float8 as standard_cost
      from item i join unit u on u.code = i.storage_unit where i.code = any(${codes}::text[])`);
    const items = new Map(found.map((i) => [i.code, i]));
    const good: Array<{ line: number; row: StockRow; itemId: number }> = [];
    for (const l of batch) {
      const item = items.get(l.row.item);
      const problem = stockLineProblem(l.row, item);
      if (problem) problems.push({ line: l.line, problem });
      else good.push({ ...l, itemId: item!.id });
    }
    if (good.length === 0) return;
    const locations = await locationIds(em, good.map((g) => g.row));
    const copier = await copierFor(em);
    await copier.copy(
      'import_row',
      ['line', 'warehouse', 'location', 'location_id', 'item_id', 'lot', 'serial', 'handling_unit', 'owner', 'quantity'],
      good.map(({ line, row: r, itemId }) => [
        line, r.warehouse, r.location, locations.get(placeOf(r)) ?? null, itemId, r.lot, r.serial, r.handlingUnit, r.owner, r.quantity,
      ]),
    );
    const blockings = good.flatMap(({ line, row: r, itemId }) =>
      Object.entries(r.blocked).map(([reason, q]) => [
        line, reason, q, locations.get(placeOf(r)) ?? null, itemId, r.lot, r.serial, r.handlingUnit, r.owner,
      ]),
    );
    if (blockings.length > 0) {
      await copier.copy('import_blocking', ['line', 'reason', 'quantity', 'location_id', 'item_id', 'lot', 'serial', 'handling_unit', 'owner'], blockings);
    }
  },

  checks: [
    sql`
      insert into import_problem (line, problem)
      select r.line, case when exists (select 1 from warehouse w where w.code = r.warehouse)
                          then 'unknown location ' || r.location || ' in warehouse ' || r.warehouse
                          else 'unknown warehouse ' || r.warehouse end
      from import_row r where r.location_id is null`,
    // The index the merge joins on, built unique: it can only fail on the same position listed twice, and
    // only then are those lines looked for. Building it sorts the rows once, where a search sorted them again.
    async (em) => {
      await affected(em, sql`savepoint unique_positions`);
      try {
        await affected(em, sql`create unique index import_row_position on import_row (${KEY})`);
        await affected(em, sql`release savepoint unique_positions`);
      } catch (e) {
        if ((e as { code?: string }).code !== '23505') throw e;
        await affected(em, sql`rollback to savepoint unique_positions`);
        await affected(em, sql`
          insert into import_problem (line, problem)
          select line, 'the same stock position as line ' || first from (
            select line, min(line) over (partition by ${KEY}) as first from import_row where location_id is not null
          ) d where line > first`);
      }
    },
  ],

  async merge(em, importId) {
    // Loads of the same warehouse merge one after the other (staging stays
    // concurrent): two merges that create and lock overlapping positions in
    // different orders would otherwise deadlock. Locks taken in code order.
    await affected(em, sql`
      select pg_advisory_xact_lock(hashtextextended('stock-merge:' || w, 0))
      from (select distinct warehouse as w from import_row order by 1) d`);
    await affected(em, sql`analyze import_row`);
    // The listed positions (a load lists each at most once): the quantity the book holds and the loaded one.
    await affected(em, sql`
      create temp table import_position (position_id bigint not null, before numeric not null,
                                         after numeric not null, created boolean not null) on commit drop`);
    // Positions the load lists and the book lacks are created with their loaded quantity (a movement from 0).
    // What they need comes back from the insert itself: joining them to their lines again cost a fifth of it.
    const created = await affected(em, sql`
      with created as (
        insert into stock_position (warehouse_code, location_id, item_id, lot, serial, handling_unit, owner, quantity)
        select r.warehouse, r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner, r.quantity from import_row r
        where not exists (select 1 from stock_position p where (${key('p')}) = (${key('r')}))
        order by ${key('r')}
        on conflict on constraint stock_position_natural_key do nothing
        returning id, quantity
      )
      insert into import_position (position_id, before, after, created)
      select id, 0, quantity, true from created`);
    // Built once the created positions are in: one sort, where inserting into it cost a probe per line.
    await affected(em, sql`alter table import_position add primary key (position_id)`);
    // The other listed positions, with their quantity as it stands now; locked below if the load changes them.
    // A load of new stock created every one, and the search would only read the book to find none.
    const staged = (await one(em, sql<{ n: number }>`select count(*)::int as n from import_row`))!.n;
    if (created < staged) {
      // Counted, so the search hashes the positions created instead of probing its index once per line.
      if (created > 0) await affected(em, sql`analyze import_position`);
      await affected(em, sql`
        insert into import_position (position_id, before, after, created)
        select p.id, p.quantity, r.quantity, false
        from import_row r
        -- The warehouse too: the book holds every warehouse's stock, the load one warehouse's or a few.
        join stock_position p on (${key('p')}) = (${key('r')}) and p.warehouse_code = r.warehouse
        where not exists (select 1 from import_position ip where ip.position_id = p.id)`);
    }
    await affected(em, sql`analyze import_position`);
    // Each loaded blocking's position, by the key of its line (a tenth of the lines or so carry blockings).
    await affected(em, sql`update import_blocking ib set position_id = p.id from stock_position p where (${key('p')}) = (${key('ib')})`);
    await affected(em, sql`create index on import_blocking (position_id)`);
    await affected(em, sql`analyze import_blocking`);
    // Positions whose set of blockings (reason and quantity) differs from the loaded one.
    await affected(em, sql`create temp table import_blocking_change (position_id bigint primary key) on commit drop`);
    await affected(em, sql`
      insert into import_blocking_change
      select distinct coalesce(o.position_id, n.position_id) from (
        select b.stock_position_id as position_id, b.reason, b.quantity from blocking b
        join import_position ip on ip.position_id = b.stock_position_id
      ) o full join (
        select ib.position_id, ib.reason, ib.quantity from import_blocking ib
      ) n on n.position_id = o.position_id and n.reason = o.reason
      where o.quantity is distinct from n.quantity`);
    // Only the positions the load changes are locked (in id order, found by their key), and their quantity
    // is read again under the lock, so the movement is the difference to what the book holds when the load
    // writes (a posting may have committed since the read). A position the load leaves as it is, it does not
    // write: a posting that changes it after the read comes after the load. A daily load that changes little
    // locks little.
    await affected(em, sql`
      with locked as (
        select p.id, p.quantity from stock_position p
        where p.id = any(array(
          select ip.position_id from import_position ip
          where not ip.created
            and (ip.after <> ip.before or ip.position_id in (select position_id from import_blocking_change))
          order by 1))
        order by p.id
        for update)
      update import_position ip set before = l.quantity
      from locked l where ip.position_id = l.id and ip.before <> l.quantity`);
    const counts = await one(em, sql<{ created: number; updated: number; movements: number }>`
      select count(*) filter (where ip.created)::int as created,
             count(*) filter (where not ip.created and (ip.before <> ip.after or c.position_id is not null))::int as updated,
             count(*) filter (where ip.before <> ip.after)::int as movements
      from import_position ip left join import_blocking_change c on c.position_id = ip.position_id`);
    const movements = sql`
      insert into movement (stock_position_id, kind, quantity, reference)
      select position_id, 'adjustment', after - before, ${'import ' + importId} from import_position
      where after <> before order by position_id`;
    if (counts!.updated > 0) {
      await affected(em, sql`
        with moved as (${movements})
        update stock_position p set quantity = ip.after, updated_at = now()
        from import_position ip
        where p.id = ip.position_id and not ip.created
          and (ip.after <> ip.before or exists (select 1 from import_blocking_change c where c.position_id = ip.position_id))`);
    } else if (counts!.movements > 0) {
      // Only new positions (or none changed): the update would probe the lines once per position of the book to change none.
      await affected(em, movements);
    }
    await affected(em, sql`
      delete from blocking b using import_blocking_change c
      where b.stock_position_id = c.position_id
        and not exists (select 1 from import_blocking ib where ib.position_id = b.stock_position_id and ib.reason = b.reason)`);
    await affected(em, sql`
      insert into blocking (stock_position_id, reason, quantity)
      select ib.position_id, ib.reason, ib.quantity
      from import_blocking ib
      join import_blocking_change c on c.position_id = ib.position_id
      order by ib.position_id, ib.reason
      on conflict (stock_position_id, reason) do update set quantity = excluded.quantity, updated_at = now()
      where blocking.quantity <> excluded.quantity`);
    return counts!;
  },
};
