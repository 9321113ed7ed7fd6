import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../api/app';
import type { Orm } from '../db/orm';
import { one, sql } from '../db/sql';
import { upsertUser, type Kind, type Role } from '../store/users';
import { call, freshLoopback, type Answer } from './support/access-http';
import { countAll, ONE_MORE } from './support/counting';
import { changedTables, dbFingerprint } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { flow } from './support/flow';
import { expectProblem } from './support/problem-checks';
import { tokenOf, useStack, type Stack } from './support/stack';

/**
 * The access matrix: every operation of the API's OpenAPI document, called
 * by every kind of caller (a counter device on its own order, a counter
 * device on another's, manager, senior manager, auditor, admin, no token),
 * on things in a warehouse the caller is granted (W1) and one it is not
 * (W2). Each cell says what must happen: allowed, 403, 404 (hidden, exactly
 * as if it did not exist) or 401. A refused write changes nothing in the
 * database. An operation the document has and the table lacks fails the run.
 */

/** Who calls, in the matrix's column order. */
const ROLES = ['dev-own', 'dev-other', 'manager', 'senior', 'auditor', 'admin', 'none'] as const;
type RoleKey = (typeof ROLES)[number];
type Principal = { name: string; role: Role; kind: Kind };
/** All granted W1 only. dev-own counts the W1 order under test; dev-other counts another W1 order. */
const PRINCIPALS: Record<Exclude<RoleKey, 'none'>, Principal> = {
  'dev-own': { name: 'dev-own', role: 'counter', kind: 'device' },
  'dev-other': { name: 'dev-other', role: 'counter', kind: 'device' },
  manager: { name: 'manager-w1', role: 'manager', kind: 'person' },
  senior: { name: 'senior-w1', role: 'senior_manager', kind: 'person' },
  auditor: { name: 'auditor-w1', role: 'auditor', kind: 'person' },
  admin: { name: 'admin-w1', role: 'admin', kind: 'person' },
};
const COUNTER_ROLES: RoleKey[] = ['dev-own', 'dev-other'];

/** A: allowed (anything but 401/403/404-for-access), F: 403, H: 404 as if absent, U: 401. One letter per role, in ROLES order. */
type Outcome = 'A' | 'F' | 'H' | 'U';
const WORD: Record<Outcome, string> = { A: 'allowed', F: 'forbidden', H: 'hidden', U: 'unauthenticated' };
type Wh = 'own' | 'other';

/** The things a request is about, in one warehouse. */
interface Target {
  warehouse: string;
  /** A reconciliation in counting, with rows and open orders. */
  counting: string;
  rowId: number;
  /** An open order of `counting`, assigned to `orderDevice`. */
  order: number;
  orderDevice: string;
  /** A released reconciliation with an adjustment order. */
  released: string;
  line: number;
}

interface Op {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** Cells run phase by phase, so an allowed destructive call (complete, cancel, rotate own token) runs after everything it would disturb. */
  phase: number;
  own: string;
  /** Outcomes on the other warehouse (W2), for operations about a thing in a warehouse. */
  other?: string;
  req(t: Target, n: number): { path: string; body?: unknown };
  /** The 403's problem type when it is not `forbidden`. */
  forbiddenType?(wh: Wh, role: RoleKey): string | undefined;
  /** Further checks of an allowed answer: a list of what is wrong. */
  check?(res: Answer, c: { wh: Wh; role: RoleKey; t: Target; f: Fixture }): string[];
  /** Puts back what an allowed call changed that later cells rely on. */
  after?(stack: Stack, role: RoleKey): Promise<void>;
}

const EVERYONE = 'AAAAAAU';
const ADMIN_ONLY = 'FFFFFAU';
/** Reconciliation data: readers (manager, senior, auditor) of the warehouse; counters never (a count stays blind), nor admins. */
const READ = { own: 'FFAAAFU', other: 'FFHHHFU' };
/** Decisions: managers of the warehouse. */
const DECIDE = { own: 'FFAAFFU', other: 'FFHHFFU' };
/** A count order: its own counter and the readers of the warehouse; another counter learns nothing (404). */
const ORDER_READ = { own: 'AHAAAFU', other: 'HHHHHFU' };
/** Counting an order: only the one it is assigned to. A manager who could count is told 404 for an order that is not theirs. */
const ORDER_COUNT = { own: 'AHHHFFU', other: 'HHHHFFU' };

