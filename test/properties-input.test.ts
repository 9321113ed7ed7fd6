import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  badNumber, badString, badText, deeplyNested, encodeURIComponentLenient, hugeText, leavesOf, rawBadNumber, replaceAt, type JsonPath,
} from './support/arbitraries';
import { as, settledTables, expectRefusedUnchanged, MANAGER_W1, propertyFixture, runs, type PropertyFixture } from './support/property-fixture';
import { useStack } from './support/stack';

/**
 * Generated input no field of the API takes, on every JSON write and every
 * query: one value of an otherwise well-formed request replaced by text
 * with NUL, control characters or lone surrogates, 1 MiB of text, a number
 * as a string, a number out of range, a value of the wrong type; bodies that
 * cannot be read (deeply nested, a key twice with the bad value last,
 * numbers no double holds, truncated, not JSON at all). Each is refused with
 * a 4xx problem document that leaks nothing, and the database stays exactly
 * as it was. A failure prints fast-check's seed and path: FC_SEED=<seed>
 * FC_PATH=<path> replays it.
 */

/** A JSON write that would be accepted as it is (or refused only for its state): one of its values is made bad. */
interface Write {
  caller: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body: Record<string, unknown>;
}

const template = { sourceA: 'book', sourceB: 'prop-wms', warehouse: 'W1', selection: { itemFrom: 'A', itemTo: 'Z', items: ['P1'], locations: ['A-01'] },
  tolerance: { default: { quantity: { plus: 1, minus: 1 } } }, cutoffMinutes: 60, levelsDeadlineMinutes: 240, managerApprovalLimit: 100 };

function writes(fx: PropertyFixture): Write[] {
  const rec = (path: string, body: Record<string, unknown>): Write => ({ caller: 'manager-1', method: 'POST', path: `/reconciliations/${fx.review.id}/${path}`, body });
  const selection = { rowIds: [fx.review.rows[0]], filter: { approval: 'to_approve', zoneCodes: ['B'], itemCodes: ['LOT'], minAbsValue: 1, direction: 'gain' } };
  const order = `/count-orders/${fx.counting.order}`;
  return [
    { caller: 'manager-1', method: 'POST', path: '/reconciliations', body: {
      warehouse: 'W1', scope: { kind: 'zones', zones: ['A'], items: ['P1'] }, splitPolicy: { kind: 'by_size', maxLocations: 2 },
      tolerance: { default: { quantity: { plus: 1, minus: 1 } }, items: { P1: { value: { plus: 5, minus: 5 } } } },
      blindCount: true, maxRecountRounds: 2, countDeadlineMinutes: 60, managerApprovalLimit: 100 } },
    rec('approvals', selection),
    rec('recount-marks', selection),
    rec('row-deletions', { ...selection, reason: 'counted twice' }),
    rec('failed-rows/skip', { ...selection, reason: 'cannot post' }),
    rec('cancellation', { reason: 'wrong scope' }),
    { caller: 'dev-1', method: 'POST', path: `${order}/submissions`, body: {
      submissionId: 'prop-submission', device: 'dev-1',
      entries: [{ location: 'A-01', item: 'P1', lot: '', serial: '', handlingUnit: '', owner: '', quantity: 3, blocked: { damaged: 1 } }] } },
    { caller: 'dev-1', method: 'POST', path: `${order}/completion`, body: { device: 'dev-1' } },
    { caller: 'manager-1', method: 'POST', path: `${order}/assignment`, body: { device: 'dev-1' } },
    { caller: 'manager-1', method: 'DELETE', path: `/reconciliations/${fx.released.id}/adjustment-order/lines/${fx.released.line}`, body: { reason: 'sent twice' } },
    { caller: 'admin-1', method: 'POST', path: '/users', body: { name: 'prop-user', role: 'counter', kind: 'device', warehouses: ['W1'], tokenDays: 30 } },
    { caller: 'admin-1', method: 'PUT', path: '/users/dev-2/warehouses', body: { warehouses: ['W1', 'W2'] } },
    { caller: 'admin-1', method: 'POST', path: '/users/dev-2/token-rotation', body: { tokenDays: 30 } },
    { caller: 'admin-1', method: 'POST', path: '/systems', body: {
      name: 'prop-erp', locationGranularity: 'location', levels: { mode: 'pulled', url: 'https://erp.example/levels', authorization: 'Bearer abc' },
      statuses: [{ status: 'available', category: 'available' }, { status: 'qc', category: 'unavailable', blockingReason: 'quality' }],
      units: [{ unit: 'CASE', item: 'P1', storageUnits: 24 }] } },
    { caller: 'admin-1', method: 'PUT', path: `/systems/${fx.system}/statuses`, body: { statuses: [{ status: 'damaged', category: 'unavailable', blockingReason: 'damaged' }] } },
    { caller: 'admin-1', method: 'PUT', path: `/systems/${fx.system}/units`, body: { units: [{ unit: 'PAL', storageUnits: 40 }] } },
    { caller: 'admin-1', method: 'PUT', path: `/systems/${fx.system}/levels`, body: { mode: 'pulled', url: 'https://wms.example/levels' } },
    { caller: 'manager-1', method: 'POST', path: '/system-reconciliations', body: template },
    { caller: 'manager-1', method: 'POST', path: '/system-reconciliation-schedules', body: { name: 'prop-schedule', template, everyMinutes: 60, paused: true } },
  ];
}

