import { affected, one, sql, type Em } from '../db/sql';

/** The long steps of a reconciliation; the names are the workflow's own (domain/reconciliation-status Step). */
export type ProgressPhase = 'snapshot' | 'populate' | 'release';

export interface StepProgress {
  phase: ProgressPhase;
  /** Rows the step has finished. */
  done: number;
  /** Rows the step will handle; null while not known (a single statement tells only when it ends). */
  total: number | null;
  /** done per second since the step started; null before any time has passed. */
  ratePerSecond: number | null;
  startedAt: string;
  updatedAt: string;
}

/**
 * Where a reconciliation's long steps stand, for a progress bar. Written by
 * the activities on a connection of their own (never inside the step's
 * transaction: a reader must see it while the step runs), one row per step,
 * so a write is one single-row statement. Advisory: it never decides anything.
 */
export async function beginPhase(em: Em, reconciliationId: string, phase: ProgressPhase, total: number | null): Promise<void> {
  await affected(em, sql`
    insert into step_progress (reconciliation_id, phase, done, total, started_at, updated_at)
    values (${reconciliationId}, ${phase}, 0, ${total}, clock_timestamp(), clock_timestamp())
    on conflict (reconciliation_id, phase) do update
      set done = 0, total = excluded.total, started_at = excluded.started_at, updated_at = excluded.updated_at`);
}

export async function advancePhase(em: Em, reconciliationId: string, phase: ProgressPhase, done: number): Promise<void> {
  await affected(em, sql`
    update step_progress set done = ${done}, updated_at = clock_timestamp()
    where reconciliation_id = ${reconciliationId} and phase = ${phase}`);
}

/** The step committed: what it did is the total now (found stock can add rows to a populate, for instance). */
export async function finishPhase(em: Em, reconciliationId: string, phase: ProgressPhase, done: number): Promise<void> {
  await affected(em, sql`
    update step_progress set done = ${done}, total = ${done}, updated_at = clock_timestamp()
    where reconciliation_id = ${reconciliationId} and phase = ${phase}`);
}

/** The step started last, or null before the first one. */
export async function currentProgress(em: Em, reconciliationId: string): Promise<StepProgress | null> {
  const r = await one(em, sql<{ phase: ProgressPhase; done: string; total: string | null; seconds: number; startedAt: Date; updatedAt: Date }>`
    select phase, done, total, extract(epoch from updated_at - started_at)::float8 as seconds,
           started_at as "startedAt", updated_at as "updatedAt"
    from step_progress where reconciliation_id = ${reconciliationId}
    order by started_at desc limit 1`);
  if (!r) return null;
  const done = Number(r.done);
  return {
    phase: r.phase,
    done,
    total: r.total === null ? null : Number(r.total),
    ratePerSecond: r.seconds > 0 ? Math.round((done / r.seconds) * 10) / 10 : null,
    startedAt: new Date(r.startedAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

/** Rows of a reconciliation in the given states: a step's total as it starts (one count over the document's rows, about 90 ms at 200,000). */
export async function rowsInState(em: Em, reconciliationId: string, states: string[]): Promise<number> {
  const r = await one(em, sql<{ n: number }>`
    select count(*)::int as n from reconciliation_row where reconciliation_id = ${reconciliationId} and state = any(${states}::text[])`);
  return r?.n ?? 0;
}
