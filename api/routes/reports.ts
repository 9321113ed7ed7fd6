import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { App, AppDeps } from '../deps';
import { decidable, readable } from '../access';
import { jsonBody, jsonOrCsvResponse, jsonResponse, problemResponses } from '../http';
import { IdParam } from '../schemas';
import { adjustmentOrder, adjustmentOrderCsv, deleteAdjustmentLine } from '../../store/adjustment-orders';
import { auditTrail } from '../../store/audit';
import { reconciliationReport } from '../../store/reports';
import { rowsCsv } from '../../store/rows/queries';
import { freeText } from '../text';

const LineDeletion = z.object({ reason: freeText() }).strict().openapi('AdjustmentLineDeletion');
const AuditQuery = z.object({
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
const csvResponse = (description: string) => ({ description, content: { 'text/csv': { schema: z.string() } } });

function csv(c: Context, body: string, filename: string): Response {
  return c.body(body, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"` });
}

/** What happened after release: the ERP's adjustment order, count accuracy, exports and the audit trail. */
export function reportRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/adjustment-order',
      summary: 'The adjustment order for the ERP (JSON, or CSV with ?format=csv or Accept: text/csv)',
      request: { params: IdParam, query: z.object({ format: z.enum(['json', 'csv']).optional() }) },
      responses: { 200: jsonOrCsvResponse('The order and its lines', 'The lines as CSV'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await readable(c, em, id);
      const format = c.req.valid('query').format ?? (c.req.header('accept')?.includes('text/csv') ? 'csv' : 'json');
      if (format === 'csv') {
        const order = await adjustmentOrderCsv(em, id);
        return csv(c, order.csv, `adjustment-order-${order.orderNumber}.csv`);
      }
      return c.json(await adjustmentOrder(em, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/reconciliations/{id}/adjustment-order/lines/{line}',
      summary: 'Withdraw a line from the adjustment order (reason required; lines are never edited)',
      request: { params: IdParam.extend({ line: z.coerce.number().int().positive().max(2_147_483_647) }), ...jsonBody(LineDeletion) },
      responses: { 200: jsonResponse('The deleted line'), 403: { description: 'Not a manager (application/problem+json)' }, ...problemResponses },
    }),
    async (c) => {
      // Withdrawing a line changes what the ERP posts: a manager's decision, like the other decisions.
      const em = deps.orm.em.fork();
      const { id, line } = c.req.valid('param');
      const { who } = await decidable(c, em, id);
      return c.json(await deleteAdjustmentLine(em, id, line, who.name, c.req.valid('json').reason), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/report',
      summary: 'Count accuracy: rows counted, hit rate per row, gross and net variance value, per zone',
      request: { params: IdParam },
      responses: { 200: jsonResponse('The report'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await readable(c, em, id);
      return c.json(await reconciliationReport(em, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/rows.csv',
      summary: 'Every row of the reconciliation as CSV',
      request: { params: IdParam },
      responses: { 200: csvResponse('The rows'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      const { record } = await readable(c, em, id);
      return csv(c, await rowsCsv(em, id), `reconciliation-${record.number}-rows.csv`);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/audit',
      summary: 'The audit trail, oldest first; `next` is the `after` of the next page',
      request: { params: IdParam, query: AuditQuery },
      responses: { 200: jsonResponse('A page of audit events'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await readable(c, em, id);
      return c.json(await auditTrail(em, id, c.req.valid('query')), 200);
    },
  );
}