/** The numbers of the writes above that must be whole (by their field's name): counted pieces, ids, days and minutes, rounds, sizes. */
const WHOLE = ['rowIds', 'quantity', 'damaged', 'tokenDays', 'maxRecountRounds', 'countDeadlineMinutes', 'maxLocations', 'cutoffMinutes', 'levelsDeadlineMinutes', 'everyMinutes'];

/** Fields of the writes above that may be null (no bound, no blocking, any item): null is no bad value there. */
const NULLABLE = ['tolerance', 'blockingReason', 'item', 'countDeadlineMinutes'];

/** A value that no field takes where this value stood (at `path`). */
function badFor(value: string | number | boolean, path: JsonPath): fc.Arbitrary<unknown> {
  const field = String(path.findLast((k) => typeof k === 'string'));
  const notNull = <T,>(a: fc.Arbitrary<T>) => (path.some((k) => NULLABLE.includes(String(k))) ? a.filter((v) => v !== null) : a);
  if (typeof value === 'string') return notNull(badString);
  if (typeof value === 'boolean') return fc.constantFrom<unknown>('true', 1, 0, null, 'yes', []);
  // A tolerance bound has no upper limit (a huge one means "anything is within tolerance"): only below zero or not a number is bad.
  const numbers = path.includes('tolerance') ? badNumber.filter((v) => !(typeof v === 'number' && v > 0)) : badNumber;
  const whole = field === 'quantity' ? path[0] === 'entries' : WHOLE.includes(field);
  return whole ? fc.oneof(notNull(numbers), fc.constant(value + 0.5)) : notNull(numbers);
}

