import { one, rows, sql, type Em } from '../../db/sql';
import type { RowCounts, RowSelection } from '../../workflows/messages';
import { toCsv } from '../csv';
import { asDecimalText, asNumber, type NumberFormat } from '../number-format';
import { notFound } from '../refusal';
import { ROW_JOINS, rowPredicate } from './filter';
import { rowState } from './state';

/** One row's columns (over ROW_JOINS), shared by the review listing, the row detail and the rows CSV. */
export function rowColumns(n: NumberFormat, reconciliationId: string) {
  return sql`r.id::int, r.origin, z.code as zone, l.code as location, i.code as item, r.lot, r.serial,
  r.handling_unit as "handlingUnit", r.owner, ${rowState(reconciliationId)} as state, r.approval,
  ${n(sql`r.snapshot_quantity`)} as "snapshotQuantity", ${n(sql`r.expected_quantity`)} as "expectedQuantity",
  ${n(sql`r.counted_quantity`)} as "countedQuantity", r.counted_round as "countedRound", r.counted_by as "countedBy",
  ${n(sql`r.variance_quantity`)} as "varianceQuantity", ${n(sql`r.variance_inventory_quantity`)} as "varianceInventoryQuantity",
  ${n(sql`r.variance_value`)} as "varianceValue", r.moved_after_snapshot as "movedAfterSnapshot",
  r.approved_by as "approvedBy", r.deleted_reason as "deletedReason", r.failure_reason as "failureReason"`;
}

/** What the review grid sorts by; ties go by row id, so pages never overlap. */
const SORTS = {
  absValue: sql`abs(r.variance_value)`,
  value: sql`r.variance_value`,
  absVariance: sql`abs(r.variance_quantity)`,
  variance: sql`r.variance_quantity`,
  // A variance on nothing expected is the largest percentage of all.
  variancePercent: sql`case when r.expected_quantity = 0 and r.variance_quantity <> 0 then 'Infinity'::numeric
                            else abs(r.variance_quantity) * 100 / nullif(abs(r.expected_quantity), 0) end`,
  zone: sql`z.code`,
  location: sql`l.code`,
  item: sql`i.code`,
  id: sql`r.id`,
};
export type RowSort = keyof typeof SORTS;
export const ROW_SORTS = Object.keys(SORTS) as [RowSort, ...RowSort[]];

export interface RowPage {
  after: number;
  limit: number;
  /** Sorted pages go by offset (rows not yet counted last); without it pages are keyset by row id from `after`. */
  sort?: { by: RowSort; order: 'asc' | 'desc'; offset: number };
  /** Also count every row that matches. */
  total?: boolean;
}

const BY_CODE: RowSort[] = ['zone', 'location', 'item'];

/** The review listing, filtered with the same predicate decisions use. */
export async function listRows(em: Em, reconciliationId: string, selection: RowSelection, page: RowPage) {
  const where = rowPredicate(reconciliationId, selection);
  const columns = rowColumns(asNumber, reconciliationId);
  const s = page.sort;
  const pageOf = () => {
    if (!s) {
      return rows(em, sql<{ id: number }>`select ${columns} from ${ROW_JOINS}
        where ${where} and r.id > ${page.after} order by r.id limit ${page.limit}`);
    }
    // The page's ids first, from the rows alone unless the order is by a code; then the columns of those few.
    const order = sql`${SORTS[s.by]} ${sql.raw(s.order === 'desc' ? 'desc' : 'asc')} nulls last, r.id`;
    const source = BY_CODE.includes(s.by) ? ROW_JOINS : sql`reconciliation_row r`;
    return rows(em, sql<{ id: number }>`
      with page as (select r.id from ${source} where ${where} order by ${order} offset ${s.offset} limit ${page.limit})
      select ${columns} from ${ROW_JOINS} where r.id in (select id from page) order by ${order}`);
  };
  const countOf = async () =>
    page.total ? (await one(em, sql<{ n: number }>`select count(*)::int as n from reconciliation_row r where ${where}`))!.n : undefined;
  // Two statements on two pooled connections at once: the count costs no extra wait.
  const [list, total] = await Promise.all([pageOf(), countOf()]);
  const last = list[list.length - 1];
  const full = list.length === page.limit;
  return {
    rows: list,
    next: !s && full && last ? last.id : null,
    ...(s ? { nextOffset: full ? s.offset + list.length : null } : {}),
    ...(total === undefined ? {} : { total }),
  };
}

