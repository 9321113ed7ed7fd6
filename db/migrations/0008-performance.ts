import { Migration } from '@mikro-orm/migrations';

/**
 * Referential integrity checked once per statement instead of once per row,
 * on the tables the bulk steps write (snapshot, count entries, populate,
 * release). A foreign key costs one SPI lookup plus a FOR KEY SHARE lock on
 * the referenced tuple for every inserted row: at a million snapshot rows
 * that was 40 of 56 s, most of it locking (and so dirtying) every
 * stock_position page.
 *
 * Why the replacement is as strong for this schema:
 * - Every referencing row inserted is checked by the database, for every
 *   writer, not by application code: an AFTER INSERT statement trigger sees
 *   all the statement's new rows (a transition table) and refuses the whole
 *   statement with SQLSTATE 23503, as a foreign key would, when any reference
 *   is missing. One anti-join per column, inside the same transaction.
 * - A changed reference is checked per row, but only when it changes (the
 *   trigger's WHEN clause is evaluated in C; the populate and release
 *   updates never change these columns, so they pay nothing).
 * - The lock a foreign key takes exists only to stop a concurrent DELETE (or
 *   key change) of the referenced row. Here the referenced rows are never
 *   deleted and their keys never change: the referenced tables refuse
 *   DELETE, TRUNCATE and key updates outright (nothing in Stocktake deletes
 *   master data, stock positions or documents; rows leave by state). So no
 *   reference can dangle after the check, and no lock is needed.
 *
 * Rows change in place (heap-only tuple updates). Populate and release
 * planning each update every row of a document (state, counts, verdict); with
 * `state` indexed and full pages, each such update wrote a new version of the
 * wide row elsewhere plus an entry in all six indexes (10 s of 14 s per
 * 200,000 rows). Now no index covers a column those steps change, and pages
 * are filled to 45 % on insert so the new version fits beside the old one:
 * the update writes the row once and touches no index. Queries by state all
 * name the reconciliation, whose rows the reconciliation_row_position index
 * finds; the posting batches find their rows through posting_pending_idx
 * (store/release/post.ts). Existing pages keep their fill until rewritten;
 * new rows get the room.
 *
 * Also: reconciliation_row_location_idx duplicated the leading columns of
 * the reconciliation_row_position unique index; every row write maintained
 * both. count_entry's order index gains the position's leading columns so a
 * submission looks up what was stored before for its own positions instead
 * of summing the whole order.
 */
const CHECKED: Array<{ table: string; refs: Array<[column: string, table: string, key: string]> }> = [
  {
    table: 'reconciliation_row',
    refs: [
      ['reconciliation_id', 'reconciliation', 'id'],
      ['stock_position_id', 'stock_position', 'id'],
      ['zone_id', 'zone', 'id'],
      ['location_id', 'location', 'id'],
      ['item_id', 'item', 'id'],
    ],
  },
  { table: 'reconciliation_row_blocking', refs: [['row_id', 'reconciliation_row', 'id']] },
  { table: 'row_count', refs: [['row_id', 'reconciliation_row', 'id']] },
  {
    table: 'count_entry',
    refs: [
      ['count_order_id', 'count_order', 'id'],
      ['location_id', 'location', 'id'],
      ['item_id', 'item', 'id'],
    ],
  },
  {
    table: 'posting',
    refs: [
      ['reconciliation_id', 'reconciliation', 'id'],
      ['row_id', 'reconciliation_row', 'id'],
      ['stock_position_id', 'stock_position', 'id'],
    ],
  },
  { table: 'movement', refs: [['stock_position_id', 'stock_position', 'id']] },
  {
    table: 'adjustment_order_line',
    refs: [
      ['order_number', 'adjustment_order', 'number'],
      ['row_id', 'reconciliation_row', 'id'],
    ],
  },
];

const lit = (s: string) => `'${s}'`;

export class Performance extends Migration {
  override up(): void {
    this.addSql(`
      create function check_inserted_references() returns trigger language plpgsql as $$
      declare
        i int := 0;
        missing text;
      begin
        while i < tg_nargs loop
          execute format('select n.%1$I::text from inserted n where n.%1$I is not null
                          and not exists (select 1 from %2$I r where r.%3$I = n.%1$I) limit 1',
                         tg_argv[i], tg_argv[i + 1], tg_argv[i + 2]) into missing;
          if missing is not null then
            raise exception 'insert or update on table "%" violates a reference: key (%)=(%) is not present in table "%"',
              tg_table_name, tg_argv[i], missing, tg_argv[i + 1] using errcode = 'foreign_key_violation';
          end if;
          i := i + 3;
        end loop;
        return null;
      end $$;

      create function check_changed_references() returns trigger language plpgsql as $$
      declare
        i int := 0;
        present boolean;
      begin
        while i < tg_nargs loop
          execute format('select ($1).%1$I is null or exists (select 1 from %2$I r where r.%3$I = ($1).%1$I)',
                         tg_argv[i], tg_argv[i + 1], tg_argv[i + 2]) into present using new;
          if not present then
            raise exception 'update on table "%" violates a reference: % is not present in table "%"',
              tg_table_name, tg_argv[i], tg_argv[i + 1] using errcode = 'foreign_key_violation';
          end if;
          i := i + 3;
        end loop;
        return new;
      end $$;

      create function refuse_removing_referenced() returns trigger language plpgsql as $$
      begin
        raise exception 'rows of % are referenced and never removed or re-keyed (% refused)', tg_table_name, tg_op
          using errcode = 'foreign_key_violation';
      end $$;
    `);
    const referenced = new Map<string, string>();
    for (const { table, refs } of CHECKED) {
      const args = refs.flat().map(lit).join(', ');
      const changed = refs.map(([c]) => `old.${c} is distinct from new.${c}`).join(' or ');
      for (const [column, target, key] of refs) {
        this.addSql(`alter table ${table} drop constraint ${table}_${column}_fkey`);
        referenced.set(target, key);
      }
      this.addSql(`
        create trigger ${table}_references after insert on ${table}
          referencing new table as inserted for each statement execute function check_inserted_references(${args});
        create trigger ${table}_changed_references before update on ${table}
          for each row when (${changed}) execute function check_changed_references(${args});
      `);
    }
    for (const [table, key] of referenced) {
      this.addSql(`
        create trigger ${table}_never_removed before delete or truncate on ${table}
          for each statement execute function refuse_removing_referenced();
        create trigger ${table}_key_kept before update of ${key} on ${table}
          for each row when (old.${key} is distinct from new.${key}) execute function refuse_removing_referenced();
      `);
    }
    this.addSql(`
      drop index reconciliation_row_location_idx;
      drop index reconciliation_row_state_idx;
      alter table reconciliation_row set (fillfactor = 45);
      drop index count_entry_order_idx;
      create index count_entry_order_position_idx on count_entry (count_order_id, location_id, item_id);
    `);
  }
}
