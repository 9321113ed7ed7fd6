import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { resolveExceptionsOfRelease } from '../store/system-reconciliation/exceptions';
import { changedTables } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { call } from './support/access-http';
import { tokenOf, useStack } from './support/stack';
import { exceptionOfLine, fingerprint, runWithLines } from './support/system-runs';

/**
 * From an exception, a manager counts the affected item and location: a
 * count reconciliation (the existing workflow) linked both ways, whose
 * release resolves the exception.
 */
describe('a count reconciliation started from an exception', () => {
  const t = useStack(async (stack) => {
    const { orm } = stack.db;
    await smallWarehouse(orm, 'W1');
    const run = await runWithLines(orm, { warehouse: 'W1', comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      // P1 at A-01: the sources know locations.
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value: -20 },
      // BOX: a source that keeps stock per warehouse.
      { item: 'BOX', location: '', quantityA: 5, quantityB: 4, value: -30 },
      // P1 at A-01 again, another status category: a second exception on the same stock position.
      { item: 'P1', location: 'A-01', category: 'unavailable', quantityA: 0, quantityB: 1, value: 10 },
    ]);
    return {
      atLocation: await exceptionOfLine(orm, run.id, 1),
      inWarehouse: await exceptionOfLine(orm, run.id, 2),
      samePosition: await exceptionOfLine(orm, run.id, 3),
    };
  });

  const http = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => t.stack.http(method, path, body, headers);
  const exception = async (id: number) => (await http('GET', `/system-exceptions/${id}`)).body;

  let started: Promise<{ id: string; number: number; body: any }> | undefined;
  /** The count of the location-level exception, started once (as manager-1). */
  const countOfLocation = () =>
    (started ??= (async () => {
      const res = await http('POST', `/system-exceptions/${t.fixture.atLocation}/count-reconciliation`, {});
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { id: res.body.id as string, number: res.body.number as number, body: res.body };
    })());

  let keyed: Promise<{ first: any; again: any }> | undefined;
  /** The count of the warehouse-level exception, sent twice with one Idempotency-Key. */
  const countOfWarehouseItem = () =>
    (keyed ??= (async () => {
      const send = () =>
        http('POST', `/system-exceptions/${t.fixture.inWarehouse}/count-reconciliation`, { blindCount: false }, { 'idempotency-key': 'exception-count-1' });
      const first = await send();
      const again = await send();
      return { first, again };
    })());

  it('a manager starts it: 201 with the count reconciliation, linked both ways, and the exception is investigating', async () => {
    const count = await countOfLocation();
    expect(count.body).toMatchObject({ warehouse: 'W1', origin: { systemException: t.fixture.atLocation }, createdBy: 'manager-1' });
    const stored = await one(t.stack.db.orm.em.fork(), sql<{ origin: unknown }>`select origin from reconciliation where id = ${count.id}`);
    expect(stored!.origin).toEqual({ systemException: t.fixture.atLocation });
    const e = await exception(t.fixture.atLocation);
    expect(e).toMatchObject({ status: 'investigating', countReconciliation: { id: count.id, number: count.number } });
    expect(e.countReconciliations.map((r: { id: string }) => r.id)).toEqual([count.id]);
    expect(e.events.at(-1)).toMatchObject({
      action: 'count_reconciliation_started', actor: 'manager-1',
      before: { status: 'open', countReconciliationId: null },
      after: { status: 'investigating', countReconciliationId: count.id, countReconciliationNumber: count.number },
    });
  });

  it("its workflow reaches ready with a snapshot of the exception's item at its location only", async () => {
    const count = await countOfLocation();
    await t.f.waitFor(count.id, 'ready');
    const rec = await http('GET', `/reconciliations/${count.id}`);
    expect(rec.body.scope).toEqual({ kind: 'locations', locations: ['A-01'], items: ['P1'] });
    const rowsOfCount = await t.f.rows(count.id);
    expect(rowsOfCount.map((r) => `${r.item}@${r.location}`)).toEqual(['P1@A-01']);
  });

  it('the start is audited on the count reconciliation', async () => {
    const count = await countOfLocation();
    const events = await rows(t.stack.db.orm.em.fork(), sql<{ action: string; subject: string; warehouse: string }>`
      select action, subject, warehouse_code as warehouse from audit_event where reconciliation_id = ${count.id} order by id`);
    expect(events).toEqual(expect.arrayContaining([
      { action: 'reconciliation_created', subject: '', warehouse: 'W1' },
      { action: 'system_exception_count_started', subject: `system exception ${t.fixture.atLocation}`, warehouse: 'W1' },
    ]));
  });

  it('while that count is under way, a second start is refused (409) and nothing is written', async () => {
    const count = await countOfLocation();
    await t.f.waitFor(count.id, 'ready');
    await t.f.waitFor((await countOfWarehouseItem()).first.body.id, 'ready');
    const before = await fingerprint(t.stack.db.orm);
    const res = await http('POST', `/system-exceptions/${t.fixture.atLocation}/count-reconciliation`, {});
    expectProblem(res, 409, 'invalid-state');
    expect(res.body).toMatchObject({ reconciliationId: count.id, reconciliationNumber: count.number });
    expect(changedTables(before, await fingerprint(t.stack.db.orm))).toEqual([]);
  });

  it('a warehouse-level exception counts its item in the whole warehouse, with the options given', async () => {
    const { first } = await countOfWarehouseItem();
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ scope: { kind: 'warehouse', items: ['BOX'] }, blindCount: false, origin: { systemException: t.fixture.inWarehouse } });
  });

  it('a retry with the same Idempotency-Key gets the same count reconciliation (200), and no second one is made', async () => {
    const { first, again } = await countOfWarehouseItem();
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const made = await one(t.stack.db.orm.em.fork(), sql<{ n: number }>`
      select count(*)::int as n from reconciliation where origin @> jsonb_build_object('systemException', ${t.fixture.inWarehouse}::bigint)`);
    expect(made!.n).toBe(1);
  });

  it('a count whose scope overlaps an active reconciliation is refused (409 scope-overlap); the exception stays open and unlinked', async () => {
    // The counts started so far have taken their snapshots: nothing else writes while this request is judged.
    await t.f.waitFor((await countOfLocation()).id, 'ready');
    await t.f.waitFor((await countOfWarehouseItem()).first.body.id, 'ready');
    const before = await fingerprint(t.stack.db.orm);
    // No body at all: the count's options default as POST /reconciliations defaults them.
    const res = await call(t.stack.baseUrl, { method: 'POST', path: `/system-exceptions/${t.fixture.samePosition}/count-reconciliation`, token: tokenOf('manager-1') });
    expectProblem(res, 409, 'scope-overlap');
    expect(changedTables(before, await fingerprint(t.stack.db.orm))).toEqual([]);
    expect(await exception(t.fixture.samePosition)).toMatchObject({ status: 'open', countReconciliation: null });
  });

  it("the count's release resolves the exception: resolved_at, an event naming the count, an audit event", async () => {
    const count = await countOfLocation();
    await t.f.waitFor(count.id, 'ready');
    // The release's last transaction calls this (activities/release.ts finishRelease); here it is called directly.
    const resolved = await t.stack.db.orm.em.fork().transactional((em) => resolveExceptionsOfRelease(em, count.id, 'manager-1'));
    expect(resolved).toEqual({ resolved: 1 });
    const e = await exception(t.fixture.atLocation);
    expect(e.status).toBe('resolved');
    expect(e.resolvedAt).not.toBeNull();
    expect(e.events.at(-1)).toMatchObject({
      action: 'resolved_by_count_reconciliation', actor: 'manager-1', before: { status: 'investigating' },
      after: { status: 'resolved', countReconciliationId: count.id, note: `resolved by count reconciliation ${count.number}` },
    });
    const audited = await rows(t.stack.db.orm.em.fork(), sql<{ subject: string; warehouse: string }>`
      select subject, warehouse_code as warehouse from audit_event where reconciliation_id = ${count.id} and action = 'system_exception_resolved'`);
    expect(audited).toEqual([{ subject: `system exception ${t.fixture.atLocation}`, warehouse: 'W1' }]);
    // Again (a retried release step): nothing more.
    expect(await resolveExceptionsOfRelease(t.stack.db.orm.em.fork(), count.id)).toEqual({ resolved: 0 });
  });

  it('a resolved exception cannot start another count (409)', async () => {
    const count = await countOfLocation();
    await resolveExceptionsOfRelease(t.stack.db.orm.em.fork(), count.id, 'manager-1');
    expectProblem(await http('POST', `/system-exceptions/${t.fixture.atLocation}/count-reconciliation`, {}), 409, 'invalid-state');
  });
});
