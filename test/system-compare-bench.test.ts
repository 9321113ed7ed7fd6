import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSystemComparisonBench } from '../bench/system-comparison';
import { freshDatabase, type TestDatabase } from './support/db';

/** The system comparison bench at a small size, so it cannot rot: compareSources and the hand-written SQL agree. */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  await db?.close();
});

describe('bench/system-comparison.ts', () => {
  it('finds the same differences as the hand-written SQL, ERP per location', async () => {
    const bench = await runSystemComparisonBench(db.url, { positions: 2000, erpGranularity: 'location' });
    expect(bench.levelRows).toEqual({ erp: 2000, wms: 2000 });
    expect(bench.result.keys).toBe(2000);
    expect(bench.result.explainable).toBeGreaterThan(0);
    expect(bench.result.exceptions).toBeGreaterThan(0);
    expect(bench).toMatchObject({ missing: 0, extra: 0, identical: true });
  });

  it('finds the same differences as the hand-written SQL, ERP per warehouse (WMS rolled up)', async () => {
    const bench = await runSystemComparisonBench(db.url, { positions: 2000, erpGranularity: 'warehouse' });
    expect(bench.levelRows.wms).toBe(2000);
    expect(bench.levelRows.erp).toBeLessThan(2000);
    expect(bench.result.differences).toBeGreaterThan(0);
    expect(bench).toMatchObject({ missing: 0, extra: 0, identical: true });
  });
});
