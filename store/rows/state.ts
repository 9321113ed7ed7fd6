import { sql, type RawBuilder } from 'kysely';

/**
 * A row's state as every reader sees it (`r` is reconciliation_row).
 *
 * Release planning moves only the rows it has something to post for: they
 * go to `posting`, and the posting batches take them to `processed` or
 * `failed`. A decided row with nothing to post is processed from the moment
 * the release is planned, but is not rewritten: it keeps `counted` on disk,
 * and the document's `released_at` (stamped by the planning, in its
 * transaction: store/release/plan.ts) makes it read as `processed`.
 * At a million rows with 100,000 differences, rewriting the other 900,000
 * rows was most of the planning's time.
 *
 * Writers that select rows by state go by the stored state; nothing may
 * write a `counted` row once the release is planned (the workflow accepts no
 * review decision from `releasing` on).
 */
export function rowState(reconciliationId: string): RawBuilder<string> {
  return sql<string>`(case when r.state = 'counted' and ${releasePlanned(reconciliationId)} then 'processed' else r.state end)`;
}

/** Evaluated once per statement (an uncorrelated subquery), not once per row. */
function releasePlanned(reconciliationId: string): RawBuilder<boolean> {
  return sql<boolean>`coalesce((select released_at is not null from reconciliation where id = ${reconciliationId}), false)`;
}
