import { affected, sql, type Em } from './sql';

/** One entry of the audit trail: who did what to which subject, with the state before and after. */
export async function audit(
  em: Em,
  e: { reconciliationId: string; actor: string; action: string; subject?: string; before?: unknown; after?: unknown },
): Promise<void> {
  await affected(
    em,
    sql`insert into audit_event (reconciliation_id, actor, action, subject, before, after)
        values (${e.reconciliationId}, ${e.actor}, ${e.action}, ${e.subject ?? ''},
                ${e.before === undefined ? null : JSON.stringify(e.before)}::jsonb,
                ${e.after === undefined ? null : JSON.stringify(e.after)}::jsonb)`,
  );
}
