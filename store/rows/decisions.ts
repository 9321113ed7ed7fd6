import type { RawBuilder } from 'kysely';
import { affected, one, sql, type Em } from '../../db/sql';
import type { DecisionBy, RowSelection, RowsChanged } from '../../workflows/messages';
import { auditFrom } from '../audit';
import type { LockedReconciliation } from '../reconciliations';
import { refuse } from '../refusal';
import { isEmptySelection, rowPredicate } from './filter';

/**
 * The manager's decisions on rows: mark for recount, approve, delete. The
 * caller holds the document lock. Each applies to every selected row or to
 * none: a selection with an ineligible row is refused whole, naming the
 * offending rows, so nothing half-happens.
 */
export async function markForRecount(em: Em, rec: LockedReconciliation, reconciliationId: string, selection: RowSelection, by: DecisionBy): Promise<RowsChanged> {
  const nextRound = Math.max(rec.round, 0) + 1;
  if (nextRound > rec.maxRecountRounds) {
    throw refuse('MaxRoundsReached', `the maximum of ${rec.maxRecountRounds} recount rounds is reached: approve or delete the remaining rows`);
  }
  // Before any count (product-based scenario) rows go straight from the snapshot to recount.
  const eligible = rec.round === -1 ? ['awaiting_count'] : ['counted', 'marked_for_recount'];
  return applyToSelection(em, reconciliationId, selection, by.user, eligible, sql`state = 'marked_for_recount'`, 'row_marked_for_recount');
}

/**
 * Approval authority: a manager approves rows whose absolute variance value
 * is within the document's limit, a senior manager any row; nobody approves
 * a row they counted in its deciding round (segregation of duties).
 */
export async function approveRows(em: Em, rec: LockedReconciliation, reconciliationId: string, selection: RowSelection, by: DecisionBy): Promise<RowsChanged> {
  const rules: EligibilityRule[] = [
    { eligible: sql`r.state = 'counted' and r.approval in ('to_approve', 'approved')`, rule: 'only counted rows that are To Approve can be approved' },
    ownCountsRule(by.user, 'approve'),
    ...(by.role === 'senior_manager' ? [] : [{
      eligible: sql`r.approval <> 'to_approve' or abs(r.variance_value) <= ${rec.managerApprovalLimit}::numeric`,
      rule: `a manager approves variances up to ${Number(rec.managerApprovalLimit)} in value; these need a senior manager`,
      failureType: 'ApprovalLimitExceeded' as const,
    }]),
  ];
  if (isEmptySelection(selection)) throw refuse('NoRowsSelected', 'select rows by rowIds or a filter');
  // One pass over the document's rows: the selection is read once, judged and approved (approval by filter selects
  // among a million rows; a pass to judge and one to change cost two scans). A refusal is thrown after the statement
  // and rolls the step's transaction back (activities/step.ts), the approvals and their audit with it.
  const r = (await one(
    em,
    sql<Judged & { approved: number }>`
      with selected as materialized (
        select r.id, r.state, r.approval, r.counted_by, r.variance_quantity, r.variance_value
        from reconciliation_row r where ${rowPredicate(reconciliationId, selection)}
      ), judged as (
        select ${judgement(reconciliationId, selection, rules)} from selected r
      ), approved as (
        update reconciliation_row r set approval = 'approved', approved_by = ${by.user}, approved_at = now()
        where r.id = any(array(select id from selected where approval = 'to_approve' order by id))
        returning r.id, r.variance_quantity, r.variance_value
      ), audited as (
        ${auditFrom(sql`
          select ${reconciliationId}::uuid, ${by.user}, 'row_approved', 'row ' || id,
                 jsonb_build_object('approval', 'to_approve'),
                 jsonb_build_object('approval', 'approved', 'role', ${by.role}::text,
                                    'varianceQuantity', variance_quantity, 'varianceValue', variance_value)
          from approved`)}
      )
      select j.*, (select count(*)::int from approved) as approved from judged j`,
  ))!;
  refuseJudged(r, rules);
  return { rows: r.approved };
}

export async function deleteRows(em: Em, reconciliationId: string, selection: RowSelection, by: DecisionBy, reason: string): Promise<RowsChanged> {
  if (!reason.trim()) throw refuse('ReasonRequired', 'a reason is required to delete rows');
  return applyToSelection(
    em,
    reconciliationId,
    selection,
    by.user,
    ['awaiting_count', 'counted', 'marked_for_recount', 'deleted'],
    sql`state = 'deleted', deleted_reason = ${reason}, deleted_by = ${by.user}`,
    'row_deleted',
    [ownCountsRule(by.user, 'delete')],
  );
}

