import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { Refusal } from '../store/refusal';
import { freshDatabase, type TestDatabase } from './support/db';
import {
  T0,
  compare,
  compareMasterData,
  createRun,
  levels,
  linesOf,
  message,
  minutesAfter,
  minutesBefore,
  movementEvent,
  refresh,
  warehouse,
} from './support/system-compare-fixtures';

let db: TestDatabase;
let warehouses = 0;
/** A warehouse of the test's own: its messages, movements and runs reach no other test. */
const freshWarehouse = () => warehouse(db.orm, `CW${++warehouses}`);

beforeAll(async () => {
  db = await freshDatabase();
  await compareMasterData(db.orm);
});

afterAll(async () => {
  await db?.close();
});

async function comparedAt(runId: string): Promise<{ comparedAt: string | null; summary: unknown }> {
  const [r] = await rows(
    db.orm.em.fork(),
    sql<{ compared_at: string | null; summary: unknown }>`select compared_at::text, summary from system_reconciliation where id = ${runId}`,
  );
  return { comparedAt: r!.compared_at, summary: r!.summary };
}

describe('compareSources: mapping rules', () => {
  it('matches ERP unavailable 7 against WMS damaged 3 + quality 2 + pending putaway 2: no line, no order', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [
      { item: 'CMP-P', status: 'free', quantity: 20 },
      { item: 'CMP-P', status: 'unavailable', quantity: 7 },
    ]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 20 },
      { item: 'CMP-P', location: 'L-01', status: 'damaged', quantity: 3 },
      { item: 'CMP-P', location: 'L-02', status: 'quality', quantity: 2 },
      { item: 'CMP-P', location: 'L-03', status: 'pending_putaway', quantity: 2 },
    ]);
    const result = await compare(db.orm, run);
    expect(result).toEqual({ keys: 2, matches: 2, explainable: 0, exceptions: 0, differences: 0, valueAtRisk: 0 });
    expect(await linesOf(db.orm, run)).toEqual([]);
    const stamped = await comparedAt(run);
    expect(stamped.comparedAt).not.toBeNull();
    expect(stamped.summary).toEqual(result);
  });

  it('converts the ERP cases (CASE of 24) to the pieces the WMS counts in', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-CASE', status: 'free', quantity: 2, unit: 'CASE' }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-CASE', location: 'L-01', status: 'ok', quantity: 48, unit: 'PCS' }]);
    expect((await compare(db.orm, run)).differences).toBe(0);
  });

  it('converts a level in the inventory unit (PCS) to the storage unit (BOX of 12)', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-BOX', status: 'free', quantity: 3, unit: 'BOX' }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-BOX', location: 'L-01', status: 'ok', quantity: 36, unit: 'PCS' }]);
    expect((await compare(db.orm, run)).differences).toBe(0);
  });

  it('rolls the WMS bins up to the warehouse when the ERP keeps stock per warehouse', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 12 }]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 4 },
      { item: 'CMP-P', location: 'L-02', status: 'ok', quantity: 6 },
    ]);
    const result = await compare(db.orm, run);
    expect(result).toMatchObject({ keys: 1, differences: 1 });
    expect(await linesOf(db.orm, run)).toMatchObject([
      { line: 1, item: 'CMP-P', warehouse: w, location: '', category: 'available', quantityA: 12, quantityB: 10, difference: -2 },
    ]);
  });

  it('compares per location when both sources keep stock per location (book against WMS)', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, sourceA: 'book', sourceB: 'WMS' });
    await levels(db.orm, run, 'book', [
      { item: 'CMP-P', location: 'L-01', status: 'available', quantity: 10 },
      { item: 'CMP-P', location: 'L-02', status: 'available', quantity: 4 },
      { item: 'CMP-P', location: 'L-02', status: 'damaged', quantity: 1 },
    ]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 10 },
      { item: 'CMP-P', location: 'L-02', status: 'ok', quantity: 5 },
    ]);
    const result = await compare(db.orm, run);
    expect(result).toMatchObject({ keys: 3, matches: 1, differences: 2, exceptions: 2 });
    expect(await linesOf(db.orm, run)).toMatchObject([
      { line: 1, location: 'L-02', category: 'available', quantityA: 4, quantityB: 5, difference: 1, outcome: 'exception' },
      { line: 2, location: 'L-02', category: 'unavailable', quantityA: 1, quantityB: 0, difference: -1, outcome: 'exception' },
    ]);
  });

  it("counts a book blocking reason without a mapping as unavailable, as the book's mapping says", async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, sourceA: 'book', sourceB: 'WMS' });
    await levels(db.orm, run, 'book', [{ item: 'CMP-P', location: 'L-01', status: 'frozen', quantity: 2 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'quality', quantity: 2 }]);
    expect((await compare(db.orm, run)).differences).toBe(0);
  });

  it('makes a level whose status has no mapping an exception (status_mapping), never dropping it', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 5 }]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 5 },
      { item: 'CMP-P', location: 'L-02', status: 'mystery', quantity: 4 },
    ]);
    expect(await compare(db.orm, run)).toMatchObject({ keys: 2, matches: 1, exceptions: 1 });
    const [line, ...more] = await linesOf(db.orm, run);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ category: 'unmapped:mystery', quantityB: 4, outcome: 'exception', rootCause: 'status_mapping' });
    expect(line!.evidence.unmappedLevels).toEqual([{ source: 'WMS', line: 2, location: 'L-02', status: 'mystery', quantity: 4, unit: 'PCS' }]);
  });

  it('makes a level whose unit has no conversion an exception (unit_conversion), even if the rest matches', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [
      { item: 'CMP-P', status: 'free', quantity: 5 },
      { item: 'CMP-P', status: 'free', quantity: 1, unit: 'PAL' },
    ]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 5 }]);
    await compare(db.orm, run);
    const [line] = await linesOf(db.orm, run);
    expect(line).toMatchObject({ category: 'available', quantityA: 5, quantityB: 5, outcome: 'exception', rootCause: 'unit_conversion' });
    expect(line!.evidence.unmappedLevels).toMatchObject([{ source: 'ERP', unit: 'PAL', quantity: 1 }]);
  });
});

