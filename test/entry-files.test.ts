import { describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, rows, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { useStack, type Stack } from './support/stack';

/**
 * POST /count-orders/{id}/entry-files: a whole file of count entries (CSV or
 * JSON lines) as one submission, over real HTTP into a real PostgreSQL, with
 * the workflow running: stored whole or not at all, once per Submission-Id,
 * by the rules of a batch.
 */
const HEADER = 'location,item,lot,serial,handlingUnit,owner,quantity,blocked';
/** One small warehouse per test: a warehouse has one active reconciliation at a time. */
const WAREHOUSES = ['F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'F7'];

async function sendFile(stack: Stack, orderId: number, submissionId: string, text: string, opts: { jsonl?: boolean; as?: string } = {}) {
  const res = await fetch(`${stack.baseUrl}/count-orders/${orderId}/entry-files`, {
    method: 'POST',
    headers: {
      authorization: `Bearer token-${opts.as ?? 'dev-1'}`,
      'content-type': opts.jsonl ? 'application/x-ndjson' : 'text/csv',
      'submission-id': submissionId,
    },
    body: text,
  });
  const body = await res.text();
  return { status: res.status, body: body ? JSON.parse(body) : undefined, contentType: res.headers.get('content-type') };
}

const entriesOf = (stack: Stack, orderId: number) =>
  rows(stack.db.orm.em.fork(), sql<{ location: string; item: string; lot: string; serial: string; handlingUnit: string; owner: string; quantity: number; blocked: unknown }>`
    select l.code as location, i.code as item, e.lot, e.serial, e.handling_unit as "handlingUnit", e.owner, e.quantity::float8 as quantity, e.blocked
    from count_entry e join location l on l.id = e.location_id join item i on i.id = e.item_id
    where e.count_order_id = ${orderId} order by e.submission_id, e.line`);

describe('entry files', () => {
  const t = useStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 300, warehouseCode: 'EF' });
    for (const w of WAREHOUSES) await smallWarehouse(stack.db.orm, w);
  }, { worker: true });

  /** A reconciliation counting in round 0, its one order assigned to dev-1. */
  const counting = async (warehouse: string, scope: Record<string, unknown> = { kind: 'warehouse' }) => {
    const rec = await t.f.create({ warehouse, scope, tolerance: { default: { quantity: { plus: 0, minus: 0 } } }, managerApprovalLimit: 1e9 });
    await t.f.waitFor(rec.id, 'ready');
    await t.f.decide(rec.id, 'initial-count');
    const [order] = await t.f.orders(rec.id, 0);
    await t.f.assignIfOpen(order!.id, 'dev-1');
    return { id: rec.id, order: order!.id };
  };

  it('stores every line of a CSV file as the order\'s entries, and the reconciliation counts them', async () => {
    const { id, order } = await counting('EF');
    const expected = await rows(t.stack.db.orm.em.fork(), sql<{ location: string; item: string; lot: string; serial: string; handlingUnit: string; owner: string; quantity: number }>`
      select l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner,
             (case when i.serial_tracked then r.snapshot_quantity else r.snapshot_quantity + 1 end)::float8 as quantity
      from reconciliation_row r join location l on l.id = r.location_id join item i on i.id = r.item_id
      where r.reconciliation_id = ${id} order by r.id`);
    const text = [HEADER, ...expected.map((e) => `${e.location},${e.item},${e.lot},${e.serial},${e.handlingUnit},${e.owner},${e.quantity},`)].join('\n') + '\n';
    const res = await sendFile(t.stack, order, 'shift-1', text);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({ submissionId: 'shift-1', accepted: expected.length, duplicate: false });
    expect((await entriesOf(t.stack, order)).map(({ blocked: _, ...e }) => e)).toEqual(expected);
    await t.f.complete(order);
    const review = await t.f.waitFor(id, 'review', 0);
    expect(review.rows.awaitingCount).toBe(0);
    expect(review.rows.counted).toBe(expected.length);
  });

  it('stores counted blockings from JSON lines, and none when a line names none', async () => {
    const { order } = await counting('F1');
    const res = await sendFile(t.stack, order, 'jsonl-1', [
      JSON.stringify({ location: 'A-01', item: 'P1', quantity: 9, blocked: { damaged: 2 } }),
      JSON.stringify({ location: 'A-02', item: 'P1', quantity: 4 }),
    ].join('\n') + '\n', { jsonl: true });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await entriesOf(t.stack, order)).toEqual([
      { location: 'A-01', item: 'P1', lot: '', serial: '', handlingUnit: '', owner: '', quantity: 9, blocked: { damaged: 2 } },
      { location: 'A-02', item: 'P1', lot: '', serial: '', handlingUnit: '', owner: '', quantity: 4, blocked: null },
    ]);
  });

  it('answers the same Submission-Id and file again with the first answer (200), storing nothing twice', async () => {
    const { order } = await counting('F2');
    const text = `${HEADER}\nA-01,P1,,,,,3,\nA-02,BOX,,,,,1,\n`;
    expect((await sendFile(t.stack, order, 'again', text)).status).toBe(201);
    const repeat = await sendFile(t.stack, order, 'again', text);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual({ submissionId: 'again', accepted: 2, duplicate: true });
    expect(await entriesOf(t.stack, order)).toHaveLength(2);
  });

  it('refuses the same Submission-Id with another file (422 submission-id-reused), storing nothing', async () => {
    const { order } = await counting('F3');
    expect((await sendFile(t.stack, order, 'reused', `${HEADER}\nA-01,P1,,,,,3,\n`)).status).toBe(201);
    expectProblem(await sendFile(t.stack, order, 'reused', `${HEADER}\nA-01,P1,,,,,4,\n`), 422, 'submission-id-reused');
    expect(await entriesOf(t.stack, order)).toEqual([expect.objectContaining({ quantity: 3 })]);
  });

  it('refuses a file with bad lines (422), naming each by number with its reason, and stores none of it', async () => {
    const { order } = await counting('F4', { kind: 'locations', locations: ['A-01', 'A-02'] });
    const res = await sendFile(t.stack, order, 'bad', [
      HEADER,
      'NOWHERE,P1,,,,,1,', // 2
      'A-01,NOITEM,,,,,1,', // 3
      'A-01,P1,,,,,1.5,', // 4
      'B-01,P1,,,,,1,', // 5
      'A-01,SER,,,,,1,', // 6
      'A-01,LOT,,,,,2,', // 7
      'A-01,P1,,,,,2,damaged=3', // 8
      'A-01,P1,,,,,x,', // 9
      'A-02,P1,,,,,3,', // 10: fine
      'A-02,BOX,,,,,9999999999,', // 11: with line 12, more than a position can hold
      'A-02,BOX,,,,,9999999999,', // 12
    ].join('\n') + '\n');
    expectProblem(res, 422, 'invalid-count-entries');
    expect(res.body.badLines).toBe(10);
    const reasons = Object.fromEntries((res.body.lines as Array<{ line: number; problem: string }>).map((l) => [l.line, l.problem]));
    expect(Object.keys(reasons).map(Number)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
    expect(reasons[2]).toMatch(/unknown location NOWHERE/);
    expect(reasons[3]).toMatch(/unknown item NOITEM/);
    expect(reasons[4]).toMatch(/whole numbers/);
    expect(reasons[5]).toMatch(/B-01 is not part of this count order/);
    expect(reasons[6]).toMatch(/serial-tracked/);
    expect(reasons[7]).toMatch(/lot-tracked/);
    expect(reasons[8]).toMatch(/blocked quantity 3 exceeds/);
    expect(reasons[9]).toMatch(/^quantity: /);
    expect(reasons[11]).toMatch(/more than the stock records can hold/);
    expect(await entriesOf(t.stack, order)).toEqual([]);
    const submissions = await one(t.stack.db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from count_submission where count_order_id = ${order}`);
    expect(submissions!.n).toBe(0);
  });

  it('lists the first 1,000 bad lines in line order, unreadable and refused alike, with the number of all of them', async () => {
    const { order } = await counting('F7');
    // Every 100th line cannot be read (no number); the others name a location that does not exist.
    const lines = Array.from({ length: 1500 }, (_, i) => (i % 100 === 0 ? 'A-01,P1,,,,,x,' : `NOWHERE-${i},P1,,,,,1,`));
    const res = await sendFile(t.stack, order, 'many-bad', [HEADER, ...lines].join('\n') + '\n');
    expectProblem(res, 422, 'invalid-count-entries');
    expect(res.body.badLines).toBe(1500);
    const listed = (res.body.lines as Array<{ line: number; problem: string }>);
    expect(listed.map((l) => l.line)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 2));
    expect(listed[0]!.problem).toMatch(/^quantity: /);
    expect(listed[1]!.problem).toMatch(/unknown location NOWHERE-1$/);
    expect(await entriesOf(t.stack, order)).toEqual([]);
  });

  it('refuses a file for a completed order (409 count-order-closed)', async () => {
    const { order } = await counting('F5');
    await t.f.complete(order);
    expectProblem(await sendFile(t.stack, order, 'late', `${HEADER}\nA-01,P1,,,,,3,\n`), 409, 'count-order-closed');
    expect(await entriesOf(t.stack, order)).toEqual([]);
  });

  it('refuses a file without a Submission-Id (422 invalid-submission-id)', async () => {
    const { order } = await counting('F6');
    const res = await fetch(`${t.stack.baseUrl}/count-orders/${order}/entry-files`, {
      method: 'POST',
      headers: { authorization: 'Bearer token-dev-1', 'content-type': 'text/csv' },
      body: `${HEADER}\nA-01,P1,,,,,3,\n`,
    });
    expectProblem({ status: res.status, body: await res.json(), contentType: res.headers.get('content-type') }, 422, 'invalid-submission-id');
  });
});
