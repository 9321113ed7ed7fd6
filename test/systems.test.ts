import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { createSystemsUsers, erp, useSystemsStack, WMS } from './support/systems-stack';

/**
 * External systems over HTTP: registration (admins), reading (readers and
 * admins), mapping edits audited with before and after, the book's status
 * mapping, and the pull authorization that never leaves Stocktake.
 */
const SECRET = 'Bearer erp-secret-7f3a9c';

describe('external systems', () => {
  const t = useSystemsStack(async (stack) => {
    await smallWarehouse(stack.orm, 'W1');
    await smallWarehouse(stack.orm, 'W2');
    await createSystemsUsers(stack.orm);
    const wms = await stack.json('POST', '/systems', WMS);
    const erpRes = await stack.json('POST', '/systems', erp('https://erp.example.test/levels', SECRET));
    return { wms, erp: erpRes };
  });

  const auditOf = (action: string, subject: string) =>
    rows(t.stack.orm.em.fork(), sql<{ actor: string; before: any; after: any }>`
      select actor, before, after from audit_event where action = ${action} and subject = ${subject} order by id`);

  it('registers a pushed WMS at location level with its statuses and a CASE unit of 24 storage units', () => {
    const { wms } = t.fixture;
    expect(wms.status, JSON.stringify(wms.body)).toBe(201);
    expect(wms.body).toMatchObject({
      name: 'wms-dc1', kind: 'external', locationGranularity: 'location', levels: { mode: 'pushed' }, createdBy: 'admin-1',
      statuses: [
        { status: 'available', category: 'available', blockingReason: null },
        { status: 'damaged', category: 'unavailable', blockingReason: 'damaged' },
        { status: 'pending_putaway', category: 'unavailable', blockingReason: 'pending_putaway' },
        { status: 'quality', category: 'unavailable', blockingReason: 'quality' },
      ],
      units: [{ unit: 'CASE', item: null, storageUnits: 24 }],
    });
  });

  it('registers a pulled ERP at warehouse level and answers its authorization only as "set"', () => {
    const { erp: res } = t.fixture;
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.levels).toEqual({ mode: 'pulled', url: 'https://erp.example.test/levels', authorization: 'set' });
    expect(res.body.locationGranularity).toBe('warehouse');
    expect(JSON.stringify(res.body)).not.toContain('erp-secret');
  });

  it('never returns the authorization: not in the list, the system, or the audit trail', async () => {
    const list = await t.stack.json('GET', '/systems', undefined, 'auditor-1');
    const one_ = await t.stack.json('GET', '/systems/erp', undefined, 'manager-1');
    const trail = await t.stack.json('GET', '/audit?limit=1000', undefined, 'admin-1');
    expect(list.status).toBe(200);
    expect(one_.status).toBe(200);
    expect(trail.status).toBe(200);
    expect(trail.body.events.some((e: { action: string }) => e.action === 'system_registered')).toBe(true);
    for (const res of [list, one_, trail]) expect(JSON.stringify(res.body)).not.toContain('erp-secret');
    const stored = await one(t.stack.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from audit_event where before::text like '%erp-secret%' or after::text like '%erp-secret%'`);
    expect(stored!.n).toBe(0);
  });

  it('lists the book first, then the registered systems', async () => {
    const res = await t.stack.json('GET', '/systems', undefined, 'manager-1');
    expect(res.body.systems.map((s: { name: string; kind: string }) => `${s.name}:${s.kind}`)).toEqual(['book:book', 'erp:external', 'wms-dc1:external']);
    expect(res.body.systems[0]).toMatchObject({ levels: { mode: 'book' }, locationGranularity: 'location' });
  });

  it('refuses a second system of the same name with 409 source-exists', async () => {
    const res = await t.stack.json('POST', '/systems', { ...WMS, description: 'again' });
    expectProblem(res, 409, 'source-exists');
  });

  it('refuses to register the book (409 source-exists)', async () => {
    const res = await t.stack.json('POST', '/systems', { ...WMS, name: 'book' });
    expectProblem(res, 409, 'source-exists');
  });

  it('lets only admins register a system (403 for a manager, an auditor, a device and an integration principal)', async () => {
    for (const as of ['manager-1', 'auditor-1', 'dev-1', 'wms-dc1']) {
      expectProblem(await t.stack.json('POST', '/systems', { ...WMS, name: `x-${as}` }, as), 403, 'forbidden', as);
    }
    const n = await one(t.stack.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from external_system where name like 'x-%'`);
    expect(n!.n).toBe(0);
  });

  it('shows systems to readers and admins only (403 for a device and an integration principal)', async () => {
    expectProblem(await t.stack.json('GET', '/systems', undefined, 'dev-1'), 403, 'forbidden');
    expectProblem(await t.stack.json('GET', '/systems/wms-dc1', undefined, 'wms-dc1'), 403, 'forbidden');
    expect((await t.stack.json('GET', '/systems/wms-dc1', undefined, 'admin-1')).status).toBe(200);
  });

  it('answers 404 for a system that is not registered', async () => {
    expectProblem(await t.stack.json('GET', '/systems/no-such-system', undefined, 'manager-1'), 404, 'not-found');
  });

  it('refuses a unit mapping for an unknown item (422 invalid-mapping) and registers nothing', async () => {
    const res = await t.stack.json('POST', '/systems', { ...WMS, name: 'wms-x', units: [{ unit: 'CASE', item: 'NOPE', storageUnits: 24 }] });
    expectProblem(res, 422, 'invalid-mapping');
    expect(res.body.problems).toEqual(['unknown item NOPE']);
    expect((await t.stack.json('GET', '/systems/wms-x')).status).toBe(404);
  });

  it('refuses a blocking reason on an available status (422 invalid-mapping)', async () => {
    const res = await t.stack.json('POST', '/systems', {
      ...WMS, name: 'wms-y', statuses: [{ status: 'ok', category: 'available', blockingReason: 'damaged' }],
    });
    expectProblem(res, 422, 'invalid-mapping');
  });

  it('refuses a pulled system whose URL is not http or https (422)', async () => {
    const res = await t.stack.json('POST', '/systems', erp('ftp://erp.example.test/levels', SECRET, 'erp-ftp'));
    expectProblem(res, 422, 'invalid-request');
    expect(JSON.stringify(res.body)).not.toContain('erp-secret');
  });

  it('replaces a status mapping and audits it with before and after', async () => {
    const statuses = [...WMS.statuses, { status: 'in_transit', category: 'in_transit', blockingReason: null }];
    const res = await t.stack.json('PUT', '/systems/wms-dc1/statuses', { statuses });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.statuses.map((s: { status: string }) => s.status)).toEqual(['available', 'damaged', 'in_transit', 'pending_putaway', 'quality']);
    const events = await auditOf('status_mapping_changed', 'system wms-dc1');
    expect(events).toHaveLength(1);
    expect(events[0]!.actor).toBe('admin-1');
    expect(events[0]!.before.map((s: { status: string }) => s.status)).toEqual(['available', 'damaged', 'pending_putaway', 'quality']);
    expect(events[0]!.after.find((s: { status: string }) => s.status === 'in_transit')).toEqual({ status: 'in_transit', category: 'in_transit', blockingReason: null });
  });

  it('replaces a unit mapping (a per-item rule beside the one for every item) and audits it with before and after', async () => {
    const units = [{ unit: 'CASE', storageUnits: 24 }, { unit: 'CASE', item: 'BOX', storageUnits: 2 }];
    const res = await t.stack.json('PUT', '/systems/wms-dc1/units', { units });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.units).toEqual([{ unit: 'CASE', item: null, storageUnits: 24 }, { unit: 'CASE', item: 'BOX', storageUnits: 2 }]);
    const events = await auditOf('unit_mapping_changed', 'system wms-dc1');
    expect(events).toHaveLength(1);
    expect(events[0]!.before).toEqual([{ unit: 'CASE', item: null, storageUnits: 24 }]);
    expect(events[0]!.after).toEqual(res.body.units);
  });

  it('lets only admins change a mapping (403 for a manager), changing nothing', async () => {
    const res = await t.stack.json('PUT', '/systems/wms-dc1/units', { units: [] }, 'manager-1');
    expectProblem(res, 403, 'forbidden');
    expect((await t.stack.json('GET', '/systems/wms-dc1')).body.units.length).toBeGreaterThan(0);
  });

  it('keeps the authorization when the URL changes on the same host, and audits the change without it', async () => {
    const res = await t.stack.json('PUT', '/systems/erp/levels', { mode: 'pulled', url: 'https://erp.example.test/v2/levels' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.levels).toEqual({ mode: 'pulled', url: 'https://erp.example.test/v2/levels', authorization: 'set' });
    const stored = await one(t.stack.orm.em.fork(), sql<{ a: string }>`select pull_authorization as a from external_system where name = 'erp'`);
    expect(stored!.a).toBe(SECRET);
    const events = await auditOf('levels_setting_changed', 'system erp');
    expect(events.at(-1)!.after).toEqual({ mode: 'pulled', url: 'https://erp.example.test/v2/levels', authorization: 'set', authorizationChanged: false });
  });

  it('refuses a URL on another host without the authorization given again (422), keeping the old setting', async () => {
    const res = await t.stack.json('PUT', '/systems/erp/levels', { mode: 'pulled', url: 'https://elsewhere.example.test/levels' });
    expectProblem(res, 422, 'invalid-mapping');
    expect((await t.stack.json('GET', '/systems/erp')).body.levels.url).toBe('https://erp.example.test/v2/levels');
  });

  it("edits the book's status mapping: a blocking reason mapped in transit, audited", async () => {
    const statuses = [
      { status: 'available', category: 'available' },
      { status: 'damaged', category: 'unavailable' },
      { status: 'quality', category: 'unavailable' },
      { status: 'pending_putaway', category: 'unavailable' },
      { status: 'customs', category: 'in_transit' },
    ];
    const res = await t.stack.json('PUT', '/systems/book/statuses', { statuses });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.statuses).toContainEqual({ status: 'customs', category: 'in_transit', blockingReason: 'customs' });
    expect(await auditOf('status_mapping_changed', 'system book')).toHaveLength(1);
  });

  it("refuses a book mapping without the status available (422)", async () => {
    const res = await t.stack.json('PUT', '/systems/book/statuses', { statuses: [{ status: 'damaged', category: 'unavailable' }] });
    expectProblem(res, 422, 'invalid-mapping');
  });

  it('refuses unit mappings and a levels setting for the book (422: it reports in storage units, captured by Stocktake)', async () => {
    expectProblem(await t.stack.json('PUT', '/systems/book/units', { units: [] }), 422, 'invalid-mapping');
    expectProblem(await t.stack.json('PUT', '/systems/book/levels', { mode: 'pushed' }), 422, 'invalid-mapping');
  });
});
