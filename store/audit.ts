import type { RawBuilder } from 'kysely';
import { affected, rows, sql, type Em } from '../db/sql';

/**
 * The audit trail: who did what to which subject, with the state before and
 * after. The one home of `audit_event`'s statements; writes happen in the
 * transaction of the change they describe.
 */
export interface AuditEvent {
  reconciliationId: string;
  actor: string;
  action: string;
  subject?: string;
  before?: unknown;
  after?: unknown;
}

export async function audit(em: Em, e: AuditEvent): Promise<void> {
  await affected(
    em,
    sql`insert into audit_event (reconciliation_id, actor, action, subject, before, after)
        values (${e.reconciliationId}, ${e.actor}, ${e.action}, ${e.subject ?? ''},
                ${e.before === undefined ? null : JSON.stringify(e.before)}::jsonb,
                ${e.after === undefined ? null : JSON.stringify(e.after)}::jsonb)`,
  );
}

/**
 * Audit events fed by a query, for set-based changes (one event per changed
 * row). `select` yields, in order: reconciliation_id, actor, action, subject,
 * before, after. Embed it as a CTE of the statement that makes the change.
 */
export function auditFrom(select: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`insert into audit_event (reconciliation_id, actor, action, subject, before, after) ${select}`;
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
