import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { authenticate } from './auth';
import type { App, AppDeps, AppEnv } from './deps';
import { isTransactionConflict, isUnavailable } from '../db/unavailable';
import { Refusal } from '../store/refusal';
import { Problem, problemResponse, refusalProblem } from './problem';
import { issueMessage } from './issue-message';
import { healthRoutes } from './routes/health';
import { reconciliationRoutes } from './routes/reconciliations';
import { decisionRoutes } from './routes/decisions';
import { deviceRoutes } from './routes/devices';
import { entryFileRoutes } from './routes/entry-files';
import { reportRoutes } from './routes/reports';
import { userRoutes } from './routes/users';
import { importRoutes } from './routes/imports';
import { systemRoutes } from './routes/systems';
import { systemReconciliationRoutes } from './routes/system-reconciliations';
import { systemScheduleRoutes } from './routes/system-schedules';
import { exceptionRoutes } from './routes/exceptions';
import { historyRoutes } from './routes/histories';
import { pageRoutes } from './pages';
import { docsRoutes } from './docs';
import { temporalProblem } from './temporal-errors';
import { methodNotAllowed } from './method-not-allowed';
import { completeContract } from './contract';
import { observeRequests, requestIdOf } from './observability/requests';
import { metricsRoutes } from './routes/metrics';
import { log } from '../platform/log';

export type { App, AppDeps, AppEnv } from './deps';

const DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Stocktake',
    version: '0.1.0',
    description: 'Warehouse inventory reconciliation. Every refusal is application/problem+json (RFC 9457). Send `Authorization: Bearer <token>`; GET /health is public. Interactive reference: /docs.',
  },
};

export function createApp(deps: AppDeps): App {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: issueMessage(i) }));
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
    // The stack goes to the log with the request's id, never into the response.
    log.error({ event: 'internal_error', requestId: requestIdOf(c), method: c.req.method, path: c.req.path, err }, 'internal error');
    return problemResponse(c, new Problem(500, 'internal-error', 'Internal error', 'the error was logged'));
  });
  const notAllowed = methodNotAllowed(() => app.routes);
  app.notFound((c) => problemResponse(c, notAllowed(c) ?? new Problem(404, 'not-found', 'No such resource', `${c.req.method} ${c.req.path}`)));

  // First: every request, refused or not, gets its id, its access log line and its metrics.
  app.use('*', observeRequests());
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
  app.use('*', authenticate(deps.orm, ['/health', '/openapi.json', '/ui/*', '/docs/*'], deps.authThrottle));
  healthRoutes(app, deps);
  reconciliationRoutes(app, deps);
  decisionRoutes(app, deps);
  deviceRoutes(app, deps);
  entryFileRoutes(app, deps);
  reportRoutes(app, deps);
  userRoutes(app, deps);
  importRoutes(app, deps);
  systemRoutes(app, deps);
  systemReconciliationRoutes(app, deps);
  systemScheduleRoutes(app, deps);
  exceptionRoutes(app, deps);
  historyRoutes(app, deps);
  metricsRoutes(app, deps);
  pageRoutes(app);
  docsRoutes(app);
  // Generated on first request, once every module has registered its routes.
  let contract: object | undefined;
  app.get('/openapi.json', (c) => c.json((contract ??= completeContract(app.getOpenAPI31Document(DOCUMENT)))));
  return app;
}
