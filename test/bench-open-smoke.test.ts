import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench } from './support/bench-run';

/**
 * The open-reconciliations bench (`npm run bench -- --only open`) at a small
 * size, so it cannot rot: it is not in test/bench-smoke.test.ts's run because
 * it needs a Temporal server, a worker and an API of its own. It runs as a
 * process group of its own, killed whole when the test ends.
 */
let exit: { code: number | null; output: string };
let results: Record<string, any>;
let cleanUp = () => {};

beforeAll(async () => {
  const run = await runBench('bench/open-reconciliations.ts', ['--open', '5', '--update-open', '3', '--decisions', '50', '--large-rows', '1000']);
  ({ results, cleanUp } = run);
  exit = { code: run.code, output: run.output };
}, 600_000);

afterAll(() => cleanUp());

describe('bench/open-reconciliations.ts --open 5 --decisions 50', () => {
  it('exits 0', () => {
    expect(exit.code, exit.output.slice(-3000)).toBe(0);
  });

  it('reports the Update round trip beside a GET that does not touch the workflow', () => {
    const r = results.updateRoundTrip;
    expect(r.update).toMatchObject({ requests: 50, p50Ms: expect.any(Number), p99Ms: expect.any(Number), maxMs: expect.any(Number) });
    expect(r.baseline).toMatchObject({ requests: 50, p50Ms: expect.any(Number), p99Ms: expect.any(Number) });
    expect(r.ratioP99).toEqual(expect.any(Number));
  });

  it('reports the worker memory with every reconciliation open', () => {
    expect(results.openOnOneWorker.openReconciliations).toBe(5);
    expect(results.openOnOneWorker.workerRss).toMatchObject({ whileAllWaitMb: expect.any(Number), highWaterMarkMb: expect.any(Number) });
  });

  it('finds the same history length at review for 10 rows and for 1,000', () => {
    expect(results.historyLength.small.rows).toBe(10);
    expect(results.historyLength.large.rows).toBe(1000);
    expect(results.historyLength.large.historyLength.review).toBe(results.historyLength.small.historyLength.review);
  });
});
