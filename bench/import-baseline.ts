import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * The hand-written SQL of a stock load, for bench/imports.ts: what one would
 * write to load a trusted CSV of new stock into this schema. The same body
 * goes to PostgreSQL by `COPY ... (format csv)`, then one set-based statement
 * each writes the positions, their blockings (`reason=quantity;...`) and the
 * adjustment movements. No Import-Id, no line checks, no merge with stock
 * already there: those are what Stocktake adds. One transaction, durable commit.
 */
export async function handWrittenStockLoad(databaseUrl: string, body: Iterable<string>): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    // The memory Stocktake's load gives its statements (store/imports/load.ts).
    await client.query(`set local work_mem = '64MB'`);
    await client.query(`
      create temp table hand_line (warehouse text, location text, item text, lot text, serial text, handling_unit text,
                                   owner text, quantity numeric, blocked text) on commit drop`);
    await pipeline(Readable.from(body), client.query(copyFrom('copy hand_line from stdin (format csv, header true)')));
    await client.query(`
      create temp table hand_position on commit drop as
      with p as (
        insert into stock_position (warehouse_code, location_id, item_id, lot, serial, handling_unit, owner, quantity)
        select h.warehouse, l.id, i.id, coalesce(h.lot, ''), coalesce(h.serial, ''), coalesce(h.handling_unit, ''), coalesce(h.owner, ''), h.quantity
        from hand_line h
        join location l on l.warehouse_code = h.warehouse and l.code = h.location
        join item i on i.code = h.item
        returning id, location_id, item_id, lot, serial, handling_unit, owner, quantity
      ) select * from p`);
    await client.query(`
      insert into blocking (stock_position_id, reason, quantity)
      select p.id, split_part(b, '=', 1), split_part(b, '=', 2)::numeric
      from hand_line h
      join location l on l.warehouse_code = h.warehouse and l.code = h.location
      join item i on i.code = h.item
      join hand_position p on (p.location_id, p.item_id, p.lot, p.serial, p.handling_unit, p.owner)
                            = (l.id, i.id, coalesce(h.lot, ''), coalesce(h.serial, ''), coalesce(h.handling_unit, ''), coalesce(h.owner, ''))
      cross join regexp_split_to_table(h.blocked, ';') b
      where h.blocked is not null`);
    await client.query(`insert into movement (stock_position_id, kind, quantity, reference) select id, 'adjustment', quantity, 'hand-written' from hand_position`);
    await client.query('commit');
  } catch (e) {
    await client.query('rollback').catch(() => {});
    throw e;
  } finally {
    await client.end();
  }
}

/**
 * Rows of warehouse `a` not in warehouse `b` or the other way round, compared
 * by codes: positions with their quantity, blockings, and movements (kind and
 * quantity). 0 when the two loads wrote the same stock.
 */
export function differingStockSql(a: string, b: string): string {
  const positions = (w: string) => `
    select l.code as location, i.code as item, p.lot, p.serial, p.handling_unit, p.owner, p.quantity,
           (select string_agg(x.reason || '=' || x.quantity, ';' order by x.reason) from blocking x where x.stock_position_id = p.id) as blocked,
           (select string_agg(m.kind || ':' || m.quantity, ';' order by m.id) from movement m where m.stock_position_id = p.id) as moved
    from stock_position p join location l on l.id = p.location_id join item i on i.id = p.item_id
    where p.warehouse_code = '${w}'`;
  return `select count(*)::int as n from ((${positions(a)} except all ${positions(b)}) union all (${positions(b)} except all ${positions(a)})) d`;
}
