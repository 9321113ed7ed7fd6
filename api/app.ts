import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { Client } from '@temporalio/client';
import type { Orm } from '../db/orm';
import { authenticate } from './auth';
import { isTransactionConflict, isUnavailable } from '../db/unavailable';
import { Refusal } from '../store/refusal';
import { Problem, problemResponse, refusalProblem } from './problem';
import { healthRoutes } from './routes/health';
import { reconciliationRoutes } from './routes/reconciliations';
import { decisionRoutes } from './routes/decisions';
import { deviceRoutes } from './routes/devices';
import { reportRoutes } from './routes/reports';
import { userRoutes } from './routes/users';
import { importRoutes } from './routes/imports';
import { systemRoutes } from './routes/systems';
import { systemReconciliationRoutes } from './routes/system-reconciliations';
import { systemScheduleRoutes } from './routes/system-schedules';
import { exceptionRoutes } from './routes/exceptions';
import { temporalProblem } from './temporal-errors';

export interface AppDeps {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  /** Signs every decision the API sends to a workflow; the workers' workflows verify it (domain/decision-signature). */
  decisionKey: Uint8Array;
}

export type App = OpenAPIHono;

export function createApp(deps: AppDeps): App {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        return problemResponse(
          c,
          new Problem(422, 'invalid-request', 'The request is not valid', issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; '), { issues }),
        );
      }
      return undefined;
    },
  });
  app.onError((err, c) => {
    if (err instanceof Problem) return problemResponse(c, err);
    if (err instanceof Refusal) return problemResponse(c, refusalProblem(err));
    const fromTemporal = temporalProblem(err);
    if (fromTemporal) return problemResponse(c, fromTemporal);
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own refusals, e.g. a body that is not JSON.
      return problemResponse(c, new Problem(err.status, err.status === 400 ? 'malformed-request' : 'http-error', 'The request cannot be read', err.message));
    }
    if (isUnavailable(err)) {
      c.header('retry-after', '5');
      return problemResponse(c, new Problem(503, 'unavailable', 'Temporarily unavailable', 'the database or Temporal is not reachable just now; nothing was changed, retry shortly'));
    }
    if (isTransactionConflict(err)) {
      c.header('retry-after', '1');
      return problemResponse(c, new Problem(503, 'conflict-retry', 'Busy', 'the request met a concurrent change and was rolled back whole; nothing was changed, send it again'));
    }
    console.error(err);
    return problemResponse(c, new Problem(500, 'internal-error', 'Internal error', 'the error was logged'));
  });
  app.notFound((c) => problemResponse(c, new Problem(404, 'not-found', 'No such resource', `${c.req.method} ${c.req.path}`)));

  app.use('*', async (c, next) => {
    // Hono leaves a percent-escape that is not UTF-8 as literal text; a code like that would then silently match nothing.
    const url = new URL(c.req.url);
    try {
      decodeURIComponent(url.pathname);
      decodeURIComponent(url.search);
    } catch {
      throw new Problem(400, 'malformed-url', 'The URL cannot be read', 'it holds a percent-escape that is not valid UTF-8');
    }
    return next();
  });
  app.use('*', authenticate(deps.orm, ['/health', '/openapi.json']));
  healthRoutes(app, deps);
  reconciliationRoutes(app, deps);
  decisionRoutes(app, deps);
  deviceRoutes(app, deps);
  reportRoutes(app, deps);
  userRoutes(app, deps);
  importRoutes(app, deps);
  systemRoutes(app, deps);
  systemReconciliationRoutes(app, deps);
  systemScheduleRoutes(app, deps);
  exceptionRoutes(app, deps);
  app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'Stocktake', version: '0.1.0' } });
  return app;
}
