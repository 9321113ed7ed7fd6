import { one, sql } from '../../db/sql';
import type { Orm } from '../../db/orm';

/**
 * Every table's whole content, as one digest per table: taken before and
 * after a refused request, it proves the request wrote nothing at all (no
 * row added, changed or removed, anywhere), not just that counts agree.
 */
export const ALL_TABLES = [
  'warehouse', 'zone', 'location', 'item', 'unit', 'stock_position', 'blocking', 'movement',
  'reconciliation', 'reconciliation_row', 'reconciliation_row_blocking', 'row_count', 'status_transition',
  'count_order', 'count_task', 'count_submission', 'count_entry',
  'posting', 'adjustment_order', 'adjustment_order_line', 'audit_event', 'idempotency_record', 'step_progress',
  'app_user', 'api_token', 'user_warehouse',
  'import_load', 'external_system', 'status_mapping', 'unit_mapping', 'system_reconciliation', 'system_status_transition',
  'source_level', 'levels_receipt', 'interface_message', 'movement_event', 'system_difference', 'system_exception', 'system_exception_event',
] as const;

export type Fingerprint = Record<string, string>;

export async function dbFingerprint(orm: Orm, tables: readonly string[] = ALL_TABLES): Promise<Fingerprint> {
  const columns = tables.map((t) => `(select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from ${t} x) as ${t}`);
  return (await one(orm.em.fork(), sql.raw<Fingerprint>(`select ${columns.join(', ')}`)))!;
}

/** The tables whose content differs between two fingerprints. */
export function changedTables(before: Fingerprint, after: Fingerprint): string[] {
  return Object.keys(before).filter((t) => before[t] !== after[t]);
}
