import { affected, one, rows, sql, type Em } from '../../db/sql';
import { audit } from '../audit';
import { toCsv } from '../csv';
import { refuse } from '../refusal';
import type { LockedSystemReconciliation } from './document';

/**
 * The reconciliation order: one line per difference the comparison found.
 * Its lines come from the other system, so they are never edited or added,
 * only deleted with a reason (the difference disappeared, or related orders
 * will be corrected instead), approved, and optionally processed.
 */
const LINE_COLUMNS = sql`d.line, i.code as item, d.warehouse_code as warehouse, d.location_code as location, d.category,
  d.quantity_a::float8 as "quantityA", d.quantity_b::float8 as "quantityB", d.difference::float8 as difference,
  d.value::float8 as value, case when d.difference > 0 then 'IN' when d.difference < 0 then 'OUT' else 'NONE' end as direction,
  d.outcome, d.root_cause as "rootCause", d.evidence, d.state, d.approval, d.approved_by as "approvedBy",
  d.deleted_reason as "deletedReason", d.deleted_by as "deletedBy", d.refreshed_at as "refreshedAt", d.exception_id::int as "exceptionId"`;

export async function listLines(
  em: Em,
  runId: string,
  q: { outcome?: 'explainable' | 'exception'; state?: string; after: number; limit: number },
) {
  const lines = await rows(em, sql<{ line: number }>`
    select ${LINE_COLUMNS} from system_difference d join item i on i.id = d.item_id
    where d.system_reconciliation_id = ${runId} and d.line > ${q.after}
      and (${q.outcome ?? null}::text is null or d.outcome = ${q.outcome ?? null}::text)
      and (${q.state ?? null}::text is null or d.state = ${q.state ?? null}::text)
    order by d.line limit ${q.limit}`);
  const last = lines[lines.length - 1];
  return { lines, next: lines.length === q.limit && last ? last.line : null };
}

const ORDER_CSV = ['line', 'item', 'warehouse', 'location', 'category', 'quantityA', 'quantityB', 'difference', 'value', 'direction',
  'outcome', 'rootCause', 'state', 'approval', 'approvedBy', 'deletedReason'] as const;

export async function orderCsv(em: Em, runId: string): Promise<string> {
  const lines = await rows(em, sql<Record<string, unknown>>`
    select ${LINE_COLUMNS} from system_difference d join item i on i.id = d.item_id
    where d.system_reconciliation_id = ${runId} order by d.line`);
  return toCsv(ORDER_CSV, lines);
}

/** The named lines, all of them of this run and in one of `states`; otherwise the whole decision is refused. */
async function refuseIneligible(em: Em, runId: string, lines: number[], states: string[], what: string): Promise<void> {
  if (lines.length === 0) throw refuse('NoRowsSelected', 'name the lines');
  const r = (await one(em, sql<{ missing: number[] | null; bad: number[] | null }>`
    select (select array_agg(x) from unnest(${lines}::int[]) x
             where not exists (select 1 from system_difference d where d.system_reconciliation_id = ${runId} and d.line = x)) as missing,
           (select array_agg(d.line order by d.line) from system_difference d
             where d.system_reconciliation_id = ${runId} and d.line = any(${lines}::int[]) and not (d.state = any(${states}::text[]))) as bad`))!;
  if (r.missing?.length) throw refuse('NoRowsSelected', `lines not in this order: ${r.missing.slice(0, 20).join(', ')}`);
  if (r.bad?.length) throw refuse('InvalidRowState', `${what}: only lines that are ${states.join(' or ')}; refused: ${r.bad.slice(0, 20).join(', ')}`);
}

/** Lines withdrawn from the order, with who and why; they stay, marked deleted. */
export async function deleteLines(em: Em, rec: LockedSystemReconciliation, runId: string, lines: number[], reason: string, by: string): Promise<{ lines: number }> {
  if (!reason.trim()) throw refuse('ReasonRequired', 'a reason is required to delete lines');
  await refuseIneligible(em, runId, lines, ['open', 'failed'], 'delete');
  const n = await affected(em, sql`
    update system_difference set state = 'deleted', deleted_reason = ${reason}, deleted_by = ${by}
    where system_reconciliation_id = ${runId} and line = any(${lines}::int[])`);
  await audit(em, { warehouse: rec.warehouse, actor: by, action: 'system_lines_deleted', subject: `system reconciliation ${runId}`, after: { lines, reason } });
  return { lines: n };
}

/**
 * Approval with the rules of a count: a manager approves lines whose
 * absolute value is within the run's limit, a senior manager any; nobody
 * approves lines of levels they delivered themselves (segregation of duties).
 */
export async function approveLines(
  em: Em,
  rec: LockedSystemReconciliation,
  runId: string,
  lines: number[],
  by: { user: string; role: string },
): Promise<{ lines: number }> {
  await refuseIneligible(em, runId, lines, ['open', 'failed'], 'approve');
  const delivered = await one(em, sql`select 1 from levels_receipt where system_reconciliation_id = ${runId} and received_by = ${by.user}`);
  if (delivered) throw refuse('SegregationOfDuties', `segregation of duties: ${by.user} delivered levels of this run and cannot approve its lines`);
  if (by.role !== 'senior_manager') {
    const over = await rows(em, sql<{ line: number }>`
      select line from system_difference where system_reconciliation_id = ${runId} and line = any(${lines}::int[])
        and abs(value) > ${rec.managerApprovalLimit}::numeric order by line limit 20`);
    if (over.length > 0) {
      throw refuse('ApprovalLimitExceeded', `a manager approves differences up to ${Number(rec.managerApprovalLimit)} in value; lines ${over.map((o) => o.line).join(', ')} need a senior manager`);
    }
  }
  const n = await affected(em, sql`
    update system_difference set approval = 'approved', approved_by = ${by.user}
    where system_reconciliation_id = ${runId} and line = any(${lines}::int[]) and approval = 'to_approve'`);
  await audit(em, { warehouse: rec.warehouse, actor: by.user, action: 'system_lines_approved', subject: `system reconciliation ${runId}`, after: { lines, role: by.role } });
  return { lines: n };
}
