import { affected, one, sql } from '../../db/sql';
import type { Orm } from '../../db/orm';

/**
 * A small warehouse whose every number the tests can reason about:
 * W1 with zones A and B; items P1 (PCS, cost 10), BOX (BOX of 12 PCS, cost 2.5
 * per PCS), LOT (lot-tracked, KG, cost 4), SER (serial-tracked, cost 100).
 */
export async function smallWarehouse(orm: Orm, code = 'W1') {
  const em = orm.em.fork();
  await affected(em, sql`insert into warehouse (code, name) values (${code}, ${'Warehouse ' + code})`);
  await affected(em, sql`insert into zone (warehouse_code, code) values (${code}, 'A'), (${code}, 'B')`);
  await affected(
    em,
    sql`insert into location (warehouse_code, zone_id, code)
        select ${code}, z.id, v.loc from (values ('A', 'A-01'), ('A', 'A-02'), ('B', 'B-01')) v(zone, loc)
        join zone z on z.warehouse_code = ${code} and z.code = v.zone`,
  );
  await affected(
    em,
    sql`insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked)
        values ('P1', 'PCS', 'PCS', 1, 10, false, false), ('BOX', 'BOX', 'PCS', 12, 2.5, false, false),
               ('LOT', 'KG', 'KG', 1, 4, true, false), ('SER', 'PCS', 'PCS', 1, 100, false, true)
        on conflict (code) do nothing`,
  );
  const positions = {
    a01P1: await position(orm, code, 'A-01', 'P1', { quantity: 10 }),
    a01Box: await position(orm, code, 'A-01', 'BOX', { quantity: 5 }),
    a02P1: await position(orm, code, 'A-02', 'P1', { quantity: 4 }),
    b01Lot: await position(orm, code, 'B-01', 'LOT', { quantity: 20, lot: 'L1' }),
    b01Ser: await position(orm, code, 'B-01', 'SER', { quantity: 1, serial: 'S1' }),
  };
  await affected(em, sql`insert into blocking (stock_position_id, reason, quantity) values (${positions.a02P1}, 'damaged', 1)`);
  return positions;
}

export async function position(
  orm: Orm,
  warehouse: string,
  location: string,
  item: string,
  p: { quantity: number; lot?: string; serial?: string; handlingUnit?: string; owner?: string },
): Promise<number> {
  const em = orm.em.fork();
  const row = await one(
    em,
    sql<{ id: number }>`
      insert into stock_position (warehouse_code, location_id, item_id, lot, serial, handling_unit, owner, quantity)
      select ${warehouse}, l.id, i.id, ${p.lot ?? ''}, ${p.serial ?? ''}, ${p.handlingUnit ?? ''}, ${p.owner ?? ''}, ${p.quantity}
      from location l, item i where l.warehouse_code = ${warehouse} and l.code = ${location} and i.code = ${item}
      returning id::int`,
  );
  await affected(em, sql`insert into movement (stock_position_id, kind, quantity, occurred_at)
    values (${row!.id}, 'receipt', ${p.quantity}, now() - interval '1 day')`);
  return row!.id;
}

/** A stock movement as the WMS would post it: the log entry and the position's quantity together. */
export async function move(orm: Orm, stockPositionId: number, kind: 'receipt' | 'issue', quantity: number): Promise<void> {
  const signed = kind === 'receipt' ? quantity : -quantity;
  await orm.em.fork().transactional(async (em) => {
    await affected(em, sql`insert into movement (stock_position_id, kind, quantity) values (${stockPositionId}, ${kind}, ${signed})`);
    await affected(em, sql`update stock_position set quantity = quantity + ${signed}, updated_at = now() where id = ${stockPositionId}`);
  });
}