describe('compareSources: values and tolerance', () => {
  it('values a difference as difference × conversion factor × standard cost', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-BOX', status: 'free', quantity: 5 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-BOX', location: 'L-01', status: 'ok', quantity: 3 }]);
    const result = await compare(db.orm, run);
    expect(await linesOf(db.orm, run)).toMatchObject([{ difference: -2, value: -60 }]);
    expect(result.valueAtRisk).toBe(60);
  });

  it('makes no line for a difference within tolerance, and a line just outside it', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, tolerance: { default: { quantity: { plus: 1, minus: 1 } } } });
    await levels(db.orm, run, 'ERP', [
      { item: 'CMP-P', status: 'free', quantity: 10 },
      { item: 'CMP-BOX', status: 'free', quantity: 10 },
    ]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 11 },
      { item: 'CMP-BOX', location: 'L-01', status: 'ok', quantity: 8 },
    ]);
    expect(await compare(db.orm, run)).toMatchObject({ keys: 2, matches: 1, differences: 1 });
    expect(await linesOf(db.orm, run)).toMatchObject([{ item: 'CMP-BOX', difference: -2 }]);
  });

  it("uses the item's own tolerance rule over the default", async () => {
    const w = await freshWarehouse();
    const tolerance = { default: { quantity: { plus: 0, minus: 0 } }, items: { 'CMP-P': { quantity: { plus: 5, minus: 5 } } } };
    const run = await createRun(db.orm, { warehouse: w, tolerance });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 14 }]);
    expect((await compare(db.orm, run)).differences).toBe(0);
  });
});