interface Fixture {
  own: Target;
  other: Target;
  /** Orders of W1 in counting: dev-own's (the target) and dev-other's. */
  otherOrderW1: number;
  /** Every reconciliation of W2: no answer to a caller granted W1 only may name one. */
  w2Ids: string[];
  /** An open order of W2 assigned to nobody. */
  unassignedW2: number;
}

const ids = (list: unknown): unknown[] => (Array.isArray(list) ? list.map((x: { id?: unknown }) => x.id) : []);

const decision = (path: string, body?: (t: Target) => unknown): Op => ({
  method: 'POST',
  path: `/reconciliations/{id}/${path}`,
  phase: path === 'cancellation' ? 4 : 1,
  ...DECIDE,
  req: (t) => ({ path: `/reconciliations/${t.counting}/${path}`, body: body?.(t) }),
});

const OPS: Op[] = [
  // Who one is, and one's own token: everyone authenticated.
  {
    method: 'GET', path: '/me', phase: 0, own: EVERYONE, req: () => ({ path: '/me' }),
    check: (res, c) => (res.body.name === PRINCIPALS[c.role as Exclude<RoleKey, 'none'>].name ? [] : [`/me names ${res.body.name}`]),
  },
  {
    method: 'POST', path: '/me/token-rotation', phase: 5, own: EVERYONE, req: () => ({ path: '/me/token-rotation', body: {} }),
    // The rotation revoked the caller's token: the fixture's token is given back for anything that runs later.
    after: async (stack, role) => {
      if (role !== 'none') await grant(stack, PRINCIPALS[role]);
    },
  },
  { method: 'GET', path: '/warehouses', phase: 0, own: EVERYONE, req: () => ({ path: '/warehouses' }),
    check: (res, c) => {
      const codes = (res.body.warehouses as Array<{ code: string }>).map((w) => w.code).join(',');
      const expected = c.role === 'admin' ? 'W1,W2' : 'W1';
      return codes === expected ? [] : [`warehouses ${codes}, expected ${expected}`];
    } },
  // Identities: admins only.
  { method: 'POST', path: '/users', phase: 1, own: ADMIN_ONLY,
    req: (_t, n) => ({ path: '/users', body: { name: `matrix-user-${n}`, role: 'counter', kind: 'device', warehouses: ['W1'] } }) },
  { method: 'GET', path: '/users', phase: 0, own: ADMIN_ONLY, req: () => ({ path: '/users' }) },
  { method: 'GET', path: '/users/{name}', phase: 0, own: ADMIN_ONLY, req: () => ({ path: '/users/spare' }) },
  { method: 'PUT', path: '/users/{name}/warehouses', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/users/spare/warehouses', body: { warehouses: ['W1'] } }) },
  { method: 'POST', path: '/users/{name}/token-rotation', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/users/spare/token-rotation', body: {} }) },
  { method: 'POST', path: '/users/{name}/token-revocation', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/users/spare/token-revocation' }) },
  // The audit trail across reconciliations: readers see their warehouses; auditors and admins also identity events.
  {
    method: 'GET', path: '/audit', phase: 0, own: 'FFAAAAU', req: () => ({ path: '/audit?limit=1000' }),
    check: (res, c) => {
      const events = res.body.events as Array<{ warehouse: string | null; action: string }>;
      const wrong = events.filter((e) =>
        c.role === 'admin' ? e.warehouse !== null : c.role === 'auditor' ? e.warehouse !== null && e.warehouse !== 'W1' : e.warehouse !== 'W1');
      const problems = wrong.map((e) => `${e.action} of warehouse ${e.warehouse} shown`);
      if (c.role !== 'admin' && !events.some((e) => e.warehouse === 'W1')) problems.push('no event of W1 shown');
      return problems;
    },
  },
  // Reconciliations.
  {
    method: 'POST', path: '/reconciliations', phase: 1, own: 'FFAAFFU', other: 'FFFFFFU',
    // Valid and harmless: the warehouse already has an active reconciliation over the same scope (409 when allowed).
    req: (t) => ({ path: '/reconciliations', body: { warehouse: t.warehouse, scope: { kind: 'warehouse' } } }),
    forbiddenType: (wh, role) => (wh === 'other' && (role === 'manager' || role === 'senior') ? 'warehouse-not-granted' : undefined),
  },
  {
    method: 'GET', path: '/reconciliations', phase: 0, own: 'FFAAAFU', req: () => ({ path: '/reconciliations?limit=500' }),
    check: (res, c) => {
      const listed = ids(res.body.reconciliations);
      return [c.t.counting, c.t.released].every((id) => listed.includes(id)) ? [] : ['a reconciliation of W1 is missing from the list'];
    },
  },
  { method: 'GET', path: '/reconciliations/{id}', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}` }) },
  { method: 'GET', path: '/reconciliations/{id}/rows', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/rows` }) },
  { method: 'GET', path: '/reconciliations/{id}/rows/{rowId}', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/rows/${t.rowId}` }) },
  { method: 'GET', path: '/reconciliations/{id}/count-orders', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/count-orders` }) },
  { method: 'GET', path: '/reconciliations/{id}/report', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/report` }) },
  { method: 'GET', path: '/reconciliations/{id}/rows.csv', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/rows.csv` }) },
  { method: 'GET', path: '/reconciliations/{id}/audit', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/audit` }) },
  { method: 'GET', path: '/reconciliations/{id}/adjustment-order', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.released}/adjustment-order` }) },
  {
    method: 'DELETE', path: '/reconciliations/{id}/adjustment-order/lines/{line}', phase: 1, ...DECIDE,
    req: (t) => ({ path: `/reconciliations/${t.released}/adjustment-order/lines/${t.line}`, body: { reason: 'access matrix' } }),
  },
  // Decisions, on a reconciliation in counting: allowed ones are valid but do not fit the status (409), except the cancel, which runs last.
  decision('initial-count'),
  decision('recount-marks', (t) => ({ rowIds: [t.rowId] })),
  decision('recount-orders'),
  decision('approvals', (t) => ({ rowIds: [t.rowId] })),
  decision('row-deletions', (t) => ({ rowIds: [t.rowId], reason: 'access matrix' })),
  decision('release'),
  decision('failed-rows/retry', (t) => ({ rowIds: [t.rowId] })),
  decision('failed-rows/skip', (t) => ({ rowIds: [t.rowId], reason: 'access matrix' })),
  decision('step-retry'),
  decision('cancellation', () => ({ reason: 'access matrix' })),
  // Counting.
  {
    method: 'GET', path: '/me/count-orders', phase: 0, own: 'AAAAFFU', req: () => ({ path: '/me/count-orders' }),
    check: (res, c) => {
      const listed = ids(res.body.countOrders);
      const expected = c.role === 'dev-own' ? [c.f.own.order] : c.role === 'dev-other' ? [c.f.otherOrderW1] : [];
      return JSON.stringify(listed) === JSON.stringify(expected) ? [] : [`lists orders ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}`];
    },
  },
  {
    method: 'GET', path: '/devices/{device}/count-orders', phase: 0, own: 'AHAAAFU', other: 'HHAAAFU',
    req: (t) => ({ path: `/devices/${t.orderDevice}/count-orders` }),
    // Readers see any device's orders, but only in their warehouses: W2's device shows none.
    check: (res, c) => {
      const listed = ids(res.body.countOrders);
      const expected = c.wh === 'own' ? [c.t.order] : [];
      return JSON.stringify(listed) === JSON.stringify(expected) ? [] : [`lists orders ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}`];
    },
  },
  {
    method: 'POST', path: '/count-orders/{id}/assignment', phase: 1, ...DECIDE,
    // Assigned again to whom it is assigned: valid, and changes nothing later cells rely on.
    req: (t) => ({ path: `/count-orders/${t.order}/assignment`, body: { device: t.orderDevice } }),
  },
  { method: 'GET', path: '/count-orders/{id}', phase: 0, ...ORDER_READ, req: (t) => ({ path: `/count-orders/${t.order}` }) },
  { method: 'GET', path: '/count-orders/{id}/tasks', phase: 0, ...ORDER_READ, req: (t) => ({ path: `/count-orders/${t.order}/tasks` }) },
  {
    method: 'POST', path: '/count-orders/{id}/submissions', phase: 2, ...ORDER_COUNT,
    req: (t, n) => ({ path: `/count-orders/${t.order}/submissions`, body: { submissionId: `matrix-${n}`, entries: [{ location: 'A-01', item: 'P1', quantity: 10 }] } }),
  },
  { method: 'POST', path: '/count-orders/{id}/completion', phase: 3, ...ORDER_COUNT, req: (t) => ({ path: `/count-orders/${t.order}/completion`, body: {} }) },
];

