import { serve, type ServerType } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../api/app';
import { answerClientErrors } from '../../api/client-errors';
import { levelsRoutes } from '../../api/routes/systems';
import type { Orm } from '../../db/orm';
import { affected, sql } from '../../db/sql';
import { freePort } from '../../platform/free-port';
import { upsertUser, type Kind, type Role } from '../../store/users';
import { freshDatabase, type TestDatabase } from './db';

/**
 * The API over real HTTP on its own database, without Temporal: enough for
 * external systems, levels, messages and movements, whose routes start no
 * workflow. The levels routes are added when the app does not serve them
 * yet (their owner registers them among the system reconciliation routes).
 */
export interface SystemsStack {
  db: TestDatabase;
  orm: Orm;
  baseUrl: string;
  /** JSON in, JSON out, as `as` (a user of SYSTEMS_USERS; admin-1 unless told). */
  json(method: string, path: string, body?: unknown, as?: string, headers?: Record<string, string>): Promise<Answer>;
  /** A raw body (CSV, JSON lines) with its content type. */
  upload(path: string, body: string, contentType: string, as: string, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  body: any;
  contentType: string | null;
}

/** Users of every systems stack; each one's token is `token-<name>`. Warehouse W1 unless told. */
export const SYSTEMS_USERS: Record<string, { role: Role; kind?: Kind; warehouses?: 'all' | string[] }> = {
  'admin-1': { role: 'admin', warehouses: 'all' },
  'manager-1': { role: 'manager', warehouses: ['W1'] },
  'manager-2': { role: 'manager', warehouses: ['W2'] },
  'auditor-1': { role: 'auditor', warehouses: ['W1'] },
  'dev-1': { role: 'counter', kind: 'device', warehouses: ['W1'] },
  'wms-dc1': { role: 'integration', kind: 'system', warehouses: ['W1'] },
  erp: { role: 'integration', kind: 'system', warehouses: ['W1'] },
};

export const systemsToken = (user: string) => `token-${user}`;

/** Creates the users once the warehouses they are granted exist. */
export async function createSystemsUsers(orm: Orm): Promise<void> {
  for (const [name, u] of Object.entries(SYSTEMS_USERS)) {
    await upsertUser(orm.em.fork(), name, u.role, systemsToken(name), { kind: u.kind ?? 'person', warehouses: u.warehouses ?? ['W1'] });
  }
}

export async function startSystemsStack(): Promise<SystemsStack> {
  const db = await freshDatabase();
  const deps = { orm: db.orm, temporal: {} as Client, taskQueue: 'systems-tests', decisionKey: new Uint8Array(32) };
  const app = createApp(deps);
  const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'probe', version: '0' } });
  if (!doc.paths?.['/system-reconciliations/{id}/levels']) levelsRoutes(app, deps);
  const port = await freePort();
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  answerClientErrors(server);
  const baseUrl = `http://127.0.0.1:${port}`;
  const send = async (method: string, path: string, body: string | undefined, contentType: string | undefined, as: string, headers: Record<string, string>) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${systemsToken(as)}`, ...(contentType ? { 'content-type': contentType } : {}), ...headers },
      body,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as any, contentType: res.headers.get('content-type') };
  };
  return {
    db,
    orm: db.orm,
    baseUrl,
    json: (method, path, body, as = 'admin-1', headers = {}) =>
      send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : 'application/json', as, headers),
    upload: (path, body, contentType, as, headers = {}) => send('POST', path, body, contentType, as, headers),
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await db.close();
    },
  };
}

/** One systems stack per test file; `setup` prepares data once it is up (its result is `fixture`). */
export function useSystemsStack<T = undefined>(setup?: (stack: SystemsStack) => Promise<T>) {
  const ctx = {} as { stack: SystemsStack; fixture: T };
  beforeAll(async () => {
    ctx.stack = await startSystemsStack();
    ctx.fixture = (await setup?.(ctx.stack)) as T;
  }, 120_000);
  afterAll(async () => ctx.stack?.close());
  return ctx;
}

/** A system reconciliation row as its workflow would create it (no workflow runs here). */
export async function createRun(
  orm: Orm,
  r: { sourceA: string; sourceB: string; warehouse?: string; selection?: Record<string, unknown>; deadlineMinutes?: number },
): Promise<string> {
  const id = randomUUID();
  await affected(orm.em.fork(), sql`
    insert into system_reconciliation (id, source_a, source_b, warehouse_code, selection, tolerance, cutoff_minutes, levels_deadline_minutes,
                                       manager_approval_limit, status, workflow_id, created_by)
    values (${id}, ${r.sourceA}, ${r.sourceB}, ${r.warehouse ?? 'W1'}, ${JSON.stringify(r.selection ?? {})}::jsonb, '{}'::jsonb, 60,
            ${r.deadlineMinutes ?? 60}, 1000, 'requesting', ${'test-' + id}, 'manager-1')`);
  return id;
}

/** The WMS of the tests: pushed, per location, four statuses, a CASE of 24 storage units. */
export const WMS = {
  name: 'wms-dc1',
  description: 'WMS of DC1',
  locationGranularity: 'location' as const,
  levels: { mode: 'pushed' as const },
  statuses: [
    { status: 'available', category: 'available' as const },
    { status: 'damaged', category: 'unavailable' as const, blockingReason: 'damaged' },
    { status: 'quality', category: 'unavailable' as const, blockingReason: 'quality' },
    { status: 'pending_putaway', category: 'unavailable' as const, blockingReason: 'pending_putaway' },
  ],
  units: [{ unit: 'CASE', storageUnits: 24 }],
};

/** The ERP of the tests: pulled from `url`, per warehouse, available and unavailable. */
export function erp(url: string, authorization: string, name = 'erp') {
  return {
    name,
    description: 'ERP',
    locationGranularity: 'warehouse' as const,
    levels: { mode: 'pulled' as const, url, authorization },
    statuses: [
      { status: 'available', category: 'available' as const },
      { status: 'unavailable', category: 'unavailable' as const },
    ],
    units: [],
  };
}
