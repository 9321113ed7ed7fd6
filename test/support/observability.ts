import { freePort } from '../../platform/free-port';
import type { SpawnedGroup } from './processes';
import type { Stack } from './stack';
import { eventually } from './wait';
import { spawnStocktake } from './worker-process';

/**
 * One sample of a Prometheus text exposition: the value of the series named
 * `name` whose labels include `labels`, or undefined when there is none.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** JSON lines a process wrote (its other lines, human startup messages, are left out). */
export function jsonLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** A process's environment for JSON logs at info, whatever the test run's LOG_LEVEL. */
const LOGGING = { LOG_LEVEL: 'info', LOG_FORMAT: 'json' };

/** `npm run api` as a deployment runs it, on the stack's database and Temporal; resolves once it serves. */
export async function spawnApi(stack: Stack, taskQueue: string): Promise<{ group: SpawnedGroup; baseUrl: string }> {
  const port = await freePort();
  const group = spawnStocktake(stack, 'api/main.ts', { TASK_QUEUE: taskQueue, PORT: String(port), ...LOGGING });
  const baseUrl = `http://127.0.0.1:${port}`;
  await eventually(async () => ((await fetch(`${baseUrl}/health`)).status === 200 ? true : undefined), 'the API process to serve', 90_000).catch(async (e: unknown) => {
    await group.kill();
    throw new Error(`${String(e)}\n${group.output().slice(-3000)}`);
  });
  return { group, baseUrl };
}

/** `npm run worker` with WORKER_METRICS_PORT, on the stack's database; resolves once it polls `taskQueue`. */
export async function spawnMetricsWorker(stack: Stack, taskQueue: string): Promise<{ group: SpawnedGroup; metricsUrl: string }> {
  const port = await freePort();
  const group = spawnStocktake(stack, 'scripts/worker.ts', { TASK_QUEUE: taskQueue, WORKER_METRICS_PORT: String(port), ...LOGGING });
  await eventually(async () => (group.output().includes(`worker polling task queue ${taskQueue}`) ? true : undefined), 'the worker to poll', 120_000).catch(async (e: unknown) => {
    await group.kill();
    throw new Error(`${String(e)}\n${group.output().slice(-3000)}`);
  });
  return { group, metricsUrl: `http://127.0.0.1:${port}/metrics` };
}