describe('properties: input no field takes', () => {
  const t = useStack(propertyFixture);

  it('refuses a JSON write with one value replaced by bad text, 1 MiB of text, a number as a string, an out-of-range number or a wrong type', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const cases = fc.constantFrom(...writes(fx)).chain((w) => {
      const leaves = leavesOf(w.body);
      return fc.constantFrom(...leaves).chain((leaf) => fc.record({ write: fc.constant(w), path: fc.constant(leaf.path), bad: badFor(leaf.value, leaf.path) }));
    });
    await fc.assert(
      fc.asyncProperty(cases, async ({ write, path, bad }) => {
        await expectRefusedUnchanged(stack, tables, {
          label: `${JSON.stringify(path)} of`, method: write.method, path: write.path, token: as(write.caller), body: replaceAt(write.body, path, bad),
        });
      }),
      runs(250),
    );
  });

  it('refuses a JSON write with a key it does not know, at the top or inside, including __proto__ and constructor', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const objectPaths = (value: unknown, path: JsonPath = []): JsonPath[] =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? [path, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...path, k]))]
        : Array.isArray(value) ? value.flatMap((v, i) => objectPaths(v, [...path, i])) : [];
    // Maps keyed by code (blockings, tolerances by item) take any code as a key: an unknown key there is a new code, not a bad field.
    const cases = fc.constantFrom(...writes(fx)).chain((w) =>
      fc.record({
        write: fc.constant(w),
        at: fc.constantFrom(...objectPaths(w.body).filter((p) => !['blocked', 'items', 'default'].includes(String(p.at(-1))) && !p.includes('default'))),
        key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'colour', 'Warehouse', 'id', 'status', ''),
      // A key the object has already would be a duplicate whose last (valid) value counts: that is the next property's case.
      }).filter(({ write, at, key }) => !Object.hasOwn(at.reduce<any>((v, k) => v[k], write.body), key)));
    await fc.assert(
      fc.asyncProperty(cases, async ({ write, at, key }) => {
        // Spelled into the text, as JSON.stringify would drop or turn a __proto__ key.
        const inner = JSON.stringify(at.reduce<any>((v, k) => v[k], write.body));
        const withKey = inner === '{}' ? `{${JSON.stringify(key)}:1}` : `{${JSON.stringify(key)}:{"a":1},${inner.slice(1)}`;
        const text = at.length === 0 ? withKey : JSON.stringify(replaceAt(write.body, at, '\u0000MARK')).replace('"\\u0000MARK"', withKey);
        await expectRefusedUnchanged(stack, tables, {
          label: `key ${JSON.stringify(key)} at ${JSON.stringify(at)} of`, method: write.method, path: write.path, token: as(write.caller),
          raw: { type: 'application/json', text },
        });
      }),
      runs(120),
    );
  });

  it('refuses a JSON body that cannot be read as one: deeply nested, a key twice with the bad value last, numbers no double holds, cut short, or not JSON', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const bodyText = (w: Write): fc.Arbitrary<{ kind: string; text: string; type?: string }> => {
      const json = JSON.stringify(w.body);
      const leaves = leavesOf(w.body);
      // A tolerance bound has no upper limit, so a number no double holds is no bad value there.
      const numbers = leaves.filter((l) => typeof l.value === 'number' && !l.path.includes('tolerance'));
      const first = Object.keys(w.body)[0]!;
      return fc.oneof(
        fc.record({ kind: fc.constant('nested'), text: fc.tuple(fc.integer({ min: 500, max: 200_000 }), fc.constantFrom<'array' | 'object'>('array', 'object'), fc.boolean())
          .map(([depth, shape, inside]) => (inside ? `${json.slice(0, -1)},${JSON.stringify(first)}:${deeplyNested(depth, shape)}}` : deeplyNested(depth, shape))) }),
        fc.record({ kind: fc.constant('duplicate key, bad value last'), text: fc.oneof(badText, hugeText).map((bad) => `${json.slice(0, -1)},${JSON.stringify(first)}:${JSON.stringify(bad)}}`) }),
        ...(numbers.length ? [fc.record({ kind: fc.constant('raw number'), text: fc.tuple(fc.constantFrom(...numbers), rawBadNumber)
          .map(([leaf, raw]) => JSON.stringify(replaceAt(w.body, leaf.path, '\u0000NUMBER')).replace('"\\u0000NUMBER"', raw)) })] : []),
        fc.record({ kind: fc.constant('cut short'), text: fc.integer({ min: 1, max: json.length - 1 }).map((n) => json.slice(0, n)) }),
        fc.record({ kind: fc.constant('trailing text'), text: fc.constantFrom('x', '}', ',{}', '\u0000', '[]').map((x) => json + x) }),
        fc.record({ kind: fc.constant('not an object'), text: fc.constantFrom('null', '[]', '"text"', '1', 'true', '', ' ', '\ufeff', `[${json}]`) }),
        fc.record({ kind: fc.constant('invalid UTF-8 or escapes'), text: fc.constantFrom(`${json.slice(0, -1)},"x":"\\ud800"}`, `{"${first}":"\\x00"}`, `{"${first}":"\\u00"}`) }),
        fc.record({ kind: fc.constant('not declared as JSON'), text: fc.constant(json), type: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'text/csv', 'application/xml', 'multipart/form-data; boundary=x') }),
      );
    };
    const cases = fc.constantFrom(...writes(fx)).chain((w) => fc.record({ write: fc.constant(w), body: bodyText(w) }));
    await fc.assert(
      fc.asyncProperty(cases, async ({ write, body }) => {
        await expectRefusedUnchanged(stack, tables, {
          label: `${body.kind}:`, method: write.method, path: write.path, token: as(write.caller), raw: { type: body.type ?? 'application/json', text: body.text },
        });
      }),
      runs(150),
    );
  });

  it('refuses a query with bad text, a number that is none or out of range, or a value outside its choices, on every read that takes one', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    const text = fc.oneof(badText, fc.constant('x'.repeat(20_000)));
    const whole = fc.constantFrom('-1', '1.5', 'NaN', 'abc', '1e999', '9'.repeat(400), '99999999999999999999');
    const amount = fc.constantFrom('-1', 'NaN', 'abc', '1e999', '-0.5');
    const choice = fc.oneof(fc.constantFrom('TRUE', 'yes', 'Approved', 'json ', 'xml', '1'), badText);
    const date = fc.constantFrom('yesterday', '2024-13-45T00:00:00Z', '2024-02-30T00:00:00Z', '99999-01-01T00:00:00Z', '2024-01-01', '0000-00-00T00:00:00Z', '-infinity', 'epoch');
    const day = fc.constantFrom('2024-02-30', '2024-13-01', '2024-1-1', '20240101', '2024-01-01T00:00:00Z', '+02024-01-01', 'today');
    const rec = `/reconciliations/${fx.review.id}`;
    const reads: Array<{ caller: string; path: string; base?: string; params: Record<string, fc.Arbitrary<string>> }> = [
      { caller: 'manager-1', path: '/reconciliations', params: { limit: whole } },
      { caller: 'manager-1', path: `${rec}/rows`, params: {
        item: badText, zone: badText, location: badText, approval: choice, state: choice, minAbsVariance: amount, minAbsValue: amount,
        direction: choice, minAbsPercent: amount, after: whole, limit: whole, sort: choice, order: choice, offset: whole, total: choice } },
      { caller: 'manager-1', path: `${rec}/audit`, params: { after: whole, limit: whole } },
      { caller: 'manager-1', path: `/reconciliations/${fx.released.id}/adjustment-order`, params: { format: choice } },
      { caller: 'dev-1', path: `/count-orders/${fx.counting.order}/tasks`, params: { after: whole, limit: whole } },
      { caller: 'auditor-1', path: '/audit', params: { reconciliationId: fc.oneof(text, fc.constant('42')), actor: text, action: text, from: date, to: date, after: whole, limit: whole } },
      { caller: 'manager-1', path: `/systems/${fx.system}/messages`, params: {
        unprocessed: choice, item: badText, warehouse: badText, target: badText, from: date, to: date, after: fc.constant('x'.repeat(1_001)), limit: whole } },
      { caller: 'manager-1', path: '/system-reconciliations', params: { limit: whole } },
      { caller: 'manager-1', path: '/system-exceptions', params: { status: choice, owner: text, rootCause: choice, warehouse: badText, after: whole, limit: whole } },
      { caller: MANAGER_W1, path: '/kpis/system-reconciliation', base: `warehouse=W1&sourceA=book&sourceB=${fx.system}&`, params: {
        warehouse: badText, sourceA: badText, sourceB: badText, from: day, to: day, format: choice, view: choice } },
    ];
    const cases = fc.constantFrom(...reads).chain((read) =>
      fc.record({ read: fc.constant(read), name: fc.constantFrom(...Object.keys(read.params)) }).chain(({ read: r, name }) =>
        fc.record({ read: fc.constant(r), name: fc.constant(name), value: r.params[name]! })));
    await fc.assert(
      fc.asyncProperty(cases, async ({ read, name, value }) => {
        await expectRefusedUnchanged(stack, tables, {
          label: `query ${name} of`, method: 'GET', path: `${read.path}?${read.base ?? ''}${name}=${encodeURIComponentLenient(value)}`, token: as(read.caller),
        });
      }),
      runs(200),
    );
  });

  it('refuses a load (CSV or JSON lines) with one field of one line replaced by bad text, 1 MiB of text or a value of the wrong kind, applying none of it', async () => {
    const { stack } = t;
    const tables = await settledTables(stack);
    // One well-formed line of each kind (new things, or the stock as it stands), as JSON records: the CSV header is their keys.
    const LINES: Record<string, Record<string, string | number | boolean>> = {
      warehouses: { code: 'W9', name: 'Warehouse nine' },
      zones: { warehouse: 'W1', code: 'Z9' },
      locations: { warehouse: 'W1', zone: 'A', code: 'A-09' },
      units: { code: 'DZ', decimals: 0 },
      items: { code: 'PROP-1', description: 'a property', storageUnit: 'PCS', inventoryUnit: 'PCS', conversionFactor: 1, standardCost: 2.5, lotTracked: false, serialTracked: false },
      stock: { warehouse: 'W1', location: 'A-02', item: 'BOX', lot: '', serial: '', handlingUnit: '', owner: 'prop', quantity: 7 },
    };
    const csvField = (v: unknown) => `"${String(v).replaceAll('"', '""')}"`;
    // A lone surrogate cannot travel in UTF-8 text (the client would send U+FFFD, which is valid): in CSV only control characters are bad text.
    const badCsv = fc.oneof(badText.filter((x) => !/[\uD800-\uDFFF]/.test(x)), hugeText);
    // null is an absent field in a load (an optional label, a flag): absent where required is bad, so only numbers get it.
    const badNdjson = (v: string | number | boolean) =>
      typeof v === 'number' ? fc.constantFrom<unknown>(-1, 1e308, 1e-7, 'abc', '', true, [], {}, null)
      : typeof v === 'boolean' ? fc.constantFrom<unknown>('maybe', 2, [], {}) : badString.filter((x) => x !== null);
    const cases = fc.constantFrom(...Object.keys(LINES)).chain((kind) => {
      const line = LINES[kind]!;
      return fc.record({
        kind: fc.constant(kind),
        field: fc.constantFrom(...Object.keys(line)),
        format: fc.constantFrom('csv', 'ndjson'),
        // The bad line alone, or after a good one: a load is applied whole or not at all.
        afterGood: fc.boolean(),
        importId: fc.uuid(),
      }).chain((c) => fc.record({ c: fc.constant(c), bad: c.format === 'csv' ? badCsv : badNdjson(line[c.field]!) }));
    });
    await fc.assert(
      fc.asyncProperty(cases, async ({ c, bad }) => {
        const good = LINES[c.kind]!;
        const wrong = { ...good, [c.field]: bad };
        // The good line of a kind that creates a thing is a second one, so that only the bad line is in the way.
        const other = { ...good, ...('code' in good && c.field !== 'code' ? { code: `${String(good.code)}X` } : {}) };
        const lines = c.afterGood ? [other, wrong] : [wrong];
        const raw = c.format === 'csv'
          ? { type: 'text/csv', text: [Object.keys(good).join(','), ...lines.map((l) => Object.values(l).map(csvField).join(','))].join('\n') + '\n' }
          : { type: 'application/x-ndjson', text: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' };
        await expectRefusedUnchanged(stack, tables, {
          label: `${c.kind} ${c.format}, field ${c.field}:`, method: 'POST', path: `/imports/${c.kind}`, token: as('admin-1'), raw,
          headers: { 'import-id': `prop-${c.importId}` },
        });
      }),
      runs(60),
    );
  });

  // Regression (found by the first property): trim() ran before the control-character check, so a code or reason
  // starting or ending with a vertical tab or form feed was stored without it instead of being refused.
  it('refuses a code or a reason that starts or ends with a control character that trimming would strip', async () => {
    const { stack, fixture: fx } = t;
    const tables = await settledTables(stack);
    for (const sent of [
      { method: 'PUT', path: `/systems/${fx.system}/statuses`, token: as('admin-1'), body: { statuses: [{ status: '\u000bdamaged', category: 'unavailable' }] } },
      { method: 'POST', path: `/reconciliations/${fx.review.id}/cancellation`, token: as('manager-1'), body: { reason: 'wrong scope\u000c' } },
      { method: 'GET', path: `/systems/${fx.system}/messages?warehouse=%0BW1`, token: as('manager-1') },
    ]) {
      const res = await expectRefusedUnchanged(stack, tables, sent);
      expect(res.status, res.text).toBe(422);
      expect(res.body.detail, res.text).toMatch(/control characters/);
    }
  });

  // Regression: a missing field was described in Zod's words, "expected string, received undefined".
  it('says a missing field is required, in words that name no JavaScript value', async () => {
    const { stack } = t;
    const res = await expectRefusedUnchanged(stack, await settledTables(stack), { method: 'POST', path: '/reconciliations', token: as('manager-1'), body: {} });
    expect(res.status).toBe(422);
    expect(res.body.issues).toEqual(expect.arrayContaining([{ path: 'warehouse', message: 'required (string)' }, { path: 'scope', message: 'required (object)' }]));
  });
});