describe('compareSources: explainable differences', () => {
  it('explains a difference by a shipment inside the cutoff window (timing), naming the movement', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, cutoffMinutes: 60 });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 7 }]);
    await movementEvent(db.orm, { source: 'WMS', id: 'SHP-1', warehouse: w, item: 'CMP-P', location: 'L-01', quantity: -3, occurredAt: minutesBefore(10) });
    expect(await compare(db.orm, run)).toMatchObject({ explainable: 1, exceptions: 0, valueAtRisk: 0 });
    const [line] = await linesOf(db.orm, run);
    expect(line).toMatchObject({ outcome: 'explainable', rootCause: 'timing', difference: -3 });
    expect(line!.evidence.window.cutoffMinutes).toBe(60);
    expect(line!.evidence.movements).toMatchObject([{ source: 'WMS', eventId: 'SHP-1', kind: 'shipment', storageQuantity: -3 }]);
  });

  it('does not explain by a movement older than the cutoff window', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, cutoffMinutes: 60 });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 7 }]);
    await movementEvent(db.orm, { source: 'WMS', id: 'SHP-OLD', warehouse: w, item: 'CMP-P', location: 'L-01', quantity: -3, occurredAt: minutesBefore(61) });
    await compare(db.orm, run);
    expect(await linesOf(db.orm, run)).toMatchObject([{ outcome: 'exception', rootCause: 'unknown' }]);
  });

  it('explains a difference by a message the WMS sent and the ERP has not processed, naming the message', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 15 }]);
    await message(db.orm, { source: 'WMS', target: 'ERP', id: 'RCV-1', warehouse: w, item: 'CMP-P', location: 'L-01', quantity: 5, sentAt: minutesBefore(5), processedAt: null });
    expect(await compare(db.orm, run)).toMatchObject({ explainable: 1, exceptions: 0 });
    const [line] = await linesOf(db.orm, run);
    expect(line).toMatchObject({ outcome: 'explainable', rootCause: 'unprocessed_message', difference: 5 });
    expect(line!.evidence.messages).toMatchObject([{ source: 'WMS', target: 'ERP', messageId: 'RCV-1', storageQuantity: 5, processedAt: null }]);
  });

  it('counts a message the target processed only after its as-of as outstanding', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 15 }]);
    await message(db.orm, { source: 'WMS', target: 'ERP', id: 'RCV-2', warehouse: w, item: 'CMP-P', quantity: 5, sentAt: minutesBefore(5), processedAt: minutesAfter(1) });
    await compare(db.orm, run);
    expect(await linesOf(db.orm, run)).toMatchObject([{ rootCause: 'unprocessed_message' }]);
  });

  it('does not count a message the target had processed by its as-of', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 15 }]);
    await message(db.orm, { source: 'WMS', target: 'ERP', id: 'RCV-3', warehouse: w, item: 'CMP-P', quantity: 5, sentAt: minutesBefore(5), processedAt: minutesBefore(1) });
    await compare(db.orm, run);
    expect(await linesOf(db.orm, run)).toMatchObject([{ rootCause: 'unknown' }]);
  });

  it("converts a message with its sender's unit mapping (the ERP's cases)", async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-CASE', status: 'free', quantity: 2, unit: 'CASE' }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-CASE', location: 'L-01', status: 'ok', quantity: 72 }]);
    // The ERP booked a case out and told the WMS, which has not picked it yet: B − A = +24.
    await message(db.orm, { source: 'ERP', target: 'WMS', id: 'ISS-1', kind: 'pick', warehouse: w, item: 'CMP-CASE', quantity: -1, unit: 'CASE', sentAt: minutesBefore(5) });
    await compare(db.orm, run);
    const [line] = await linesOf(db.orm, run);
    expect(line).toMatchObject({ quantityA: 48, quantityB: 72, difference: 24, rootCause: 'unprocessed_message' });
  });
});

describe('compareSources: exceptions', () => {
  it('gives an exception the movement and message history around it', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, cutoffMinutes: 60 });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 4 }]);
    await movementEvent(db.orm, { source: 'WMS', id: 'ADJ-1', kind: 'adjustment', warehouse: w, item: 'CMP-P', location: 'L-01', quantity: -6, occurredAt: minutesBefore(3 * 24 * 60) });
    await movementEvent(db.orm, { source: 'WMS', id: 'ADJ-ANCIENT', kind: 'adjustment', warehouse: w, item: 'CMP-P', location: 'L-01', quantity: -1, occurredAt: minutesBefore(8 * 24 * 60) });
    await message(db.orm, { source: 'WMS', target: 'ERP', id: 'ADJ-MSG', kind: 'adjustment', warehouse: w, item: 'CMP-P', quantity: -6, sentAt: minutesBefore(3 * 24 * 60), processedAt: minutesBefore(3 * 24 * 60 - 1) });
    await compare(db.orm, run);
    const [line] = await linesOf(db.orm, run);
    expect(line).toMatchObject({ outcome: 'exception', rootCause: 'unknown', difference: -6 });
    expect(line!.evidence.movements).toMatchObject([{ eventId: 'ADJ-1', kind: 'adjustment', quantity: -6 }]);
    expect(line!.evidence.messages).toMatchObject([{ messageId: 'ADJ-MSG', kind: 'adjustment', quantity: -6 }]);
    expect(line!.evidence.lastMatchedRun).toBeNull();
  });

  it('names the last earlier run of the same sources and warehouse where the key matched', async () => {
    const w = await freshWarehouse();
    const matched = await createRun(db.orm, { warehouse: w, asOfA: minutesBefore(2 * 24 * 60), asOfB: minutesBefore(2 * 24 * 60) });
    await levels(db.orm, matched, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, matched, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 10 }]);
    await compare(db.orm, matched);
    const differed = await createRun(db.orm, { warehouse: w, asOfA: minutesBefore(24 * 60), asOfB: minutesBefore(24 * 60) });
    await levels(db.orm, differed, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, differed, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 9 }]);
    await compare(db.orm, differed);
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 8 }]);
    await compare(db.orm, run);
    const [line] = await linesOf(db.orm, run);
    expect(line!.evidence.lastMatchedRun).toMatchObject({ id: matched });
  });
});

