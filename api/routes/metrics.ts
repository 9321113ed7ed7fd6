import { createRoute, z } from '@hono/zod-openapi';
import { RECONCILIATION_STATUSES } from '../../domain/reconciliation-status';
import { reconciliationsByStatus, registry } from '../../platform/metrics';
import { reconciliationsPerStatus } from '../../store/status-counts';
import { requireRole, type Role } from '../auth';
import type { App, AppDeps } from '../deps';

/**
 * Who may scrape: the roles that oversee the service. The figures are
 * service-wide totals (counts, latencies), never documents or rows, so the
 * warehouses granted do not narrow them; a Prometheus server gets an
 * auditor of its own granted no warehouse, whose token then reads nothing
 * but this.
 */
const SCRAPERS: Role[] = ['admin', 'auditor'];

export function metricsRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this API process (admin or auditor; see README "Observability")',
      responses: {
        200: {
          description: 'Prometheus text exposition format',
          content: { 'text/plain': { schema: z.string(), example: 'stocktake_reconciliations{status="review"} 2\n' } },
        },
        401: { description: 'No or no valid bearer token (application/problem+json)' },
        403: { description: 'A role that may not scrape (application/problem+json)' },
      },
    }),
    async (c) => {
      requireRole(c, SCRAPERS);
      // Read at scrape time: every API instance reports the database's truth, and a status nobody is in shows 0.
      const counts = await reconciliationsPerStatus(deps.orm.em.fork());
      for (const status of RECONCILIATION_STATUSES) reconciliationsByStatus.set({ status }, counts.get(status) ?? 0);
      return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
    },
  );
}
