import { Migration } from '@mikro-orm/migrations';

/**
 * Master data and the stock model. Stock position attributes that may be
 * absent (lot, serial, handling unit, owner) are '' rather than NULL, so the
 * natural key is a plain unique constraint and joins need no IS NOT DISTINCT.
 * Quantities are in the item's storage unit.
 */
export class MasterData extends Migration {
  override up(): void {
    this.addSql(`
      create table warehouse (
        code text primary key,
        name text not null
      );
      create table zone (
        id serial primary key,
        warehouse_code text not null references warehouse(code),
        code text not null,
        unique (warehouse_code, code)
      );
      create table location (
        id serial primary key,
        warehouse_code text not null references warehouse(code),
        zone_id int not null references zone(id),
        code text not null,
        unique (warehouse_code, code)
      );
      create index location_zone_idx on location (zone_id);
      create table item (
        id serial primary key,
        code text not null unique,
        description text not null default '',
        storage_unit text not null,
        inventory_unit text not null,
        conversion_factor numeric(18,6) not null check (conversion_factor > 0),
        standard_cost numeric(18,4) not null check (standard_cost >= 0),
        lot_tracked boolean not null default false,
        serial_tracked boolean not null default false
      );
      comment on column item.conversion_factor is 'inventory units per storage unit';
      create table stock_position (
        id bigserial primary key,
        warehouse_code text not null references warehouse(code),
        location_id int not null references location(id),
        item_id int not null references item(id),
        lot text not null default '',
        serial text not null default '',
        handling_unit text not null default '',
        owner text not null default '',
        quantity numeric(18,4) not null check (quantity >= 0),
        updated_at timestamptz not null default now(),
        constraint stock_position_natural_key unique (location_id, item_id, lot, serial, handling_unit, owner)
      );
      create index stock_position_item_idx on stock_position (item_id);
      create index stock_position_warehouse_idx on stock_position (warehouse_code);
      create table blocking (
        id bigserial primary key,
        stock_position_id bigint not null references stock_position(id),
        reason text not null,
        quantity numeric(18,4) not null check (quantity >= 0),
        updated_at timestamptz not null default now(),
        constraint blocking_position_reason unique (stock_position_id, reason)
      );
      create table movement (
        id bigserial primary key,
        stock_position_id bigint not null references stock_position(id),
        kind text not null check (kind in ('receipt', 'issue', 'move_in', 'move_out', 'adjustment', 'count')),
        quantity numeric(18,4) not null check (quantity <> 0),
        occurred_at timestamptz not null default clock_timestamp(),
        reference text not null default ''
      );
      comment on column movement.quantity is 'signed, storage unit: positive into the stock position, negative out of it';
      create index movement_position_time_idx on movement (stock_position_id, occurred_at);
      create function movement_is_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'the movement log is append-only (% refused)', tg_op;
      end $$;
      create trigger movement_append_only before update or delete on movement
        for each row execute function movement_is_append_only();
    `);
  }
}
