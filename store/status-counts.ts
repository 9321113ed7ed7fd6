import { rows, sql, type Em } from '../db/sql';

/** Reconciliations per status, for the metrics scrape: one grouped count over the documents (one row each, not their rows). */
export async function reconciliationsPerStatus(em: Em): Promise<Map<string, number>> {
  const found = await rows(em, sql<{ status: string; n: number }>`select status, count(*)::int as n from reconciliation group by status`);
  return new Map(found.map((r) => [r.status, r.n]));
}
