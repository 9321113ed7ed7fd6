import { Migration } from '@mikro-orm/migrations';

/**
 * System reconciliation (seed 000's procedure, seeds 002 and 004): loads of
 * master data and stock through the API, external systems with their status
 * and unit mappings, the levels each source reports for a run, the messages
 * and movements they exchanged, the differences a comparison finds (the
 * reconciliation order's lines), and the exception queue.
 *
 * A source is an external system registered by name, or `book`: Stocktake's
 * own stock positions and blockings, what count releases post to.
 */
export class SystemReconciliation extends Migration {
  override up(): void {
    this.addSql(`
      -- Systems authenticate too: an integration principal (its name is the system's) loads data and reports levels.
      alter table app_user drop constraint app_user_role_check;
      alter table app_user add constraint app_user_role_check
        check (role in ('counter', 'manager', 'senior_manager', 'auditor', 'admin', 'integration'));
      alter table app_user drop constraint app_user_kind_check;
      alter table app_user add constraint app_user_kind_check check (kind in ('person', 'device', 'system'));

      -- A load is identified by its Import-Id: sending it twice changes nothing.
      create table import_load (
        id text primary key,
        kind text not null check (kind in ('warehouses', 'zones', 'locations', 'items', 'units', 'stock', 'messages', 'movements')),
        actor text not null,
        request_hash text not null,
        lines int not null,
        summary jsonb not null,
        applied_at timestamptz not null default now()
      );

      create table external_system (
        name text primary key check (name <> 'book'),
        description text not null default '',
        location_granularity text not null check (location_granularity in ('location', 'warehouse')),
        levels_mode text not null check (levels_mode in ('pushed', 'pulled')),
        pull_url text,
        -- A secret: stored to call the system, never returned by the API.
        pull_authorization text,
        created_by text not null,
        created_at timestamptz not null default now(),
        check ((levels_mode = 'pulled') = (pull_url is not null))
      );
      comment on table external_system is 'ERP, WMS ... registered by name; book (Stocktake itself) is not registered';

      -- A source's own status, mapped to a common category (available, unavailable, in_transit) and, for
      -- statuses that are blockings in the book, to the book's blocking reason.
      create table status_mapping (
        source text not null,
        status text not null,
        category text not null check (category in ('available', 'unavailable', 'in_transit')),
        blocking_reason text,
        primary key (source, status)
      );
      comment on table status_mapping is 'source book maps blocking reasons (and available) to categories';

      -- How many storage units one of the source's units is, for all items ('') or one item.
      create table unit_mapping (
        source text not null,
        unit text not null,
        item_code text not null default '',
        storage_units numeric(18,6) not null check (storage_units > 0),
        primary key (source, unit, item_code)
      );

      create table system_reconciliation (
        id uuid primary key,
        number bigserial unique,
        source_a text not null,
        source_b text not null,
        warehouse_code text not null references warehouse(code),
        selection jsonb not null,
        tolerance jsonb not null,
        cutoff_minutes int not null check (cutoff_minutes >= 0),
        levels_deadline_minutes int not null check (levels_deadline_minutes > 0),
        manager_approval_limit numeric(18,4) not null check (manager_approval_limit >= 0),
        status text not null,
        status_seq int not null default 0,
        failure jsonb,
        schedule_id text,
        workflow_id text not null unique,
        -- The Schedule tick (its workflow id) that created this run: a retried tick finds it.
        tick_workflow_id text unique,
        created_by text not null,
        created_at timestamptz not null default now(),
        compared_at timestamptz,
        closed_at timestamptz,
        -- The count-reconciliation document that carries the processed lines through release.
        processing_reconciliation_id uuid references reconciliation(id),
        summary jsonb not null default '{}',
        check (source_a <> source_b)
      );
      create index system_reconciliation_sources_idx on system_reconciliation (warehouse_code, source_a, source_b, created_at);
      create table system_status_transition (
        system_reconciliation_id uuid not null references system_reconciliation(id),
        seq int not null,
        status text not null,
        outcome jsonb,
        at timestamptz not null default clock_timestamp(),
        primary key (system_reconciliation_id, seq)
      );

      -- What each source reported for a run, as it reported it (its statuses and units).
      create table source_level (
        system_reconciliation_id uuid not null references system_reconciliation(id),
        source text not null,
        line int not null,
        item_code text not null,
        warehouse_code text not null,
        location_code text not null default '',
        status text not null,
        quantity numeric(18,4) not null,
        unit text not null,
        primary key (system_reconciliation_id, source, line)
      );
      create table levels_receipt (
        system_reconciliation_id uuid not null references system_reconciliation(id),
        source text not null,
        lines int not null,
        request_hash text not null,
        as_of timestamptz not null,
        received_by text not null,
        received_at timestamptz not null default now(),
        primary key (system_reconciliation_id, source)
      );

      -- Interface messages one system sent another; unprocessed ones explain differences.
      create table interface_message (
        source text not null,
        message_id text not null,
        target text not null,
        kind text not null check (kind in ('receipt', 'putaway', 'pick', 'shipment', 'transfer', 'adjustment', 'status_change')),
        item_code text not null,
        warehouse_code text not null,
        location_code text not null default '',
        status text not null default '',
        quantity numeric(18,4) not null,
        unit text not null,
        sent_at timestamptz not null,
        processed_at timestamptz,
        primary key (source, message_id)
      );
      create index interface_message_key_idx on interface_message (warehouse_code, item_code, sent_at);
      comment on column interface_message.quantity is 'signed effect on the sender''s stock, in the sender''s unit';

      -- Movements each system recorded; those inside a run's cutoff window explain timing differences.
      create table movement_event (
        source text not null,
        event_id text not null,
        kind text not null check (kind in ('receipt', 'putaway', 'pick', 'shipment', 'transfer', 'adjustment', 'status_change')),
        item_code text not null,
        warehouse_code text not null,
        location_code text not null default '',
        status text not null default '',
        quantity numeric(18,4) not null,
        unit text not null,
        occurred_at timestamptz not null,
        primary key (source, event_id)
      );
      create index movement_event_key_idx on movement_event (warehouse_code, item_code, occurred_at);

      -- The reconciliation order: one line per difference (a match makes no line).
      create table system_difference (
        system_reconciliation_id uuid not null references system_reconciliation(id),
        line int not null,
        item_id int not null references item(id),
        warehouse_code text not null,
        location_code text not null default '',
        category text not null,
        quantity_a numeric(18,4) not null,
        quantity_b numeric(18,4) not null,
        difference numeric(18,4) not null,
        value numeric(18,4) not null,
        outcome text not null check (outcome in ('explainable', 'exception')),
        root_cause text not null,
        evidence jsonb not null default '{}',
        state text not null default 'open' check (state in ('open', 'deleted', 'disappeared', 'processing', 'processed', 'failed', 'skipped')),
        approval text not null default 'to_approve' check (approval in ('to_approve', 'approved')),
        approved_by text,
        deleted_reason text,
        deleted_by text,
        refreshed_at timestamptz,
        exception_id bigint,
        primary key (system_reconciliation_id, line)
      );
      create index system_difference_key_idx on system_difference (warehouse_code, item_id, location_code, category);

      create table system_exception (
        id bigserial primary key,
        -- What recurs: the same sources, item, warehouse, location and category.
        recurrence_key text not null,
        source_a text not null,
        source_b text not null,
        item_id int not null references item(id),
        warehouse_code text not null,
        location_code text not null default '',
        category text not null,
        first_run uuid not null references system_reconciliation(id),
        last_run uuid not null references system_reconciliation(id),
        occurrences int not null default 1,
        difference numeric(18,4) not null,
        value numeric(18,4) not null,
        status text not null default 'open' check (status in ('open', 'investigating', 'resolved', 'accepted')),
        owner text,
        root_cause text not null default 'unknown'
          check (root_cause in ('unprocessed_message', 'timing', 'status_mapping', 'unit_conversion', 'one_sided_adjustment', 'unknown')),
        count_reconciliation_id uuid references reconciliation(id),
        opened_at timestamptz not null default now(),
        resolved_at timestamptz
      );
      -- At most one exception still being worked per recurrence key: a recurrence joins it.
      create unique index system_exception_open_key on system_exception (recurrence_key) where status in ('open', 'investigating');
      create index system_exception_value_idx on system_exception (status, abs(value) desc);
      create table system_exception_event (
        id bigserial primary key,
        exception_id bigint not null references system_exception(id),
        at timestamptz not null default clock_timestamp(),
        actor text not null,
        action text not null,
        before jsonb,
        after jsonb
      );
      create index system_exception_event_idx on system_exception_event (exception_id, id);

      alter table reconciliation add column origin jsonb;
      alter table reconciliation_row_blocking add column implied boolean not null default false;
      comment on column reconciliation_row_blocking.implied is
        'counted quantity not reported but implied: the count found less than was blocked, so the blocking is cut to what is there';
      comment on column reconciliation.origin is 'what started this count: {systemException: id} or {systemReconciliation: id} (processing)';

      -- The book: available stock is not blocked; every blocking reason is unavailable unless mapped otherwise.
      insert into status_mapping (source, status, category, blocking_reason) values
        ('book', 'available', 'available', null),
        ('book', 'damaged', 'unavailable', 'damaged'),
        ('book', 'quality', 'unavailable', 'quality'),
        ('book', 'pending_putaway', 'unavailable', 'pending_putaway');
    `);
  }
}
