import type { RawBuilder } from 'kysely';
import { affected, rows, sql, type Em } from '../db/sql';

/**
 * The audit trail: who did what to which subject, with the state before and
 * after. The one home of `audit_event`'s statements; writes happen in the
 * transaction of the change they describe.
 */
export interface AuditEvent {
  /** Absent for events that concern no reconciliation (users, tokens, grants). */
  reconciliationId?: string;
  /** Filled from the reconciliation when absent (a database trigger). */
  warehouse?: string;
  actor: string;
  action: string;
  subject?: string;
  before?: unknown;
  after?: unknown;
}

export async function audit(em: Em, e: AuditEvent): Promise<void> {
  await affected(
    em,
    sql`insert into audit_event (reconciliation_id, warehouse_code, actor, action, subject, before, after)
        values (${e.reconciliationId ?? null}, ${e.warehouse ?? null}, ${e.actor}, ${e.action}, ${e.subject ?? ''},
                ${e.before === undefined ? null : JSON.stringify(e.before)}::jsonb,
                ${e.after === undefined ? null : JSON.stringify(e.after)}::jsonb)`,
  );
}

/**
 * Audit events fed by a query, for set-based changes (one event per changed
 * row). `select` yields, in order: reconciliation_id, actor, action, subject,
 * before, after. Embed it as a CTE of the statement that makes the change.
 * The warehouse is joined here, once per statement, so the per-row trigger
 * that would look it up is skipped (migration 0009).
 */
export function auditFrom(select: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`insert into audit_event (reconciliation_id, warehouse_code, actor, action, subject, before, after)
    select e.reconciliation_id, d.warehouse_code, e.actor, e.action, e.subject, e.before, e.after
    from (${select}) as e (reconciliation_id, actor, action, subject, before, after)
    left join reconciliation d on d.id = e.reconciliation_id`;
}

/** The audit trail of a reconciliation, oldest first, keyset-paginated by event id. */
export async function auditTrail(em: Em, reconciliationId: string, page: { after: number; limit: number }) {
  const events = await rows(
    em,
    sql<{ id: number }>`
      select id::int, at, actor, action, subject, before, after from audit_event
      where reconciliation_id = ${reconciliationId} and id > ${page.after}
      order by id limit ${page.limit}`,
  );
  const last = events[events.length - 1];
  return { events, next: events.length === page.limit && last ? last.id : null };
}

export interface AuditQuery {
  reconciliationId?: string;
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
  after: number;
  limit: number;
}

/**
 * The audit trail across reconciliations, filtered by who, what and when,
 * limited to the warehouses the reader may see (`warehouses` 'all', or a
 * list); `identity` adds events about users and tokens (no warehouse).
 */
export async function searchAudit(em: Em, q: AuditQuery, scope: { warehouses: 'all' | string[]; identity: boolean }) {
  const codes = scope.warehouses === 'all' ? null : scope.warehouses;
  const events = await rows(
    em,
    sql<{ id: number }>`
      select id::int, at, reconciliation_id as "reconciliationId", warehouse_code as warehouse, actor, action, subject, before, after
      from audit_event
      where id > ${q.after}
        and (${q.reconciliationId ?? null}::uuid is null or reconciliation_id = ${q.reconciliationId ?? null}::uuid)
        and (${q.actor ?? null}::text is null or actor = ${q.actor ?? null}::text)
        and (${q.action ?? null}::text is null or action = ${q.action ?? null}::text)
        and (${q.from ?? null}::timestamptz is null or at >= ${q.from ?? null}::timestamptz)
        and (${q.to ?? null}::timestamptz is null or at < ${q.to ?? null}::timestamptz)
        and (case when warehouse_code is null then ${scope.identity}
                  else ${codes}::text[] is null or warehouse_code = any(${codes}::text[]) end)
      order by id limit ${q.limit}`,
  );
  const last = events[events.length - 1];
  return { events, next: events.length === q.limit && last ? last.id : null };
}
