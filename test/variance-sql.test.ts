import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affected, rows, sql } from '../db/sql';
import { judgeVariance, ruleForItem, type TolerancePolicy, type ToleranceRule } from '../domain/tolerance';
import { computeVariance } from '../domain/variance';
import { createToleranceRules, varianceJoins } from '../store/rows/variance-sql';
import { freshDatabase, type TestDatabase } from './support/db';

/**
 * Populate judges a million rows in one statement with the SQL of
 * store/rows/variance-sql.ts; the domain's rules (domain/variance.ts,
 * domain/tolerance.ts) judge everywhere else. These tests hold the two
 * together: for generated rows and policies, both give the same variance in
 * storage unit, inventory unit and money, and the same verdict.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  await db?.close();
});

interface Row {
  expected: number;
  counted: number;
  conversionFactor: number;
  standardCost: number;
  itemCode: string;
}

interface Judged {
  quantity: number;
  inventoryQuantity: number;
  value: number;
  approval: string;
}

const ITEMS = ['A', 'B', 'constructor'];

/** Quantities with 4 decimals; the grid values make variances land exactly on limits often. */
const quantity = fc.oneof(
  fc.constantFrom(0, 0.5, 1, 1.5, 2, 3, 10, 30, 33, 27),
  fc.integer({ min: -10_000, max: 1_000_000_000 }).map((n) => n / 10_000),
);
const limit = fc.oneof(
  fc.constant(null),
  fc.constantFrom(0, 0.5, 1, 1.5, 3, 10),
  fc.integer({ min: 0, max: 100_000_000 }).map((n) => n / 10_000),
);
const limits = fc.record({ plus: limit, minus: limit });
const rule: fc.Arbitrary<ToleranceRule> = fc.record(
  { quantity: limits, percent: limits, value: limits },
  { requiredKeys: [] },
);
const policy: fc.Arbitrary<TolerancePolicy> = fc.record({
  default: rule,
  items: fc.dictionary(fc.constantFrom(...ITEMS), rule, { maxKeys: 2 }),
});
/** Most counts sit a grid step from the book, so variances land on the grid limits. */
const delta = fc.constantFrom(0, 0.5, -0.5, 1, -1, 1.5, -1.5, 3, -3, 10, -10, 0.0001, -0.0001);
const row: fc.Arbitrary<Row> = fc.record({
  expected: quantity,
  counted: fc.oneof(delta.map((d) => ({ d })), quantity.map((q) => ({ q }))),
  conversionFactor: fc.oneof(fc.constantFrom(1, 12, 0.5), fc.integer({ min: 1, max: 1_000_000_000 }).map((n) => n / 1_000_000)),
  standardCost: fc.oneof(fc.constantFrom(0, 1, 2.5), fc.integer({ min: 0, max: 100_000_000 }).map((n) => n / 10_000)),
  itemCode: fc.constantFrom(...ITEMS, 'Z'),
}).map((r) => ({ ...r, counted: 'q' in r.counted ? r.counted.q : Math.max(0, Number((r.expected + r.counted.d).toFixed(4))) }));

function byDomain(r: Row, p: TolerancePolicy): Judged {
  const v = computeVariance({ expected: r.expected, counted: r.counted, conversionFactor: r.conversionFactor, standardCost: r.standardCost });
  const approval = judgeVariance({ expected: r.expected, variance: v.quantity, varianceValue: v.value }, ruleForItem(p, r.itemCode));
  return { quantity: v.quantity, inventoryQuantity: v.inventoryQuantity, value: v.value, approval };
}

async function bySql(input: Row[], p: TolerancePolicy): Promise<Judged[]> {
  return db.orm.em.fork().transactional(async (em) => {
    await createToleranceRules(em, p);
    await affected(em, sql`
      create temp table judged_row on commit drop as
      select * from unnest(${input.map((_, i) => i)}::int[], ${input.map((r) => String(r.expected))}::numeric[],
                           ${input.map((r) => String(r.counted))}::numeric[], ${input.map((r) => String(r.conversionFactor))}::numeric[],
                           ${input.map((r) => String(r.standardCost))}::numeric[], ${input.map((r) => r.itemCode)}::text[])
             as t(i, expected, counted, conversion_factor, standard_cost, item_code)`);
    const judged = await rows(em, sql<{ quantity: string; inventory_quantity: string; value: string; approval: string }>`
      select v.quantity::text, v.inventory_quantity::text, v.value::text, v.approval
      from judged_row x ${varianceJoins('x')} order by x.i`);
    return judged.map((j) => ({ quantity: Number(j.quantity), inventoryQuantity: Number(j.inventory_quantity), value: Number(j.value), approval: j.approval }));
  });
}

describe('variance and tolerance in SQL', () => {
  it('judges generated rows under generated policies exactly as the domain rules do', async () => {
    const seen = { to_approve: 0, not_required: 0, onALimit: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 60 }), policy, async (input, p) => {
        const expected = input.map((r) => byDomain(r, p));
        expect(await bySql(input, p)).toEqual(expected);
        for (const [i, r] of input.entries()) {
          seen[expected[i]!.approval as 'to_approve' | 'not_required']++;
          const own = ruleForItem(p, r.itemCode).quantity;
          const magnitude = Math.abs(expected[i]!.quantity);
          if (magnitude > 0 && (own?.plus === magnitude || own?.minus === magnitude)) seen.onALimit++;
        }
      }),
      { numRuns: 150 },
    );
    // The generators reach both verdicts and variances sitting exactly on a limit, where rounding decides.
    expect(seen.to_approve).toBeGreaterThan(100);
    expect(seen.not_required).toBeGreaterThan(100);
    expect(seen.onALimit).toBeGreaterThan(5);
  }, 120_000);

  it('applies an item’s own rule instead of the default, limits inclusive', async () => {
    const p: TolerancePolicy = { default: { percent: { plus: 10, minus: 5 } }, items: { A: { quantity: { plus: 0, minus: 0 } } } };
    const input: Row[] = [
      { expected: 30, counted: 33, conversionFactor: 1, standardCost: 1, itemCode: 'B' },
      { expected: 30, counted: 33.0001, conversionFactor: 1, standardCost: 1, itemCode: 'B' },
      { expected: 30, counted: 33, conversionFactor: 1, standardCost: 1, itemCode: 'A' },
      { expected: 0, counted: 0.0001, conversionFactor: 1, standardCost: 1, itemCode: 'B' },
    ];
    expect((await bySql(input, p)).map((j) => j.approval)).toEqual(['not_required', 'to_approve', 'to_approve', 'to_approve']);
  });
});
