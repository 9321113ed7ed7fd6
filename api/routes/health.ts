import type { OpenAPIHono } from '@hono/zod-openapi';
import { sql } from '../../db/sql';
import type { AppDeps } from '../app';

/** Both dependencies probed on every call: a health check that caches would report a dead database as up. */
export function healthRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.get('/health', async (c) => {
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
    console.warn(`health probe failed: ${e instanceof Error ? e.message : String(e)}`);
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