async function applyToSelection(
  em: Em,
  reconciliationId: string,
  selection: RowSelection,
  user: string,
  eligibleStates: string[],
  assignment: ReturnType<typeof sql>,
  action: string,
  rulesFirst: EligibilityRule[] = [],
): Promise<RowsChanged> {
  await refuseIneligible(em, reconciliationId, selection, [
    ...rulesFirst,
    { eligible: sql`r.state = any(${eligibleStates}::text[])`, rule: `only rows in state ${eligibleStates.join(' or ')} qualify` },
  ]);
  const n = await affected(
    em,
    sql`with before as (
          select r.id, r.state from reconciliation_row r where ${rowPredicate(reconciliationId, selection)} for update of r),
        changed as (
          update reconciliation_row r set ${assignment} from before b where r.id = b.id
          returning r.id, r.state, r.deleted_reason)
        ${auditFrom(sql`
          select ${reconciliationId}::uuid, ${user}, ${action}, 'row ' || c.id,
                 jsonb_build_object('state', b.state), jsonb_build_object('state', c.state, 'reason', c.deleted_reason)
          from changed c join before b on b.id = c.id`)}`,
  );
  return { rows: n };
}

/** A rule every selected row must meet, and what the refusal says when one does not. */
export interface EligibilityRule {
  eligible: RawBuilder<unknown>;
  rule: string;
  failureType?: 'InvalidRowState' | 'SegregationOfDuties' | 'ApprovalLimitExceeded';
}

/**
 * Segregation of duties: nobody decides on a row they counted in its
 * deciding round (approve it, delete it, skip its failed posting).
 */
export function ownCountsRule(user: string, verb: string): EligibilityRule {
  return {
    eligible: sql`not (${user} = any(string_to_array(coalesce(r.counted_by, ''), ',')))`,
    rule: `segregation of duties: ${user} counted these rows and cannot ${verb} them`,
    failureType: 'SegregationOfDuties',
  };
}

/**
 * Refuses the whole selection when it is empty, names rows of another
 * reconciliation, or holds a row that breaks a rule; the first rule broken,
 * in the order given, is the one reported. Every rule is judged in one pass
 * over the selected rows (a filter over a million rows is a scan, so one
 * pass per rule would multiply it).
 */
export async function refuseIneligible(em: Em, reconciliationId: string, selection: RowSelection, rules: EligibilityRule[]): Promise<void> {
  if (isEmptySelection(selection)) throw refuse('NoRowsSelected', 'select rows by rowIds or a filter');
  const r = await one(
    em,
    sql<Judged>`
      select ${judgement(reconciliationId, selection, rules)}
      from reconciliation_row r
      where ${rowPredicate(reconciliationId, selection)}`,
  );
  refuseJudged(r!, rules);
}

type Judged = Record<string, unknown> & { total: number; missing: string[] | null };

/** Aggregates over the selected rows (as `r`): how many, which ids name no row of the document, and per rule the rows that break it. */
function judgement(reconciliationId: string, selection: RowSelection, rules: EligibilityRule[]) {
  const ids = selection.rowIds && selection.rowIds.length > 0 ? selection.rowIds : null;
  const perRule = sql.join(rules.map((r, k) => sql`
    count(*) filter (where not (${r.eligible}))::int as ${sql.ref(`bad_${k}`)},
    (array_agg(r.id order by r.id) filter (where not (${r.eligible})))[1:20] as ${sql.ref(`bad_ids_${k}`)}`));
  return sql`count(*)::int as total, ${perRule},
             (select array_agg(x)::text[] from unnest(${ids}::bigint[]) x
               where not exists (select 1 from reconciliation_row o where o.id = x and o.reconciliation_id = ${reconciliationId})) as missing`;
}

function refuseJudged(r: Judged, rules: EligibilityRule[]): void {
  if (r.missing && r.missing.length > 0) {
    throw refuse('NoRowsSelected', `rows not in this reconciliation: ${r.missing.slice(0, 20).join(', ')}`);
  }
  if (r.total === 0) throw refuse('NoRowsSelected', 'no row matches the selection');
  rules.forEach((rule, k) => {
    const bad = r[`bad_${k}`] as number;
    const badIds = r[`bad_ids_${k}`] as string[] | null;
    if (bad > 0) throw refuse(rule.failureType ?? 'InvalidRowState', `${rule.rule}; ${bad} refused, e.g. rows ${badIds!.join(', ')}`);
  });
}
