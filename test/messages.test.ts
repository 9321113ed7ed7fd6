import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { registerSystem } from '../store/systems';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { createSystemsUsers, erp, useSystemsStack, WMS } from './support/systems-stack';

/**
 * Interface messages and movement events a system sends as itself, streamed
 * in batches with an Import-Id: stored all or nothing, once per batch; a
 * message sent again only gains its processedAt.
 */
const CSV = 'text/csv';
const JSONL = 'application/x-ndjson';
const HEADER = 'messageId,target,kind,item,warehouse,location,status,quantity,unit,sentAt,processedAt';

describe('interface messages and movements', () => {
  const t = useSystemsStack(async (stack) => {
    await smallWarehouse(stack.orm, 'W1');
    await smallWarehouse(stack.orm, 'W2');
    await createSystemsUsers(stack.orm);
    await registerSystem(stack.orm.em.fork(), WMS, 'admin-1');
    await registerSystem(stack.orm.em.fork(), erp('http://127.0.0.1:9/levels', 'Bearer x'), 'admin-1');
  });

  const send = (kind: 'messages' | 'movements', importId: string | undefined, body: string, type = CSV, as = 'wms-dc1', system = 'wms-dc1') =>
    t.stack.upload(`/systems/${system}/${kind}`, body, type, as, importId === undefined ? {} : { 'import-id': importId });
  const message = (id: string) =>
    one(t.stack.orm.em.fork(), sql<{ target: string; kind: string; quantity: string; unit: string; sentAt: string; processedAt: string | null }>`
      select target, kind, quantity::text as quantity, unit, sent_at as "sentAt", processed_at as "processedAt"
      from interface_message where source = 'wms-dc1' and message_id = ${id}`);
  const count = async (table: 'interface_message' | 'movement_event') =>
    (await one(t.stack.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`))!.n;
  const iso = (v: string | null) => (v === null ? null : new Date(v).toISOString());

  it('stores a CSV batch of messages (201), the unit defaulting to the storage unit', async () => {
    const body = [
      HEADER,
      'M1,erp,receipt,P1,W1,A-01,,5,,2024-05-01T10:00:00Z,',
      'M2,erp,pick,BOX,W1,A-01,,-1,CASE,2024-05-01T11:00:00+02:00,2024-05-01T09:30:00Z',
    ].join('\n');
    const res = await send('messages', 'batch-1', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({ importId: 'batch-1', kind: 'messages', system: 'wms-dc1', lines: 2, inserted: 2, processed: 0, unchanged: 0, repeated: false });
    const m1 = await message('M1');
    expect({ ...m1, sentAt: iso(m1!.sentAt) }).toEqual({ target: 'erp', kind: 'receipt', quantity: '5.0000', unit: 'PCS', sentAt: '2024-05-01T10:00:00.000Z', processedAt: null });
    const m2 = await message('M2');
    expect({ quantity: m2!.quantity, unit: m2!.unit, processedAt: iso(m2!.processedAt) }).toEqual({ quantity: '-1.0000', unit: 'CASE', processedAt: '2024-05-01T09:30:00.000Z' });
  });

  it('answers the same Import-Id and body with 200 and the first summary, storing nothing again', async () => {
    const body = `${HEADER}\nM10,erp,receipt,P1,W1,A-01,,5,,2024-05-02T10:00:00Z,\n`;
    expect((await send('messages', 'batch-10', body)).status).toBe(201);
    const before = await count('interface_message');
    const again = await send('messages', 'batch-10', body);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ importId: 'batch-10', lines: 1, inserted: 1, repeated: true });
    expect(await count('interface_message')).toBe(before);
  });

  it('refuses the same Import-Id with another body (422 import-id-reused)', async () => {
    expect((await send('messages', 'batch-20', `${HEADER}\nM20,erp,receipt,P1,W1,A-01,,5,,2024-05-02T10:00:00Z,\n`)).status).toBe(201);
    const res = await send('messages', 'batch-20', `${HEADER}\nM21,erp,receipt,P1,W1,A-01,,5,,2024-05-02T10:00:00Z,\n`);
    expectProblem(res, 422, 'import-id-reused');
    expect(await message('M21')).toBeUndefined();
  });

  it('sets processedAt when a message is sent again with it, and changes nothing else', async () => {
    expect((await send('messages', 'batch-30', `${HEADER}\nM30,erp,shipment,P1,W1,A-01,,-3,,2024-05-03T10:00:00Z,\n`)).status).toBe(201);
    const res = await send('messages', 'batch-31', `${HEADER}\nM30,book,receipt,BOX,W1,A-02,,99,,2024-05-03T12:00:00Z,2024-05-03T12:05:00Z\n`);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ lines: 1, inserted: 0, processed: 1, unchanged: 0 });
    const m = await message('M30');
    expect({ ...m, sentAt: iso(m!.sentAt), processedAt: iso(m!.processedAt) }).toEqual({
      target: 'erp', kind: 'shipment', quantity: '-3.0000', unit: 'PCS', sentAt: '2024-05-03T10:00:00.000Z', processedAt: '2024-05-03T12:05:00.000Z',
    });
  });

  it('keeps the first processedAt when a processed message is sent again', async () => {
    await send('messages', 'batch-40', `${HEADER}\nM40,erp,pick,P1,W1,A-01,,-1,,2024-05-04T10:00:00Z,2024-05-04T10:01:00Z\n`);
    const res = await send('messages', 'batch-41', `${HEADER}\nM40,erp,pick,P1,W1,A-01,,-1,,2024-05-04T10:00:00Z,2024-05-04T11:00:00Z\n`);
    expect(res.body).toMatchObject({ inserted: 0, processed: 0, unchanged: 1 });
    expect(iso((await message('M40'))!.processedAt)).toBe('2024-05-04T10:01:00.000Z');
  });

  it('refuses bad lines with 422, naming exactly those lines, and stores nothing', async () => {
    const before = await count('interface_message');
    const body = [
      HEADER,
      'M50,erp,receipt,P1,W1,A-01,,5,,2024-05-05T10:00:00Z,', // 2: fine
      'M51,nobody,receipt,P1,W1,A-01,,5,,2024-05-05T10:00:00Z,', // 3: unknown target
      'M52,erp,teleport,P1,W1,A-01,,5,,2024-05-05T10:00:00Z,', // 4: unknown kind
      'M53,erp,receipt,NOPE,W1,A-01,,5,,2024-05-05T10:00:00Z,', // 5: unknown item
      'M54,erp,receipt,P1,W1,A-01,lost,5,,2024-05-05T10:00:00Z,', // 6: unmapped status
      'M55,erp,receipt,P1,W1,A-01,,5,PALLET,2024-05-05T10:00:00Z,', // 7: unmapped unit
      'M56,erp,receipt,P1,W1,A-01,,5,,yesterday,', // 8: not a time
      'M57,erp,receipt,P1,W1,A-01,,5,,2024-05-05T10:00:00Z,2024-05-05T09:00:00Z', // 9: processed before sent
    ].join('\n');
    const res = await send('messages', 'batch-50', body);
    expectProblem(res, 422, 'invalid-import');
    expect(res.body.total).toBe(7);
    expect(res.body.lines).toEqual([
      { line: 3, problem: 'unknown target nobody (a registered system or book)' },
      { line: 4, problem: 'kind must be one of receipt, putaway, pick, shipment, transfer, adjustment, status_change' },
      { line: 5, problem: 'unknown item NOPE' },
      { line: 6, problem: 'status lost has no mapping for wms-dc1' },
      { line: 7, problem: 'unit PALLET has no mapping for wms-dc1 (item P1)' },
      { line: 8, problem: 'sentAt must be an ISO 8601 time with a time zone, e.g. 2024-05-01T10:00:00Z' },
      { line: 9, problem: 'processedAt is before sentAt' },
    ]);
    expect(await count('interface_message')).toBe(before);
    expect(await one(t.stack.orm.em.fork(), sql`select 1 from import_load where id = 'batch-50'`)).toBeUndefined();
  });

  it('refuses a batch with a line for a warehouse the system is not granted (403 warehouse-not-granted), storing nothing', async () => {
    const res = await send('messages', 'batch-60', `${HEADER}\nM60,erp,receipt,P1,W1,A-01,,5,,2024-05-06T10:00:00Z,\nM61,erp,receipt,P1,W2,A-01,,5,,2024-05-06T10:00:00Z,\n`);
    expectProblem(res, 403, 'warehouse-not-granted');
    expect(res.body.lines).toEqual([{ line: 3, problem: 'warehouse W2 is not granted to the sender' }]);
    expect(await message('M60')).toBeUndefined();
  });

  it('requires an Import-Id (422)', async () => {
    expectProblem(await send('messages', undefined, `${HEADER}\n`), 422, 'invalid-import-id');
  });

  it('lets a system send only as itself (403 for another system, a manager and a device), storing nothing', async () => {
    const body = `${HEADER}\nM70,erp,receipt,P1,W1,A-01,,5,,2024-05-07T10:00:00Z,\n`;
    for (const as of ['erp', 'manager-1', 'dev-1']) expectProblem(await send('messages', `batch-70-${as}`, body, CSV, as), 403, 'forbidden', as);
    expect(await message('M70')).toBeUndefined();
  });

  it('lets an admin send a batch for a system', async () => {
    const res = await send('messages', 'batch-71', `${HEADER}\nM71,erp,receipt,P1,W1,A-01,,5,,2024-05-07T10:00:00Z,\n`, CSV, 'admin-1');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await message('M71')).toBeDefined();
  });

  it('answers 404 for messages of a system that is not registered', async () => {
    expectProblem(await send('messages', 'batch-80', `${HEADER}\n`, CSV, 'admin-1', 'no-such-system'), 404, 'not-found');
  });

  it('lists unprocessed messages of an item within a sent-time window (readers)', async () => {
    await send('messages', 'batch-90', [
      HEADER,
      'Q1,erp,receipt,SER,W1,B-01,,1,,2024-06-01T10:00:00Z,',
      'Q2,erp,receipt,SER,W1,B-01,,1,,2024-06-01T11:00:00Z,2024-06-01T11:05:00Z',
      'Q3,erp,receipt,SER,W1,B-01,,1,,2024-06-02T10:00:00Z,',
      'Q4,erp,receipt,LOT,W1,B-01,,1,,2024-06-01T12:00:00Z,',
    ].join('\n'));
    const res = await t.stack.json('GET', '/systems/wms-dc1/messages?unprocessed=true&item=SER&from=2024-06-01T00:00:00Z&to=2024-06-02T00:00:00Z', undefined, 'auditor-1');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.messages.map((m: { messageId: string }) => m.messageId)).toEqual(['Q1']);
    expect(res.body.messages[0]).toMatchObject({ source: 'wms-dc1', target: 'erp', sentAt: '2024-06-01T10:00:00.000Z', processedAt: null });
  });

  it('pages through messages oldest first', async () => {
    const first = await t.stack.json('GET', '/systems/wms-dc1/messages?item=SER&limit=2', undefined, 'manager-1');
    const second = await t.stack.json('GET', `/systems/wms-dc1/messages?item=SER&limit=2&after=${first.body.next}`, undefined, 'manager-1');
    expect([...first.body.messages, ...second.body.messages].map((m: { messageId: string }) => m.messageId)).toEqual(['Q1', 'Q2', 'Q3']);
    expect(second.body.next).toBeNull();
  });

  it('shows a reader only the messages of its warehouses', async () => {
    const other = await t.stack.json('GET', '/systems/wms-dc1/messages', undefined, 'manager-2');
    expect(other.status).toBe(200);
    expect(other.body.messages).toEqual([]);
  });

  it('refuses message lists to devices and systems (403)', async () => {
    expectProblem(await t.stack.json('GET', '/systems/wms-dc1/messages', undefined, 'dev-1'), 403, 'forbidden');
    expectProblem(await t.stack.json('GET', '/systems/wms-dc1/messages', undefined, 'wms-dc1'), 403, 'forbidden');
  });

  it('stores a JSON-lines batch of movement events (201)', async () => {
    const body = [
      { eventId: 'E1', kind: 'putaway', item: 'P1', warehouse: 'W1', location: 'A-02', quantity: 2, occurredAt: '2024-05-08T10:00:00Z' },
      { eventId: 'E2', kind: 'status_change', item: 'P1', warehouse: 'W1', status: 'damaged', quantity: -1, unit: 'CASE', occurredAt: '2024-05-08T10:05:00Z' },
    ].map((e) => JSON.stringify(e)).join('\n');
    const res = await send('movements', 'mv-1', body, JSONL);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ kind: 'movements', lines: 2, inserted: 2 });
    const stored = await rows(t.stack.orm.em.fork(), sql<{ id: string; location: string; status: string; quantity: string; unit: string }>`
      select event_id as id, location_code as location, status, quantity::text as quantity, unit from movement_event where source = 'wms-dc1' order by event_id`);
    expect(stored).toEqual([
      { id: 'E1', location: 'A-02', status: '', quantity: '2.0000', unit: 'PCS' },
      { id: 'E2', location: '', status: 'damaged', quantity: '-1.0000', unit: 'CASE' },
    ]);
  });

  it('changes nothing for a movement event sent again in a new batch', async () => {
    const before = await count('movement_event');
    const res = await send('movements', 'mv-2', JSON.stringify({ eventId: 'E1', kind: 'pick', item: 'P1', warehouse: 'W1', quantity: -7, occurredAt: '2024-05-09T10:00:00Z' }), JSONL);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ lines: 1, inserted: 0, unchanged: 1 });
    expect(await count('movement_event')).toBe(before);
    const e1 = await one(t.stack.orm.em.fork(), sql<{ kind: string }>`select kind from movement_event where source = 'wms-dc1' and event_id = 'E1'`);
    expect(e1!.kind).toBe('putaway');
  });

  it('answers a repeated movement batch with 200 and records it once in import_load', async () => {
    const body = JSON.stringify({ eventId: 'E3', kind: 'receipt', item: 'BOX', warehouse: 'W1', quantity: 1, occurredAt: '2024-05-10T10:00:00Z' });
    expect((await send('movements', 'mv-3', body, JSONL)).status).toBe(201);
    expect((await send('movements', 'mv-3', body, JSONL)).status).toBe(200);
    const load = await one(t.stack.orm.em.fork(), sql<{ kind: string; actor: string; lines: number }>`select kind, actor, lines from import_load where id = 'mv-3'`);
    expect(load).toEqual({ kind: 'movements', actor: 'wms-dc1', lines: 1 });
  });
});
