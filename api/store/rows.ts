import { ROW_JOINS, rowPredicate } from '../../db/row-filter';
import { one, rows, sql, type Em } from '../../db/sql';
import type { RowSelection } from '../../workflows/messages';
import { notFound } from '../problem';
import { asNumber, type NumberFormat } from './number-format';

/** One row's columns (over ROW_JOINS), shared by the review listing, the row detail and the rows CSV. */
export function rowColumns(n: NumberFormat) {
  return sql`r.id::int, r.origin, z.code as zone, l.code as location, i.code as item, r.lot, r.serial,
  r.handling_unit as "handlingUnit", r.owner, r.state, r.approval,
  ${n(sql`r.snapshot_quantity`)} as "snapshotQuantity", ${n(sql`r.expected_quantity`)} as "expectedQuantity",
  ${n(sql`r.counted_quantity`)} as "countedQuantity", r.counted_round as "countedRound", r.counted_by as "countedBy",
  ${n(sql`r.variance_quantity`)} as "varianceQuantity", ${n(sql`r.variance_inventory_quantity`)} as "varianceInventoryQuantity",
  ${n(sql`r.variance_value`)} as "varianceValue", r.moved_after_snapshot as "movedAfterSnapshot",
  r.approved_by as "approvedBy", r.deleted_reason as "deletedReason", r.failure_reason as "failureReason"`;
}

const ROW_COLUMNS = rowColumns(asNumber);

/** The review listing: keyset-paginated by row id, filtered with the same predicate decisions use. */
export async function listRows(em: Em, reconciliationId: string, selection: RowSelection, page: { after: number; limit: number }) {
  const list = await rows(
    em,
    sql<{ id: number }>`select ${ROW_COLUMNS} from ${ROW_JOINS}
      where ${rowPredicate(reconciliationId, selection)} and r.id > ${page.after}
      order by r.id limit ${page.limit}`,
  );
  const last = list[list.length - 1];
  return { rows: list, next: list.length === page.limit && last ? last.id : null };
}

/** One row with every round's count and its blockings: the row's history. */
export async function rowDetail(em: Em, reconciliationId: string, rowId: number) {
  const row = await one(
    em,
    sql<Record<string, unknown>>`select ${ROW_COLUMNS} from ${ROW_JOINS}
      where r.reconciliation_id = ${reconciliationId} and r.id = ${rowId}`,
  );
  if (!row) throw notFound(`row ${rowId} of reconciliation ${reconciliationId}`);
  const counts = await rows(
    em,
    sql`select round, counted_quantity::float8 as "countedQuantity", expected_quantity::float8 as "expectedQuantity",
               counted_at as "countedAt", counted_by as "countedBy"
        from row_count where row_id = ${rowId} order by round`,
  );
  const blockings = await rows(
    em,
    sql`select reason, snapshot_quantity::float8 as "snapshotQuantity", counted_quantity::float8 as "countedQuantity"
        from reconciliation_row_blocking where row_id = ${rowId} order by reason`,
  );
  const postings = await rows(
    em,
    sql`select key, step_index as "stepIndex", kind, task_type as "taskType", direction, quantity::float8 as quantity, reason,
               blocked_from::float8 as "blockedFrom", blocked_to::float8 as "blockedTo", status, posted_at as "postedAt", sequence::int
        from posting where row_id = ${rowId} order by step_index`,
  );
  return { ...row, counts, blockings, postings };
}
