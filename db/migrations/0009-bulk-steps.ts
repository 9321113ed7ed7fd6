import { Migration } from '@mikro-orm/migrations';

/**
 * Two costs of the bulk steps that grew with the rows, not with the work:
 *
 * - Populate adds each position's movements since the snapshot to its book
 *   quantity. Movements are appended in time order, so a BRIN index on
 *   `occurred_at` (a few pages for millions of rows, next to nothing to
 *   maintain) finds those since a moment without reading the older ones;
 *   populate reads them once and joins them by hash instead of probing
 *   movement_position_time_idx once per row.
 * - The audit trigger that fills an event's warehouse ran PL/pgSQL and a
 *   lookup for every event, also for the set-based writers that already
 *   name the warehouse (store/audit.ts auditFrom, 100,000 events for one
 *   approval or one release). Its WHEN clause is evaluated in C, so events
 *   that carry their warehouse skip the call; events that do not are filled
 *   as before.
 * - count_entry's unique (count_order_id, submission_id, line) repeated what
 *   count_submission's key already guarantees: a submission's entries are
 *   written by one statement, numbered by it, in the transaction that
 *   records the submission under its key, so a second writing of the same
 *   submission fails on count_submission. Each device entry paid for that
 *   index (a text key) on the hottest write path.
 */
export class BulkSteps extends Migration {
  override up(): void {
    this.addSql(`
      create index movement_time_brin on movement using brin (occurred_at);
      drop trigger audit_event_warehouse on audit_event;
      create trigger audit_event_warehouse before insert on audit_event
        for each row when (new.warehouse_code is null and new.reconciliation_id is not null)
        execute function audit_event_warehouse();
      alter table count_entry drop constraint count_entry_count_order_id_submission_id_line_key;
    `);
  }
}
