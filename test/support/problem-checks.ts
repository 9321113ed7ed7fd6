import { expect } from 'vitest';
import { one, rows, sql } from '../../db/sql';
import type { Stack } from './stack';

/**
 * What every refusal must look like, and what a refused request must leave
 * behind (nothing), shared by the trust tests: parallel decisions,
 * idempotency, input bounds, failed steps and cancels.
 */

/** A stack trace or PostgreSQL's own words: neither may ever reach a caller. */
export const LEAK = /at .*\.ts:\d+|SQLSTATE|violates|numeric field overflow|syntax error|invalid byte sequence|relation "|node_modules|\bpg_|unsupported Unicode/i;

export interface HttpAnswer {
  status: number;
  body: any;
  contentType: string | null;
}

/**
 * A refusal: exactly `status`, application/problem+json, a body whose own
 * status agrees, whose type ends with `type` when given, and no leak.
 */
export function expectProblem(res: HttpAnswer, status: number, type?: string, what = ''): void {
  const label = `${what} ${JSON.stringify(res.body)}`;
  expect(res.status, label).toBe(status);
  expect(res.contentType, label).toContain('application/problem+json');
  expect(res.body?.status, label).toBe(status);
  expect(typeof res.body?.title, label).toBe('string');
  if (type) expect(res.body.type, label).toBe(`https://stocktake.dev/problems/${type}`);
  expect(JSON.stringify(res.body), label).not.toMatch(LEAK);
}

/** A plain-words text (a reason, a detail) that carries no database or program text. */
export function expectPlainWords(text: unknown, what = ''): void {
  expect(typeof text, what).toBe('string');
  expect((text as string).length, what).toBeGreaterThan(0);
  expect(text, what).not.toMatch(LEAK);
}

/** Rows per table: compared before and after refused requests to prove nothing was written. */
export const WRITTEN_TABLES = [
  'reconciliation',
  'reconciliation_row',
  'status_transition',
  'count_order',
  'count_submission',
  'count_entry',
  'audit_event',
  'idempotency_record',
  'posting',
  'movement',
  'adjustment_order',
  'adjustment_order_line',
] as const;

export async function tableCounts(stack: Stack): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of WRITTEN_TABLES) {
    counts[table] = (await one(stack.db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`))!.n;
  }
  return counts;
}

/** The stock as it stands: quantity per position and blocked quantity per position and reason. */
export async function stockFingerprint(stack: Stack, warehouse: string): Promise<string> {
  const r = await one(stack.db.orm.em.fork(), sql<{ stock: string | null; blocked: string | null; positions: number }>`
    select (select sum(quantity)::text from stock_position where warehouse_code = ${warehouse}) as stock,
           (select sum(b.quantity)::text from blocking b join stock_position p on p.id = b.stock_position_id
             where p.warehouse_code = ${warehouse}) as blocked,
           (select count(*)::int from stock_position where warehouse_code = ${warehouse}) as positions`);
  return JSON.stringify(r);
}

/** Audit events of a reconciliation with this action. */
export async function auditEvents(stack: Stack, reconciliationId: string, action: string): Promise<Array<{ subject: string; actor: string; after: any }>> {
  return rows(stack.db.orm.em.fork(), sql<{ subject: string; actor: string; after: any }>`
    select subject, actor, after from audit_event where reconciliation_id = ${reconciliationId} and action = ${action} order by id`);
}

/** The status the database holds for a reconciliation (the workflow's persisted copy). */
export async function storedStatus(stack: Stack, reconciliationId: string): Promise<{ status: string; failure: any; closedAt: string | null }> {
  return (await one(stack.db.orm.em.fork(), sql<{ status: string; failure: any; closedAt: string | null }>`
    select status, failure, closed_at as "closedAt" from reconciliation where id = ${reconciliationId}`))!;
}

/** p-th percentile (nearest rank) of durations in ms. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Runs `request` and measures how long it took, in ms. */
export async function timed<T>(request: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await request();
  return { result, ms: performance.now() - started };
}
