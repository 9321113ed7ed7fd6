import { afterEach, describe, expect, it } from 'vitest';
import { levelsReceived } from '../api/routes/systems';
import { affected, one, rows, sql } from '../db/sql';
import { captureBookLevels } from '../store/levels';
import { registerSystem } from '../store/systems';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { createRun, createSystemsUsers, erp, useSystemsStack, WMS } from './support/systems-stack';

/**
 * Levels: the book's captured from the stock records for a run's selection,
 * a pushed system's uploaded (CSV or JSON lines) over HTTP, checked line by
 * line and all together, stored all or nothing, once per run and source.
 */
const CSV = 'text/csv';
const JSONL = 'application/x-ndjson';

describe('levels', () => {
  const t = useSystemsStack(async (stack) => {
    await smallWarehouse(stack.orm, 'W1');
    await smallWarehouse(stack.orm, 'W2');
    // A location only W2 has.
    await affected(stack.orm.em.fork(), sql`
      insert into location (warehouse_code, zone_id, code) select 'W2', id, 'C-01' from zone where warehouse_code = 'W2' and code = 'A'`);
    await createSystemsUsers(stack.orm);
    await registerSystem(stack.orm.em.fork(), WMS, 'admin-1');
    await registerSystem(stack.orm.em.fork(), erp('http://127.0.0.1:9/levels', 'Bearer x'), 'admin-1');
  });

  const levelsOf = (runId: string, source: string) =>
    rows(t.stack.orm.em.fork(), sql<{ line: number; item: string; warehouse: string; location: string; status: string; quantity: string; unit: string }>`
      select line, item_code as item, warehouse_code as warehouse, location_code as location, status, quantity::text as quantity, unit
      from source_level where system_reconciliation_id = ${runId} and source = ${source} order by line`);
  const receiptOf = (runId: string, source: string) =>
    one(t.stack.orm.em.fork(), sql<{ lines: number; receivedBy: string }>`
      select lines, received_by as "receivedBy" from levels_receipt where system_reconciliation_id = ${runId} and source = ${source}`);
  const upload = (runId: string, body: string, type = CSV, as = 'wms-dc1', source = '') =>
    t.stack.upload(`/system-reconciliations/${runId}/levels${source ? `?source=${source}` : ''}`, body, type, as);

  /** An upload whose body is sent as a stream of many small chunks (a header, then `count` lines). */
  const streamUpload = async (runId: string, header: string, count: number, line: (i: number) => string) => {
    const encoder = new TextEncoder();
    let i = -1;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === -1) controller.enqueue(encoder.encode(header));
        else if (i < count) controller.enqueue(encoder.encode(line(i)));
        else controller.close();
        i++;
      },
    });
    const res = await fetch(`${t.stack.baseUrl}/system-reconciliations/${runId}/levels`, {
      method: 'POST', body, duplex: 'half', headers: { authorization: 'Bearer token-wms-dc1', 'content-type': CSV },
    } as RequestInit);
    return { status: res.status, body: (await res.json()) as any, contentType: res.headers.get('content-type') };
  };

  afterEach(() => {
    levelsReceived.notify = async () => {};
  });

  describe('the book', () => {
    it('captures an item range: available per item and location (stock minus blockings) and one line per blocking reason', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', selection: { itemFrom: 'BOX', itemTo: 'P1' } });
      expect(await captureBookLevels(t.stack.orm.em.fork(), run)).toEqual({ lines: 5 });
      expect(await levelsOf(run, 'book')).toEqual([
        { line: 1, item: 'BOX', warehouse: 'W1', location: 'A-01', status: 'available', quantity: '5.0000', unit: 'BOX' },
        { line: 2, item: 'LOT', warehouse: 'W1', location: 'B-01', status: 'available', quantity: '20.0000', unit: 'KG' },
        { line: 3, item: 'P1', warehouse: 'W1', location: 'A-01', status: 'available', quantity: '10.0000', unit: 'PCS' },
        { line: 4, item: 'P1', warehouse: 'W1', location: 'A-02', status: 'available', quantity: '3.0000', unit: 'PCS' },
        { line: 5, item: 'P1', warehouse: 'W1', location: 'A-02', status: 'damaged', quantity: '1.0000', unit: 'PCS' },
      ]);
      expect(await receiptOf(run, 'book')).toEqual({ lines: 5, receivedBy: 'book' });
    });

    it('captures a list of items at listed locations only', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', selection: { items: ['P1', 'SER'], locations: ['A-02', 'B-01'] } });
      await captureBookLevels(t.stack.orm.em.fork(), run);
      expect((await levelsOf(run, 'book')).map((l) => `${l.item}@${l.location} ${l.status} ${l.quantity}`)).toEqual([
        'P1@A-02 available 3.0000', 'P1@A-02 damaged 1.0000', 'SER@B-01 available 1.0000',
      ]);
    });

    it('captures once: a second capture returns the first and stores nothing more', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', selection: { items: ['P1'] } });
      const first = await captureBookLevels(t.stack.orm.em.fork(), run);
      expect(await captureBookLevels(t.stack.orm.em.fork(), run)).toEqual(first);
      expect(await levelsOf(run, 'book')).toHaveLength(first.lines);
    });

    it('refuses to capture for a run the book is not a source of (UnknownSource)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'wms-dc1' });
      await expect(captureBookLevels(t.stack.orm.em.fork(), run)).rejects.toMatchObject({ type: 'UnknownSource' });
    });
  });

  describe('a pushed upload', () => {
    const good = 'item,warehouse,location,status,quantity,unit\nP1,W1,A-01,available,10,\nP1,W1,A-02,damaged,1,PCS\nP1,W1,A-02,available,1,CASE\n';

    it('stores CSV levels as sent, the unit defaulting to the storage unit (201)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const res = await upload(run, good);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toEqual({ systemReconciliationId: run, source: 'wms-dc1', lines: 3, repeated: false });
      expect(await levelsOf(run, 'wms-dc1')).toEqual([
        { line: 2, item: 'P1', warehouse: 'W1', location: 'A-01', status: 'available', quantity: '10.0000', unit: 'PCS' },
        { line: 3, item: 'P1', warehouse: 'W1', location: 'A-02', status: 'damaged', quantity: '1.0000', unit: 'PCS' },
        { line: 4, item: 'P1', warehouse: 'W1', location: 'A-02', status: 'available', quantity: '1.0000', unit: 'CASE' },
      ]);
      expect(await receiptOf(run, 'wms-dc1')).toEqual({ lines: 3, receivedBy: 'wms-dc1' });
    });

    it('stores JSON-lines levels (quantities as numbers, zero allowed)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const body = [
        { item: 'BOX', warehouse: 'W1', location: 'A-01', status: 'available', quantity: 5 },
        { item: 'LOT', warehouse: 'W1', location: 'B-01', status: 'quality', quantity: 0.5, unit: 'KG' },
        { item: 'SER', warehouse: 'W1', location: 'B-01', status: 'available', quantity: 0 },
      ].map((l) => JSON.stringify(l)).join('\n');
      const res = await upload(run, body, JSONL);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect((await levelsOf(run, 'wms-dc1')).map((l) => `${l.line} ${l.item} ${l.status} ${l.quantity} ${l.unit}`)).toEqual([
        '1 BOX available 5.0000 BOX', '2 LOT quality 0.5000 KG', '3 SER available 0.0000 PCS',
      ]);
    });

    it('answers an identical repeat with 200 and the first summary, storing nothing again', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      expect((await upload(run, good)).status).toBe(201);
      const again = await upload(run, good);
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      expect(again.body).toMatchObject({ lines: 3, repeated: true });
      expect(await levelsOf(run, 'wms-dc1')).toHaveLength(3);
    });

    it('refuses different levels for the same run and source (409 levels-already-received), keeping the first', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      expect((await upload(run, good)).status).toBe(201);
      const other = await upload(run, 'item,warehouse,location,status,quantity\nP1,W1,A-01,available,11\n');
      expectProblem(other, 409, 'levels-already-received');
      expect((await levelsOf(run, 'wms-dc1')).map((l) => l.quantity)).toEqual(['10.0000', '1.0000', '1.0000']);
    });

    it('refuses bad lines with 422, naming exactly those lines, and stores nothing', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const body = [
        'item,warehouse,location,status,quantity,unit',
        'P1,W1,A-01,available,10,', // 2: fine
        'NOPE,W1,A-01,available,1,', // 3: unknown item
        'P1,W1,A-01,lost,1,', // 4: unmapped status
        'P1,W1,A-01,available,1,PALLET', // 5: unmapped unit
        'P1,W1,A-02,available,-1,', // 6: negative
        'P1,W1,C-01,available,1,', // 7: a location of W2
        'BOX,W1,A-01,available,1,CASE', // 8: fine
      ].join('\n');
      const res = await upload(run, body);
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.total).toBe(5);
      expect(res.body.lines).toEqual([
        { line: 3, problem: 'unknown item NOPE' },
        { line: 4, problem: 'status lost has no mapping for wms-dc1' },
        { line: 5, problem: 'unit PALLET has no mapping for wms-dc1 (item P1)' },
        { line: 6, problem: 'quantity must not be negative' },
        { line: 7, problem: 'location C-01 is not a location of warehouse W1' },
      ]);
      expect(await levelsOf(run, 'wms-dc1')).toEqual([]);
      expect(await receiptOf(run, 'wms-dc1')).toBeUndefined();
    });

    it('refuses a line for another warehouse than the run’s (422)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const res = await upload(run, 'item,warehouse,location,status,quantity\nP1,W2,A-01,available,1\nP1,W1,A-01,available,1\n');
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.lines).toEqual([{ line: 2, problem: "warehouse W2 is not this reconciliation's warehouse (W1)" }]);
    });

    it('refuses an item outside the run’s item range (422)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', selection: { itemFrom: 'P1', itemTo: 'P9' } });
      const res = await upload(run, 'item,warehouse,location,status,quantity\nBOX,W1,A-01,available,1\nP1,W1,A-01,available,1\n');
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.lines).toEqual([{ line: 2, problem: 'item BOX is outside the requested selection' }]);
    });

    it('refuses a location outside the run’s locations (422)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', selection: { locations: ['A-01'] } });
      const res = await upload(run, 'item,warehouse,location,status,quantity\nP1,W1,A-02,available,1\nP1,W1,A-01,available,1\n');
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.lines).toEqual([{ line: 2, problem: 'location A-02 is outside the requested selection' }]);
    });

    it('stores a body of many batches, streamed in small chunks', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const lines = 2_500;
      const res = await streamUpload(run, 'item,warehouse,location,status,quantity\n', lines, (i) => `P1,W1,A-0${(i % 2) + 1},available,${i}\n`);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.lines).toBe(lines);
      const stored = await one(t.stack.orm.em.fork(), sql<{ n: number; last: number; sum: string }>`
        select count(*)::int as n, max(line)::int as last, sum(quantity)::text as sum from source_level where system_reconciliation_id = ${run} and source = 'wms-dc1'`);
      expect(stored).toEqual({ n: lines, last: lines + 1, sum: `${(lines * (lines - 1)) / 2}.0000` });
    });

    it('names the first 1,000 bad lines in line order, of whichever kind, and counts them all', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      // Odd records: a negative quantity (found as read); even ones: an unknown item (found by the set-based check).
      const res = await streamUpload(run, 'item,warehouse,location,status,quantity\n', 1_200, (i) => (i % 2 ? 'P1,W1,A-01,available,-1\n' : 'NOPE,W1,A-01,available,1\n'));
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.total).toBe(1_200);
      expect(res.body.lines).toHaveLength(1_000);
      expect(res.body.lines.slice(0, 2)).toEqual([{ line: 2, problem: 'unknown item NOPE' }, { line: 3, problem: 'quantity must not be negative' }]);
      expect(res.body.lines.at(-1).line).toBe(1_001);
      expect(await levelsOf(run, 'wms-dc1')).toEqual([]);
    });

    it('refuses a CSV syntax error with its line (422), storing nothing', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const res = await upload(run, 'item,warehouse,location,status,quantity\nP1,W1,A-01,available,1\nP1,W1\n');
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.lines).toEqual([{ line: 3, problem: '2 fields where the header names 5' }]);
      expect(await levelsOf(run, 'wms-dc1')).toEqual([]);
    });

    it('refuses a location from a system that reports per warehouse (422)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'wms-dc1' });
      const res = await upload(run, 'item,warehouse,location,status,quantity\nP1,W1,A-01,available,1\n', CSV, 'erp');
      expectProblem(res, 422, 'invalid-levels');
      expect(res.body.lines).toEqual([{ line: 2, problem: 'this system reports per warehouse: leave location empty' }]);
    });

    it('refuses a body that is neither CSV nor JSON lines (415)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      expectProblem(await upload(run, '{}', 'application/json'), 415, 'unsupported-media-type');
    });

    it('tells the workflow after the levels were stored', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const told: string[] = [];
      levelsReceived.notify = async (runId, source) => {
        const stored = await receiptOf(runId, source);
        told.push(`${runId} ${source} ${stored?.lines}`);
      };
      expect((await upload(run, good)).status).toBe(201);
      expect(told).toEqual([`${run} wms-dc1 3`]);
    });

    it('lets an admin upload for a source named in ?source=', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      const res = await upload(run, good, CSV, 'admin-1', 'wms-dc1');
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(await receiptOf(run, 'wms-dc1')).toEqual({ lines: 3, receivedBy: 'admin-1' });
    });

    it('refuses an integration principal reporting for another source (403), storing nothing', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'wms-dc1' });
      expectProblem(await upload(run, good, CSV, 'erp', 'wms-dc1'), 403, 'forbidden');
      expect(await levelsOf(run, 'wms-dc1')).toEqual([]);
    });

    it('hides a run from an integration principal that is not one of its sources (404)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      expectProblem(await upload(run, good, CSV, 'erp'), 404, 'not-found');
    });

    it('refuses readers and devices (403)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      for (const as of ['manager-1', 'auditor-1', 'dev-1']) expectProblem(await upload(run, good, CSV, as, 'wms-dc1'), 403, 'forbidden', as);
    });

    it('hides a run in a warehouse the caller is not granted (404)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', warehouse: 'W2' });
      expectProblem(await upload(run, good), 404, 'not-found');
    });
  });

  describe('the levels request', () => {
    it('tells a pushed system what to report and, once it has, what arrived', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1', selection: { itemFrom: 'A', itemTo: 'Z' }, deadlineMinutes: 30 });
      const before = await t.stack.json('GET', `/system-reconciliations/${run}/levels-request`, undefined, 'wms-dc1');
      expect(before.status, JSON.stringify(before.body)).toBe(200);
      expect(before.body).toMatchObject({
        systemReconciliationId: run, source: 'wms-dc1', mode: 'pushed', warehouse: 'W1', selection: { itemFrom: 'A', itemTo: 'Z' },
        locationGranularity: 'location', received: null,
        upload: { method: 'POST', path: `/system-reconciliations/${run}/levels?source=wms-dc1` },
      });
      const due = await one(t.stack.orm.em.fork(), sql<{ ok: boolean }>`
        select ${before.body.deadline}::timestamptz = date_trunc('milliseconds', created_at + interval '30 minutes') as ok from system_reconciliation where id = ${run}`);
      expect(due!.ok).toBe(true);
      await upload(run, 'item,warehouse,location,status,quantity\nP1,W1,A-01,available,10\n');
      const after = await t.stack.json('GET', `/system-reconciliations/${run}/levels-request?source=wms-dc1`, undefined, 'manager-1');
      expect(after.body.received).toMatchObject({ lines: 1, receivedBy: 'wms-dc1' });
    });

    it('hides a run of a warehouse the reader is not granted (404)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      expectProblem(await t.stack.json('GET', `/system-reconciliations/${run}/levels-request?source=wms-dc1`, undefined, 'manager-2'), 404, 'not-found');
    });

    it('refuses a source the run does not compare (422 unknown-source)', async () => {
      const run = await createRun(t.stack.orm, { sourceA: 'book', sourceB: 'wms-dc1' });
      expectProblem(await t.stack.json('GET', `/system-reconciliations/${run}/levels-request?source=erp`, undefined, 'manager-1'), 422, 'unknown-source');
    });
  });
});
