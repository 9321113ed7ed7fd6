import { refuse } from './refusal';
import type { Orm } from '../db/orm';
import { isEmptySelection, ROW_JOINS, rowPredicate } from '../db/row-filter';
import { audit } from '../db/audit';
import { affected, one, sql, type Em } from '../db/sql';
import type { DecisionBy, RowCounts, RowSelection, RowsChanged } from '../workflows/messages';

/**
 * The manager's decisions on rows. Each runs in one transaction and either
 * applies to every selected row or to none: a selection with an ineligible row
 * is refused whole, naming the offending rows, so nothing half-happens.
 */
export function reviewActivities(orm: Orm) {
  return {
    async markForRecount(reconciliationId: string, selection: RowSelection & DecisionBy): Promise<RowsChanged> {
      return orm.em.fork().transactional(async (em) => {
        const rec = await lockedReconciliation(em, reconciliationId);
        const nextRound = Math.max(rec.round, 0) + 1;
        if (nextRound > rec.max_recount_rounds) {
          throw refuse(
            `the maximum of ${rec.max_recount_rounds} recount rounds is reached: approve or delete the remaining rows`,
            'MaxRoundsReached',
          );
        }
        // Before any count (product-based scenario) rows go straight from the snapshot to recount.
        const eligible = rec.round === -1 ? ['awaiting_count'] : ['counted', 'marked_for_recount'];
        return applyToSelection(em, reconciliationId, selection, eligible, sql`state = 'marked_for_recount'`, 'row_marked_for_recount');
      });
    },

    /**
     * Approval authority: a manager approves rows whose absolute variance value
     * is within the document's limit, a senior manager any row; nobody approves
     * a row they counted in its deciding round (segregation of duties).
     */
    async approveRows(reconciliationId: string, selection: RowSelection & DecisionBy): Promise<RowsChanged> {
      return orm.em.fork().transactional(async (em) => {
        const rec = await lockedReconciliation(em, reconciliationId);
        await refuseIneligible(em, reconciliationId, selection, sql`r.state = 'counted' and r.approval in ('to_approve', 'approved')`,
          'only counted rows that are To Approve can be approved');
        await refuseIneligible(em, reconciliationId, selection,
          sql`not (${selection.user} = any(string_to_array(coalesce(r.counted_by, ''), ',')))`,
          `segregation of duties: ${selection.user} counted these rows and cannot approve them`, 'SegregationOfDuties');
        if (selection.role !== 'senior_manager') {
          await refuseIneligible(em, reconciliationId, selection,
            sql`r.approval <> 'to_approve' or abs(r.variance_value) <= ${rec.manager_approval_limit}::numeric`,
            `a manager approves variances up to ${Number(rec.manager_approval_limit)} in value; these need a senior manager`,
            'ApprovalLimitExceeded');
        }
        const n = await affected(
          em,
          sql`with approved as (
                update reconciliation_row r set approval = 'approved', approved_by = ${selection.user}, approved_at = now()
                from item i, zone z, location l
                where i.id = r.item_id and z.id = r.zone_id and l.id = r.location_id
                  and ${rowPredicate(reconciliationId, selection)} and r.approval = 'to_approve'
                returning r.id, r.variance_quantity, r.variance_value)
              insert into audit_event (reconciliation_id, actor, action, subject, before, after)
              select ${reconciliationId}, ${selection.user}, 'row_approved', 'row ' || id,
                     jsonb_build_object('approval', 'to_approve'),
                     jsonb_build_object('approval', 'approved', 'role', ${selection.role}::text,
                                        'varianceQuantity', variance_quantity, 'varianceValue', variance_value)
              from approved`,
        );
        return { rows: n };
      });
    },

    async deleteRows(reconciliationId: string, selection: RowSelection & { user: string; reason: string }): Promise<RowsChanged> {
      if (!selection.reason.trim()) throw refuse('a reason is required to delete rows', 'ReasonRequired');
      return orm.em.fork().transactional(async (em) => {
        await lockedReconciliation(em, reconciliationId);
        return applyToSelection(
          em,
          reconciliationId,
          selection,
          ['awaiting_count', 'counted', 'marked_for_recount', 'deleted'],
          sql`state = 'deleted', deleted_reason = ${selection.reason}, deleted_by = ${selection.user}`,
          'row_deleted',
        );
      });
    },

    async cancelReconciliation(reconciliationId: string, by: DecisionBy & { reason: string }): Promise<void> {
      await orm.em.fork().transactional(async (em) => {
        await audit(em, { reconciliationId, actor: by.user, action: 'reconciliation_cancelled', after: { reason: by.reason } });
        await affected(em, sql`update count_order set status = 'cancelled' where reconciliation_id = ${reconciliationId} and status = 'open'`);
        await affected(
          em,
          sql`update reconciliation set status = 'cancelled', closed_at = coalesce(closed_at, now()) where id = ${reconciliationId}`,
        );
      });
    },

    async rowCounts(reconciliationId: string): Promise<RowCounts> {
      const r = await one(
        orm.em.fork(),
        sql<RowCounts>`
          select count(*)::int as total,
                 count(*) filter (where state = 'awaiting_count')::int as "awaitingCount",
                 count(*) filter (where state = 'counted')::int as counted,
                 count(*) filter (where state = 'marked_for_recount')::int as "markedForRecount",
                 count(*) filter (where state = 'recounting')::int as recounting,
                 count(*) filter (where state = 'deleted')::int as deleted,
                 count(*) filter (where state = 'posting')::int as posting,
                 count(*) filter (where state = 'processed')::int as processed,
                 count(*) filter (where state = 'failed')::int as failed,
                 count(*) filter (where state = 'skipped')::int as skipped,
                 count(*) filter (where state = 'counted' and approval = 'to_approve')::int as "toApprove",
                 count(*) filter (where state = 'counted' and approval = 'approved')::int as approved,
                 count(*) filter (where state = 'counted' and approval = 'not_required')::int as "notRequired",
                 count(*) filter (where moved_after_snapshot)::int as "movedAfterSnapshot"
          from reconciliation_row where reconciliation_id = ${reconciliationId}`,
      );
      return r!;
    },

    /** A round's deadline passed with orders open: recorded once per round on the document, counts untouched. */
    async recordEscalation(reconciliationId: string, round: number, openOrderIds: number[]): Promise<void> {
      await affected(
        orm.em.fork(),
        sql`update reconciliation
            set escalations = escalations || jsonb_build_array(jsonb_build_object(
              'round', ${round}::int, 'at', now(), 'openCountOrders', ${JSON.stringify(openOrderIds)}::jsonb,
              'reason', 'count deadline passed with count orders open'))
            where id = ${reconciliationId}
              and not exists (select 1 from jsonb_array_elements(escalations) e where (e->>'round')::int = ${round}::int)`,
      );
    },
  };
}

