import { Migration } from '@mikro-orm/migrations';

/**
 * Stock positions and their blockings check their references once per
 * statement, as 0008 did for the reconciliation tables. A stock load of a
 * million new positions spent 11 of its 23 s in the per-row foreign keys of
 * stock_position (warehouse, location, item: an SPI lookup and a FOR KEY
 * SHARE lock on the referenced row each, three per position).
 *
 * As strong as the foreign keys for the same reasons as in 0008: every
 * inserted row is checked by the database in the same statement (23503 on a
 * missing reference), a changed reference is checked per row when it
 * changes, and the referenced rows are never removed nor re-keyed: location,
 * item and stock_position already refuse it since 0008; warehouse does from
 * here on.
 */
const CHECKED: Array<{ table: string; refs: Array<[column: string, table: string, key: string]> }> = [
  {
    table: 'stock_position',
    refs: [
      ['warehouse_code', 'warehouse', 'code'],
      ['location_id', 'location', 'id'],
      ['item_id', 'item', 'id'],
    ],
  },
  { table: 'blocking', refs: [['stock_position_id', 'stock_position', 'id']] },
];

const lit = (s: string) => `'${s}'`;

export class StockReferences extends Migration {
  override up(): void {
    for (const { table, refs } of CHECKED) {
      const args = refs.flat().map(lit).join(', ');
      const changed = refs.map(([c]) => `old.${c} is distinct from new.${c}`).join(' or ');
      for (const [column] of refs) this.addSql(`alter table ${table} drop constraint ${table}_${column}_fkey`);
      this.addSql(`
        create trigger ${table}_references after insert on ${table}
          referencing new table as inserted for each statement execute function check_inserted_references(${args});
        create trigger ${table}_changed_references before update on ${table}
          for each row when (${changed}) execute function check_changed_references(${args});
      `);
    }
    this.addSql(`
      create trigger warehouse_never_removed before delete or truncate on warehouse
        for each statement execute function refuse_removing_referenced();
      create trigger warehouse_key_kept before update of code on warehouse
        for each row when (old.code is distinct from new.code) execute function refuse_removing_referenced();
    `);
  }
}
