import { randomInt, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../api/app';
import type { Orm } from '../db/orm';
import { one, sql } from '../db/sql';
import { upsertUser, type Kind, type Role } from '../store/users';
import { call, freshLoopback, type Answer, type Call } from './support/access-http';
import {
  bookLevelsIn, compared, createSchedule, LEVELS_HEADER, MESSAGES_HEADER, MOVEMENTS_HEADER, removeSchedules, scheduleBody,
  scheduleState, SCHEDULE_PREFIX, systemFixture, triggered, type SystemTarget,
} from './support/access-systems';
import { countAll, ONE_MORE } from './support/counting';
import { changedTables, dbFingerprint } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { flow } from './support/flow';
import { expectProblem } from './support/problem-checks';
import { tokenOf, useStack, type Stack } from './support/stack';
import { WMS } from './support/systems-stack';
import { eventually } from './support/wait';

/**
 * The access matrix: every operation of the API's OpenAPI document, called
 * by every kind of caller (a counter device on its own order, a counter
 * device on another's, manager, senior manager, auditor, admin, an
 * integration principal, no token), on things in a warehouse the caller is
 * granted (W1) and one it is not (W2). Each cell says what must happen:
 * allowed, 403, 404 (hidden, exactly as if it did not exist), 401, or a load
 * refused for lines of a warehouse not granted. A refused write changes
 * nothing in the database (nor in Temporal, for schedules). An operation the
 * document has and the table lacks fails the run.
 */

/** Who calls, in the matrix's column order. */
const ROLES = ['dev-own', 'dev-other', 'manager', 'senior', 'auditor', 'admin', 'integration', 'none'] as const;
type RoleKey = (typeof ROLES)[number];
type Principal = { name: string; role: Role; kind: Kind };
/**
 * All granted W1 only. dev-own counts the W1 order under test; dev-other counts another W1 order.
 * integration is the WMS itself (registered as the pushed system wms-dc1), a source of the runs under test.
 */
const PRINCIPALS: Record<Exclude<RoleKey, 'none'>, Principal> = {
  'dev-own': { name: 'dev-own', role: 'counter', kind: 'device' },
  'dev-other': { name: 'dev-other', role: 'counter', kind: 'device' },
  manager: { name: 'manager-w1', role: 'manager', kind: 'person' },
  senior: { name: 'senior-w1', role: 'senior_manager', kind: 'person' },
  auditor: { name: 'auditor-w1', role: 'auditor', kind: 'person' },
  admin: { name: 'admin-w1', role: 'admin', kind: 'person' },
  integration: { name: 'wms-dc1', role: 'integration', kind: 'system' },
};
const COUNTER_ROLES: RoleKey[] = ['dev-own', 'dev-other'];

/**
 * A: allowed (anything but 401/403/404-for-access), F: 403, H: 404 as if absent, U: 401,
 * R: a load refused for its lines of a warehouse the caller is not granted (422, nothing applied).
 * One letter per role, in ROLES order.
 */
type Outcome = 'A' | 'F' | 'H' | 'U' | 'R';
const WORD: Record<Outcome, string> = { A: 'allowed', F: 'forbidden', H: 'hidden', U: 'unauthenticated', R: 'refused for its lines' };
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
  /** System reconciliation: runs, lines, an exception and a schedule (access-systems.ts). */
  system: SystemTarget;
  /** P1 at A-01 as it stands, a stock line a load may send without changing the stock. */
  stock: { location: string; item: string; quantity: number };
}

interface Req {
  path: string;
  body?: unknown;
  /** A body sent as it is (CSV, JSON lines), with its content type. */
  raw?: { type: string; text: string };
  headers?: Record<string, string>;
}

interface Op {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Which of several rows of one operation (a kind of load). */
  variant?: string;
  /** Cells run phase by phase, so an allowed destructive call (complete, cancel, close, delete, rotate own token) runs after everything it would disturb. */
  phase: number;
  own: string;
  /** Outcomes on the other warehouse (W2), for operations about a thing in a warehouse. */
  other?: string;
  req(t: Target, n: number): Req;
  /** The 403's problem type when it is not `forbidden`. */
  forbiddenType?(wh: Wh, role: RoleKey): string | undefined;
  /** What an allowed answer looks like, when it is not the usual (200/201/409, or a 422 that is not about the request's form). */
  allowed?(res: Answer): boolean;
  /** The operation keeps (also) state in Temporal: Schedules. Checked before and after like the database. */
  temporal?: true;
  /** After an allowed call that succeeded: waits for what it started (a workflow writing), before its writes are checked. */
  settle?(stack: Stack, res: Answer, t: Target): Promise<void>;
  /** Further checks of an allowed answer: a list of what is wrong. */
  check?(res: Answer, c: { wh: Wh; role: RoleKey; t: Target; f: Fixture }): string[];
  /** Puts back what an allowed call changed that later cells rely on. */
  after?(stack: Stack, role: RoleKey, res: Answer, t: Target): Promise<void>;
}

