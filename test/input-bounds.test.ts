import { describe, expect, it } from 'vitest';
import { affected, rows, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { expectProblem, LEAK, tableCounts, type HttpAnswer } from './support/problem-checks';
import { rawHttp } from './support/raw-http';
import { useStack } from './support/stack';

/**
 * Input the stock records cannot hold is refused at the API, as a 422
 * problem naming what is wrong, before anything is written: text with NUL
 * or a lone UTF-16 surrogate anywhere a caller can put text, and count
 * quantities that do not fit the item's unit or the bounds of the records.
 */
const NUL = '\u0000';
const LONE = '\uD800';
/** A lone surrogate as it can only travel in a URL: its (invalid) UTF-8 bytes, percent-escaped. */
const LONE_IN_URL = '%ED%A0%80';

describe('input bounds', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm, 'W1');
    // Gold: pieces at 5,000 each, so a large but countable quantity is worth more than the records hold.
    await affected(stack.db.orm.em.fork(), sql`
      insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost, lot_tracked, serial_tracked)
      values ('GOLD', 'PCS', 'PCS', 1, 5000, false, false)`);
  });
  const db = () => t.stack.db.orm.em.fork();

  let counting: Promise<{ id: string; orderId: number }> | undefined;
  /** A reconciliation of W1 counting, with its one open order (locations, B-01). */
  const open = () =>
    (counting ??= (async () => {
      const { f } = t;
      const rec = await f.create({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: {} } });
      await f.waitFor(rec.id, 'ready');
      await f.decide(rec.id, 'initial-count');
      const [order] = await f.orders(rec.id, 0);
      // dev-1 counts it: a device submits only to orders assigned to it.
      await f.assignIfOpen(order!.id, 'dev-1');
      return { id: rec.id, orderId: order!.id };
    })());

  const submit = (orderId: number, body: Record<string, unknown>) =>
    t.stack.http('POST', `/count-orders/${orderId}/submissions`, { submissionId: 's', device: 'dev-1', ...body }, { 'x-as': 'dev-1' });
  const entry = (e: Record<string, unknown>) => ({ location: 'A-01', item: 'P1', quantity: 1, ...e });

  /** Refused at the boundary: 422 invalid-request, naming the field (a record key is refused as an invalid key). */
  const refusedText = (res: HttpAnswer, field: string, what: string, reason = /control characters|not valid Unicode/) => {
    expectProblem(res, 422, 'invalid-request', what);
    expect(res.body.issues.map((i: { path: string }) => i.path), what).toContain(field);
    expect(res.body.detail, what).toMatch(reason);
  };

  for (const [bad, label] of [[NUL, 'a NUL byte'], [LONE, 'a lone surrogate']] as const) {
    it(`refuses ${label} in reconciliation codes (warehouse, zone, item, tolerance item) with 422, creating nothing`, async () => {
      const { stack } = t;
      await open();
      const before = await tableCounts(stack);
      const create = (body: Record<string, unknown>) => stack.http('POST', '/reconciliations', body);
      refusedText(await create({ warehouse: `W1${bad}`, scope: { kind: 'warehouse' } }), 'warehouse', 'warehouse');
      refusedText(await create({ warehouse: 'W1', scope: { kind: 'zones', zones: [`A${bad}`] } }), 'scope.zones.0', 'zone');
      refusedText(await create({ warehouse: 'W1', scope: { kind: 'locations', locations: [`${bad}A-01`] } }), 'scope.locations.0', 'location');
      refusedText(await create({ warehouse: 'W1', scope: { kind: 'warehouse', items: ['P1', `P${bad}1`] } }), 'scope.items.1', 'item');
      refusedText(
        await create({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: {}, items: { [`P1${bad}`]: {} } } }),
        'tolerance.items', 'tolerance item', /an item code must be 1 to 100 characters/,
      );
      expect(await tableCounts(stack)).toEqual(before);
    });

    it(`refuses ${label} in every text of a count submission with 422, storing nothing`, async () => {
      const { stack } = t;
      const { orderId } = await open();
      const before = await tableCounts(stack);
      refusedText(await submit(orderId, { device: `dev-1${bad}`, entries: [entry({})] }), 'device', 'device');
      refusedText(await submit(orderId, { submissionId: `s${bad}`, entries: [entry({})] }), 'submissionId', 'submissionId');
      refusedText(await submit(orderId, { entries: [entry({ location: `A-01${bad}` })] }), 'entries.0.location', 'location');
      refusedText(await submit(orderId, { entries: [entry({ item: `P1${bad}` })] }), 'entries.0.item', 'item');
      refusedText(await submit(orderId, { entries: [entry({}), entry({ item: 'LOT', location: 'B-01', lot: `L1${bad}` })] }), 'entries.1.lot', 'lot');
      refusedText(await submit(orderId, { entries: [entry({ item: 'SER', location: 'B-01', serial: `S${bad}1` })] }), 'entries.0.serial', 'serial');
      refusedText(await submit(orderId, { entries: [entry({ handlingUnit: `HU${bad}` })] }), 'entries.0.handlingUnit', 'handlingUnit');
      refusedText(await submit(orderId, { entries: [entry({ owner: `VMI${bad}` })] }), 'entries.0.owner', 'owner');
      refusedText(
        await submit(orderId, { entries: [entry({ quantity: 2, blocked: { [`damaged${bad}`]: 1 } })] }),
        'entries.0.blocked', 'blocked reason key', /a blocking reason must be 1 to 50 characters/,
      );
      expect(await tableCounts(stack)).toEqual(before);
    });

    it(`refuses ${label} in reasons, decision filters and device references with 422, changing nothing`, async () => {
      const { stack } = t;
      const { id, orderId } = await open();
      const before = await tableCounts(stack);
      const decide = (path: string, body: unknown) => stack.http('POST', `/reconciliations/${id}/${path}`, body);
      refusedText(await decide('row-deletions', { rowIds: [1], reason: `gone${bad}` }), 'reason', 'deletion reason');
      refusedText(await decide('cancellation', { reason: `${bad}` }), 'reason', 'cancellation reason');
      refusedText(await decide('cancellation', { reason: `stop ${bad} now` }), 'reason', 'cancellation reason in the middle');
      refusedText(await decide('failed-rows/skip', { rowIds: [1], reason: `skip${bad}` }), 'reason', 'skip reason');
      refusedText(await decide('approvals', { filter: { itemCodes: [`P1${bad}`] } }), 'filter.itemCodes.0', 'approval filter');
      refusedText(await decide('recount-marks', { filter: { zoneCodes: [bad] } }), 'filter.zoneCodes.0', 'recount filter');
      refusedText(
        await stack.http('DELETE', `/reconciliations/${id}/adjustment-order/lines/1`, { reason: `wrong${bad}` }),
        'reason', 'adjustment line reason',
      );
      refusedText(await stack.http('POST', `/count-orders/${orderId}/assignment`, { device: `dev${bad}` }), 'device', 'assignment');
      refusedText(await stack.http('POST', `/count-orders/${orderId}/completion`, { device: `dev-1${bad}` }, { 'x-as': 'dev-1' }), 'device', 'completion');
      expect(await tableCounts(stack)).toEqual(before);
      expect(await rows(db(), sql`select status, assigned_to from count_order where id = ${orderId}`)).toEqual([{ status: 'open', assigned_to: 'dev-1' }]);
      expect((await t.f.progress(id))!.status).toBe('counting');
    });
  }

  it('refuses a NUL byte in the rows query (item, zone, location) and in the device path with 422', async () => {
    const { stack } = t;
    const { id } = await open();
    for (const q of ['item=P1%00', 'zone=%00', 'location=A-01,%00B-01']) {
      const res = await stack.http('GET', `/reconciliations/${id}/rows?${q}`);
      expectProblem(res, 422, 'invalid-request', q);
      expect(res.body.detail, q).toMatch(/control characters/);
    }
    const device = await stack.http('GET', '/devices/dev%00-1/count-orders');
    expectProblem(device, 422, 'invalid-request', 'device path');
    expect(device.body.detail).toMatch(/control characters/);
  });

  it('refuses a lone surrogate (its invalid UTF-8 escaped) in the rows query and in the device path with a 4xx problem', async () => {
    const { stack } = t;
    const { id } = await open();
    const paths = [
      `/reconciliations/${id}/rows?item=P1${LONE_IN_URL}`,
      `/reconciliations/${id}/rows?zone=${LONE_IN_URL}`,
      `/reconciliations/${id}/rows?location=A-01,${LONE_IN_URL}`,
      `/devices/dev${LONE_IN_URL}/count-orders`,
    ];
    const answers = [];
    for (const path of paths) {
      const res = await stack.http('GET', path);
      expect(JSON.stringify(res.body), path).not.toMatch(LEAK);
      const refused = (res.status === 400 || res.status === 422) && !!res.contentType?.includes('application/problem+json');
      answers.push({ path: path.replace(id, '{id}'), refused, status: res.status, found: res.body?.rows?.length ?? res.body?.countOrders?.length });
    }
    expect(answers.filter((a) => !a.refused), 'answered instead of refused').toEqual([]);
  });

  it('refuses an Idempotency-Key with a lone surrogate (its UTF-8 bytes) with 422 invalid-idempotency-key, applying nothing', async () => {
    const { stack } = t;
    const { id } = await open();
    const before = await tableCounts(stack);
    const key = (value: Buffer) => [Buffer.concat([Buffer.from('Idempotency-Key: k-', 'latin1'), value])];
    const onCreate = await rawHttp(stack.baseUrl, 'POST', '/reconciliations', {
      headerLines: key(Buffer.from([0xed, 0xa0, 0x80])),
      body: JSON.stringify({ warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] } }),
    });
    expectProblem(onCreate, 422, 'invalid-idempotency-key', 'create');
    const onDecision = await rawHttp(stack.baseUrl, 'POST', `/reconciliations/${id}/cancellation`, {
      headerLines: key(Buffer.from([0xed, 0xa0, 0x80])),
      body: JSON.stringify({ reason: 'changed my mind' }),
    });
    expectProblem(onDecision, 422, 'invalid-idempotency-key', 'cancellation');
    expect(await tableCounts(stack)).toEqual(before);
    expect((await t.f.progress(id))!.status).toBe('counting');
  });

  it('refuses an Idempotency-Key with a NUL byte with a 4xx problem, applying nothing', async () => {
    const { stack } = t;
    const { id } = await open();
    const before = await tableCounts(stack);
    const res = await rawHttp(stack.baseUrl, 'POST', `/reconciliations/${id}/cancellation`, {
      headerLines: [Buffer.from('Idempotency-Key: k-\u0000-1', 'latin1')],
      body: JSON.stringify({ reason: 'changed my mind' }),
    });
    expect([400, 422], res.raw).toContain(res.status);
    expectProblem(res, res.status, undefined, res.raw);
    expect(await tableCounts(stack)).toEqual(before);
    expect((await t.f.progress(id))!.status).toBe('counting');
  });

  describe('count quantities', () => {
    const refusedLine = async (entries: Array<Record<string, unknown>>, line: number, problem: string | RegExp, what: string) => {
      const { orderId } = await open();
      const before = await tableCounts(t.stack);
      const res = await submit(orderId, { submissionId: `bad-${what}`, entries });
      expectProblem(res, 422, 'invalid-count-entries', what);
      expect(res.body.lines, what).toEqual([{ line, problem: expect.stringMatching(problem) }]);
      expect(res.body.detail, what).toMatch(new RegExp(`^line ${line}: `));
      expect(await tableCounts(t.stack), what).toEqual(before);
    };

    it('refuses 2.5 of an item counted in pieces', () =>
      refusedLine([entry({ quantity: 2.5 })], 1, 'item P1: PCS is counted in whole numbers', 'PCS 2.5'));

    it('refuses 0.5 and 2 of a serial-tracked item', async () => {
      await refusedLine([entry({ location: 'B-01', item: 'SER', serial: 'S1', quantity: 0.5 })], 1, 'item SER: a serial-tracked item is counted 0 or 1', 'SER 0.5');
      await refusedLine([entry({ location: 'B-01', item: 'SER', serial: 'S1', quantity: 2 })], 1, 'item SER: a serial-tracked item is counted 0 or 1', 'SER 2');
    });

    it('refuses 1.2345 KG (KG allows 3 decimals)', () =>
      refusedLine([entry({ location: 'B-01', item: 'LOT', lot: 'L1', quantity: 1.2345 })], 1, 'item LOT: KG allows at most 3 decimals', 'KG 1.2345'));

    it('refuses a blocked quantity with more decimals than the unit allows', () =>
      refusedLine([entry({ quantity: 3, blocked: { damaged: 0.5 } })], 1, 'item P1, blocked damaged: PCS is counted in whole numbers', 'blocked 0.5 PCS'));

    it('refuses a blocked quantity above the counted quantity', () =>
      refusedLine([entry({ quantity: 3, blocked: { damaged: 2, quality: 2 } })], 1, 'item P1: the blocked quantity 4 exceeds the counted quantity 3', 'blocked 4 of 3'));

    it('refuses a quantity whose value (quantity x conversion factor x standard cost) exceeds what the records hold', async () => {
      // 3e9 gold at 5,000 = 1.5e13, above the 1e13 value bound; 1e10 boxes of 12 = 1.2e11 pieces, above the 1e11 inventory bound.
      await refusedLine([entry({ location: 'A-02', item: 'GOLD', quantity: 3e9 })], 1, /^item GOLD: 3000000000 PCS at this stock position is more than the stock records can hold$/, 'GOLD value');
      await refusedLine([entry({ item: 'BOX', quantity: 1e10 })], 1, /^item BOX: 10000000000 BOX at this stock position is more than the stock records can hold$/, 'BOX inventory');
    });

    it('reports every bad line of a submission together, by line number, and stores none of it', async () => {
      const { stack } = t;
      const { orderId } = await open();
      const before = await tableCounts(stack);
      const res = await submit(orderId, {
        submissionId: 'mixed',
        entries: [
          entry({ quantity: 3 }),
          entry({ location: 'A-02', quantity: 2.5 }),
          entry({ item: 'BOX', quantity: 4 }),
          entry({ location: 'B-01', item: 'SER', serial: 'S1', quantity: 2 }),
          entry({ location: 'B-01', item: 'LOT', lot: 'L1', quantity: 1.2345 }),
        ],
      });
      expectProblem(res, 422, 'invalid-count-entries', 'mixed');
      expect(res.body.lines.map((l: { line: number }) => l.line)).toEqual([2, 4, 5]);
      expect(res.body.detail).toBe(
        'line 2: item P1: PCS is counted in whole numbers; line 4: item SER: a serial-tracked item is counted 0 or 1; line 5: item LOT: KG allows at most 3 decimals',
      );
      expect(await tableCounts(stack)).toEqual(before);
    });

    it('stores the valid neighbours: 3 PCS, 1 of a serial-tracked item, 1.234 KG, and gold worth just under the bound', async () => {
      const { orderId } = await open();
      const res = await submit(orderId, {
        submissionId: 'neighbours',
        entries: [
          entry({ quantity: 3, blocked: { damaged: 3 } }),
          entry({ location: 'B-01', item: 'SER', serial: 'S1', quantity: 1 }),
          entry({ location: 'B-01', item: 'LOT', lot: 'L1', quantity: 1.234, blocked: { quality: 0.001 } }),
          entry({ location: 'A-02', item: 'GOLD', quantity: 1e9 }),
        ],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toEqual({ submissionId: 'neighbours', accepted: 4, duplicate: false });
      const stored = await rows(db(), sql<{ line: number; item: string; quantity: string; blocked: unknown }>`
        select e.line::int, i.code as item, e.quantity::text as quantity, e.blocked from count_entry e join item i on i.id = e.item_id
        where e.count_order_id = ${orderId} and e.submission_id = 'neighbours' order by e.line`);
      expect(stored).toEqual([
        { line: 1, item: 'P1', quantity: '3.0000', blocked: { damaged: 3 } },
        { line: 2, item: 'SER', quantity: '1.0000', blocked: null },
        { line: 3, item: 'LOT', quantity: '1.2340', blocked: { quality: 0.001 } },
        { line: 4, item: 'GOLD', quantity: '1000000000.0000', blocked: null },
      ]);
    });

    it('adds a stock position up across submissions: gold that would pass the bound together is refused', async () => {
      const { stack } = t;
      const { orderId } = await open();
      // The previous test stored 1e9 gold at A-02; 1.5e9 more makes 2.5e9 x 5,000 = 1.25e13.
      const before = await tableCounts(stack);
      const res = await submit(orderId, { submissionId: 'more-gold', entries: [entry({ location: 'A-02', item: 'GOLD', quantity: 1.5e9 })] });
      expectProblem(res, 422, 'invalid-count-entries', 'more gold');
      expect(res.body.detail).toBe('line 1: item GOLD: 2500000000 PCS at this stock position is more than the stock records can hold');
      expect(await tableCounts(stack)).toEqual(before);
    });

    it('adds the lines of one stock position up within a submission: 1.5e9 gold twice at one location is refused, both lines', async () => {
      const { orderId } = await open();
      const before = await tableCounts(t.stack);
      const gold = entry({ location: 'B-01', item: 'GOLD', quantity: 1.5e9 });
      const res = await submit(orderId, { submissionId: 'gold-twice', entries: [gold, gold] });
      expectProblem(res, 422, 'invalid-count-entries', 'gold twice');
      expect(res.body.lines.map((l: { line: number }) => l.line)).toEqual([1, 2]);
      expect(res.body.lines[0].problem).toBe('item GOLD: 3000000000 PCS at this stock position is more than the stock records can hold');
      expect(await tableCounts(t.stack)).toEqual(before);
    });

    it('keeps stock positions apart within a submission: 1.5e9 gold at each of two locations is stored', async () => {
      const { orderId } = await open();
      const res = await submit(orderId, {
        submissionId: 'gold-apart',
        entries: [entry({ location: 'A-01', item: 'GOLD', quantity: 1.5e9 }), entry({ location: 'B-01', item: 'GOLD', quantity: 1.5e9 })],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toEqual({ submissionId: 'gold-apart', accepted: 2, duplicate: false });
    });
  });
});
