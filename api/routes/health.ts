import { createRoute, z } from '@hono/zod-openapi';
import { sql } from '../../db/sql';
import { log } from '../../platform/log';
import type { App, AppDeps } from '../deps';

const Probe = z.object({ status: z.enum(['up', 'down']), latencyMs: z.number().int().min(0) });
const Health = z
  .object({ status: z.enum(['ok', 'degraded']), database: Probe, temporal: Probe, taskQueue: z.string() })
  .openapi('Health');
const route = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Whether the database and Temporal answer (public)',
  responses: {
    200: { description: 'Both are up', content: { 'application/json': { schema: Health } } },
    503: { description: 'One is down', content: { 'application/json': { schema: Health } } },
  },
});

/** Both dependencies probed on every call: a health check that caches would report a dead database as up. */
export function healthRoutes(app: App, deps: AppDeps): void {
  app.openapi(route, async (c) => {
    const [database, temporal] = await Promise.all([
      probe(async () => {
        await sql`select 1`.execute(deps.orm.em.fork().getKysely());
      }),
      probe(async () => {
        await deps.temporal.connection.workflowService.describeNamespace({ namespace: deps.temporal.options.namespace });
      }),
    ]);
    const ok = database.status === 'up' && temporal.status === 'up';
    return c.json({ status: ok ? 'ok' : 'degraded', database, temporal, taskQueue: deps.taskQueue }, ok ? 200 : 503);
  });
}

/** A probe reports up or down and how long it took; the cause of a failure goes to the log, never into the response. */
async function probe(check: () => Promise<void>): Promise<{ status: 'up' | 'down'; latencyMs: number }> {
  const started = performance.now();
  try {
    await withTimeout(check(), 3_000);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (e) {
    log.warn({ event: 'health_probe_failed', error: e instanceof Error ? e.message : String(e) }, 'health probe failed');
    return { status: 'down', latencyMs: Math.round(performance.now() - started) };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
