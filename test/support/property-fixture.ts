import { expect } from 'vitest';
import { rows, sql } from '../../db/sql';
import { upsertUser } from '../../store/users';
import { call, type Answer, type Call } from './access-http';
import { countAll, ONE_MORE } from './counting';
import { ALL_TABLES, changedTables, dbFingerprint } from './db-fingerprint';
import { smallWarehouse } from './fixtures';
import { flow } from './flow';
import { tokenOf, type Stack } from './stack';

/**
 * What the property tests fire their generated requests at: real
 * reconciliations driven over HTTP to the states that matter, in a warehouse
 * the callers are granted (W1) and one they are not (W2), and the checks
 * every generated refusal must pass.
 */

export interface Document {
  id: string;
  /** Its round-0 count order and the device it is assigned to. */
  order: number;
  device: string;
  rows: number[];
}

export interface PropertyFixture {
  /** W1, zone A: counting, its order open and assigned to dev-1. */
  counting: Document;
  /** W1, zone B: counted by dev-1 (one more LOT than expected: a row To Approve), in review, never approved. */
  review: Document;
  /** W1, whole warehouse: counted, approved, released; `line` is a line of its adjustment order. */
  released: Document & { line: number };
  /** W2, whole warehouse: counting, its order assigned to dev-2. A manager granted W1 only must not learn it exists. */
  foreign: Document;
  /** An external system registered by admin-1 (pushed levels), so that its mappings can be sent. */
  system: string;
  /** A system reconciliation of W1, the book against `system`, waiting for the system's levels (status requesting). */
  run: string;
}

/** A manager granted W1 only: everything of W2 is, to them, as if it did not exist. */
export const MANAGER_W1 = 'manager-w1';

