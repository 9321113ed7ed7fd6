import type { Client } from '@temporalio/client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createApp } from '../api/app';
import type { Orm } from '../db/orm';
import { rows, sql } from '../db/sql';
import { ALLOWED_IN, type Decision, type ReconciliationStatus } from '../domain/reconciliation-status';
import { badString, badText, encodeURIComponentLenient, oddValidText, strangeSegment } from './support/arbitraries';
import { as, settledTables, expectRefusedUnchanged, MANAGER_W1, propertyFixture, runs, type PropertyFixture, type Sent } from './support/property-fixture';
import { call } from './support/access-http';
import { useStack } from './support/stack';

/**
 * Generated requests that do not fit: decisions in a status that does not
 * take them, counts sent to orders that are not the caller's open one, and
 * ids of another warehouse's things, of nothing, or of another kind, on every
 * route of the API. Each is refused with a 4xx problem document that leaks
 * nothing, and the database stays exactly as it was. A failure prints
 * fast-check's seed and path: FC_SEED=<seed> FC_PATH=<path> replays it.
 */

const DECISION_PATH: Record<Decision, string> = {
  startInitialCount: 'initial-count',
  markForRecount: 'recount-marks',
  generateRecountOrder: 'recount-orders',
  approveRows: 'approvals',
  deleteRows: 'row-deletions',
  release: 'release',
  retryFailedRows: 'failed-rows/retry',
  skipFailedRows: 'failed-rows/skip',
  retryStep: 'step-retry',
  cancel: 'cancellation',
};
const WITH_SELECTION: Decision[] = ['markForRecount', 'approveRows', 'deleteRows', 'retryFailedRows', 'skipFailedRows'];
const WITH_REASON: Decision[] = ['deleteRows', 'skipFailedRows', 'cancel'];

/** A code that may or may not exist: odd but valid text, or one of the fixture's own. */
const someCode = (own: string[]) => fc.oneof(fc.constantFrom(...own), oddValidText);

/** A well-formed body for a decision: rows of any reconciliation (or none), filters of odd text, an odd reason. */
function decisionBody(decision: Decision, fx: PropertyFixture): fc.Arbitrary<unknown> {
  const anyRow = fc.constantFrom(...fx.counting.rows, ...fx.review.rows, ...fx.released.rows, ...fx.foreign.rows, 999_999_999);
  const filter = fc.record(
    {
      itemCodes: fc.array(someCode(['P1', 'BOX', 'LOT', 'SER']), { minLength: 1, maxLength: 3 }),
      zoneCodes: fc.array(someCode(['A', 'B']), { minLength: 1, maxLength: 2 }),
      approval: fc.constantFrom('to_approve', 'approved', 'not_required'),
      minAbsValue: fc.integer({ min: 0, max: 1000 }),
      direction: fc.constantFrom('gain', 'loss'),
    },
    { requiredKeys: [] },
  );
  const selection = fc.oneof(
    fc.record({ rowIds: fc.array(anyRow, { minLength: 1, maxLength: 4 }) }),
    fc.record({ filter }),
    fc.record({ rowIds: fc.array(anyRow, { maxLength: 2 }), filter }),
  );
  const reason = oddValidText;
  if (WITH_SELECTION.includes(decision) && WITH_REASON.includes(decision)) return fc.tuple(selection, reason).map(([s, r]) => ({ ...s, reason: r }));
  if (WITH_SELECTION.includes(decision)) return selection;
  if (WITH_REASON.includes(decision)) return reason.map((r) => ({ reason: r }));
  return fc.constant(undefined);
}

