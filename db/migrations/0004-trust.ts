import { Migration } from '@mikro-orm/migrations';

/**
 * Trust: the workflow as the one owner of a reconciliation's status (a
 * transition sequence guards every write, so a late or repeated activity can
 * never move it backwards), a step that failed for good with its reason,
 * idempotency records outside workflow history, units with the decimals they
 * allow, and the states a cancelled release leaves behind.
 */
export class Trust extends Migration {
  override up(): void {
    this.addSql(`
      alter table reconciliation add column status_seq int not null default 0;
      alter table reconciliation add column failure jsonb;
      alter table reconciliation add constraint reconciliation_status_check check (status in
        ('snapshotting', 'ready', 'counting', 'populating', 'review', 'releasing', 'awaiting_failed_rows',
         'step_failed', 'released', 'cancelled'));
      comment on column reconciliation.status_seq is
        'number of the last status transition the workflow applied; a transition with a number not above it changes nothing';
      create table status_transition (
        reconciliation_id uuid not null references reconciliation(id),
        seq int not null,
        status text not null,
        outcome jsonb,
        at timestamptz not null default clock_timestamp(),
        primary key (reconciliation_id, seq)
      );
      comment on table status_transition is
        'every status a reconciliation took, with what the step that took it there reported: a retried step returns this instead of redoing the work';

      alter table reconciliation_row drop constraint reconciliation_row_state_check;
      alter table reconciliation_row add constraint reconciliation_row_state_check check (state in
        ('awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted', 'posting', 'processed', 'failed',
         'skipped', 'withdrawn'));
      comment on column reconciliation_row.state is
        'withdrawn: the release was cancelled before this row was posted; nothing was posted for it';
      alter table posting drop constraint posting_status_check;
      alter table posting add constraint posting_status_check check (status in ('pending', 'done', 'withdrawn'));

      create table idempotency_record (
        key text primary key,
        actor text not null,
        operation text not null,
        subject text not null,
        request_hash text not null,
        result jsonb not null,
        recorded_at timestamptz not null default now()
      );
      comment on table idempotency_record is
        'Idempotency-Key of an applied request, written in the transaction that applied it: a replay returns the result, a reuse for another request is refused';

      create table unit (
        code text primary key,
        decimals int not null check (decimals between 0 and 4)
      );
      insert into unit (code, decimals) values
        ('PCS', 0), ('EA', 0), ('PC', 0), ('BOX', 0), ('CASE', 0), ('CS', 0), ('BAG', 0), ('ROLL', 0), ('PAL', 0),
        ('PACK', 0), ('SET', 0), ('KG', 3), ('G', 0), ('T', 3), ('L', 3), ('ML', 0), ('M', 3), ('CM', 0), ('M2', 3), ('M3', 3);
      -- Units already in use keep working with the finest step the columns hold.
      insert into unit (code, decimals)
        select distinct u, 4 from item, unnest(array[storage_unit, inventory_unit]) u
        on conflict (code) do nothing;
      alter table item add constraint item_storage_unit_fk foreign key (storage_unit) references unit(code);
      alter table item add constraint item_inventory_unit_fk foreign key (inventory_unit) references unit(code);
    `);
  }
}