interface LockedReconciliation {
  round: number;
  max_recount_rounds: number;
  manager_approval_limit: string;
}

async function lockedReconciliation(em: Em, reconciliationId: string): Promise<LockedReconciliation> {
  const rec = await one(
    em,
    sql<LockedReconciliation>`
      select round, max_recount_rounds, manager_approval_limit from reconciliation where id = ${reconciliationId} for update`,
  );
  if (!rec) throw refuse(`reconciliation ${reconciliationId} not found`, 'NotFound');
  return rec;
}

async function applyToSelection(
  em: Em,
  reconciliationId: string,
  selection: RowSelection & { user: string },
  eligibleStates: string[],
  assignment: ReturnType<typeof sql>,
  action: string,
): Promise<RowsChanged> {
  await refuseIneligible(em, reconciliationId, selection, sql`r.state = any(${eligibleStates}::text[])`,
    `only rows in state ${eligibleStates.join(' or ')} qualify`);
  const n = await affected(
    em,
    sql`with before as (
          select r.id, r.state from ${ROW_JOINS} where ${rowPredicate(reconciliationId, selection)} for update of r),
        changed as (
          update reconciliation_row r set ${assignment} from before b where r.id = b.id
          returning r.id, r.state, r.deleted_reason)
        insert into audit_event (reconciliation_id, actor, action, subject, before, after)
        select ${reconciliationId}, ${selection.user}, ${action}, 'row ' || c.id,
               jsonb_build_object('state', b.state), jsonb_build_object('state', c.state, 'reason', c.deleted_reason)
        from changed c join before b on b.id = c.id`,
  );
  return { rows: n };
}

async function refuseIneligible(
  em: Em,
  reconciliationId: string,
  selection: RowSelection,
  eligible: ReturnType<typeof sql>,
  rule: string,
  failureType = 'InvalidRowState',
): Promise<void> {
  if (isEmptySelection(selection)) throw refuse('select rows by rowIds or a filter', 'NoRowsSelected');
  const ids = selection.rowIds && selection.rowIds.length > 0 ? selection.rowIds : null;
  const r = await one(
    em,
    sql<{ total: number; bad: number; bad_ids: string[] | null; missing: string[] | null }>`
      select count(*)::int as total,
             count(*) filter (where not (${eligible}))::int as bad,
             (array_agg(r.id order by r.id) filter (where not (${eligible})))[1:20] as bad_ids,
             (select array_agg(x)::text[] from unnest(${ids}::bigint[]) x
               where not exists (select 1 from reconciliation_row o where o.id = x and o.reconciliation_id = ${reconciliationId})) as missing
      from ${ROW_JOINS}
      where ${rowPredicate(reconciliationId, selection)}`,
  );
  if (r!.missing && r!.missing.length > 0) {
    throw refuse(`rows not in this reconciliation: ${r!.missing.slice(0, 20).join(', ')}`, 'NoRowsSelected');
  }
  if (r!.total === 0) throw refuse('no row matches the selection', 'NoRowsSelected');
  if (r!.bad > 0) {
    throw refuse(
      `${rule}; ${r!.bad} refused, e.g. rows ${r!.bad_ids!.join(', ')}`,
      failureType,
    );
  }
}