describe('compareSources: the order', () => {
  it('numbers the lines by warehouse, location, item code and category', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, sourceA: 'book', sourceB: 'WMS' });
    await levels(db.orm, run, 'book', [
      { item: 'CMP-P', location: 'L-02', status: 'available', quantity: 1 },
      { item: 'CMP-P', location: 'L-01', status: 'damaged', quantity: 1 },
      { item: 'CMP-BOX', location: 'L-01', status: 'available', quantity: 1 },
      { item: 'CMP-P', location: 'L-01', status: 'available', quantity: 1 },
    ]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-CASE', location: 'L-03', status: 'transit', quantity: 1 }]);
    await compare(db.orm, run);
    const order = (await linesOf(db.orm, run)).map((l) => [l.line, l.location, l.item, l.category]);
    expect(order).toEqual([
      [1, 'L-01', 'CMP-BOX', 'available'],
      [2, 'L-01', 'CMP-P', 'available'],
      [3, 'L-01', 'CMP-P', 'unavailable'],
      [4, 'L-02', 'CMP-P', 'available'],
      [5, 'L-03', 'CMP-CASE', 'in_transit'],
    ]);
  });

  it('returns the stored result on a retry after the commit, leaving the lines as they are', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 8 }]);
    const first = await compare(db.orm, run);
    const lines = await linesOf(db.orm, run);
    expect(await compare(db.orm, run)).toEqual(first);
    expect(await linesOf(db.orm, run)).toEqual(lines);
  });

  it('refuses to compare before both sources reported their levels', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await db.orm.em.fork().execute(`delete from levels_receipt where system_reconciliation_id = ? and source = 'WMS'`, [run]);
    const failure = await compare(db.orm, run).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Refusal);
    expect(failure).toMatchObject({ type: 'InvalidState' });
  });

  it('refuses levels that name an item not in the item master', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'NO-SUCH-ITEM', status: 'free', quantity: 1, unit: 'PCS' }]);
    const failure = await compare(db.orm, run).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'InvalidLevels', extra: { items: ['NO-SUCH-ITEM'] } });
  });

  it('calls checkpoint between steps, and a cancelled step leaves nothing', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 8 }]);
    const { compareSources } = await import('../store/system-reconciliation/compare');
    let calls = 0;
    const cancelled = await db.orm.em
      .fork()
      .transactional((em) =>
        compareSources(em, run, () => {
          if (++calls === 2) throw new Error('cancelled');
        }),
      )
      .catch((e: Error) => e.message);
    expect(cancelled).toBe('cancelled');
    expect(await linesOf(db.orm, run)).toEqual([]);
    expect((await comparedAt(run)).comparedAt).toBeNull();
  });
});

