import { randomUUID } from 'node:crypto';
import { affected, one, sql } from '../../db/sql';
import type { Orm } from '../../db/orm';
import { recordExceptions } from '../../store/system-reconciliation/exceptions';
import { call } from './access-http';
import { ALL_TABLES, dbFingerprint } from './db-fingerprint';
import { tokenOf, type Stack } from './stack';

/**
 * System reconciliation runs made directly in SQL, as a comparison would
 * leave them (the comparison itself is tested elsewhere): a run with its
 * summary, the levels its sources reported and its difference lines.
 */
export interface RunSpec {
  warehouse: string;
  sourceA?: string;
  sourceB?: string;
  /** ISO timestamp; null: not yet compared. */
  comparedAt: string | null;
  /** summary.keys: how many keys the comparison compared. */
  keys?: number;
}

export interface LineSpec {
  item: string;
  location?: string;
  category?: string;
  quantityA: number;
  quantityB: number;
  value: number;
  outcome?: 'exception' | 'explainable';
  rootCause?: string;
  state?: 'open' | 'deleted' | 'disappeared' | 'processing' | 'processed' | 'failed' | 'skipped';
}

export async function insertRun(orm: Orm, spec: RunSpec): Promise<{ id: string; number: number }> {
  const id = randomUUID();
  const summary = spec.keys === undefined ? {} : { keys: spec.keys };
  return (await one(orm.em.fork(), sql<{ id: string; number: number }>`
    insert into system_reconciliation (id, source_a, source_b, warehouse_code, selection, tolerance, cutoff_minutes, levels_deadline_minutes,
                                       manager_approval_limit, status, workflow_id, created_by, compared_at, summary)
    values (${id}, ${spec.sourceA ?? 'ERP'}, ${spec.sourceB ?? 'WMS'}, ${spec.warehouse}, '{}'::jsonb, '{"default":{}}'::jsonb, 60, 60,
            1000, 'review', ${`system-reconciliation-${id}`}, 'manager-1', ${spec.comparedAt}::timestamptz, ${JSON.stringify(summary)}::jsonb)
    returning id, number::int`))!;
}

/** Difference lines 1..n of the run (difference = B - A), in the run's warehouse. */
export async function insertLines(orm: Orm, runId: string, lines: LineSpec[]): Promise<void> {
  const em = orm.em.fork();
  let n = (await one(em, sql<{ n: number }>`select coalesce(max(line), 0)::int as n from system_difference where system_reconciliation_id = ${runId}`))!.n;
  for (const l of lines) {
    n++;
    await affected(em, sql`
      insert into system_difference (system_reconciliation_id, line, item_id, warehouse_code, location_code, category,
                                     quantity_a, quantity_b, difference, value, outcome, root_cause, state)
      select r.id, ${n}, i.id, r.warehouse_code, ${l.location ?? ''}, ${l.category ?? 'available'}, ${l.quantityA}, ${l.quantityB},
             ${l.quantityB - l.quantityA}, ${l.value}, ${l.outcome ?? 'exception'}, ${l.rootCause ?? 'unknown'}, ${l.state ?? 'open'}
      from system_reconciliation r, item i where r.id = ${runId} and i.code = ${l.item}`);
  }
}

/** Levels a source reported for the run (in its own status and unit). */
export async function insertLevels(
  orm: Orm,
  runId: string,
  source: string,
  levels: Array<{ item: string; location?: string; status?: string; quantity: number }>,
): Promise<void> {
  const em = orm.em.fork();
  let n = 0;
  for (const l of levels) {
    n++;
    await affected(em, sql`
      insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
      select r.id, ${source}, ${n}, ${l.item}, r.warehouse_code, ${l.location ?? ''}, ${l.status ?? 'available'}, ${l.quantity}, 'PCS'
      from system_reconciliation r where r.id = ${runId}`);
  }
}

/** A compared run with these lines, its exceptions recorded in the queue. */
export async function runWithLines(orm: Orm, spec: RunSpec, lines: LineSpec[]) {
  const run = await insertRun(orm, spec);
  await insertLines(orm, run.id, lines);
  const recorded = await recordExceptions(orm.em.fork(), run.id);
  return { ...run, ...recorded };
}

/** The exception a run's line joined. */
export async function exceptionOfLine(orm: Orm, runId: string, line: number): Promise<number> {
  const r = await one(orm.em.fork(), sql<{ id: number | null }>`
    select exception_id::int as id from system_difference where system_reconciliation_id = ${runId} and line = ${line}`);
  if (!r?.id) throw new Error(`line ${line} of run ${runId} is in no exception`);
  return r.id;
}

/** A GET whose answer may be CSV (the stack's own http parses JSON only), as `user`. */
export function getText(stack: Stack, path: string, user = 'manager-1') {
  return call(stack.baseUrl, { method: 'GET', path, token: tokenOf(user) });
}

/** Every table the fingerprint covers, and the system reconciliation ones this work writes. */
export const TABLES_WITH_EXCEPTIONS = [...ALL_TABLES, 'system_reconciliation', 'system_difference', 'system_exception', 'system_exception_event'];

/** The database's fingerprint including the exception queue (compare with changedTables). */
export function fingerprint(orm: Orm) {
  return dbFingerprint(orm, TABLES_WITH_EXCEPTIONS);
}
