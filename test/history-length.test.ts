import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { flow } from './support/flow';
import { startStack, type Stack } from './support/stack';

/**
 * Rows live in PostgreSQL, never in workflow history: a reconciliation of
 * 100,000 rows runs the same events as one of 10, through snapshot, initial
 * count, populate and review.
 */
describe('workflow history is independent of the number of rows', () => {
  let stack: Stack;
  let f: ReturnType<typeof flow>;
  beforeAll(async () => {
    stack = await startStack();
    f = flow(stack);
    await seedDemoWarehouse(stack.db.orm, { positions: 10, warehouseCode: 'SMALL' });
    await seedDemoWarehouse(stack.db.orm, { positions: 100_000, warehouseCode: 'LARGE' });
  }, 300_000);
  afterAll(async () => stack?.close());

  async function historyLengthAtReview(warehouse: string, expectedRows: number): Promise<number> {
    const rec = await f.create({ warehouse, scope: { kind: 'warehouse' }, splitPolicy: { kind: 'none' } });
    const ready = await f.waitFor(rec.id, 'ready', undefined, 120_000);
    expect(ready.rows.total).toBe(expectedRows);
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    // Nothing found anywhere: every row is counted zero, so populate touches every row.
    await f.complete(order!.id);
    const review = await f.waitFor(rec.id, 'review', 0, 240_000);
    expect(review.rows.counted).toBe(expectedRows);
    return review.historyLength;
  }

  it('has the same history length for 10 and for 100,000 rows', async () => {
    const small = await historyLengthAtReview('SMALL', 10);
    const large = await historyLengthAtReview('LARGE', 100_000);
    expect(small).toBeGreaterThan(10);
    expect(Math.abs(large - small)).toBeLessThanOrEqual(2);
  }, 600_000);
});
