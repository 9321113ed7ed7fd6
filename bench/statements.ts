import { affected, rows, sql, type Em } from '../db/sql';

/**
 * Where a phase's database time goes: pg_stat_statements (preloaded by
 * bench/postgres.ts) is reset before Stocktake's side of a phase and read
 * after it, so each phase in bench/results.json names its costliest
 * statements. The baseline side is not profiled; it is one or two statements.
 */
export interface StatementCost {
  /** The statement as normalised by PostgreSQL, whitespace collapsed and cut to 160 characters. */
  statement: string;
  calls: number;
  totalMs: number;
  rows: number;
}

export async function enableStatementProfile(em: Em): Promise<void> {
  await affected(em, sql`create extension if not exists pg_stat_statements`);
}

export async function resetStatementProfile(em: Em): Promise<void> {
  await rows(em, sql`select pg_stat_statements_reset()`);
}

/** The `limit` statements that took the most execution time since the last reset (the profile's own queries left out). */
export async function costliestStatements(em: Em, limit = 6): Promise<StatementCost[]> {
  const found = await rows(em, sql<{ statement: string; calls: string; total_ms: number; rows: string }>`
    select query as statement, calls, total_exec_time as total_ms, rows
    from pg_stat_statements
    where query not like '%pg_stat_statements%'
    order by total_exec_time desc limit ${limit}`);
  return found.map((s) => ({
    statement: s.statement.replace(/\s+/g, ' ').trim().slice(0, 160),
    calls: Number(s.calls),
    totalMs: Math.round(s.total_ms),
    rows: Number(s.rows),
  }));
}
