import { sql, type RawBuilder } from 'kysely';
import type { RowSelection } from '../../workflows/messages';
import { rowState } from './state';

/**
 * The manager's row filter as one SQL predicate over `reconciliation_row r`
 * alone (codes are looked up, not joined: the review grid sorts and counts
 * 100,000 rows without joining them), shared by the review listing and by
 * decisions (recount, approve, delete) so both select exactly the same rows.
 *
 * Deleted rows match only a filter that asks for them (state = deleted): a
 * deletion takes a row out of the review, so "approve every row To Approve"
 * must not trip over one. An approval filter matches the row's current
 * verdict only, i.e. rows whose last count is settled (not ones marked for
 * recount or being recounted, whose verdict is about to change).
 */
export const ROW_JOINS = sql`reconciliation_row r
  join item i on i.id = r.item_id
  join zone z on z.id = r.zone_id
  join location l on l.id = r.location_id`;

const SETTLED_STATES = ['counted', 'posting', 'processed', 'failed', 'skipped', 'withdrawn'];

export function rowPredicate(reconciliationId: string, selection: RowSelection): RawBuilder<unknown> {
  const f = selection.filter ?? {};
  const ids = selection.rowIds && selection.rowIds.length > 0 ? selection.rowIds : null;
  const list = (v: string[] | undefined) => (v && v.length > 0 ? v : null);
  return sql`r.reconciliation_id = ${reconciliationId}
    and (${ids}::bigint[] is null or r.id = any(${ids}::bigint[]))
    and (${list(f.itemCodes)}::text[] is null or r.item_id in (select id from item where code = any(${list(f.itemCodes)}::text[])))
    and (${list(f.zoneCodes)}::text[] is null or r.zone_id in (select id from zone where code = any(${list(f.zoneCodes)}::text[])))
    and (${list(f.locationCodes)}::text[] is null or r.location_id in (select id from location where code = any(${list(f.locationCodes)}::text[])))
    and (${f.approval ?? null}::text is null or (r.approval = ${f.approval ?? null}::text and r.state = any(${SETTLED_STATES}::text[])))
    and (case when ${f.state ?? null}::text is null then r.state <> 'deleted' or ${ids}::bigint[] is not null
              else ${rowState(reconciliationId)} = ${f.state ?? null}::text end)
    and (${f.minAbsVariance ?? null}::numeric is null or abs(r.variance_quantity) >= ${f.minAbsVariance ?? null}::numeric)
    and (${f.minAbsValue ?? null}::numeric is null or abs(r.variance_value) >= ${f.minAbsValue ?? null}::numeric)
    and (${f.direction ?? null}::text is null
         or (${f.direction ?? null}::text = 'gain' and r.variance_quantity > 0) or (${f.direction ?? null}::text = 'loss' and r.variance_quantity < 0))
    -- |variance| / |expected| >= p%, without a division: a variance on nothing expected exceeds every percentage.
    and (${f.minAbsPercent ?? null}::numeric is null or abs(r.variance_quantity) * 100 >= ${f.minAbsPercent ?? null}::numeric * abs(r.expected_quantity))`;
}

/** A selection must name rows or filter them: an empty one would mean "every row", which no decision intends. */
export function isEmptySelection(selection: RowSelection): boolean {
  const noIds = !selection.rowIds || selection.rowIds.length === 0;
  const f = selection.filter;
  const noFilter = !f || Object.values(f).every((v) => v === undefined || (Array.isArray(v) && v.length === 0));
  return noIds && noFilter;
}