const EVERYONE = 'AAAAAAAU';
const ADMIN_ONLY = 'FFFFFAFU';
/** Reconciliation data: readers (manager, senior, auditor) of the warehouse; counters never (a count stays blind), nor admins or integrations. */
const READ = { own: 'FFAAAFFU', other: 'FFHHHFFU' };
/** Decisions: managers of the warehouse. */
const DECIDE = { own: 'FFAAFFFU', other: 'FFHHFFFU' };
/** A count order: its own counter and the readers of the warehouse; another counter learns nothing (404). */
const ORDER_READ = { own: 'AHAAAFFU', other: 'HHHHHFFU' };
/** Counting an order: only the one it is assigned to. A manager who could count is told 404 for an order that is not theirs. */
const ORDER_COUNT = { own: 'AHHHFFFU', other: 'HHHHFFFU' };
/** Systems and their mappings: readers and the admins who manage them. */
const SYSTEM_READ = 'FFAAAAFU';
/** What a system sends as itself (or an admin for it), for a warehouse granted: the lines of another are refused (403). */
const SEND = { own: 'FFFFFAAU', other: 'FFFFFFFU' };
/** Loads: integrations and admins; lines of a warehouse not granted are bad lines (422). */
const LOAD = { own: 'FFFFFAAU', other: 'FFFFFRRU' };
/** The batches of W2 alone the fixture had admin-1 (granted all) send for wms-dc1 (access-systems.ts). */
const W2_BATCHES = ['fixture-messages-W2', 'fixture-movements-W2'];
const NOT_GRANTED_SENDER = (wh: Wh, role: RoleKey) => (wh === 'other' && (role === 'admin' || role === 'integration') ? 'warehouse-not-granted' : undefined);
const NOT_GRANTED_MANAGER = (wh: Wh, role: RoleKey) => (wh === 'other' && (role === 'manager' || role === 'senior') ? 'warehouse-not-granted' : undefined);

interface Fixture {
  own: Target;
  other: Target;
  /** Orders of W1 in counting: dev-own's (the target) and dev-other's. */
  otherOrderW1: number;
  /** Every reconciliation and system reconciliation of W2, and W2's schedule: no answer to a caller granted W1 only may name one. */
  w2Ids: string[];
  /** An open order of W2 assigned to nobody. */
  unassignedW2: number;
}

