import { inject } from 'vitest';
import { ROOT, spawnGroup, type SpawnedGroup } from './processes';
import type { Stack } from './stack';

/**
 * A Stocktake process of its own (`api/main.ts` or `scripts/worker.ts`), on the
 * stack's database, Temporal and task queue unless `env` says otherwise, for
 * tests that kill it or read its output. The spawned process is node with
 * tsx's loader (no tsx wrapper), so SIGKILL lands on it; it leads its own group.
 */
export function spawnStocktake(stack: Stack, script: 'api/main.ts' | 'scripts/worker.ts', env: Record<string, string> = {}): SpawnedGroup {
  return spawnGroup(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: {
      DATABASE_URL: stack.db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TASK_QUEUE: stack.taskQueue,
      // The key the tests' API signs decisions with: this worker's workflows verify them.
      STOCKTAKE_DECISION_KEY: inject('decisionKey'),
      ...env,
    },
  });
}

export function spawnWorker(stack: Stack, env: Record<string, string> = {}): SpawnedGroup {
  return spawnStocktake(stack, 'scripts/worker.ts', env);
}