describe('refreshLines', () => {
  it('makes a line disappear once the message behind it was processed', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [
      { item: 'CMP-P', status: 'free', quantity: 10 },
      { item: 'CMP-BOX', status: 'free', quantity: 4 },
    ]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 15 },
      { item: 'CMP-BOX', location: 'L-01', status: 'ok', quantity: 2 },
    ]);
    await message(db.orm, { source: 'WMS', target: 'ERP', id: 'RCV-R', warehouse: w, item: 'CMP-P', quantity: 5, sentAt: minutesBefore(5), processedAt: null });
    await compare(db.orm, run);
    const before = await linesOf(db.orm, run);
    expect(before.map((l) => [l.item, l.rootCause])).toEqual([['CMP-BOX', 'unknown'], ['CMP-P', 'unprocessed_message']]);
    await db.orm.em.fork().execute(`update interface_message set processed_at = ? where message_id = 'RCV-R'`, [minutesAfter(30)]);
    expect(await refresh(db.orm, run, [1, 2])).toEqual({ disappeared: [2], remaining: [1] });
    const after = await linesOf(db.orm, run);
    expect(after[1]).toMatchObject({ state: 'disappeared', quantityA: 15, quantityB: 15, difference: 0 });
    expect(after[1]!.refreshedAt).not.toBeNull();
    expect(after[0]).toMatchObject({ state: 'open', difference: -2, outcome: 'exception' });
    expect(after[0]!.refreshedAt).not.toBeNull();
  });

  it("recomputes the book's side from the stock records now", async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w, sourceA: 'book', sourceB: 'WMS', asOfA: T0, asOfB: T0 });
    await levels(db.orm, run, 'book', [{ item: 'CMP-P', location: 'L-01', status: 'available', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 7 }]);
    await compare(db.orm, run);
    expect(await linesOf(db.orm, run)).toMatchObject([{ quantityA: 10, quantityB: 7 }]);
    // The book now holds 8, of which 1 damaged: available 7, as the WMS says.
    const em = db.orm.em.fork();
    const [pos] = await rows(
      em,
      sql<{ id: string }>`insert into stock_position (warehouse_code, location_id, item_id, quantity)
        select ${w}, l.id, i.id, 8 from location l, item i where l.warehouse_code = ${w} and l.code = 'L-01' and i.code = 'CMP-P'
        returning id::text`,
    );
    await em.execute(`insert into blocking (stock_position_id, reason, quantity) values (?, 'damaged', 1)`, [pos!.id]);
    expect(await refresh(db.orm, run, [1])).toEqual({ disappeared: [1], remaining: [] });
    expect(await linesOf(db.orm, run)).toMatchObject([{ state: 'disappeared', quantityA: 7, quantityB: 7 }]);
  });

  it('keeps what processing noted on a failed line that still differs', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 9 }]);
    await compare(db.orm, run);
    await db.orm.em
      .fork()
      .execute(`update system_difference set state = 'failed', evidence = evidence || '{"processingFailure": "stock would go negative"}' where system_reconciliation_id = ?`, [run]);
    expect(await refresh(db.orm, run, [1])).toEqual({ disappeared: [], remaining: [1] });
    const [line] = await linesOf(db.orm, run);
    expect(line).toMatchObject({ state: 'failed', outcome: 'exception' });
    expect(line!.evidence).toMatchObject({ processingFailure: 'stock would go negative', lastMatchedRun: null });
  });

  it('refuses deleted lines and changes nothing', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [
      { item: 'CMP-P', status: 'free', quantity: 10 },
      { item: 'CMP-BOX', status: 'free', quantity: 4 },
    ]);
    await levels(db.orm, run, 'WMS', [
      { item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 9 },
      { item: 'CMP-BOX', location: 'L-01', status: 'ok', quantity: 2 },
    ]);
    await compare(db.orm, run);
    await db.orm.em.fork().execute(`update system_difference set state = 'deleted', deleted_reason = 'gone' where system_reconciliation_id = ? and line = 1`, [run]);
    const failure = await refresh(db.orm, run, [1, 2]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Refusal);
    expect(failure).toMatchObject({ type: 'InvalidRowState', extra: { lines: [{ line: 1, state: 'deleted' }] } });
    expect((await linesOf(db.orm, run)).map((l) => l.refreshedAt)).toEqual([null, null]);
  });

  it('refuses lines the order does not have', async () => {
    const w = await freshWarehouse();
    const run = await createRun(db.orm, { warehouse: w });
    await levels(db.orm, run, 'ERP', [{ item: 'CMP-P', status: 'free', quantity: 10 }]);
    await levels(db.orm, run, 'WMS', [{ item: 'CMP-P', location: 'L-01', status: 'ok', quantity: 9 }]);
    await compare(db.orm, run);
    const failure = await refresh(db.orm, run, [1, 7]).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'NotFound', extra: { lines: [7] } });
  });
});
