import { describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { upsertUser } from '../store/users';
import { changedTables, dbFingerprint } from './support/db-fingerprint';
import { move, smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { tokenOf, useStack } from './support/stack';

/**
 * Segregation of duties: nobody approves, deletes or skips (a failed
 * posting of) a row they counted in its deciding round: 403
 * segregation-of-duties, and nothing changes. Someone else may.
 */
describe('segregation of duties', () => {
  const t = useStack(async (stack) => {
    const w1 = await smallWarehouse(stack.db.orm, 'W1');
    await smallWarehouse(stack.db.orm, 'W2');
    return w1;
  });

  /** The whole reconciliation counted by `counter` (a manager, assigned its one order): BOX@A-01 two boxes short, every other row one more. */
  const countedBy = async (warehouse: string, counter: string) => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse, scope: { kind: 'warehouse' }, tolerance: { default: {} }, managerApprovalLimit: 1e6 });
    await f.waitFor(rec.id, 'ready');
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    const entries = await rows(stack.db.orm.em.fork(), sql<Record<string, string | number>>`
      select l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner,
             (case when i.code = 'BOX' then r.snapshot_quantity - 2 when i.serial_tracked then r.snapshot_quantity
                   else r.snapshot_quantity + 1 end)::float8 as quantity
      from reconciliation_row r join location l on l.id = r.location_id join item i on i.id = r.item_id
      where r.reconciliation_id = ${rec.id}`);
    const submitted = await f.submit(order!.id, 'all', entries, counter);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    await f.complete(order!.id, counter);
    await f.waitFor(rec.id, 'review', 0);
    return rec.id;
  };

  let inReview: Promise<string> | undefined;
  const counted = () => (inReview ??= countedBy('W1', 'manager-2'));

  const decide = (id: string, decision: string, body: unknown, as: string) =>
    t.stack.http('POST', `/reconciliations/${id}/${decision}`, body, { 'x-as': as });

  /** Refused as segregation of duties, with nothing written anywhere. */
  const refusedAsOwnCount = async (request: () => ReturnType<typeof decide>, what: string) => {
    const before = await dbFingerprint(t.stack.db.orm);
    const res = await request();
    expectProblem(res, 403, 'segregation-of-duties', what);
    expect(res.body.detail).toMatch(/segregation of duties/);
    expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
  };

  it('a manager cannot approve a row they counted; another manager can', async () => {
    const id = await counted();
    const row = await t.f.row(id, 'P1', 'A-01');
    expect(row).toMatchObject({ approval: 'to_approve', countedBy: 'manager-2' });
    await refusedAsOwnCount(() => decide(id, 'approvals', { rowIds: [row.id] }, 'manager-2'), 'approve own count');
    const byOther = await decide(id, 'approvals', { rowIds: [row.id] }, 'manager-1');
    expect(byOther.status, JSON.stringify(byOther.body)).toBe(200);
  });

  it('a manager cannot delete a row they counted', async () => {
    const id = await counted();
    const row = await t.f.row(id, 'SER', 'B-01');
    await refusedAsOwnCount(() => decide(id, 'row-deletions', { rowIds: [row.id], reason: 'not needed' }, 'manager-2'), 'delete own count');
    expect((await t.f.row(id, 'SER', 'B-01')).state).toBe('counted');
  });

  it('a manager cannot skip a failed row they counted; another manager can', async () => {
    const id = await counted();
    const approved = await decide(id, 'approvals', { filter: { approval: 'to_approve' } }, 'manager-1');
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    // After the count, 4 of the 5 boxes leave A-01: taking the 2 missing ones out would make the stock negative.
    await move(t.stack.db.orm, t.fixture.a01Box, 'issue', 4);
    await t.f.decide(id, 'release');
    await t.f.waitFor(id, 'awaiting_failed_rows');
    const box = await t.f.row(id, 'BOX', 'A-01');
    expect(box.state).toBe('failed');
    await refusedAsOwnCount(() => decide(id, 'failed-rows/skip', { rowIds: [box.id], reason: 'stock moved' }, 'manager-2'), 'skip own count');
    const byOther = await decide(id, 'failed-rows/skip', { rowIds: [box.id], reason: 'stock moved' }, 'manager-1');
    expect(byOther.status, JSON.stringify(byOther.body)).toBe(200);
    await t.f.waitFor(id, 'released');
  });

  // Counters of a row are recorded joined by commas: a name with a comma (lead,x) would never match itself.
  it('refuses a principal whose name holds a comma, through the API and in the store', async () => {
    const res = await t.stack.http('POST', '/users', { name: 'lead,x', role: 'manager', warehouses: 'all' }, { 'x-as': 'admin-1' });
    expectProblem(res, 422, 'invalid-request', 'a name with a comma');
    await expect(upsertUser(t.stack.db.orm.em.fork(), 'lead,x', 'manager', tokenOf('lead,x'))).rejects.toThrow(/letters, digits/);
    expect(await rows(t.stack.db.orm.em.fork(), sql`select name from app_user where name like '%,%'`)).toEqual([]);
  });
});