/** One row with every round's count and its blockings: the row's history. */
export async function rowDetail(em: Em, reconciliationId: string, rowId: number) {
  const row = await one(
    em,
    sql<Record<string, unknown>>`select ${rowColumns(asNumber, reconciliationId)} from ${ROW_JOINS}
      where r.reconciliation_id = ${reconciliationId} and r.id = ${rowId}`,
  );
  if (!row) throw notFound(`row ${rowId} of reconciliation ${reconciliationId}`);
  const counts = await rows(
    em,
    // Earlier rounds from row_count, the latest from the row itself (store/rows/populate.ts writeRoundResults).
    sql`select round, counted_quantity::float8 as "countedQuantity", expected_quantity::float8 as "expectedQuantity",
               counted_at as "countedAt", counted_by as "countedBy"
        from (select round, counted_quantity, expected_quantity, counted_at, counted_by from row_count where row_id = ${rowId}
              union all
              select counted_round, counted_quantity, expected_quantity, counted_at, counted_by from reconciliation_row
              where id = ${rowId} and counted_round is not null) c
        order by round`,
  );
  const blockings = await rows(
    em,
    sql`select reason, snapshot_quantity::float8 as "snapshotQuantity", counted_quantity::float8 as "countedQuantity", implied
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

/**
 * Rows by state and approval: what the workflow reports as progress after
 * every step and decision. The rows are grouped first (a handful of groups)
 * and the groups counted: fifteen filtered counts over a million rows cost
 * twice as much (380 ms against 210 ms at a million).
 */
export async function rowCounts(em: Em, reconciliationId: string): Promise<RowCounts> {
  const r = await one(
    em,
    sql<RowCounts>`
      select coalesce(sum(n), 0)::int as total,
             coalesce(sum(n) filter (where state = 'awaiting_count'), 0)::int as "awaitingCount",
             coalesce(sum(n) filter (where state = 'counted'), 0)::int as counted,
             coalesce(sum(n) filter (where state = 'marked_for_recount'), 0)::int as "markedForRecount",
             coalesce(sum(n) filter (where state = 'recounting'), 0)::int as recounting,
             coalesce(sum(n) filter (where state = 'deleted'), 0)::int as deleted,
             coalesce(sum(n) filter (where state = 'posting'), 0)::int as posting,
             coalesce(sum(n) filter (where state = 'processed'), 0)::int as processed,
             coalesce(sum(n) filter (where state = 'failed'), 0)::int as failed,
             coalesce(sum(n) filter (where state = 'skipped'), 0)::int as skipped,
             coalesce(sum(n) filter (where state = 'withdrawn'), 0)::int as withdrawn,
             coalesce(sum(n) filter (where state = 'counted' and approval = 'to_approve'), 0)::int as "toApprove",
             coalesce(sum(n) filter (where state = 'counted' and approval = 'approved'), 0)::int as approved,
             coalesce(sum(n) filter (where state = 'counted' and approval = 'not_required'), 0)::int as "notRequired",
             coalesce(sum(n) filter (where moved_after_snapshot), 0)::int as "movedAfterSnapshot"
      from (select ${rowState(reconciliationId)} as state, r.approval, r.moved_after_snapshot, r.n
            from (select state, approval, moved_after_snapshot, count(*) as n from reconciliation_row
                  where reconciliation_id = ${reconciliationId} group by 1, 2, 3) r) r`,
  );
  return r!;
}

const ROW_CSV_HEADER = [
  'id', 'zone', 'location', 'item', 'lot', 'serial', 'handlingUnit', 'owner', 'state', 'approval',
  'snapshotQuantity', 'expectedQuantity', 'countedQuantity', 'varianceQuantity', 'varianceInventoryQuantity', 'varianceValue',
  'countedRound', 'countedBy', 'approvedBy',
] as const;

/** Every row of the reconciliation, in warehouse walking order, for a spreadsheet. */
export async function rowsCsv(em: Em, reconciliationId: string): Promise<string> {
  const list = await rows(
    em,
    sql<Record<string, unknown>>`
      select ${rowColumns(asDecimalText, reconciliationId)} from ${ROW_JOINS}
      where r.reconciliation_id = ${reconciliationId}
      order by z.code, l.code, i.code, r.lot, r.serial, r.handling_unit, r.owner, r.id`,
  );
  return toCsv(ROW_CSV_HEADER, list);
}