describe('properties: requests that do not fit the state or the caller', () => {
  const t = useStack(propertyFixture);

  it('refuses a decision in a status that does not take it (or a release with rows still To Approve), whatever its rows, filters and reason', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const states: Array<{ status: ReconciliationStatus; id: string; alsoRefused: Decision[] }> = [
      { status: 'counting', id: fx.counting.id, alsoRefused: [] },
      // In review a release is refused while a row is To Approve; the other decisions of review would apply.
      { status: 'review', id: fx.review.id, alsoRefused: ['release'] },
      { status: 'released', id: fx.released.id, alsoRefused: [] },
    ];
    const cases = fc.oneof(
      ...states.map((s) =>
        fc.constantFrom(...(Object.keys(DECISION_PATH) as Decision[]).filter((d) => !ALLOWED_IN[d].includes(s.status) || s.alsoRefused.includes(d)))
          .chain((decision) => fc.record({
            state: fc.constant(s), decision: fc.constant(decision), body: decisionBody(decision, fx),
            caller: fc.constantFrom('manager-1', 'senior-1', MANAGER_W1), key: fc.option(fc.uuid(), { nil: undefined }),
          }))),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ state, decision, body, caller, key }) => {
        const res = await expectRefusedUnchanged(stack, tables, {
          label: `${decision} in ${state.status}:`, method: 'POST', path: `/reconciliations/${state.id}/${DECISION_PATH[decision]}`,
          token: as(caller), body, headers: key ? { 'idempotency-key': key } : {},
        });
        // Well-formed, by a manager of the warehouse: the only thing wrong is the state.
        if (res.status !== 409) throw new Error(`expected 409 for ${decision} in ${state.status}, got ${res.status}: ${res.text}`);
      }),
      runs(100),
    );
  });

  it("refuses a decision in review on rows that are not the reconciliation's (another's in the same or another warehouse, or none at all)", async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const strangers = fc.constantFrom(...fx.counting.rows, ...fx.released.rows, ...fx.foreign.rows, 999_999_999, Number.MAX_SAFE_INTEGER);
    const cases = fc.record({
      decision: fc.constantFrom<Decision>('markForRecount', 'approveRows', 'deleteRows'),
      rowIds: fc.uniqueArray(strangers, { minLength: 1, maxLength: 4 }),
      reason: oddValidText,
      caller: fc.constantFrom('manager-1', 'senior-1'),
    });
    await fc.assert(
      fc.asyncProperty(cases, async ({ decision, rowIds, reason, caller }) => {
        await expectRefusedUnchanged(stack, tables, {
          label: `${decision} of strangers' rows:`, method: 'POST', path: `/reconciliations/${fx.review.id}/${DECISION_PATH[decision]}`,
          token: as(caller), body: decision === 'deleteRows' ? { rowIds, reason } : { rowIds },
        });
      }),
      runs(40),
    );
  });

  it('refuses a decision on a system reconciliation still waiting for levels, and a levels upload of bad lines, whatever the lines named', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const lines = fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant(2_147_483_647)), { minLength: 1, maxLength: 4 });
    const csv = (line: string) => ({ type: 'text/csv', text: `item,warehouse,location,status,quantity\n${line}\n` });
    const cases = fc.oneof(
      fc.record({ path: fc.constant('line-deletions'), body: fc.record({ lines, reason: oddValidText }) }),
      fc.record({ path: fc.constantFrom('line-refresh', 'line-approvals', 'processing'), body: fc.record({ lines }) }),
      fc.record({ path: fc.constantFrom('close', 'step-retry'), body: fc.constant(undefined) }),
      // Lines the comparison cannot take: a warehouse not the run's, an unknown status, a quantity that is none, bad text.
      fc.record({ path: fc.constant('levels?source=prop-wms'), raw: fc.oneof(
        fc.constantFrom('SER,W2,B-01,available,1', 'SER,W1,B-01,lost,1', 'SER,W1,B-01,available,-1', 'SER,W1,B-01,available,abc', 'SER,W1,B-01,available,1e400').map(csv),
        badText.filter((x) => !/[\uD800-\uDFFF]/.test(x)).map((bad) => csv(`"${bad.replaceAll('"', '""')}",W1,B-01,available,1`)),
      ) }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const upload = c.path.startsWith('levels');
        await expectRefusedUnchanged(stack, tables, {
          label: 'system run waiting for levels:', method: 'POST', path: `/system-reconciliations/${fx.run}/${c.path}`,
          token: as(upload ? 'admin-1' : 'manager-1'), ...('raw' in c ? { raw: c.raw } : { body: c.body }),
        });
      }),
      runs(60),
    );
    const run = await call(stack.baseUrl, { method: 'GET', path: `/system-reconciliations/${fx.run}`, token: as('manager-1') });
    expect(run.body.status, run.text).toBe('requesting');
  });

  // Regression (found by the property above): a refused release wrote "release started" into step_progress before it was refused.
  it('leaves no release progress behind when a release is refused for rows still To Approve', async () => {
    const { stack, fixture: fx } = t;
    const res = await call(stack.baseUrl, { method: 'POST', path: `/reconciliations/${fx.review.id}/release`, token: as('manager-1') });
    expect(res.status, res.text).toBe(409);
    const progress = await rows(stack.db.orm.em.fork(), sql<{ phase: string }>`
      select phase from step_progress where reconciliation_id = ${fx.review.id} order by phase`);
    expect(progress.map((p) => p.phase)).toEqual(['populate', 'snapshot']);
  });

  it("refuses counts sent by a device to any order but its own open one (another device's, another warehouse's, a completed one, no order), and its reads of them", async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const orders = [fx.counting, fx.review, fx.released, fx.foreign].map((d) => ({ id: String(d.order), device: d.device, open: d === fx.counting || d === fx.foreign }));
    const entry = fc.record({
      location: someCode(['A-01', 'A-02', 'B-01']),
      item: someCode(['P1', 'BOX', 'LOT', 'SER']),
      lot: fc.constantFrom('', 'L1'),
      owner: fc.oneof(fc.constant(''), oddValidText),
      quantity: fc.integer({ min: 0, max: 1000 }),
    });
    const target = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...orders) },
      { weight: 2, arbitrary: fc.oneof(strangeSegment, fc.constant(fx.counting.id)).map((id) => ({ id, device: 'nobody', open: false })) },
    );
    const cases = fc.record({
      caller: fc.constantFrom('dev-1', 'dev-2'),
      order: target,
      op: fc.constantFrom('submit', 'complete', 'tasks', 'read'),
      submission: fc.record({ submissionId: fc.uuid().map((u) => `prop-${u}`), entries: fc.array(entry, { minLength: 1, maxLength: 4 }) }),
    }).filter(({ caller, order, op }) =>
      // The caller's own open order takes its counts; its own completed order may be read, and completing it again is a harmless repeat.
      !(order.device === caller && (order.open || op !== 'submit')));
    await fc.assert(
      fc.asyncProperty(cases, async ({ caller, order, op, submission }) => {
        const base = `/count-orders/${order.id}`;
        const sent: Sent =
          op === 'submit' ? { method: 'POST', path: `${base}/submissions`, body: submission }
          : op === 'complete' ? { method: 'POST', path: `${base}/completion`, body: {} }
          : { method: 'GET', path: op === 'tasks' ? `${base}/tasks` : base };
        await expectRefusedUnchanged(stack, tables, { ...sent, label: `${caller} ${op}:`, token: as(caller) });
      }),
      runs(100),
    );
  });

  it('answers ids of another warehouse, of nothing or of another kind, on every route of the API, with a 4xx that changes nothing', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const routes = await documentedRoutes();
    const routeCases = fc.constantFrom(...routes).chain((route) => {
      const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      // Each parameter is the fixture's own valid one or a foreign or strange one; at least one is foreign or strange.
      return fc.tuple(...names.map((name) => fc.tuple(fc.boolean(), paramValue(route.path, name, fx)))).map((picks) => ({
        route,
        params: picks.map(([foreign, value], i) => {
          const wrong = foreign || (i === picks.length - 1 && !picks.some(([f]) => f));
          return { name: names[i]!, value: wrong ? value : ownParam(route.path, names[i]!, fx) };
        }),
      }));
    });
    await fc.assert(
      fc.asyncProperty(routeCases, async ({ route, params }) => {
        let path = route.path;
        for (const p of params) path = path.replace(`{${p.name}}`, p.value);
        await expectRefusedUnchanged(stack, tables, {
          label: `${route.method} ${route.path}:`, method: route.method, path, token: as(callerFor(route)), ...bodyFor(route, fx),
        });
      }),
      runs(200),
    );
  });
});

