import { Migration } from '@mikro-orm/migrations';

/**
 * The reconciliation document, its rows (one per stock position in scope),
 * count orders with their tasks, and the raw count entries devices submit.
 * Rows and entries never travel through workflow history; the workflow
 * holds the reconciliation id and counters only.
 */
export class Reconciliation extends Migration {
  override up(): void {
    this.addSql(`
      create table reconciliation (
        id uuid primary key,
        number bigserial unique,
        warehouse_code text not null references warehouse(code),
        scope jsonb not null,
        split_policy jsonb not null,
        tolerance jsonb not null,
        blind_count boolean not null,
        max_recount_rounds int not null check (max_recount_rounds >= 0),
        count_deadline_minutes int check (count_deadline_minutes > 0),
        status text not null,
        round int not null default -1,
        workflow_id text not null unique,
        idempotency_key text unique,
        request_hash text not null,
        created_by text not null,
        created_at timestamptz not null default now(),
        snapshot_at timestamptz,
        closed_at timestamptz,
        escalations jsonb not null default '[]'
      );
      create index reconciliation_active_idx on reconciliation (warehouse_code) where closed_at is null;

      create table reconciliation_row (
        id bigserial primary key,
        reconciliation_id uuid not null references reconciliation(id),
        stock_position_id bigint references stock_position(id),
        origin text not null check (origin in ('snapshot', 'found')),
        zone_id int not null references zone(id),
        location_id int not null references location(id),
        item_id int not null references item(id),
        lot text not null,
        serial text not null,
        handling_unit text not null,
        owner text not null,
        snapshot_quantity numeric(18,4) not null,
        state text not null check (state in ('awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted')),
        approval text check (approval in ('to_approve', 'approved', 'not_required')),
        counted_round int,
        counted_quantity numeric(18,4),
        expected_quantity numeric(18,4),
        counted_at timestamptz,
        counted_by text,
        variance_quantity numeric(18,4),
        variance_inventory_quantity numeric(18,6),
        variance_value numeric(18,4),
        moved_after_snapshot boolean not null default false,
        approved_by text,
        approved_at timestamptz,
        deleted_reason text,
        deleted_by text,
        constraint reconciliation_row_position unique (reconciliation_id, location_id, item_id, lot, serial, handling_unit, owner)
      );
      create index reconciliation_row_state_idx on reconciliation_row (reconciliation_id, state);
      create index reconciliation_row_item_idx on reconciliation_row (reconciliation_id, item_id);
      create index reconciliation_row_location_idx on reconciliation_row (reconciliation_id, location_id);
      create index reconciliation_row_position_idx on reconciliation_row (stock_position_id);

      create table reconciliation_row_blocking (
        row_id bigint not null references reconciliation_row(id),
        reason text not null,
        snapshot_quantity numeric(18,4) not null default 0,
        counted_quantity numeric(18,4),
        primary key (row_id, reason)
      );

      create table row_count (
        row_id bigint not null references reconciliation_row(id),
        round int not null,
        counted_quantity numeric(18,4) not null,
        expected_quantity numeric(18,4) not null,
        counted_at timestamptz not null,
        counted_by text,
        primary key (row_id, round)
      );

      create table count_order (
        id bigserial primary key,
        reconciliation_id uuid not null references reconciliation(id),
        round int not null,
        kind text not null check (kind in ('initial', 'recount')),
        sequence int not null,
        zone_id int references zone(id),
        status text not null check (status in ('open', 'complete', 'cancelled')),
        assigned_to text,
        created_at timestamptz not null default now(),
        completed_at timestamptz,
        completed_by text,
        unique (reconciliation_id, round, sequence)
      );
      create index count_order_assignee_idx on count_order (assigned_to) where status = 'open';

      create table count_task (
        id bigserial primary key,
        count_order_id bigint not null references count_order(id),
        location_id int not null references location(id),
        row_id bigint references reconciliation_row(id)
      );
      create index count_task_order_idx on count_task (count_order_id);

      create table count_submission (
        count_order_id bigint not null references count_order(id),
        submission_id text not null,
        request_hash text not null,
        entries int not null,
        device text not null,
        received_at timestamptz not null default now(),
        primary key (count_order_id, submission_id)
      );

      create table count_entry (
        id bigserial primary key,
        count_order_id bigint not null references count_order(id),
        submission_id text not null,
        line int not null,
        location_id int not null references location(id),
        item_id int not null references item(id),
        lot text not null,
        serial text not null,
        handling_unit text not null,
        owner text not null,
        quantity numeric(18,4) not null check (quantity >= 0),
        blocked jsonb,
        counted_by text not null,
        counted_at timestamptz not null default now(),
        unique (count_order_id, submission_id, line)
      );
      create index count_entry_order_idx on count_entry (count_order_id);
    `);
  }
}
