import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench } from './support/bench-run';

/**
 * `npm run bench` at a small size, so the benchmark cannot rot: it runs as a
 * process group of its own (killed whole if the test ends early), and every
 * phase's baseline must have produced Stocktake's result.
 */
let exit: { code: number | null; output: string };
let results: Record<string, any>;
let cleanUp = () => {};

beforeAll(async () => {
  const run = await runBench('bench/index.ts', ['--positions', '2000', '--runs', '1']);
  ({ results, cleanUp } = run);
  exit = { code: run.code, output: run.output };
}, 600_000);

afterAll(() => cleanUp());

describe('npm run bench -- --positions 2000 --runs 1', () => {
  it('exits 0', () => {
    expect(exit.code, exit.output.slice(-3000)).toBe(0);
  });

  it('describes the machine and PostgreSQL settings', () => {
    expect(results.machine).toMatchObject({ cpus: expect.any(Number), memoryGb: expect.any(Number), postgres: expect.stringContaining('PostgreSQL') });
    expect(results.machine.postgresSettings).toMatchObject({ synchronous_commit: 'on', fsync: 'on' });
  });

  it('times every count phase beside its baseline with a ratio and memory peaks', () => {
    const phases = results.count.phases.map((p: { phase: string }) => p.phase);
    expect(phases).toEqual(['snapshot', 'countOrders', 'submissions', 'populate', 'approve', 'planRelease', 'post', 'adjustmentOrder']);
    for (const p of results.count.phases) {
      expect(p.stocktake).toMatchObject({ medianMs: expect.any(Number), minMs: expect.any(Number), maxMs: expect.any(Number) });
      expect(p.baseline).toMatchObject({ medianMs: expect.any(Number), what: expect.any(String) });
      expect(p.stocktake.peakRss).toMatchObject({ apiMb: expect.any(Number), workerMb: expect.any(Number), postgresMb: expect.any(Number) });
      expect(p.ratio === null || typeof p.ratio === 'number').toBe(true);
    }
  });

  it('finds that every baseline produced the same result as Stocktake', () => {
    const unmatched = results.count.phases.filter((p: { matched: boolean }) => !p.matched).map((p: { phase: string }) => p.phase);
    expect(unmatched).toEqual([]);
    expect(results.comparison.matched).toBe(true);
  });

  it('reports the comparison and the stock import beside their baselines', () => {
    for (const bench of [results.comparison, results.imports]) {
      expect(bench.stocktake.medianMs).toEqual(expect.any(Number));
      expect(bench.baseline.medianMs).toEqual(expect.any(Number));
      expect(bench.ratio).toEqual(expect.any(Number));
    }
  });

  it('reports the stock import beside the database limit as well as the hand-written load', () => {
    expect(results.imports.limit.medianMs).toEqual(expect.any(Number));
    expect(results.imports.ratioToLimit).toEqual(expect.any(Number));
  });
});