interface Route {
  method: string;
  path: string;
}

/** The API's operations with a path parameter, from its own OpenAPI document (built from the routes, no server needed). */
async function documentedRoutes(): Promise<Route[]> {
  const app = createApp({ orm: {} as Orm, temporal: {} as Client, taskQueue: 'openapi', decisionKey: new Uint8Array(32) });
  const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => ({ method: m.toUpperCase(), path })))
    .filter((r) => r.path.includes('{'));
}

/** Who calls a route: the kind of principal it is for, granted W1 only where warehouses matter, so that W2's things are foreign to them. */
function callerFor(route: Route): string {
  if (/^\/(users|imports)/.test(route.path) || (route.path.startsWith('/systems/') && route.method !== 'GET')) return 'admin-1';
  if (/\/(submissions|completion)$/.test(route.path)) return 'dev-1';
  return MANAGER_W1;
}

/** A parameter that names nothing the caller may see: W2's things, another kind's ids, ids of nothing, nonsense. */
function paramValue(path: string, name: string, fx: PropertyFixture): fc.Arbitrary<string> {
  const foreignRec = fc.constant(fx.foreign.id);
  // Ids and names of other kinds of thing: an order's, a row's, a warehouse's, a reconciliation's, a system's (except where a system is meant).
  const otherKind = fc.constantFrom(String(fx.counting.order), String(fx.foreign.rows[0]), 'W1',
    ...(path.startsWith('/reconciliations/') ? [] : [fx.counting.id]), ...(path.startsWith('/systems/') ? [] : [fx.system]));
  if (path.startsWith('/reconciliations/') && name === 'id') return fc.oneof(foreignRec, otherKind, strangeSegment);
  if (name === 'rowId') return fc.oneof(fc.constantFrom(...fx.foreign.rows.map(String), ...fx.released.rows.map(String)), strangeSegment);
  if (name === 'line') return fc.oneof(fc.constant('999999'), fc.constant(String(fx.released.line + 1000)), strangeSegment);
  if (path.startsWith('/count-orders/')) return fc.oneof(fc.constant(String(fx.foreign.order)), fc.constant(fx.counting.id), strangeSegment);
  if (name === 'device') return fc.oneof(badString.filter((s): s is string => typeof s === 'string').map(encodeURIComponentLenient));
  if (name === 'kind') return fc.oneof(fc.constantFrom('reconciliations', 'users', 'stock_position', 'STOCK'), strangeSegment);
  // Names (users, systems, schedules) and system runs and exceptions: nothing by that name or id, or another kind's.
  return fc.oneof(fc.uuid().map((u) => `prop-nothing-${u.slice(0, 8)}`), otherKind, fc.constant(fx.foreign.id), strangeSegment);
}

