import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdjustmentOrder } from '../store/adjustment-orders';
import { affected, one, rows, sql } from '../db/sql';
import { position, smallWarehouse } from './support/fixtures';
import { flow } from './support/flow';
import { startStack, tokenOf, type Stack } from './support/stack';

/**
 * After release: the adjustment order the ERP receives, count accuracy and
 * the exports. The released state is written straight into the rows (the
 * release workflow is tested on its own), so every figure here is chosen.
 */
describe('adjustment order and reports', () => {
  const CUSTOMER = 'Acme, "North"'; // a comma and quotes: the CSV must quote it
  let stack: Stack;
  let rec: { id: string; number: number };
  let today: string;
  const rowId: Record<string, number> = {};

  /** Puts a row in its post-release state with variances derived as the service derives them. */
  async function settle(location: string, item: string, owner: string, expected: number, counted: number, state: string, approval: string) {
    const n = await affected(
      stack.db.orm.em.fork(),
      sql`update reconciliation_row r
          set state = ${state}, approval = ${approval}, expected_quantity = ${expected}::numeric, counted_quantity = ${counted}::numeric,
              counted_round = 0, counted_by = 'dev-1', counted_at = now(),
              variance_quantity = ${counted}::numeric - ${expected}::numeric,
              variance_inventory_quantity = (${counted}::numeric - ${expected}::numeric) * i.conversion_factor,
              variance_value = (${counted}::numeric - ${expected}::numeric) * i.conversion_factor * i.standard_cost,
              approved_by = case when ${approval}::text = 'approved' then 'manager-1' end,
              processed_at = case when ${state}::text = 'processed' then now() end,
              failure_reason = case when ${state}::text = 'failed' then 'serial not found' end
          from item i, location l
          where i.id = r.item_id and l.id = r.location_id and r.reconciliation_id = ${rec.id}
            and l.code = ${location} and i.code = ${item} and r.owner = ${owner}`,
    );
    expect(n).toBe(1);
  }

  async function text(path: string, headers: Record<string, string> = {}) {
    const res = await fetch(stack.baseUrl + path, { headers: { authorization: `Bearer ${tokenOf('manager-1')}`, ...headers } });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition') };
  }

  beforeAll(async () => {
    stack = await startStack();
    const orm = stack.db.orm;
    await smallWarehouse(orm);
    await position(orm, 'W1', 'B-01', 'P1', { quantity: 7, owner: CUSTOMER });
    await position(orm, 'W1', 'A-02', 'BOX', { quantity: 2 });
    const f = flow(stack);
    rec = await f.create({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: { quantity: { plus: 1, minus: 1 } } } });
    await f.waitFor(rec.id, 'ready');

    await settle('A-01', 'BOX', '', 5, 3, 'processed', 'approved'); // -2 BOX = -24 PCS x 2.5 = -60
    await settle('A-01', 'P1', '', 10, 12, 'processed', 'approved'); // +2: a miss
    await settle('A-02', 'P1', '', 4, 2, 'processed', 'approved'); // -2: a miss, nets the +2 to zero
    await settle('A-02', 'BOX', '', 2, 1, 'deleted', 'to_approve'); // deleted: not counted in the report
    await settle('B-01', 'LOT', '', 20, 20, 'skipped', 'not_required'); // a hit, nothing to post
    await settle('B-01', 'SER', '', 1, 0, 'failed', 'approved'); // -100, never posted
    await settle('B-01', 'P1', CUSTOMER, 7, 8, 'processed', 'not_required'); // a hit, customer owned

    const em = orm.em.fork();
    for (const r of await rows(em, sql<{ id: number; key: string }>`
      select r.id::int, l.code || ' ' || i.code as key from reconciliation_row r
      join item i on i.id = r.item_id join location l on l.id = r.location_id where r.reconciliation_id = ${rec.id}`)) {
      rowId[r.key] = r.id;
    }
    today = (await one(em, sql<{ d: string }>`select current_date::text as d`))!.d;
  });
  afterAll(async () => stack?.close());

  const line = (n: number, key: string, l: Record<string, unknown>) => ({
    line: n, rowId: rowId[key], warehouse: 'W1', lot: '', serial: '', handlingUnit: '',
    reason: `cycle count reconciliation ${rec.number}`, adjustmentDate: today, processed: true, ...l,
  });
  const expectedLines = () => [
    line(1, 'A-01 BOX', {
      location: 'A-01', item: 'BOX', storageUnit: 'BOX', inventoryUnit: 'PCS',
      stockPointInventorySu: 5, actualInventorySu: 3, varianceSu: -2, stockPointInventoryIu: 60, actualInventoryIu: 36, varianceIu: -24,
      approval: 'approved', adjustmentPrice: 2.5, adjustmentAmount: -60, ownership: 'company_owned', owner: '',
    }),
    line(2, 'A-01 P1', {
      location: 'A-01', item: 'P1', storageUnit: 'PCS', inventoryUnit: 'PCS',
      stockPointInventorySu: 10, actualInventorySu: 12, varianceSu: 2, stockPointInventoryIu: 10, actualInventoryIu: 12, varianceIu: 2,
      approval: 'approved', adjustmentPrice: 10, adjustmentAmount: 20, ownership: 'company_owned', owner: '',
    }),
    line(3, 'A-02 P1', {
      location: 'A-02', item: 'P1', storageUnit: 'PCS', inventoryUnit: 'PCS',
      stockPointInventorySu: 4, actualInventorySu: 2, varianceSu: -2, stockPointInventoryIu: 4, actualInventoryIu: 2, varianceIu: -2,
      approval: 'approved', adjustmentPrice: 10, adjustmentAmount: -20, ownership: 'company_owned', owner: '',
    }),
    line(4, 'B-01 P1', {
      location: 'B-01', item: 'P1', storageUnit: 'PCS', inventoryUnit: 'PCS',
      stockPointInventorySu: 7, actualInventorySu: 8, varianceSu: 1, stockPointInventoryIu: 7, actualInventoryIu: 8, varianceIu: 1,
      approval: 'not_required', adjustmentPrice: 10, adjustmentAmount: 10, ownership: 'customer_owned', owner: CUSTOMER,
    }),
  ];

  it('has no adjustment order before one is created', async () => {
    expect((await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`)).status).toBe(404);
    const unknown = await stack.http('GET', '/reconciliations/00000000-0000-4000-8000-000000000000/adjustment-order');
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toContain('application/problem+json');
  });

  it('creates one line per processed row with a variance, numbered in walking order, once', async () => {
    const create = () => stack.db.orm.em.fork().transactional((em) => createAdjustmentOrder(em, rec.id));
    const created = await create();
    expect(created.lines).toBe(4);
    expect(await create()).toEqual(created);

    const res = await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderNumber: created.orderNumber, reconciliationId: rec.id, warehouse: 'W1' });
    expect(res.body.lines).toEqual(expectedLines());
  });

  it('gives the same lines as RFC 4180 CSV, by query or by Accept header', async () => {
    const { orderNumber } = (await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`)).body;
    const reason = `cycle count reconciliation ${rec.number}`;
    const expected =
      'orderNumber,line,rowId,warehouse,location,item,lot,serial,handlingUnit,storageUnit,inventoryUnit,' +
      'stockPointInventorySu,actualInventorySu,varianceSu,stockPointInventoryIu,actualInventoryIu,varianceIu,' +
      'reason,adjustmentDate,approval,adjustmentPrice,adjustmentAmount,ownership,owner,processed\r\n' +
      `${orderNumber},1,${rowId['A-01 BOX']},W1,A-01,BOX,,,,BOX,PCS,5,3,-2,60,36,-24,${reason},${today},approved,2.5,-60,company_owned,,true\r\n` +
      `${orderNumber},2,${rowId['A-01 P1']},W1,A-01,P1,,,,PCS,PCS,10,12,2,10,12,2,${reason},${today},approved,10,20,company_owned,,true\r\n` +
      `${orderNumber},3,${rowId['A-02 P1']},W1,A-02,P1,,,,PCS,PCS,4,2,-2,4,2,-2,${reason},${today},approved,10,-20,company_owned,,true\r\n` +
      `${orderNumber},4,${rowId['B-01 P1']},W1,B-01,P1,,,,PCS,PCS,7,8,1,7,8,1,${reason},${today},not_required,10,10,customer_owned,"Acme, ""North""",true\r\n`;
    const byQuery = await text(`/reconciliations/${rec.id}/adjustment-order?format=csv`);
    expect(byQuery.status).toBe(200);
    expect(byQuery.type).toContain('text/csv');
    expect(byQuery.disposition).toBe(`attachment; filename="adjustment-order-${orderNumber}.csv"`);
    expect(byQuery.text).toBe(expected);
    expect((await text(`/reconciliations/${rec.id}/adjustment-order`, { accept: 'text/csv' })).text).toBe(expected);
  });

  it('deletes a line with a reason, once, by a manager, and audits it', async () => {
    const path = `/reconciliations/${rec.id}/adjustment-order/lines/2`;
    const blank = await stack.http('DELETE', path, { reason: '  ' });
    expect(blank.status).toBe(422);
    expect(blank.contentType).toContain('application/problem+json');
    expect((await stack.http('DELETE', path, { reason: 'counter error' }, { 'x-as': 'dev-1' })).status).toBe(403);
    expect((await stack.http('DELETE', `/reconciliations/${rec.id}/adjustment-order/lines/99`, { reason: 'x' })).status).toBe(404);

    const deleted = await stack.http('DELETE', path, { reason: 'stock found in the returns cage' });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ line: 2, deletedBy: 'manager-1', deletedReason: 'stock found in the returns cage' });
    const again = await stack.http('DELETE', path, { reason: 'again' });
    expect(again.status).toBe(409);
    expect(again.contentType).toContain('application/problem+json');

    const order = await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`);
    expect(order.body.lines.map((l: { line: number }) => l.line)).toEqual([1, 3, 4]);
    // Re-running the activity neither restores the line nor adds one.
    expect((await stack.db.orm.em.fork().transactional((em) => createAdjustmentOrder(em, rec.id))).lines).toBe(4);
    expect((await stack.http('GET', `/reconciliations/${rec.id}/adjustment-order`)).body.lines).toHaveLength(3);

    const audit = await stack.http('GET', `/reconciliations/${rec.id}/audit`);
    expect(audit.status).toBe(200);
    expect(audit.body.events.map((e: { action: string }) => e.action)).toEqual(['reconciliation_created', 'adjustment_line_deleted']);
    expect(audit.body.events[1]).toEqual({
      id: expect.any(Number), at: expect.any(String), actor: 'manager-1', action: 'adjustment_line_deleted', subject: 'line 2',
      before: expectedLines()[1], after: { deletedReason: 'stock found in the returns cage' },
    });
    const first = audit.body.events[0].id as number;
    expect((await stack.http('GET', `/reconciliations/${rec.id}/audit?limit=1`)).body.next).toBe(first);
    expect((await stack.http('GET', `/reconciliations/${rec.id}/audit?after=${first}`)).body).toEqual({ events: [audit.body.events[1]], next: null });
  });

  it('reports accuracy per row (a +2 and a -2 are two misses), gross and net value, by zone', async () => {
    const res = await stack.http('GET', `/reconciliations/${rec.id}/report`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      reconciliationId: rec.id,
      rowsCounted: 6, withinTolerance: 2, hitRate: 2 / 6, grossVarianceValue: 210, netVarianceValue: -150,
      processed: 4, failed: 1, skipped: 1,
      zones: [
        { zone: 'A', rowsCounted: 3, withinTolerance: 0, hitRate: 0, grossVarianceValue: 100, netVarianceValue: -60, processed: 3, failed: 0, skipped: 0 },
        { zone: 'B', rowsCounted: 3, withinTolerance: 2, hitRate: 2 / 3, grossVarianceValue: 110, netVarianceValue: -90, processed: 1, failed: 1, skipped: 1 },
      ],
      // Counted rows by variance value, (from, to]; the six rows add up to the net -150 and the gross 210.
      distribution: [
        { from: null, to: -1000, rows: 0, value: 0 }, { from: -1000, to: -100, rows: 1, value: -100 }, { from: -100, to: -10, rows: 2, value: -80 },
        { from: -10, to: 0, rows: 0, value: 0 }, { from: 0, to: 0, rows: 1, value: 0 }, { from: 0, to: 10, rows: 1, value: 10 },
        { from: 10, to: 100, rows: 1, value: 20 }, { from: 100, to: 1000, rows: 0, value: 0 }, { from: 1000, to: null, rows: 0, value: 0 },
      ],
    });
  });

  it('exports every row as CSV', async () => {
    const res = await text(`/reconciliations/${rec.id}/rows.csv`);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/csv');
    expect(res.disposition).toBe(`attachment; filename="reconciliation-${rec.number}-rows.csv"`);
    const records = res.text.split('\r\n');
    expect(records).toHaveLength(1 + 7 + 1); // header, seven rows, and the final CRLF
    expect(records[0]).toBe(
      'id,zone,location,item,lot,serial,handlingUnit,owner,state,approval,snapshotQuantity,expectedQuantity,countedQuantity,' +
        'varianceQuantity,varianceInventoryQuantity,varianceValue,countedRound,countedBy,approvedBy',
    );
    expect(records[1]).toBe(`${rowId['A-01 BOX']},A,A-01,BOX,,,,,processed,approved,5,5,3,-2,-24,-60,0,dev-1,manager-1`);
    expect(records).toContain(`${rowId['A-02 BOX']},A,A-02,BOX,,,,,deleted,to_approve,2,2,1,-1,-12,-30,0,dev-1,`);
    expect((await text('/reconciliations/00000000-0000-4000-8000-000000000000/rows.csv')).status).toBe(404);
  });
});
