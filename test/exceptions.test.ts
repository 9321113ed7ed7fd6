import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { recordExceptions } from '../store/system-reconciliation/exceptions';
import { upsertUser } from '../store/users';
import { changedTables } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { tokenOf, useStack } from './support/stack';
import { eventually } from './support/wait';
import { exceptionOfLine, fingerprint, getText, insertLines, insertRun, runWithLines } from './support/system-runs';

/**
 * The exception queue: what a comparison could not explain, ranked by
 * absolute value, worked by managers (owner, status, root cause), with its
 * history; the same difference in a later run joins the exception still
 * being worked. Runs and their lines are written directly (the comparison
 * is tested elsewhere); recording them in the queue is recordExceptions.
 */
describe('exception queue', () => {
  const t = useStack(async (stack) => {
    const { orm } = stack.db;
    for (const w of ['W1', 'W2', 'W3', 'W4']) await smallWarehouse(orm, w);
    const em = orm.em.fork();
    await upsertUser(em, 'manager-w1', 'manager', tokenOf('manager-w1'), { warehouses: ['W1'] });
    await upsertUser(em, 'auditor-w1', 'auditor', tokenOf('auditor-w1'), { warehouses: ['W1'] });
    await upsertUser(em, 'erp', 'integration', tokenOf('erp'), { kind: 'system', warehouses: ['W1'] });
  });

  const http = (method: string, path: string, body?: unknown, as = 'manager-1') => t.stack.http(method, path, body, { 'x-as': as });
  /** Each test its own source pair, so recurrence keys never meet across tests. */
  let pairs = 0;
  const pair = () => ({ sourceA: 'ERP', sourceB: `WMS-${++pairs}` });
  const oneException = async (warehouse = 'W1', value = -20) => {
    const run = await runWithLines(t.stack.db.orm, { warehouse, ...pair(), comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value },
    ]);
    return exceptionOfLine(t.stack.db.orm, run.id, 1);
  };

  it('the same difference in two runs is one exception: occurrences 2, linked to both lines, history opened then recurred', async () => {
    const { orm } = t.stack.db;
    const sources = pair();
    const first = await runWithLines(orm, { warehouse: 'W1', ...sources, comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value: -20, rootCause: 'timing' },
    ]);
    const second = await runWithLines(orm, { warehouse: 'W1', ...sources, comparedAt: '2025-03-02T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 7, value: -30, rootCause: 'unit_conversion' },
    ]);
    expect(first).toMatchObject({ opened: 1, recurring: 0 });
    expect(second).toMatchObject({ opened: 0, recurring: 1 });
    const id = await exceptionOfLine(orm, first.id, 1);
    expect(await exceptionOfLine(orm, second.id, 1)).toBe(id);

    const res = await http('GET', `/system-exceptions/${id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      id, status: 'open', owner: null, occurrences: 2, item: 'P1', warehouse: 'W1', location: 'A-01', category: 'available',
      ...sources, difference: -3, value: -30, rootCause: 'timing',
      firstRun: { id: first.id, number: first.number }, lastRun: { id: second.id, number: second.number },
      resolvedAt: null, countReconciliation: null,
    });
    // Opened when the run that found it compared.
    expect(new Date(res.body.openedAt).toISOString()).toBe('2025-03-01T06:00:00.000Z');
    expect(res.body.lines.map((l: { runNumber: number; line: number; value: number }) => [l.runNumber, l.line, l.value]))
      .toEqual([[first.number, 1, -20], [second.number, 1, -30]]);
    expect(res.body.events.map((e: { action: string; after: Record<string, unknown> }) => [e.action, e.after.occurrences ?? e.after.status]))
      .toEqual([['opened', 'open'], ['recurred', 2]]);
    expect(res.body.events[1].before).toMatchObject({ occurrences: 1, value: -20 });
  });

  it('recording the same run again changes nothing: a run is counted once', async () => {
    const { orm } = t.stack.db;
    const sources = pair();
    await runWithLines(orm, { warehouse: 'W1', ...sources, comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value: -20 },
    ]);
    const second = await runWithLines(orm, { warehouse: 'W1', ...sources, comparedAt: '2025-03-02T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value: -20 },
    ]);
    const before = await fingerprint(orm);
    expect(await recordExceptions(orm.em.fork(), second.id)).toEqual({ opened: 0, recurring: 0 });
    expect(changedTables(before, await fingerprint(orm))).toEqual([]);
    const id = await exceptionOfLine(orm, second.id, 1);
    expect((await http('GET', `/system-exceptions/${id}`)).body.occurrences).toBe(2);
  });

  it('a run recorded while another run of the same difference is still being recorded joins its exception: one exception, occurrences 2', async () => {
    const { orm } = t.stack.db;
    const sources = pair();
    const runs: Array<{ id: string; number: number }> = [];
    for (const day of ['2025-03-01', '2025-03-02']) {
      const run = await insertRun(orm, { warehouse: 'W1', ...sources, comparedAt: `${day}T06:00:00Z`, keys: 10 });
      await insertLines(orm, run.id, [{ item: 'LOT', location: 'B-01', quantityA: 20, quantityB: 19, value: -4 }]);
      runs.push(run);
    }
    // The first run's transaction has recorded its exception and not committed yet when the second run is recorded.
    let commit!: () => void;
    const held = new Promise<void>((resolve) => (commit = resolve));
    let recorded!: () => void;
    const firstRecorded = new Promise<void>((resolve) => (recorded = resolve));
    const first = orm.em.fork().transactional(async (tx) => {
      const r = await recordExceptions(tx, runs[0]!.id);
      recorded();
      await held;
      return r;
    });
    await firstRecorded;
    const second = recordExceptions(orm.em.fork(), runs[1]!.id);
    await eventually(async () => {
      const waiting = await one(orm.em.fork(), sql<{ n: number }>`
        select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where not l.granted and a.datname = current_database()`);
      return waiting!.n > 0 ? true : undefined;
    }, 'the second run to wait for the first');
    commit();
    expect(await first).toEqual({ opened: 1, recurring: 0 });
    expect(await second).toEqual({ opened: 0, recurring: 1 });
    const id = await exceptionOfLine(orm, runs[0]!.id, 1);
    expect(await exceptionOfLine(orm, runs[1]!.id, 1)).toBe(id);
    expect((await http('GET', `/system-exceptions/${id}`)).body.occurrences).toBe(2);
  });

  it('an explainable line does not join the queue', async () => {
    const { orm } = t.stack.db;
    const run = await runWithLines(orm, { warehouse: 'W1', ...pair(), comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value: -20, outcome: 'explainable', rootCause: 'unprocessed_message' },
    ]);
    expect(run).toMatchObject({ opened: 0, recurring: 0 });
    const line = await one(orm.em.fork(), sql<{ id: number | null }>`
      select exception_id as id from system_difference where system_reconciliation_id = ${run.id}`);
    expect(line!.id).toBeNull();
  });

  it('a difference that recurs after its exception was resolved opens a new exception; the resolved one stays as it was', async () => {
    const { orm } = t.stack.db;
    const sources = pair();
    const first = await runWithLines(orm, { warehouse: 'W1', ...sources, comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'BOX', location: 'A-01', quantityA: 5, quantityB: 4, value: -30 },
    ]);
    const old = await exceptionOfLine(orm, first.id, 1);
    expect((await http('PATCH', `/system-exceptions/${old}`, { status: 'resolved' })).status).toBe(200);
    const again = await runWithLines(orm, { warehouse: 'W1', ...sources, comparedAt: '2025-03-02T06:00:00Z', keys: 10 }, [
      { item: 'BOX', location: 'A-01', quantityA: 5, quantityB: 4, value: -30 },
    ]);
    expect(again).toMatchObject({ opened: 1, recurring: 0 });
    const fresh = await exceptionOfLine(orm, again.id, 1);
    expect(fresh).not.toBe(old);
    expect((await http('GET', `/system-exceptions/${old}`)).body).toMatchObject({ status: 'resolved', occurrences: 1, lastRun: { id: first.id } });
    expect((await http('GET', `/system-exceptions/${fresh}`)).body).toMatchObject({ status: 'open', occurrences: 1, firstRun: { id: again.id } });
  });

  it('the queue ranks exceptions by absolute value, highest first (ties: oldest first), and pages with `after`', async () => {
    await runWithLines(t.stack.db.orm, { warehouse: 'W3', ...pair(), comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 9, value: -500 },
      { item: 'P1', location: 'A-02', quantityA: 4, quantityB: 5, value: 200 },
      { item: 'BOX', location: 'A-01', quantityA: 5, quantityB: 6, value: 1000 },
      { item: 'LOT', location: 'B-01', quantityA: 20, quantityB: 19, value: -50 },
      { item: 'SER', location: 'B-01', quantityA: 1, quantityB: 3, value: 200 },
    ]);
    const all = await http('GET', '/system-exceptions?warehouse=W3');
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    const ranked = all.body.exceptions.map((e: { item: string; value: number }) => `${e.item}:${e.value}`);
    expect(ranked).toEqual(['BOX:1000', 'P1:-500', 'P1:200', 'SER:200', 'LOT:-50']);
    const ids = all.body.exceptions.map((e: { id: number }) => e.id);
    expect(ids[2]).toBeLessThan(ids[3]);

    const page1 = await http('GET', '/system-exceptions?warehouse=W3&limit=2');
    expect(page1.body.exceptions.map((e: { id: number }) => e.id)).toEqual(ids.slice(0, 2));
    const page2 = await http('GET', `/system-exceptions?warehouse=W3&limit=2&after=${page1.body.next}`);
    expect(page2.body.exceptions.map((e: { id: number }) => e.id)).toEqual(ids.slice(2, 4));
    const page3 = await http('GET', `/system-exceptions?warehouse=W3&limit=2&after=${page2.body.next}`);
    expect(page3.body).toEqual({ exceptions: [expect.objectContaining({ id: ids[4] })], next: null });
  });

  it('the queue filters by status (a comma-separated list), owner and root cause', async () => {
    const { orm } = t.stack.db;
    const run = await runWithLines(orm, { warehouse: 'W4', ...pair(), comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 9, value: -10, rootCause: 'timing' },
      { item: 'P1', location: 'A-02', quantityA: 4, quantityB: 5, value: 20, rootCause: 'status_mapping' },
      { item: 'BOX', location: 'A-01', quantityA: 5, quantityB: 6, value: 30 },
    ]);
    const [a, b, c] = [await exceptionOfLine(orm, run.id, 1), await exceptionOfLine(orm, run.id, 2), await exceptionOfLine(orm, run.id, 3)];
    expect((await http('PATCH', `/system-exceptions/${a}`, { status: 'investigating', owner: 'manager-2' })).status).toBe(200);
    expect((await http('PATCH', `/system-exceptions/${b}`, { status: 'accepted' })).status).toBe(200);
    const list = async (query: string) =>
      (await http('GET', `/system-exceptions?warehouse=W4&${query}`)).body.exceptions.map((e: { id: number }) => e.id);
    expect(await list('status=open,investigating')).toEqual([c, a]);
    expect(await list('status=accepted')).toEqual([b]);
    expect(await list('owner=manager-2')).toEqual([a]);
    expect(await list('rootCause=unknown')).toEqual([c]);
    expect(await list('rootCause=timing&status=investigating')).toEqual([a]);
    expectProblem(await http('GET', '/system-exceptions?status=closed'), 422, 'invalid-request', 'unknown status');
  });

  it('a manager works an exception open -> investigating -> resolved: each change an event with before and after, audited with the warehouse', async () => {
    const id = await oneException();
    const step1 = await http('PATCH', `/system-exceptions/${id}`, { status: 'investigating', owner: 'manager-w1' }, 'manager-w1');
    expect(step1.status, JSON.stringify(step1.body)).toBe(200);
    expect(step1.body).toMatchObject({ status: 'investigating', owner: 'manager-w1', resolvedAt: null });
    const step2 = await http('PATCH', `/system-exceptions/${id}`, { rootCause: 'one_sided_adjustment', note: 'booked twice in the ERP' }, 'manager-w1');
    expect(step2.body).toMatchObject({ status: 'investigating', rootCause: 'one_sided_adjustment' });
    const step3 = await http('PATCH', `/system-exceptions/${id}`, { status: 'resolved' }, 'manager-1');
    expect(step3.body.status).toBe('resolved');
    expect(step3.body.resolvedAt).not.toBeNull();

    const detail = await http('GET', `/system-exceptions/${id}`);
    expect(detail.body.events.map((e: { action: string; actor: string; before: unknown; after: unknown }) => [e.action, e.actor, e.before, e.after])).toEqual([
      ['opened', expect.stringMatching(/^system reconciliation \d+$/), null, expect.objectContaining({ status: 'open' })],
      ['investigating', 'manager-w1', { status: 'open', owner: null }, { status: 'investigating', owner: 'manager-w1' }],
      ['updated', 'manager-w1', { rootCause: 'unknown' }, { rootCause: 'one_sided_adjustment', note: 'booked twice in the ERP' }],
      ['resolved', 'manager-1', { status: 'investigating' }, { status: 'resolved' }],
    ]);
    const audited = await rows(t.stack.db.orm.em.fork(), sql<{ actor: string; warehouse: string; before: unknown; after: unknown }>`
      select actor, warehouse_code as warehouse, before, after from audit_event
      where action = 'system_exception_updated' and subject = ${`system exception ${id}`} order by id`);
    expect(audited).toEqual([
      { actor: 'manager-w1', warehouse: 'W1', before: { status: 'open', owner: null }, after: { status: 'investigating', owner: 'manager-w1' } },
      { actor: 'manager-w1', warehouse: 'W1', before: { rootCause: 'unknown' }, after: { rootCause: 'one_sided_adjustment', note: 'booked twice in the ERP' } },
      { actor: 'manager-1', warehouse: 'W1', before: { status: 'investigating' }, after: { status: 'resolved' } },
    ]);
  });

  it('an open exception may be accepted directly', async () => {
    const id = await oneException();
    const res = await http('PATCH', `/system-exceptions/${id}`, { status: 'accepted', rootCause: 'timing' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'accepted', rootCause: 'timing' });
    expect(res.body.resolvedAt).not.toBeNull();
  });

  it('a resolved or accepted exception does not change: 409 invalid-state, nothing written', async () => {
    const resolved = await oneException();
    const accepted = await oneException();
    expect((await http('PATCH', `/system-exceptions/${resolved}`, { status: 'resolved' })).status).toBe(200);
    expect((await http('PATCH', `/system-exceptions/${accepted}`, { status: 'accepted' })).status).toBe(200);
    const before = await fingerprint(t.stack.db.orm);
    for (const [id, body] of [
      [resolved, { status: 'investigating' }], [resolved, { status: 'accepted' }], [resolved, { rootCause: 'timing' }],
      [accepted, { owner: 'manager-1' }], [accepted, { status: 'resolved' }], [accepted, { note: 'again' }],
    ] as const) {
      const res = await http('PATCH', `/system-exceptions/${id}`, body);
      expectProblem(res, 409, 'invalid-state', JSON.stringify(body));
      expect(res.body.detail).toMatch(/does not change/);
    }
    expect(changedTables(before, await fingerprint(t.stack.db.orm))).toEqual([]);
  });

  it('an exception cannot be set back to open, nor to a status or root cause that does not exist (422)', async () => {
    const id = await oneException();
    for (const body of [{ status: 'open' }, { status: 'closed' }, { rootCause: 'gremlins' }, {}, { value: 0 }]) {
      expectProblem(await http('PATCH', `/system-exceptions/${id}`, body), 422, 'invalid-request', JSON.stringify(body));
    }
    expect((await http('GET', `/system-exceptions/${id}`)).body.status).toBe('open');
  });

  it('the owner is a manager granted the exception\'s warehouse (422 invalid-assignee otherwise)', async () => {
    const inW1 = await oneException('W1');
    const inW2 = await oneException('W2');
    for (const owner of ['dev-1', 'auditor-1', 'admin-1', 'erp', 'nobody']) {
      expectProblem(await http('PATCH', `/system-exceptions/${inW1}`, { owner }), 422, 'invalid-assignee', owner);
    }
    expectProblem(await http('PATCH', `/system-exceptions/${inW2}`, { owner: 'manager-w1' }), 422, 'invalid-assignee', 'not granted W2');
    expect((await http('PATCH', `/system-exceptions/${inW1}`, { owner: 'senior-1' })).body.owner).toBe('senior-1');
    expect((await http('PATCH', `/system-exceptions/${inW1}`, { owner: null })).body.owner).toBeNull();
  });

  it('counters, admins and systems get 403 on every exception and KPI operation', async () => {
    const id = await oneException();
    const run = (await http('GET', `/system-exceptions/${id}`)).body.firstRun.id as string;
    for (const who of ['dev-1', 'admin-1', 'erp']) {
      const calls = [
        await http('GET', '/system-exceptions', undefined, who),
        await http('GET', `/system-exceptions/${id}`, undefined, who),
        await http('PATCH', `/system-exceptions/${id}`, { status: 'investigating' }, who),
        await http('POST', `/system-exceptions/${id}/count-reconciliation`, {}, who),
        await http('GET', `/system-reconciliations/${run}/kpis`, undefined, who),
        await http('GET', '/kpis/system-reconciliation?warehouse=W1&sourceA=ERP&sourceB=WMS&from=2025-03-01&to=2025-03-02', undefined, who),
      ];
      for (const res of calls) expectProblem(res, 403, 'forbidden', who);
    }
    expect((await http('GET', `/system-exceptions/${id}`)).body.status).toBe('open');
  });

  it('an auditor reads the queue and an exception, but changes nothing (403)', async () => {
    const id = await oneException();
    expect((await http('GET', `/system-exceptions/${id}`, undefined, 'auditor-w1')).status).toBe(200);
    const listed = await http('GET', '/system-exceptions?warehouse=W1&limit=1000', undefined, 'auditor-w1');
    expect(listed.body.exceptions.map((e: { id: number }) => e.id)).toContain(id);
    expectProblem(await http('PATCH', `/system-exceptions/${id}`, { status: 'investigating' }, 'auditor-w1'), 403, 'forbidden');
    expectProblem(await http('POST', `/system-exceptions/${id}/count-reconciliation`, {}, 'auditor-w1'), 403, 'forbidden');
  });

  it('an exception in a warehouse the caller is not granted answers 404, exactly as one that does not exist, and the queue leaves it out', async () => {
    const id = await oneException('W2');
    const run = (await http('GET', `/system-exceptions/${id}`)).body.firstRun.id as string;
    const absent = 2_000_000_001;
    const before = await fingerprint(t.stack.db.orm);
    const same = async (method: string, path: (x: number) => string, body?: unknown) => {
      const hidden = await http(method, path(id), body, 'manager-w1');
      const missing = await http(method, path(absent), body, 'manager-w1');
      expectProblem(hidden, 404, 'not-found', `${method} ${path(id)}`);
      expect(hidden.body.detail.replace(/\d+/g, '<n>')).toBe(missing.body.detail.replace(/\d+/g, '<n>'));
    };
    await same('GET', (x) => `/system-exceptions/${x}`);
    await same('PATCH', (x) => `/system-exceptions/${x}`, { status: 'investigating' });
    await same('POST', (x) => `/system-exceptions/${x}/count-reconciliation`, {});
    expect(changedTables(before, await fingerprint(t.stack.db.orm))).toEqual([]);
    const listed = await http('GET', '/system-exceptions?limit=1000', undefined, 'manager-w1');
    expect(listed.body.exceptions.length).toBeGreaterThan(0);
    expect(listed.body.exceptions.every((e: { warehouse: string }) => e.warehouse === 'W1')).toBe(true);
    expect((await http('GET', '/system-exceptions?warehouse=W2', undefined, 'manager-w1')).body.exceptions).toEqual([]);
    expectProblem(await http('GET', `/system-reconciliations/${run}/kpis`, undefined, 'manager-w1'), 404, 'not-found', 'run kpis');
    const period = (w: string) => `/kpis/system-reconciliation?warehouse=${w}&sourceA=ERP&sourceB=WMS&from=2025-03-01&to=2025-03-02`;
    const hiddenPeriod = await http('GET', period('W2'), undefined, 'manager-w1');
    expectProblem(hiddenPeriod, 404, 'not-found', 'period kpis');
    expect(hiddenPeriod.body.detail.replace('W2', '<w>')).toBe((await http('GET', period('NOPE'), undefined, 'manager-w1')).body.detail.replace('NOPE', '<w>'));
    expect((await getText(t.stack, period('W2'))).status).toBe(200);
  });
});
