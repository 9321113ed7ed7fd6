import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { log } from '../../platform/log';
import { httpDuration, httpRequests } from '../../platform/metrics';
import type { Principal } from '../../store/users';

/** An id a proxy or client sent is kept when it looks like an id; anything else (too long, spaces, control characters) is replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const RECONCILIATION_IN_PATH = /^\/reconciliations\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/|$)/i;

const requestIds = new WeakMap<Request, string>();

/** The id of the request being answered (for log lines written while answering it). */
export function requestIdOf(c: Context): string | undefined {
  return requestIds.get(c.req.raw);
}

/**
 * First middleware of the app: gives every request an id (a sane incoming
 * `x-request-id`, else a new UUID), echoes it in the response's
 * `x-request-id`, and once the response is ready writes one access log line
 * and the HTTP metrics. Refusals (401, 404, 422 ...) and errors are logged
 * and counted like any answer: app.onError has turned them into responses
 * by the time next() returns.
 */
export function observeRequests(): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    requestIds.set(c.req.raw, requestId);
    try {
      await next();
    } finally {
      c.header('x-request-id', requestId);
      const seconds = (performance.now() - started) / 1000;
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      const route = routePattern(c);
      const status = String(c.res.status);
      httpRequests.inc({ method, route, status });
      httpDuration.observe({ method, route, status }, seconds);
      const who = c.get('caller' as never) as Principal | undefined;
      const reconciliationId = RECONCILIATION_IN_PATH.exec(c.req.path)?.[1];
      log.info(
        {
          event: 'http_request',
          requestId,
          method: c.req.method,
          route,
          path: c.req.path,
          status: c.res.status,
          durationMs: Math.round(seconds * 10_000) / 10,
          ...(who ? { principal: who.name, role: who.role } : {}),
          ...(reconciliationId ? { reconciliationId } : {}),
        },
        `${c.req.method} ${route} ${c.res.status}`,
      );
    }
  };
}

/**
 * The pattern of the route that matched (`/reconciliations/:id`), never the
 * raw path: metric labels stay bounded whatever paths clients send. A path
 * no route matched is `unmatched`.
 */
function routePattern(c: Context): string {
  const routes = matchedRoutes(c).filter((r) => r.path !== '*' && r.path !== '/*');
  return routes.length > 0 ? routes[routes.length - 1]!.path : 'unmatched';
}
