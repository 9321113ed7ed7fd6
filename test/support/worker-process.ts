import { inject } from 'vitest';
import { ROOT, spawnGroup, type SpawnedGroup } from './processes';
import type { Stack } from './stack';

/**
 * A worker as a process of its own, on the stack's database and task queue, for
 * tests that kill it. The spawned process is node with tsx's loader (no tsx
 * wrapper), so SIGKILL lands on the worker itself; it leads its own group.
 */
export function spawnWorker(stack: Stack, env: Record<string, string> = {}): SpawnedGroup {
  return spawnGroup(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], {
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