/** The fixture's own valid parameter, where another parameter of the route is the foreign one. */
function ownParam(path: string, name: string, fx: PropertyFixture): string {
  if (name === 'rowId') return String(fx.counting.rows[0]);
  if (name === 'line') return String(fx.released.line);
  if (name === 'id' && path.includes('/adjustment-order')) return fx.released.id;
  if (name === 'id' && path.startsWith('/reconciliations/')) return fx.counting.id;
  return 'prop-wms';
}

/** A well-formed body for the route, so that its parameters are what is wrong. */
function bodyFor(route: Route, fx: PropertyFixture): Pick<Sent, 'body' | 'raw' | 'headers'> {
  const p = route.path;
  if (route.method === 'GET' || route.method === 'DELETE' && !p.includes('/lines/')) return {};
  if (p.startsWith('/imports/') || p.endsWith('/messages') || p.endsWith('/movements') || p.endsWith('/levels') && route.method === 'POST') {
    return { raw: { type: 'text/csv', text: 'warehouse,location,item,quantity\nW1,A-01,P1,10\n' }, headers: { 'import-id': 'prop-import' } };
  }
  if (p.endsWith('/submissions')) return { body: { submissionId: 'prop-ids', entries: [{ location: 'A-01', item: 'P1', quantity: 1 }] } };
  if (p.endsWith('/assignment')) return { body: { device: 'dev-1' } };
  if (/\/(row-deletions|failed-rows\/skip)$/.test(p)) return { body: { rowIds: [fx.counting.rows[0]], reason: 'property' } };
  if (/\/(recount-marks|approvals|failed-rows\/retry)$/.test(p)) return { body: { rowIds: [fx.counting.rows[0]] } };
  if (/\/(cancellation|lines\/\{line\})$/.test(p) && !p.startsWith('/system-reconciliations/{id}/order')) return { body: { reason: 'property' } };
  if (p.endsWith('/warehouses')) return { body: { warehouses: ['W1'] } };
  if (p.endsWith('/statuses')) return { body: { statuses: [{ status: 'available', category: 'available' }] } };
  if (p.endsWith('/units')) return { body: { units: [] } };
  if (p.endsWith('/levels')) return { body: { mode: 'pushed' } };
  if (/\/(line-deletions)$/.test(p)) return { body: { lines: [1], reason: 'property' } };
  if (/\/(line-refresh|line-approvals|processing)$/.test(p)) return { body: { lines: [1] } };
  if (p === '/system-reconciliation-schedules/{name}' && route.method === 'PUT') return { body: { everyMinutes: 60 } };
  if (p === '/system-exceptions/{id}') return { body: { note: 'property' } };
  return { body: {} };
}