const keyOf = (op: { method: string; path: string }) => `${op.method.toUpperCase()} ${op.path}`;
const TABLE = new Map(OPS.map((op) => [keyOf(op), op]));

/** The operations of an OpenAPI document, as "METHOD /path". */
function operationsOf(doc: { paths?: Record<string, Record<string, unknown>> }): string[] {
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.keys(item).filter((m) => methods.includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
}

/**
 * The API's own document, built from the routes as they are now (no server
 * needed), so that every documented operation gets a test of its own. If it
 * cannot be built here, the live document's check below still names what is
 * missing.
 */
async function documentedOperations(): Promise<string[]> {
  try {
    const app = createApp({ orm: {} as Orm, temporal: {} as Client, taskQueue: 'openapi', decisionKey: new Uint8Array(32) });
    return operationsOf((await (await app.request('/openapi.json')).json()) as Parameters<typeof operationsOf>[0]);
  } catch {
    return [];
  }
}

const PUBLIC = ['/health', '/openapi.json'];
const documented = await documentedOperations();

async function grant(stack: Stack, p: Principal, warehouses: string[] = ['W1']): Promise<void> {
  await upsertUser(stack.db.orm.em.fork(), p.name, p.role, tokenOf(p.name), { kind: p.kind, warehouses });
}

describe('access matrix', () => {
  const t = useStack(async (stack): Promise<Fixture> => {
    const { orm } = stack.db;
    await smallWarehouse(orm, 'W1');
    await smallWarehouse(orm, 'W2');
    for (const p of Object.values(PRINCIPALS)) await grant(stack, p);
    await grant(stack, { name: 'dev-w2', role: 'counter', kind: 'device' }, ['W2']);
    await grant(stack, { name: 'spare', role: 'counter', kind: 'person' });
    const f = flow(stack);

    // Released: counted one more than expected everywhere, approved, posted; the adjustment order has lines.
    const released = async (warehouse: string) => {
      const rec = await f.create({ warehouse, scope: { kind: 'warehouse' }, tolerance: { default: {} } });
      await f.waitFor(rec.id, 'ready');
      await countAll(stack, f, rec.id, ONE_MORE);
      await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } });
      await f.decide(rec.id, 'release');
      await f.waitFor(rec.id, 'released');
      const order = await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`);
      expect(order.body.lines.length, JSON.stringify(order.body)).toBeGreaterThan(0);
      return { released: rec.id, line: order.body.lines[0].line as number };
    };
    // Counting: one order per zone; the one with A-01 goes to `device`, the other to `otherDevice` (if any).
    const counting = async (warehouse: string, device: string, otherDevice?: string) => {
      const rec = await f.create({ warehouse, scope: { kind: 'warehouse' }, splitPolicy: { kind: 'by_zone' }, tolerance: { default: {} } });
      await f.waitFor(rec.id, 'ready');
      await f.decide(rec.id, 'initial-count');
      const orders = await f.orders(rec.id, 0);
      expect(orders).toHaveLength(2);
      const withA01 = [];
      for (const o of orders) {
        const tasks = await stack.http('GET', `/count-orders/${o.id}/tasks`);
        if (tasks.body.tasks.some((task: { location: string }) => task.location === 'A-01')) withA01.push(o.id);
      }
      const order = withA01[0]!;
      const other = orders.find((o) => o.id !== order)!.id;
      await f.assignIfOpen(order, device);
      if (otherDevice) await f.assignIfOpen(other, otherDevice);
      const rows = await f.rows(rec.id);
      return { counting: rec.id, rowId: rows[0]!.id as number, order, otherOrder: other };
    };
    const [w1, w2] = await Promise.all([
      (async () => ({ ...(await released('W1')), ...(await counting('W1', 'dev-own', 'dev-other')) }))(),
      (async () => ({ ...(await released('W2')), ...(await counting('W2', 'dev-w2')) }))(),
    ]);
    const target = (warehouse: string, x: typeof w1, orderDevice: string): Target =>
      ({ warehouse, counting: x.counting, rowId: x.rowId, order: x.order, orderDevice, released: x.released, line: x.line });
    return {
      own: target('W1', w1, 'dev-own'), other: target('W2', w2, 'dev-w2'),
      otherOrderW1: w1.otherOrder, w2Ids: [w2.counting, w2.released], unassignedW2: w2.otherOrder,
    };
  });

  // Every call without a token is logged as a failed authentication (tokens.test.ts checks the lines); here they are only noise.
  beforeAll(() => {
    const warn = console.warn.bind(console);
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      if (typeof args[0] !== 'string' || !args[0].includes('"authentication_failed"')) warn(...args);
    });
  });
  afterAll(() => vi.restoreAllMocks());

  /** What each cell answered, for the summary. */
  const answered = new Map<string, Record<string, string>>();
  let sequence = 0;
  let liveDocument: Promise<string[]> | undefined;
  /** The operations of /openapi.json as the running API serves it. */
  const live = () =>
    (liveDocument ??= call(t.stack.baseUrl, { method: 'GET', path: '/openapi.json', from: freshLoopback() }).then((res) => operationsOf(res.body)));

  const as = (role: RoleKey, c: { method: string; path: string; body?: unknown }) =>
    call(t.stack.baseUrl, role === 'none'
      ? { ...c, from: freshLoopback() }
      : { ...c, token: tokenOf(PRINCIPALS[role].name) });

  /** What is wrong with a refusal, or nothing. */
  const refusalIssues = (res: Answer, status: number, type: string): string[] => {
    try {
      expectProblem(res, status, type);
      return [];
    } catch {
      return [`${res.status} ${res.contentType} ${res.text.slice(0, 300)}; expected ${status} ${type}`];
    }
  };

  /** A hidden thing answers exactly like a thing that does not exist (ids, numbers and names aside). */
  const sameAsAbsent = async (op: Op, role: RoleKey, res: Answer, target: Target): Promise<string[]> => {
    const absent: Target = { ...target, counting: randomUUID(), released: randomUUID(), rowId: 2_000_000_001, order: 2_000_000_001, line: 2_000_000_001, orderDevice: 'no-such-device' };
    const req = op.req(absent, ++sequence);
    const other = await as(role, { method: op.method, ...req });
    const normal = (a: Answer) =>
      JSON.stringify({ status: a.status, type: a.body?.type, title: a.body?.title, detail: a.body?.detail })
        .replaceAll(target.orderDevice, '<device>')
        .replaceAll('no-such-device', '<device>')
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
        .replace(/\d+/g, '<n>');
    return normal(res) === normal(other) ? [] : [`hidden answer ${normal(res)} differs from an absent one ${normal(other)}`];
  };

  async function runCell(op: Op, wh: Wh, role: RoleKey, expected: Outcome): Promise<string[]> {
    const { stack, fixture } = t;
    const target = fixture[wh];
    const req = op.req(target, ++sequence);
    const write = op.method !== 'GET';
    const before = write ? await dbFingerprint(stack.db.orm) : undefined;
    const res = await as(role, { method: op.method, ...req });
    const cells = answered.get(keyOf(op)) ?? {};
    cells[role] = cells[role] ? `${cells[role]}/${res.status}` : String(res.status);
    answered.set(keyOf(op), cells);

    const issues: string[] = [];
    if (expected === 'U') issues.push(...refusalIssues(res, 401, 'unauthenticated'));
    if (expected === 'F') issues.push(...refusalIssues(res, 403, op.forbiddenType?.(wh, role) ?? 'forbidden'));
    if (expected === 'H') {
      issues.push(...refusalIssues(res, 404, 'not-found'));
      // A reader of the warehouse may be told more (it can see the order); anyone else must learn nothing.
      if (wh === 'other' || COUNTER_ROLES.includes(role)) issues.push(...(await sameAsAbsent(op, role, res, target)));
    }
    if (expected === 'A') {
      const ok = op.method === 'GET'
        ? res.status === 200
        : [200, 201, 409].includes(res.status) || (res.status === 422 && res.body?.type !== 'https://stocktake.dev/problems/invalid-request');
      if (!ok) issues.push(`${res.status} ${res.text.slice(0, 300)}`);
      // A caller granted W1 only never hears of W2's reconciliations.
      for (const id of fixture.w2Ids) if (res.text.includes(id)) issues.push(`names W2's reconciliation ${id}`);
      if (ok && op.check) issues.push(...op.check(res, { wh, role, t: target, f: fixture }));
    }
    if (before) {
      // A write that was refused, for access or for the state it met, wrote nothing; one that succeeded wrote something.
      const changed = changedTables(before, await dbFingerprint(stack.db.orm));
      const succeeded = expected === 'A' && res.status >= 200 && res.status < 300;
      if (!succeeded && changed.length > 0) issues.push(`refused (${res.status}), yet changed ${changed.join(', ')}`);
      if (succeeded && changed.length === 0) issues.push(`answered ${res.status} but changed nothing`);
    }
    if (expected === 'A') await op.after?.(stack, role);
    return issues.map((i) => `${keyOf(op)} on ${wh === 'own' ? 'W1' : 'W2'} as ${role} (expected ${WORD[expected]}): ${i}`);
  }

  it('every operation in the live /openapi.json has a row in the matrix (and every row is documented)', async () => {
    const served = await live();
    const untested = served.filter((op) => !TABLE.has(op) && !PUBLIC.includes(op.split(' ')[1]!));
    const stale = [...TABLE.keys()].filter((op) => !served.includes(op));
    expect(untested, `operations without a row in the access matrix: ${untested.join(', ')}`).toEqual([]);
    expect(stale, `rows for operations the document does not have: ${stale.join(', ')}`).toEqual([]);
    expect(served.length).toBeGreaterThanOrEqual(OPS.length);
  });

  it('/health and /openapi.json answer 200 without a token', async () => {
    for (const path of PUBLIC) {
      const res = await call(t.stack.baseUrl, { method: 'GET', path, from: freshLoopback() });
      expect(res.status, `${path}: ${res.text.slice(0, 200)}`).toBe(200);
    }
  });

  it('a device naming another device in its submission or completion gets 422 invalid-assignee, and nothing is written', async () => {
    const { stack, fixture } = t;
    const before = await dbFingerprint(stack.db.orm);
    const submission = await as('dev-own', {
      method: 'POST', path: `/count-orders/${fixture.own.order}/submissions`,
      body: { submissionId: 'as-other', device: 'dev-other', entries: [{ location: 'A-01', item: 'P1', quantity: 1 }] },
    });
    expectProblem(submission, 422, 'invalid-assignee', 'submission');
    const completion = await as('dev-own', { method: 'POST', path: `/count-orders/${fixture.own.order}/completion`, body: { device: 'dev-other' } });
    expectProblem(completion, 422, 'invalid-assignee', 'completion');
    expect(changedTables(before, await dbFingerprint(stack.db.orm))).toEqual([]);
  });

  it('an order is assigned only to a counter, device or manager granted its warehouse (422 invalid-assignee otherwise), changing nothing', async () => {
    const { stack, fixture } = t;
    const before = await dbFingerprint(stack.db.orm);
    for (const device of ['dev-w2', 'auditor-w1', 'admin-w1', 'no-such-device']) {
      const res = await as('manager', { method: 'POST', path: `/count-orders/${fixture.own.order}/assignment`, body: { device } });
      expectProblem(res, 422, 'invalid-assignee', device);
    }
    expect(changedTables(before, await dbFingerprint(stack.db.orm))).toEqual([]);
    const order = await one(stack.db.orm.em.fork(), sql<{ assigned: string }>`select assigned_to as assigned from count_order where id = ${fixture.own.order}`);
    expect(order!.assigned).toBe('dev-own');
  });

  it('an order assigned to nobody is hidden from a counter granted its warehouse (404), which can neither count nor complete it', async () => {
    const { stack, fixture } = t;
    const order = fixture.unassignedW2;
    const dev = (method: string, path: string, body?: unknown) => call(stack.baseUrl, { method, path, body, token: tokenOf('dev-w2') });
    const before = await dbFingerprint(stack.db.orm);
    expectProblem(await dev('GET', `/count-orders/${order}`), 404, 'not-found', 'order');
    expectProblem(await dev('GET', `/count-orders/${order}/tasks`), 404, 'not-found', 'tasks');
    expectProblem(await dev('POST', `/count-orders/${order}/submissions`, { submissionId: 'unassigned', entries: [{ location: 'B-01', item: 'P1', quantity: 1 }] }), 404, 'not-found', 'submission');
    expectProblem(await dev('POST', `/count-orders/${order}/completion`, {}), 404, 'not-found', 'completion');
    expect(changedTables(before, await dbFingerprint(stack.db.orm))).toEqual([]);
    // It exists, open, in W2: the 404 is the assignment's doing.
    const seen = await call(stack.baseUrl, { method: 'GET', path: `/count-orders/${order}`, token: tokenOf('manager-1') });
    expect(seen.body).toMatchObject({ id: order, warehouse: 'W2', status: 'open', assignedTo: null });
  });

  const phases = [...new Set(OPS.map((op) => op.phase))].sort((a, b) => a - b);
  for (const phase of phases) {
    for (const op of OPS.filter((o) => o.phase === phase)) {
      it(`${keyOf(op)} answers every role as the matrix says (W1: ${op.own}${op.other ? `, W2: ${op.other}` : ''})`, async () => {
        expect(await live(), `${keyOf(op)} is not in the API's OpenAPI document`).toContain(keyOf(op));
        const issues: string[] = [];
        for (const wh of (op.other ? ['own', 'other'] : ['own']) as Wh[]) {
          const outcomes = (wh === 'own' ? op.own : op.other!).split('') as Outcome[];
          expect(outcomes).toHaveLength(ROLES.length);
          // Refusals first, on the state every cell expects; then the allowed calls, which may change it.
          const order = ROLES.map((role, i) => ({ role, expected: outcomes[i]! })).sort((a, b) => Number(a.expected === 'A') - Number(b.expected === 'A'));
          for (const { role, expected } of order) issues.push(...(await runCell(op, wh, role, expected)));
        }
        // What W1's readers are refused in W2 exists and is readable by someone granted W2: the 404 is the grant's doing.
        if (op.method === 'GET' && op.other) {
          const control = await call(t.stack.baseUrl, { method: 'GET', path: op.req(t.fixture.other, ++sequence).path, token: tokenOf('manager-1') });
          if (control.status !== 200) issues.push(`${keyOf(op)} on W2 as manager-1 (granted all): ${control.status}`);
          if (op.path === '/devices/{device}/count-orders' && !ids(control.body.countOrders).includes(t.fixture.other.order)) {
            issues.push('manager-1 does not see the order of W2 assigned to dev-w2');
          }
        }
        expect(issues, issues.join('\n')).toEqual([]);
      });
    }
  }

  for (const op of documented.filter((o) => !TABLE.has(o) && !PUBLIC.includes(o.split(' ')[1]!))) {
    it(`${op} has a row in the access matrix`, () => {
      expect.fail(`${op} is in the OpenAPI document but not in the access matrix: say who may call it`);
    });
  }

  afterAll(() => {
    if (answered.size === 0) return;
    const width = Math.max(...[...answered.keys()].map((k) => k.length));
    const head = `${'operation'.padEnd(width)} | ${ROLES.map((r) => r.padEnd(9)).join(' ')}   (status on W1/W2)`;
    const lines = [...answered.entries()].map(([k, cells]) => `${k.padEnd(width)} | ${ROLES.map((r) => (cells[r] ?? '-').padEnd(9)).join(' ')}`);
    console.log(['', 'Access matrix: what each role was answered', head, '-'.repeat(head.length), ...lines].join('\n'));
  });
});