export async function propertyFixture(stack: Stack): Promise<PropertyFixture> {
  const { orm } = stack.db;
  await smallWarehouse(orm, 'W1');
  await smallWarehouse(orm, 'W2');
  await upsertUser(orm.em.fork(), MANAGER_W1, 'manager', tokenOf(MANAGER_W1), { warehouses: ['W1'] });
  const f = flow(stack);

  const rowIds = async (id: string) =>
    (await rows(orm.em.fork(), sql<{ id: number }>`select id::int from reconciliation_row where reconciliation_id = ${id} order by id`)).map((r) => r.id);
  const firstOrder = async (id: string) => (await f.orders(id, 0))[0]!.id;
  const counting = async (warehouse: string, scope: Record<string, unknown>, device: string): Promise<Document> => {
    const rec = await f.create({ warehouse, scope, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    await f.decide(rec.id, 'initial-count');
    const order = await firstOrder(rec.id);
    await f.assignIfOpen(order, device);
    return { id: rec.id, order, device, rows: await rowIds(rec.id) };
  };
  const counted = async (warehouse: string, scope: Record<string, unknown>): Promise<Document> => {
    const rec = await f.create({ warehouse, scope, tolerance: { default: {} } });
    await f.waitFor(rec.id, 'ready');
    await countAll(stack, f, rec.id, ONE_MORE);
    return { id: rec.id, order: await firstOrder(rec.id), device: 'dev-1', rows: await rowIds(rec.id) };
  };
  const released = async (): Promise<Document & { line: number }> => {
    const doc = await counted('W1', { kind: 'warehouse' });
    await f.decide(doc.id, 'approvals', { filter: { approval: 'to_approve' } });
    await f.decide(doc.id, 'release');
    await f.waitFor(doc.id, 'released');
    const order = await stack.http('GET', `/reconciliations/${doc.id}/adjustment-order`);
    expect(order.body.lines.length, JSON.stringify(order.body)).toBeGreaterThan(0);
    return { ...doc, line: order.body.lines[0].line as number };
  };

  // The released one covers all of W1, so W1's zones can be counted again only after it.
  const [done, foreign] = await Promise.all([released(), counting('W2', { kind: 'warehouse' }, 'dev-2')]);
  const [inCount, inReview] = await Promise.all([
    counting('W1', { kind: 'zones', zones: ['A'] }, 'dev-1'),
    counted('W1', { kind: 'zones', zones: ['B'] }),
  ]);
  const system = await call(stack.baseUrl, {
    method: 'POST', path: '/systems', token: tokenOf('admin-1'),
    body: { name: 'prop-wms', locationGranularity: 'location', levels: { mode: 'pushed' }, statuses: [{ status: 'available', category: 'available' }] },
  });
  expect(system.status, system.text).toBe(201);
  const run = await call(stack.baseUrl, {
    method: 'POST', path: '/system-reconciliations', token: tokenOf('manager-1'),
    body: { sourceA: 'book', sourceB: 'prop-wms', warehouse: 'W1', selection: { items: ['SER'] }, cutoffMinutes: 0 },
  });
  expect(run.status, run.text).toBe(201);
  return { counting: inCount, review: inReview, released: done, foreign, system: 'prop-wms', run: run.body.id as string };
}

/**
 * The tables a refused request could touch: every table of the schema, read
 * live so that a table added later is watched too. Nothing is excluded: the
 * failed-authentication throttle lives in the API's memory, a refusal is not
 * audited (only decisions, counts, postings and identity changes are), and
 * an Idempotency-Key is recorded only with the result it applied. The
 * migrations' own bookkeeping table is no data a request can write.
 */
export async function watchedTables(stack: Stack): Promise<string[]> {
  const live = await rows(stack.db.orm.em.fork(), sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'mikro_orm_%'
    order by table_name`);
  return [...new Set([...ALL_TABLES, ...live.map((t) => t.name)])];
}

/** A stack trace, a path into the program, or PostgreSQL's or the runtime's own words: never in any answer. */
export const LEAKS = ['    at ', 'node_modules', '.ts:', 'relation ', 'violates', 'syntax error', 'pg_', 'SQLSTATE', 'duplicate key', 'PostgresError', 'TypeError', 'undefined'];

/** A generated request, as sent: who, what, and a label for the failure message. */
export interface Sent extends Call {
  label?: string;
}

/** What is wrong with an answer to a request that had to be refused: not a 4xx problem document, or leaking. */
export function refusalIssues(sent: Sent, res: Answer): string[] {
  const issues: string[] = [];
  if (res.status < 400 || res.status > 499) issues.push(`status ${res.status}`);
  if (!res.contentType?.startsWith('application/problem+json')) issues.push(`content-type ${res.contentType}`);
  const body = res.body as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null) issues.push('no JSON body');
  else {
    for (const field of ['type', 'title', 'detail'] as const) if (typeof body[field] !== 'string') issues.push(`problem without ${field}`);
    if (body.status !== res.status) issues.push(`problem status ${String(body.status)}`);
  }
  // Text the request itself carried may come back (an echoed path); anything else on the list is a leak.
  const asked = `${sent.path} ${sent.raw?.text ?? JSON.stringify(sent.body ?? '')}`;
  for (const leak of LEAKS) if (res.text.includes(leak) && !asked.includes(leak)) issues.push(`leaks ${JSON.stringify(leak)}`);
  return issues;
}

/**
 * Sends a generated request and fails (with what was sent, shortened) unless
 * it is refused properly and the database is exactly as it was before it.
 */
export async function expectRefusedUnchanged(stack: Stack, tables: string[], sent: Sent): Promise<Answer> {
  // Compared with the database just before this request, so that a change is blamed on the request that made it (and shrinks to it).
  const before = await dbFingerprint(stack.db.orm, tables);
  const res = await call(stack.baseUrl, sent);
  const changed = changedTables(before, await dbFingerprint(stack.db.orm, tables));
  const issues = [...refusalIssues(sent, res), ...(await Promise.all(changed.map(async (t) => `changed table ${t}, now: ${await tableText(stack, t)}`)))];
  expect(issues, `${describeSent(sent)}\n-> ${res.status} ${res.text.slice(0, 600)}`).toEqual([]);
  return res;
}

/**
 * The watched tables, once the database is quiet: a step reports its
 * progress just after its commit (the status is already visible), so two
 * fingerprints 300 ms apart must agree before a property starts, or a late
 * write of the fixture would be blamed on a generated request.
 */
export async function settledTables(stack: Stack): Promise<string[]> {
  const tables = await watchedTables(stack);
  let fingerprint = await dbFingerprint(stack.db.orm, tables);
  for (let tries = 0; tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await dbFingerprint(stack.db.orm, tables);
    if (changedTables(fingerprint, again).length === 0) return tables;
    fingerprint = again;
  }
  throw new Error('the database did not settle within 15 s: something keeps writing');
}

export function describeSent(s: Sent): string {
  const short = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}... (${text.length} characters)` : text);
  const body = s.raw ? `${s.raw.type}: ${short(s.raw.text)}` : s.body === undefined ? '(no body)' : short(JSON.stringify(s.body));
  return `${s.label ?? ''} ${s.method} ${short(s.path)} as ${s.token ?? 'nobody'} ${JSON.stringify(s.headers ?? {})}\n${body}`;
}

/**
 * Property-run settings: `numRuns` as given, and FC_SEED / FC_PATH from the
 * environment to replay a failure fast-check reported (its message prints both).
 */
export function runs(numRuns: number): { numRuns: number; seed?: number; path?: string } {
  const seed = process.env.FC_SEED;
  return { numRuns, ...(seed ? { seed: Number(seed), path: process.env.FC_PATH } : {}) };
}

/** The bearer token of a test user. */
export const as = tokenOf;

/** A changed table's content (its last rows), shortened, for the failure message. */
async function tableText(stack: Stack, table: string): Promise<string> {
  const all = await rows(stack.db.orm.em.fork(), sql.raw<Record<string, unknown>>(`select * from ${table} order by 1 desc limit 5`));
  return JSON.stringify(all).slice(0, 800);
}
