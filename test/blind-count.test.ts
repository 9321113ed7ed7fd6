import { describe, expect, it } from 'vitest';
import { affected, sql } from '../db/sql';
import type { Orm } from '../db/orm';
import { call, type Answer } from './support/access-http';
import { position } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { tokenOf, useStack } from './support/stack';

/**
 * A blind count stays blind: a counting device, walking every endpoint it
 * may call and every one it may not, before the count, while counting, in
 * review, in a recount and after release, never receives an expected,
 * snapshot or variance quantity, by field name or by value.
 */

/** Stock the records expect, chosen so that no number in an answer can match one by accident. */
const SNAPSHOT = { a01: 71263, a02: 58349, a02Blocked: 4127 };
/** What the device finds (its own numbers: it may see them). */
const COUNTED = { a01: 60000, a02: 50000, a02Blocked: 3000 };
/**
 * Everything the device must not learn: snapshot and expected quantities,
 * variances (quantity, blocked, value at cost 10) and their sums.
 */
const SECRET_NUMBERS = [
  SNAPSHOT.a01, SNAPSHOT.a02, SNAPSHOT.a02Blocked,
  SNAPSHOT.a01 - COUNTED.a01, SNAPSHOT.a02 - COUNTED.a02, SNAPSHOT.a02Blocked - COUNTED.a02Blocked,
  (SNAPSHOT.a01 - COUNTED.a01) * 10, (SNAPSHOT.a02 - COUNTED.a02) * 10,
  SNAPSHOT.a01 + SNAPSHOT.a02,
  SNAPSHOT.a01 - COUNTED.a01 + SNAPSHOT.a02 - COUNTED.a02,
  (SNAPSHOT.a01 - COUNTED.a01 + SNAPSHOT.a02 - COUNTED.a02) * 10,
];
/** Field names that carry what the records expect. */
const SECRET_FIELD = /expected|snapshot|variance|stockPointInventory/i;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIMESTAMP = /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?/g;

/** What an answer gives away: a field of an expected kind with a value (null tells nothing), or one of the secret numbers anywhere. */
function leaks(res: Answer): string[] {
  const found: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (SECRET_FIELD.test(key) && v !== null) found.push(`${path}.${key} = ${JSON.stringify(v)}`);
        walk(v, `${path}.${key}`);
      }
    }
  };
  if (res.body && typeof res.body === 'object') walk(res.body, '$');
  else if (SECRET_FIELD.test(res.text)) found.push(`the text names ${SECRET_FIELD.exec(res.text)![0]}`);
  // Ids and times are not quantities: taken out before looking for numbers.
  const text = res.text.replace(UUID, '<id>').replace(TIMESTAMP, '<at>');
  for (const n of SECRET_NUMBERS) if (new RegExp(`(?<!\\d)${n}(?!\\d)`).test(text)) found.push(`the number ${n}`);
  return found;
}

/** Warehouse BL: one zone, A-01 and A-02 holding P1 (PCS, cost 10) in quantities no answer holds by chance; part of A-02 blocked. */
async function blindWarehouse(orm: Orm): Promise<void> {
  const em = orm.em.fork();
  await affected(em, sql`insert into warehouse (code, name) values ('BL', 'Blind count')`);
  await affected(em, sql`insert into zone (warehouse_code, code) values ('BL', 'A')`);
  await affected(em, sql`insert into location (warehouse_code, zone_id, code)
    select 'BL', z.id, v.loc from (values ('A-01'), ('A-02')) v(loc) join zone z on z.warehouse_code = 'BL' and z.code = 'A'`);
  await affected(em, sql`insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked)
    values ('P1', 'PCS', 'PCS', 1, 10, false, false) on conflict (code) do nothing`);
  await position(orm, 'BL', 'A-01', 'P1', { quantity: SNAPSHOT.a01 });
  const a02 = await position(orm, 'BL', 'A-02', 'P1', { quantity: SNAPSHOT.a02 });
  await affected(em, sql`insert into blocking (stock_position_id, reason, quantity) values (${a02}, 'damaged', ${SNAPSHOT.a02Blocked})`);
}

const DEVICE = 'dev-1';