/** A workflow history as Temporal's tools write it: events from WorkflowExecutionStarted on. */
const historyCheck = (res: Answer): string[] => (res.body?.events?.[0]?.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' ? [] : ['no workflow history']);
const ids = (list: unknown): unknown[] => (Array.isArray(list) ? list.map((x: { id?: unknown }) => x.id) : []);

const decision = (path: string, body?: (t: Target) => unknown): Op => ({
  method: 'POST',
  path: `/reconciliations/{id}/${path}`,
  phase: path === 'cancellation' ? 4 : 1,
  ...DECIDE,
  req: (t) => ({ path: `/reconciliations/${t.counting}/${path}`, body: body?.(t) }),
});

/**
 * A decision on a system reconciliation in review. Deleting, refreshing and
 * approving lines apply (a repeat of a deletion is refused, 422); processing a
 * line never approved and retrying a step that did not fail answer 409; close
 * and cancel run last (the cancel on W1's second run, the close on the first).
 */
const systemDecision = (path: string, body?: (t: Target) => unknown): Op => ({
  method: 'POST',
  path: `/system-reconciliations/{id}/${path}`,
  phase: path === 'close' || path === 'cancellation' ? 4 : 1,
  ...DECIDE,
  req: (t) => ({ path: `/system-reconciliations/${path === 'cancellation' ? t.system.waiting : t.system.run}/${path}`, body: body?.(t) }),
});

/** The schedule ticks the matrix has seen. */
const seenTicks = new Set<string>();
const scheduleControl = (path: 'pause' | 'unpause' | 'trigger'): Op => ({
  method: 'POST',
  path: `/system-reconciliation-schedules/{name}/${path}`,
  phase: 1,
  ...DECIDE,
  temporal: true,
  req: (t) => ({ path: `/system-reconciliation-schedules/${t.system.schedule}/${path}`, body: {} }),
  // A trigger runs the template now: its tick creates a run (the first) or skips (a run still waits for wms-dc1).
  settle: path === 'trigger' ? (stack, _res, t) => triggered(stack, t.system.schedule, seenTicks) : undefined,
  // Paused again, so the schedule never runs by itself.
  after: path === 'unpause' ? (stack, _role, _res, t) => stack.client.schedule.getHandle(SCHEDULE_PREFIX + t.system.schedule).pause('access matrix: paused again') : undefined,
});

const csvOf = (header: string, ...lines: string[]) => ({ type: 'text/csv', text: [header, ...lines].join('\n') + '\n' });
const jsonl = (...records: unknown[]) => ({ type: 'application/x-ndjson', text: records.map((r) => JSON.stringify(r)).join('\n') + '\n' });

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
  // Prometheus metrics: service-wide totals, for the roles that oversee the service (README "Observability").
  { method: 'GET', path: '/metrics', phase: 0, own: 'FFFFAAFU', req: () => ({ path: '/metrics' }) },
  { method: 'GET', path: '/users/{name}', phase: 0, own: ADMIN_ONLY, req: () => ({ path: '/users/spare' }) },
  { method: 'PUT', path: '/users/{name}/warehouses', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/users/spare/warehouses', body: { warehouses: ['W1'] } }) },
  { method: 'POST', path: '/users/{name}/token-rotation', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/users/spare/token-rotation', body: {} }) },
  { method: 'POST', path: '/users/{name}/token-revocation', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/users/spare/token-revocation' }) },
  // The audit trail across reconciliations: readers see their warehouses; auditors and admins also identity events.
  {
    method: 'GET', path: '/audit', phase: 0, own: 'FFAAAAFU', req: () => ({ path: '/audit?limit=1000' }),
    check: (res, c) => {
      const events = res.body.events as Array<{ warehouse: string | null; action: string; after: Record<string, unknown> | null }>;
      const wrong = events.filter((e) =>
        c.role === 'admin' ? e.warehouse !== null : c.role === 'auditor' ? e.warehouse !== null && e.warehouse !== 'W1' : e.warehouse !== 'W1');
      const problems = wrong.map((e) => `${e.action} of warehouse ${e.warehouse} shown`);
      if (c.role !== 'admin' && !events.some((e) => e.warehouse === 'W1')) problems.push('no event of W1 shown');
      // A batch wms-dc1 sent about W2 alone lies in W2, whatever warehouse its event was filed under: a caller granted W1 only never sees it.
      for (const e of events.filter((x) => W2_BATCHES.includes(x.after?.importId as string))) {
        problems.push(`${e.action} of W2's batch ${String(e.after?.importId)} shown (filed under warehouse ${e.warehouse})`);
      }
      return problems;
    },
  },
  // Reconciliations.
  {
    method: 'POST', path: '/reconciliations', phase: 1, own: 'FFAAFFFU', other: 'FFFFFFFU',
    // Valid and harmless: the warehouse already has an active reconciliation over the same scope (409 when allowed).
    req: (t) => ({ path: '/reconciliations', body: { warehouse: t.warehouse, scope: { kind: 'warehouse' } } }),
    forbiddenType: NOT_GRANTED_MANAGER,
  },
  {
    method: 'GET', path: '/reconciliations', phase: 0, own: 'FFAAAFFU', req: () => ({ path: '/reconciliations?limit=500' }),
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
  { method: 'GET', path: '/reconciliations/{id}/history', phase: 0, ...READ, req: (t) => ({ path: `/reconciliations/${t.counting}/history` }), check: historyCheck },
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
    method: 'GET', path: '/me/count-orders', phase: 0, own: 'AAAAFFFU', req: () => ({ path: '/me/count-orders' }),
    check: (res, c) => {
      const listed = ids(res.body.countOrders);
      const expected = c.role === 'dev-own' ? [c.f.own.order] : c.role === 'dev-other' ? [c.f.otherOrderW1] : [];
      return JSON.stringify(listed) === JSON.stringify(expected) ? [] : [`lists orders ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}`];
    },
  },
  {
    method: 'GET', path: '/devices/{device}/count-orders', phase: 0, own: 'AHAAAFFU', other: 'HHAAAFFU',
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
  {
    method: 'POST', path: '/count-orders/{id}/entry-files', phase: 2, ...ORDER_COUNT,
    req: (t, n) => ({ path: `/count-orders/${t.order}/entry-files`, headers: { 'submission-id': `matrix-file-${n}` }, raw: csvOf('location,item,quantity', 'A-01,P1,10') }),
  },
  { method: 'POST', path: '/count-orders/{id}/completion', phase: 3, ...ORDER_COUNT, req: (t) => ({ path: `/count-orders/${t.order}/completion`, body: {} }) },

  // Loads of master data and stock: integrations and admins, within their warehouses.
  {
    method: 'POST', path: '/imports/{kind}', variant: 'stock, CSV', phase: 1, ...LOAD,
    // P1 at A-01 as it stands: applied (a load, an audit event), and the stock stays as it is.
    req: (t, n) => ({
      path: '/imports/stock', headers: { 'import-id': `matrix-stock-${n}` },
      raw: csvOf('warehouse,location,item,quantity', `${t.warehouse},${t.stock.location},${t.stock.item},${t.stock.quantity}`),
    }),
    check: (res) => (res.status === 201 && res.body.unchanged === 1 ? [] : [`expected the line applied unchanged: ${res.text.slice(0, 300)}`]),
  },
  {
    method: 'POST', path: '/imports/{kind}', variant: 'zones, JSON lines', phase: 1, ...LOAD,
    req: (t, n) => ({ path: '/imports/zones', headers: { 'import-id': `matrix-zones-${n}` }, raw: jsonl({ warehouse: t.warehouse, code: `MX${n}` }) }),
    check: (res) => (res.status === 201 && res.body.created === 1 ? [] : [`expected a zone created: ${res.text.slice(0, 300)}`]),
  },
  {
    // Items belong to no warehouse: any integration or admin loads them.
    method: 'POST', path: '/imports/{kind}', variant: 'items, JSON lines', phase: 1, own: LOAD.own,
    req: (_t, n) => ({
      path: '/imports/items', headers: { 'import-id': `matrix-items-${n}` },
      raw: jsonl({ code: `MX-ITEM-${n}`, storageUnit: 'PCS', inventoryUnit: 'PCS', conversionFactor: 1, standardCost: 1 }),
    }),
    check: (res) => (res.status === 201 && res.body.created === 1 ? [] : [`expected an item created: ${res.text.slice(0, 300)}`]),
  },

  // External systems: admins register and map them; readers and admins see them.
  {
    method: 'POST', path: '/systems', phase: 1, own: ADMIN_ONLY,
    req: (_t, n) => ({ path: '/systems', body: { name: `matrix-system-${n}`, locationGranularity: 'warehouse', levels: { mode: 'pushed' }, statuses: [{ status: 'available', category: 'available' }] } }),
  },
  {
    method: 'GET', path: '/systems', phase: 0, own: SYSTEM_READ, req: () => ({ path: '/systems' }),
    check: (res) => ((res.body.systems as Array<{ name: string }>).some((s) => s.name === 'wms-dc1') ? [] : ['wms-dc1 is not listed']),
  },
  { method: 'GET', path: '/systems/{name}', phase: 0, own: SYSTEM_READ, req: () => ({ path: '/systems/wms-dc1' }) },
  // The mappings it has, again: valid, audited, and the same mappings for every later cell.
  {
    method: 'PUT', path: '/systems/{name}/statuses', phase: 1, own: ADMIN_ONLY,
    req: () => ({ path: '/systems/wms-dc1/statuses', body: { statuses: WMS.statuses } }),
  },
  { method: 'PUT', path: '/systems/{name}/units', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/systems/wms-dc1/units', body: { units: WMS.units } }) },
  { method: 'PUT', path: '/systems/{name}/levels', phase: 1, own: ADMIN_ONLY, req: () => ({ path: '/systems/wms-dc1/levels', body: { mode: 'pushed' } }) },
  // What wms-dc1 sends as itself (or an admin for it), about SER (in no run's selection): new ids and Import-Id every call.
  {
    method: 'POST', path: '/systems/{name}/messages', phase: 1, ...SEND, forbiddenType: NOT_GRANTED_SENDER,
    req: (t, n) => ({
      path: '/systems/wms-dc1/messages', headers: { 'import-id': `matrix-messages-${n}` },
      raw: csvOf(MESSAGES_HEADER, `matrix-${n},book,receipt,SER,${t.warehouse},B-01,,1,,2024-05-01T10:00:00Z,`),
    }),
  },
  {
    method: 'POST', path: '/systems/{name}/movements', phase: 1, ...SEND, forbiddenType: NOT_GRANTED_SENDER,
    req: (t, n) => ({
      path: '/systems/wms-dc1/movements', headers: { 'import-id': `matrix-movements-${n}` },
      raw: csvOf(MOVEMENTS_HEADER, `matrix-${n},receipt,SER,${t.warehouse},B-01,,1,,2024-05-01T10:00:00Z`),
    }),
  },
  {
    method: 'GET', path: '/systems/{name}/messages', phase: 0, own: 'FFAAAFFU', req: () => ({ path: '/systems/wms-dc1/messages?limit=1000' }),
    check: (res) => {
      const listed = res.body.messages as Array<{ messageId: string; warehouse: string }>;
      const problems = listed.filter((m) => m.warehouse !== 'W1').map((m) => `message ${m.messageId} of ${m.warehouse} shown`);
      if (!listed.some((m) => m.warehouse === 'W1')) problems.push('no message of W1 shown');
      return problems;
    },
  },

  // Levels of a run: what a source is asked for (readers, the source, admins), and the upload (the source itself, or an admin).
  {
    method: 'GET', path: '/system-reconciliations/{id}/levels-request', phase: 0, own: 'FFAAAAAU', other: 'FFHHHHHU',
    req: (t) => ({ path: `/system-reconciliations/${t.system.run}/levels-request?source=wms-dc1` }),
  },
  {
    // W1: the run waiting for wms-dc1; the first allowed upload is stored (201) and compared, a later one is refused (409).
    method: 'POST', path: '/system-reconciliations/{id}/levels', phase: 1, own: 'FFFFFAAU', other: 'FFFFFHHU',
    req: (t, n) => ({
      path: `/system-reconciliations/${t.system.waiting}/levels?source=wms-dc1`,
      raw: csvOf(LEVELS_HEADER, `BOX,${t.warehouse},A-01,available,${1000 + n}`),
    }),
    settle: (stack, res) => compared(stack, res.body.systemReconciliationId).then(() => undefined),
  },

  // System reconciliations: managers start and decide, readers read, in their warehouses.
  {
    method: 'POST', path: '/system-reconciliations', phase: 1, own: 'FFAAFFFU', other: 'FFFFFFFU', forbiddenType: NOT_GRANTED_MANAGER,
    req: (t) => ({ path: '/system-reconciliations', body: { sourceA: 'book', sourceB: 'wms-dc1', warehouse: t.warehouse, selection: { items: ['SER'] }, cutoffMinutes: 0 } }),
    // Its workflow takes the book's levels at once, then waits for wms-dc1's (for hours).
    settle: (stack, res) => bookLevelsIn(stack, res.body.id),
  },
  {
    method: 'GET', path: '/system-reconciliations', phase: 0, own: 'FFAAAFFU', req: () => ({ path: '/system-reconciliations?limit=500' }),
    check: (res, c) => (ids(res.body.systemReconciliations).includes(c.t.system.run) ? [] : ['the run of W1 is missing from the list']),
  },
  { method: 'GET', path: '/system-reconciliations/{id}', phase: 0, ...READ, req: (t) => ({ path: `/system-reconciliations/${t.system.run}` }) },
  { method: 'GET', path: '/system-reconciliations/{id}/order', phase: 0, ...READ, req: (t) => ({ path: `/system-reconciliations/${t.system.run}/order` }) },
  { method: 'GET', path: '/system-reconciliations/{id}/history', phase: 0, ...READ, req: (t) => ({ path: `/system-reconciliations/${t.system.run}/history` }), check: historyCheck },
  // Lines are never edited: a reader of the warehouse is told so (405); anyone else as usual.
  ...(['PUT', 'PATCH'] as const).map((method): Op => ({
    method, path: '/system-reconciliations/{id}/order/lines/{line}', phase: 1, ...READ,
    req: (t) => ({ path: `/system-reconciliations/${t.system.run}/order/lines/${t.system.lines.other}`, body: { difference: 0 } }),
    allowed: (res) => res.status === 405 && res.body?.type === 'https://stocktake.dev/problems/line-not-editable',
  })),
  systemDecision('line-deletions', (t) => ({ lines: [t.system.lines.deletion], reason: 'access matrix' })),
  systemDecision('line-refresh', (t) => ({ lines: [t.system.lines.approval] })),
  systemDecision('line-approvals', (t) => ({ lines: [t.system.lines.approval] })),
  systemDecision('processing', (t) => ({ lines: [t.system.lines.other] })),
  systemDecision('step-retry'),
  systemDecision('close'),
  systemDecision('cancellation', () => ({ reason: 'access matrix' })),

  // Schedules (Temporal): managers of the template's warehouse change them, readers read them.
  {
    method: 'POST', path: '/system-reconciliation-schedules', phase: 1, own: 'FFAAFFFU', other: 'FFFFFFFU', forbiddenType: NOT_GRANTED_MANAGER, temporal: true,
    req: (t, n) => ({ path: '/system-reconciliation-schedules', body: scheduleBody(`${t.system.schedule}-n${n}`, t.warehouse) }),
    after: async (stack, _role, res) => removeSchedules(stack.client, [res.body.name]),
  },
  {
    method: 'GET', path: '/system-reconciliation-schedules', phase: 0, own: 'FFAAAFFU', req: () => ({ path: '/system-reconciliation-schedules' }),
    check: (res, c) => {
      const listed = res.body.schedules as Array<{ name: string; template: { warehouse: string } }>;
      const problems = listed.filter((s) => s.template.warehouse !== 'W1').map((s) => `schedule ${s.name} of ${s.template.warehouse} shown`);
      if (!listed.some((s) => s.name === c.t.system.schedule)) problems.push(`schedule ${c.t.system.schedule} is missing from the list`);
      return problems;
    },
  },
  { method: 'GET', path: '/system-reconciliation-schedules/{name}', phase: 0, ...READ, req: (t) => ({ path: `/system-reconciliation-schedules/${t.system.schedule}` }) },
  {
    method: 'PUT', path: '/system-reconciliation-schedules/{name}', phase: 1, ...DECIDE, temporal: true,
    req: (t, n) => ({ path: `/system-reconciliation-schedules/${t.system.schedule}`, body: { everyMinutes: 31 * 24 * 60 - (n % 1000) } }),
  },
  scheduleControl('unpause'),
  scheduleControl('pause'),
  scheduleControl('trigger'),
  {
    method: 'DELETE', path: '/system-reconciliation-schedules/{name}', phase: 4, ...DECIDE, temporal: true,
    req: (t) => ({ path: `/system-reconciliation-schedules/${t.system.schedule}` }),
    // Made again, for the next allowed caller.
    after: async (stack, _role, _res, t) => createSchedule(stack, t.system.schedule, t.warehouse),
  },

  // The exception queue and KPIs: readers of the warehouse read, managers change.
  {
    method: 'GET', path: '/system-exceptions', phase: 0, own: 'FFAAAFFU', req: () => ({ path: '/system-exceptions?limit=1000' }),
    check: (res, c) => {
      const listed = res.body.exceptions as Array<{ id: number; warehouse: string }>;
      const problems = listed.filter((e) => e.warehouse !== 'W1').map((e) => `exception ${e.id} of ${e.warehouse} shown`);
      if (listed.some((e) => e.id === c.f.other.system.exception)) problems.push(`W2's exception ${c.f.other.system.exception} shown`);
      if (!listed.some((e) => e.id === c.t.system.exception)) problems.push(`exception ${c.t.system.exception} of W1 is missing from the list`);
      return problems;
    },
  },
  { method: 'GET', path: '/system-exceptions/{id}', phase: 0, ...READ, req: (t) => ({ path: `/system-exceptions/${t.system.exception}` }) },
  { method: 'PATCH', path: '/system-exceptions/{id}', phase: 1, ...DECIDE, req: (t) => ({ path: `/system-exceptions/${t.system.exception}`, body: { note: 'access matrix' } }) },
  {
    // W1's count reconciliation in counting covers the exception's position: allowed callers are told 409 (scope overlap).
    method: 'POST', path: '/system-exceptions/{id}/count-reconciliation', phase: 1, ...DECIDE,
    req: (t) => ({ path: `/system-exceptions/${t.system.exception}/count-reconciliation`, body: {} }),
  },
  { method: 'GET', path: '/system-reconciliations/{id}/kpis', phase: 0, ...READ, req: (t) => ({ path: `/system-reconciliations/${t.system.run}/kpis` }) },
  {
    method: 'GET', path: '/kpis/system-reconciliation', phase: 0, ...READ,
    req: (t) => ({ path: `/kpis/system-reconciliation?warehouse=${t.warehouse}&sourceA=book&sourceB=wms-dc1` }),
  },
];

const keyOf = (op: { method: string; path: string }) => `${op.method.toUpperCase()} ${op.path}`;
const labelOf = (op: Op) => (op.variant ? `${keyOf(op)} (${op.variant})` : keyOf(op));
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
  /** Names the schedules of this run apart from any other run's on the shared Temporal server (digits: a hidden and an absent one answer alike). */
  const suffix = String(randomInt(100_000, 999_999));
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
    // System reconciliation: book against wms-dc1, by the real flow, once the stock is as the counts left it.
    const system = await systemFixture(stack, suffix);
    const stock = async (warehouse: string) => {
      const r = await one(orm.em.fork(), sql<{ quantity: number }>`
        select p.quantity::float8 as quantity from stock_position p join location l on l.id = p.location_id join item i on i.id = p.item_id
        where p.warehouse_code = ${warehouse} and l.code = 'A-01' and i.code = 'P1' and p.lot = '' and p.serial = ''
          and not exists (select 1 from blocking b where b.stock_position_id = p.id)`);
      return { location: 'A-01', item: 'P1', quantity: r!.quantity };
    };
    const target = async (warehouse: string, x: typeof w1, orderDevice: string, s: SystemTarget): Promise<Target> =>
      ({ warehouse, counting: x.counting, rowId: x.rowId, order: x.order, orderDevice, released: x.released, line: x.line, system: s, stock: await stock(warehouse) });
    return {
      own: await target('W1', w1, 'dev-own', system.own), other: await target('W2', w2, 'dev-w2', system.other),
      otherOrderW1: w1.otherOrder, w2Ids: [w2.counting, w2.released, system.other.run, system.other.schedule], unassignedW2: w2.otherOrder,
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
  // The schedules live on the shared Temporal server: none is left behind (runs before the stack closes).
  afterAll(async () => {
    if (!t.fixture) return;
    await removeSchedules(t.stack.client, [t.fixture.own.system.schedule, t.fixture.other.system.schedule]);
  });

  /** What each cell answered, for the summary. */
  const answered = new Map<string, Record<string, string>>();
  let sequence = 0;
  let liveDocument: Promise<string[]> | undefined;
  /** The operations of /openapi.json as the running API serves it. */
  const live = () =>
    (liveDocument ??= call(t.stack.baseUrl, { method: 'GET', path: '/openapi.json', from: freshLoopback() }).then((res) => operationsOf(res.body)));

  const as = (role: RoleKey, c: Call) =>
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
    const absent: Target = {
      ...target, warehouse: 'W9', counting: randomUUID(), released: randomUUID(), rowId: 2_000_000_001, order: 2_000_000_001, line: 2_000_000_001, orderDevice: 'no-such-device',
      system: { ...target.system, run: randomUUID(), waiting: randomUUID(), exception: 2_000_000_001, schedule: `mx${suffix}-w9` },
    };
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

  /** The state a write may change: the database, and the schedules for operations on them. */
  const stateOf = async (op: Op, req: Req): Promise<{ db: Awaited<ReturnType<typeof dbFingerprint>>; temporal: string }> => {
    const { stack, fixture } = t;
    const names = [fixture.own.system.schedule, fixture.other.system.schedule];
    const requested = (req.body as { name?: unknown } | undefined)?.name;
    if (op.path === '/system-reconciliation-schedules' && typeof requested === 'string') names.push(requested);
    return { db: await dbFingerprint(stack.db.orm), temporal: op.temporal ? await scheduleState(stack.client, names) : '' };
  };

  async function runCell(op: Op, wh: Wh, role: RoleKey, expected: Outcome): Promise<string[]> {
    const { stack, fixture } = t;
    const target = fixture[wh];
    const req = op.req(target, ++sequence);
    const write = op.method !== 'GET';
    const before = write ? await stateOf(op, req) : undefined;
    const res = await as(role, { method: op.method, ...req });
    const cells = answered.get(labelOf(op)) ?? {};
    cells[role] = cells[role] ? `${cells[role]}/${res.status}` : String(res.status);
    answered.set(labelOf(op), cells);

    const issues: string[] = [];
    if (expected === 'U') issues.push(...refusalIssues(res, 401, 'unauthenticated'));
    if (expected === 'F') issues.push(...refusalIssues(res, 403, op.forbiddenType?.(wh, role) ?? 'forbidden'));
    if (expected === 'R') {
      issues.push(...refusalIssues(res, 422, 'invalid-import'));
      const named = (res.body?.lines as Array<{ problem: string }> | undefined)?.some((l) => l.problem.includes(`warehouse ${target.warehouse} is not granted`));
      if (!named) issues.push(`the refusal does not name warehouse ${target.warehouse} as not granted: ${res.text.slice(0, 300)}`);
    }
    if (expected === 'H') {
      issues.push(...refusalIssues(res, 404, 'not-found'));
      // A reader of the warehouse may be told more (it can see the order); anyone else must learn nothing.
      if (wh === 'other' || COUNTER_ROLES.includes(role)) issues.push(...(await sameAsAbsent(op, role, res, target)));
    }
    let succeeded = false;
    if (expected === 'A') {
      const ok = op.allowed
        ? op.allowed(res)
        : op.method === 'GET'
          ? res.status === 200
          : [200, 201, 409].includes(res.status) || (res.status === 422 && res.body?.type !== 'https://stocktake.dev/problems/invalid-request');
      if (!ok) issues.push(`${res.status} ${res.text.slice(0, 300)}`);
      // A caller granted W1 only never hears of W2's reconciliations.
      for (const id of fixture.w2Ids) if (res.text.includes(id)) issues.push(`names W2's ${id}`);
      if (ok && op.check) issues.push(...op.check(res, { wh, role, t: target, f: fixture }));
      succeeded = res.status >= 200 && res.status < 300;
      if (succeeded) await op.settle?.(stack, res, target);
    }
    if (before) {
      // A write that was refused, for access or for the state it met, wrote nothing; one that succeeded wrote something.
      const changes = (after: typeof before) => [
        ...changedTables(before.db, after.db),
        ...(before.temporal !== after.temporal ? ['schedules in Temporal'] : []),
      ];
      if (!succeeded) {
        const changed = changes(await stateOf(op, req));
        if (changed.length > 0) issues.push(`refused (${res.status}), yet changed ${changed.join(', ')}`);
      } else {
        // Temporal applies a schedule's change as it gets to it: give it a moment to show.
        const changed = await eventually(async () => {
          const c = changes(await stateOf(op, req));
          return c.length > 0 || !op.temporal ? c : undefined;
        }, `${labelOf(op)} to show its change`, 10_000).catch(() => []);
        if (changed.length === 0) issues.push(`answered ${res.status} but changed nothing`);
      }
    }
    if (expected === 'A') await op.after?.(stack, role, res, target);
    return issues.map((i) => `${labelOf(op)} on ${wh === 'own' ? 'W1' : 'W2'} as ${role} (expected ${WORD[expected]}): ${i}`);
  }

  it('every operation in the live /openapi.json has a row in the matrix (and every row is documented)', async () => {
    const served = await live();
    const untested = served.filter((op) => !TABLE.has(op) && !PUBLIC.includes(op.split(' ')[1]!));
    const stale = [...TABLE.keys()].filter((op) => !served.includes(op));
    expect(untested, `operations without a row in the access matrix: ${untested.join(', ')}`).toEqual([]);
    expect(stale, `rows for operations the document does not have: ${stale.join(', ')}`).toEqual([]);
    expect(served.length).toBeGreaterThanOrEqual(TABLE.size);
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
    for (const device of ['dev-w2', 'auditor-w1', 'admin-w1', 'wms-dc1', 'no-such-device']) {
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
      it(`${labelOf(op)} answers every role as the matrix says (W1: ${op.own}${op.other ? `, W2: ${op.other}` : ''})`, async () => {
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
    const head = `${'operation'.padEnd(width)} | ${ROLES.map((r) => r.padEnd(11)).join(' ')}   (status on W1/W2)`;
    const lines = [...answered.entries()].map(([k, cells]) => `${k.padEnd(width)} | ${ROLES.map((r) => (cells[r] ?? '-').padEnd(11)).join(' ')}`);
    console.log(['', 'Access matrix: what each role was answered', head, '-'.repeat(head.length), ...lines].join('\n'));
  });
});
