import { Migration } from '@mikro-orm/migrations';

/**
 * The statement-level reference checks of 0008 and 0010 look for a missing
 * reference as a set, not row by row. They asked for the first missing key
 * (LIMIT 1), and a first-row plan is a nested loop: one index probe per
 * inserted row. At a million snapshot rows that was five million probes,
 * 4.2 of the snapshot's 13.5 s, even for the reconciliation id, which is
 * the same in every row. Asking for the smallest missing key instead lets
 * the planner choose by the sizes it knows (the statement's row count and
 * the referenced table's): a hash anti-join over a small referenced table
 * (reconciliation, zone, item) or a large insert, and still the index probes
 * for a batch of a few hundred rows. The check, its error and its SQLSTATE
 * (23503) are the same; only the key named in the message may differ.
 */
export class ReferenceChecksBySet extends Migration {
  override up(): void {
    this.addSql(`
      create or replace function check_inserted_references() returns trigger language plpgsql as $$
      declare
        i int := 0;
        missing bigint;
        example text;
      begin
        while i < tg_nargs loop
          execute format('select count(*) from inserted n where n.%1$I is not null
                          and not exists (select 1 from %2$I r where r.%3$I = n.%1$I)',
                         tg_argv[i], tg_argv[i + 1], tg_argv[i + 2]) into missing;
          if missing > 0 then
            execute format('select n.%1$I::text from inserted n where n.%1$I is not null
                            and not exists (select 1 from %2$I r where r.%3$I = n.%1$I) limit 1',
                           tg_argv[i], tg_argv[i + 1], tg_argv[i + 2]) into example;
            raise exception 'insert or update on table "%" violates a reference: key (%)=(%) is not present in table "%"',
              tg_table_name, tg_argv[i], example, tg_argv[i + 1] using errcode = 'foreign_key_violation';
          end if;
          i := i + 3;
        end loop;
        return null;
      end $$;
    `);
  }
}