describe('blind count', () => {
  const t = useStack(async (stack) => blindWarehouse(stack.db.orm));

  const as = (user: string, method: string, path: string, body?: unknown) => call(t.stack.baseUrl, { method, path, body, token: tokenOf(user) });
  const device = (method: string, path: string, body?: unknown) => as(DEVICE, method, path, body);
  const expectNoLeaks = (answers: Array<{ what: string; res: Answer }>) => {
    const found = answers.flatMap(({ what, res }) => leaks(res).map((l) => `${what} (${res.status}): ${l}`));
    expect(found, found.join('\n')).toEqual([]);
  };

  let opened: Promise<{ id: string; order: number; rowIds: number[] }> | undefined;
  /** Counting: the one initial order is assigned to the device, nothing counted yet. */
  const counting = () =>
    (opened ??= (async () => {
      const { f } = t;
      const rec = await f.create({ warehouse: 'BL', scope: { kind: 'warehouse' }, tolerance: { default: {} } });
      await f.waitFor(rec.id, 'ready');
      await f.decide(rec.id, 'initial-count');
      const [order] = await f.orders(rec.id, 0);
      await f.assignIfOpen(order!.id, DEVICE);
      const rowIds = (await f.rows(rec.id)).map((r) => r.id as number);
      return { id: rec.id, order: order!.id, rowIds };
    })());

  const entries = [
    { location: 'A-01', item: 'P1', quantity: COUNTED.a01 },
    { location: 'A-02', item: 'P1', quantity: COUNTED.a02, blocked: { damaged: COUNTED.a02Blocked } },
  ];

  let countedOnce: Promise<Array<{ what: string; res: Answer }>> | undefined;
  /** The device counts and completes its order (every answer kept); the reconciliation reaches review. */
  const counted = () =>
    (countedOnce ??= (async () => {
      const { id, order } = await counting();
      const answers: Array<{ what: string; res: Answer }> = [];
      const step = async (what: string, status: number, res: Answer) => {
        answers.push({ what, res });
        expect(res.status, `${what}: ${res.text}`).toBe(status);
        return res;
      };
      await step('submission', 201, await device('POST', `/count-orders/${order}/submissions`, { submissionId: 'blind-1', entries }));
      await step('repeated submission', 200, await device('POST', `/count-orders/${order}/submissions`, { submissionId: 'blind-1', entries }));
      const bad = await step('submission with bad lines', 422, await device('POST', `/count-orders/${order}/submissions`, {
        submissionId: 'blind-bad',
        entries: [{ location: 'Z-99', item: 'P1', quantity: 1 }, { location: 'A-01', item: 'P1', quantity: 2, blocked: { damaged: 5 } }],
      }));
      expectProblem(bad, 422, 'invalid-count-entries');
      await step('reused submission id', 422, await device('POST', `/count-orders/${order}/submissions`, { submissionId: 'blind-1', entries: [entries[0]] }));
      await step('completion', 200, await device('POST', `/count-orders/${order}/completion`, {}));
      await step('repeated completion', 200, await device('POST', `/count-orders/${order}/completion`, {}));
      await step('submission after completion', 409, await device('POST', `/count-orders/${order}/submissions`, { submissionId: 'blind-2', entries }));
      await t.f.waitFor(id, 'review', 0);
      return answers;
    })());

  let recountOnce: Promise<{ order: number; answers: Array<{ what: string; res: Answer }> }> | undefined;
  /** A-01 marked for recount; the recount order (product level: it names the item) assigned to the device, which recounts and completes it. */
  const recounted = () =>
    (recountOnce ??= (async () => {
      const { f } = t;
      await counted();
      const { id } = await counting();
      const a01 = await f.row(id, 'P1', 'A-01');
      await f.decide(id, 'recount-marks', { rowIds: [a01.id] });
      const recount = await f.decide(id, 'recount-orders');
      const order = recount.countOrderId as number;
      await f.assignIfOpen(order, DEVICE);
      const answers = [{ what: 'recount tasks', res: await device('GET', `/count-orders/${order}/tasks`) }];
      expect(answers[0]!.res.status).toBe(200);
      answers.push({ what: 'recount submission', res: await device('POST', `/count-orders/${order}/submissions`, { submissionId: 'recount-1', entries: [entries[0]] }) });
      expect(answers[1]!.res.status, answers[1]!.res.text).toBe(201);
      answers.push({ what: 'recount completion', res: await device('POST', `/count-orders/${order}/completion`, {}) });
      expect(answers[2]!.res.status, answers[2]!.res.text).toBe(200);
      await f.waitFor(id, 'review', 1);
      return { order, answers };
    })());

  let releasedOnce: Promise<void> | undefined;
  const released = () =>
    (releasedOnce ??= (async () => {
      const { stack, f } = t;
      const { id } = await counting();
      await recounted();
      // The variances are worth more than a manager's limit: a senior manager approves.
      const approved = await stack.http('POST', `/reconciliations/${id}/approvals`, { filter: { approval: 'to_approve' } }, { 'x-as': 'senior-1' });
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      await f.decide(id, 'release');
      await f.waitFor(id, 'released');
    })());

  /** Every endpoint the device may call (200) and every one it may not (403, or 404 for another device's orders), with their answers. */
  const walk = async (extraOrders: number[] = []) => {
    const { id, order, rowIds } = await counting();
    const answers: Array<{ what: string; res: Answer }> = [];
    const visit = async (path: string, status: number) => {
      const res = await device('GET', path);
      answers.push({ what: `GET ${path}`, res });
      if (status === 200) expect(res.status, `GET ${path}: ${res.text}`).toBe(200);
      else expectProblem(res, status, status === 403 ? 'forbidden' : 'not-found', `GET ${path}`);
    };
    for (const path of ['/me', '/me/count-orders', `/devices/${DEVICE}/count-orders`, '/warehouses']) await visit(path, 200);
    for (const o of [order, ...extraOrders]) {
      await visit(`/count-orders/${o}`, 200);
      await visit(`/count-orders/${o}/tasks`, 200);
    }
    await visit('/devices/dev-2/count-orders', 404);
    const refused = [
      '/reconciliations', `/reconciliations/${id}`, `/reconciliations/${id}/rows`, `/reconciliations/${id}/rows?state=counted`,
      `/reconciliations/${id}/rows.csv`, `/reconciliations/${id}/rows/${rowIds[0]}`, `/reconciliations/${id}/report`,
      `/reconciliations/${id}/audit`, `/reconciliations/${id}/adjustment-order`, `/reconciliations/${id}/adjustment-order?format=csv`,
      `/reconciliations/${id}/count-orders`, '/audit', `/audit?reconciliationId=${id}`,
    ];
    for (const path of refused) await visit(path, 403);
    return answers;
  };

  it('before the count: the tasks name locations only, and nothing the device calls or is refused shows an expected quantity', async () => {
    const { order } = await counting();
    const answers = await walk();
    const tasks = answers.find((a) => a.what === `GET /count-orders/${order}/tasks`)!.res.body;
    expect(tasks.blind).toBe(true);
    expect(tasks.tasks.map((task: Record<string, unknown>) => Object.keys(task).sort())).toEqual([
      ['location', 'taskId', 'zone'], ['location', 'taskId', 'zone'],
    ]);
    expectNoLeaks(answers);
  });

  it('while counting: submissions, their refusals, the completion and its repeats answer without an expected quantity', async () => {
    expectNoLeaks(await counted());
  });

  it('the leak check finds the expected quantities in what a manager is shown (so it can fail)', async () => {
    await counted();
    const { id } = await counting();
    const rows = await as('manager-1', 'GET', `/reconciliations/${id}/rows`);
    const csv = await as('manager-1', 'GET', `/reconciliations/${id}/rows.csv`);
    expect(leaks(rows).join('\n')).toMatch(/snapshotQuantity = 71263/);
    expect(leaks(rows)).toContain('the number 11263');
    expect(leaks(csv)).toContain('the number 58349');
  });

  it("the device's submission and completion are audited once each; repeats and refusals add nothing", async () => {
    await counted();
    const { id, order } = await counting();
    const trail = await as('auditor-1', 'GET', `/reconciliations/${id}/audit?limit=1000`);
    expect(trail.status).toBe(200);
    const counts = (trail.body.events as Array<Record<string, any>>).filter((e) => e.action === 'count_submitted' || e.action === 'count_order_completed');
    expect(counts.map((e) => ({ action: e.action, actor: e.actor, subject: e.subject, after: e.after }))).toEqual([
      { action: 'count_submitted', actor: DEVICE, subject: `count order ${order}`, after: { submissionId: 'blind-1', entries: 2, device: DEVICE } },
      { action: 'count_order_completed', actor: DEVICE, subject: `count order ${order}`, after: { device: DEVICE } },
    ]);
  });

  it('after the count (in review): nothing the device calls or is refused shows an expected quantity or a variance', async () => {
    await counted();
    expectNoLeaks(await walk());
  });

  it('in a recount: the product-level tasks name the stock position but carry no quantity, and counting it reveals none', async () => {
    const { order, answers } = await recounted();
    const tasks = answers[0]!.res.body.tasks as Array<Record<string, unknown>>;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ location: 'A-01', item: 'P1' });
    expect(tasks[0]!.expectedQuantity ?? null).toBeNull();
    expectNoLeaks([...answers, ...(await walk([order]))]);
  });

  it('after release: nothing the device calls or is refused shows an expected quantity, a variance or an adjustment', async () => {
    await released();
    const { order } = await recounted();
    expectNoLeaks(await walk([order]));
  });
});
