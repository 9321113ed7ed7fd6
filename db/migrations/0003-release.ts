import { Migration } from '@mikro-orm/migrations';

/**
 * Release: who may decide (users with a role and a token), the postings a
 * release makes (one per step of the fixed posting order, keyed for exactly
 * once), the audit trail, and the adjustment order the ERP receives.
 */
export class Release extends Migration {
  override up(): void {
    this.addSql(`
      create table app_user (
        name text primary key,
        role text not null check (role in ('counter', 'manager', 'senior_manager')),
        token_sha256 text not null unique
      );

      alter table reconciliation add column manager_approval_limit numeric(18,4) not null default 1000
        check (manager_approval_limit >= 0);
      alter table reconciliation add column released_by text;
      alter table reconciliation add column released_at timestamptz;

      alter table reconciliation_row drop constraint reconciliation_row_state_check;
      alter table reconciliation_row add constraint reconciliation_row_state_check check (state in
        ('awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted', 'posting', 'processed', 'failed', 'skipped'));
      alter table reconciliation_row add column failure_reason text;
      alter table reconciliation_row add column processed_at timestamptz;

      create table posting (
        key text primary key,
        reconciliation_id uuid not null references reconciliation(id),
        row_id bigint not null references reconciliation_row(id),
        step_index int not null,
        kind text not null check (kind in ('transaction', 'blocking_correction')),
        task_type text check (task_type = 'Count'),
        direction text check (direction in ('IN', 'OUT')),
        quantity numeric(18,4),
        reason text,
        blocked_from numeric(18,4),
        blocked_to numeric(18,4),
        stock_position_id bigint references stock_position(id),
        status text not null check (status in ('pending', 'done')),
        posted_at timestamptz,
        sequence bigint,
        unique (row_id, step_index)
      );
      create index posting_pending_idx on posting (reconciliation_id, row_id) where status = 'pending';
      create sequence posting_sequence;

      -- A movement made by a posting carries the posting's key: the database itself refuses a second one.
      alter table movement add column posting_key text;
      create unique index movement_posting_key on movement (posting_key) where posting_key is not null;

      create table audit_event (
        id bigserial primary key,
        reconciliation_id uuid not null references reconciliation(id),
        at timestamptz not null default clock_timestamp(),
        actor text not null,
        action text not null,
        subject text not null default '',
        before jsonb,
        after jsonb
      );
      create index audit_event_reconciliation_idx on audit_event (reconciliation_id, id);

      create table adjustment_order (
        number bigserial primary key,
        reconciliation_id uuid not null unique references reconciliation(id),
        warehouse_code text not null,
        created_at timestamptz not null default now()
      );
      create table adjustment_order_line (
        order_number bigint not null references adjustment_order(number),
        line int not null,
        row_id bigint not null references reconciliation_row(id),
        warehouse_code text not null,
        location text not null,
        item text not null,
        lot text not null,
        serial text not null,
        handling_unit text not null,
        storage_unit text not null,
        inventory_unit text not null,
        stock_point_inventory_su numeric(18,4) not null,
        actual_inventory_su numeric(18,4) not null,
        variance_su numeric(18,4) not null,
        stock_point_inventory_iu numeric(18,6) not null,
        actual_inventory_iu numeric(18,6) not null,
        variance_iu numeric(18,6) not null,
        reason text not null,
        adjustment_date date not null,
        approval text not null check (approval in ('to_approve', 'approved', 'not_required')),
        adjustment_price numeric(18,4) not null,
        adjustment_amount numeric(18,4) not null,
        ownership text not null check (ownership in ('company_owned', 'customer_owned')),
        owner text not null,
        processed boolean not null,
        deleted_at timestamptz,
        deleted_by text,
        deleted_reason text,
        primary key (order_number, line)
      );
    `);
  }
}
