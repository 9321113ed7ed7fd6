import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { couldBreakARule, lineProblem, type CountEntryInput, type ResolvedLine } from '../store/count-entries/rules';
import { freshDatabase, type TestDatabase } from './support/db';

/**
 * Count entries are judged by rules.ts lineProblem, but only the lines the
 * SQL condition couldBreakARule picks out are read back to be judged, in
 * batches and in files alike. These tests hold the two together: every line
 * lineProblem refuses is picked out, and a plain good line is not (or the
 * fast path would be gone).
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  await db?.close();
});

interface Case {
  entry: CountEntryInput;
  resolved: ResolvedLine;
  requestTotal: number;
}

/** Grid values land on and around every bound: whole and not, negative, 10^9, 10^10 and beyond. */
const quantity = fc.constantFrom(0, 1, 2, 7, 0.5, 0.25, 1.0001, -1, 123_456_789, 999_999_999, 1e9, 9.9e9, 1e10, 1.5e10);
const decimalText = fc.constantFrom('0', '0.001', '0.5', '1', '12', '1000', '10000', '123456.789');
/** Mostly the value of a plain line, so that the bounds on quantity, inventory and value are reached often. */
const mostly = <T>(usual: T, other: T) => fc.oneof({ arbitrary: fc.constant(usual), weight: 7 }, { arbitrary: fc.constant(other), weight: 1 });

const aCase: fc.Arbitrary<Case> = fc
  .record({
    quantity,
    blocked: fc.option(fc.dictionary(fc.constantFrom('damaged', 'quality'), quantity, { minKeys: 0, maxKeys: 2 }), { nil: undefined, freq: 2 }),
    lot: fc.constantFrom('', 'LOT-1'),
    serial: fc.constantFrom('', 'SN-1'),
    locationId: mostly<number | null>(1, null),
    itemId: mostly<number | null>(1, null),
    inOrder: mostly(true, false),
    decimals: fc.integer({ min: 0, max: 4 }),
    serialTracked: mostly(false, true),
    lotTracked: mostly(false, true),
    conversionFactor: decimalText,
    standardCost: decimalText,
    stored: fc.constantFrom('0', '1', '2.5', '500000000', '999999999', '9999999999'),
    alsoInRequest: fc.constantFrom(0, 1, 0.5, 5e8, 1e9, 1e10),
  })
  .map((c) => ({
    entry: { location: 'L', item: 'I', lot: c.lot, serial: c.serial, handlingUnit: '', owner: '', quantity: c.quantity, blocked: c.blocked },
    resolved: {
      line: 1,
      location_id: c.locationId,
      item_id: c.itemId,
      in_order: c.inOrder,
      unit: 'PCS',
      decimals: c.decimals,
      serial_tracked: c.serialTracked,
      lot_tracked: c.lotTracked,
      conversion_factor: c.conversionFactor,
      standard_cost: c.standardCost,
      stored: c.stored,
    },
    requestTotal: c.quantity + c.alsoInRequest,
  }));

/** The condition evaluated by PostgreSQL for each case, over the columns it is written against. */
async function picked(cases: Case[]): Promise<boolean[]> {
  const col = <T>(f: (c: Case) => T) => cases.map(f);
  const result = await rows(
    db.orm.em.fork(),
    sql<{ picked: boolean }>`
      select ${couldBreakARule} as picked
      from unnest(${col((c) => c.resolved.location_id)}::int[], ${col((c) => c.resolved.item_id)}::int[], ${col((c) => c.resolved.in_order)}::boolean[],
                  ${col((c) => c.resolved.serial_tracked)}::boolean[], ${col((c) => c.resolved.lot_tracked)}::boolean[],
                  ${col((c) => c.entry.lot)}::text[], ${col((c) => (c.entry.blocked ? JSON.stringify(c.entry.blocked) : null))}::jsonb[],
                  ${col((c) => String(c.entry.quantity))}::numeric[], ${col((c) => c.resolved.stored)}::numeric[],
                  ${col((c) => String(c.requestTotal))}::numeric[], ${col((c) => c.resolved.conversion_factor)}::numeric[],
                  ${col((c) => c.resolved.standard_cost)}::numeric[])
        with ordinality as x(location_id, item_id, in_order, serial_tracked, lot_tracked, lot, blocked, quantity, stored, request_total,
                             conversion_factor, standard_cost, n)
      order by n`,
  );
  return result.map((r) => r.picked);
}

describe('which count entries are read back to be judged', () => {
  it('picks out every line lineProblem refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(aCase, { minLength: 100, maxLength: 100 }), async (cases) => {
        const verdicts = await picked(cases);
        cases.forEach((c, i) => {
          const problem = lineProblem(c.entry, c.resolved, c.requestTotal);
          if (problem) expect({ problem, picked: verdicts[i] }).toEqual({ problem, picked: true });
        });
      }),
      { numRuns: 60 },
    );
  });

  it('leaves out a whole-number line of an untracked item in the order, far below the bounds', async () => {
    const plain: Case = {
      entry: { location: 'L', item: 'I', lot: '', serial: '', handlingUnit: '', owner: '', quantity: 12 },
      resolved: {
        line: 1, location_id: 1, item_id: 1, in_order: true, unit: 'PCS', decimals: 0, serial_tracked: false, lot_tracked: false,
        conversion_factor: '12', standard_cost: '10000', stored: '30',
      },
      requestTotal: 24,
    };
    expect(lineProblem(plain.entry, plain.resolved, plain.requestTotal)).toBeUndefined();
    expect(await picked([plain])).toEqual([false]);
  });
});
