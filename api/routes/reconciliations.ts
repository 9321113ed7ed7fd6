import { createRoute, z } from '@hono/zod-openapi';
import { progressQuery, type Progress } from '../../workflows/messages';
import { ensureWorkflow } from '../workflow-start';
import type { App, AppDeps } from '../deps';
import { readable } from '../access';
import { MANAGERS, READERS, requireRole, seesWarehouse } from '../auth';
import { refuse } from '../../store/refusal';
import { idempotencyKey, jsonBody, jsonResponse, problemResponses } from '../http';
import { CreateReconciliation, IdParam, IdempotencyHeaders, RowQuery } from '../schemas';
import { ordersOfReconciliation } from '../../store/count-orders';
import {
  createReconciliation,
  listReconciliations,
  type NewReconciliation,
  type ReconciliationRecord,
} from '../../store/reconciliations';
import { listRows, rowDetail } from '../../store/rows/queries';
import { currentProgress } from '../../store/progress';
import { ReconciliationWithProgress } from '../observability/step-progress';

export function reconciliationRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/reconciliations',
      summary: 'Create a reconciliation and start its workflow (Idempotency-Key supported)',
      request: { ...jsonBody(CreateReconciliation), headers: IdempotencyHeaders },
      responses: { 201: jsonResponse('Created'), 200: jsonResponse('Already created with this Idempotency-Key'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      // The schema's refinement ran validateTolerancePolicy, so the tolerance is a TolerancePolicy.
      const request = c.req.valid('json') as NewReconciliation;
      if (!seesWarehouse(who, request.warehouse)) throw refuse('WarehouseNotGranted', `${who.name} is not granted warehouse ${request.warehouse}`);
      const { record, created } = await createReconciliation(deps.orm.em.fork(), request, who.name, idempotencyKey(c));
      await ensureWorkflow(deps.temporal, deps.taskQueue, record);
      return c.json(record, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations',
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
      responses: { 200: jsonResponse('Newest first') },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      return c.json({ reconciliations: await listReconciliations(deps.orm.em.fork(), c.req.valid('query').limit, who.warehouses) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}',
      summary: 'The document, with live progress from its workflow (the status is the workflow\'s own)',
      request: { params: IdParam },
      responses: {
        200: { description: 'The reconciliation', content: { 'application/json': { schema: ReconciliationWithProgress } } },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { record } = await readable(c, deps.orm.em.fork(), c.req.valid('param').id);
      const [progress, stepProgress] = await Promise.all([progressOf(deps, record), currentProgress(deps.orm.em.fork(), record.id)]);
      // The workflow owns the status; the stored one is its persisted copy, shown only when the workflow cannot be asked.
      return c.json({ ...record, status: progress?.status ?? record.status, statusFrom: progress ? 'workflow' : 'database', progress, stepProgress }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/rows',
      summary: 'Review rows: filter by item, zone, location, approval, state, direction, variance, percentage, value; sort (then paged by offset)',
      request: { params: IdParam, query: RowQuery },
      responses: { 200: jsonResponse('A page of rows; `next` is the `after` of the next page'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await readable(c, em, id);
      const q = c.req.valid('query');
      const selection = {
        filter: {
          itemCodes: q.item ? splitCodes(q.item) : undefined,
          zoneCodes: q.zone ? splitCodes(q.zone) : undefined,
          locationCodes: q.location ? splitCodes(q.location) : undefined,
          approval: q.approval,
          state: q.state,
          minAbsVariance: q.minAbsVariance,
          minAbsValue: q.minAbsValue,
          direction: q.direction,
          minAbsPercent: q.minAbsPercent,
        },
      };
      const sort = q.sort ? { by: q.sort, order: q.order, offset: q.offset } : undefined;
      return c.json(await listRows(em, id, selection, { after: q.after, limit: q.limit, sort, total: q.total === 'true' }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/rows/{rowId}',
      summary: "One row with every round's count and its blockings",
      request: { params: IdParam.extend({ rowId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }) },
      responses: { 200: jsonResponse('The row and its history'), ...problemResponses },
    }),
    async (c) => {
      const { id, rowId } = c.req.valid('param');
      const em = deps.orm.em.fork();
      await readable(c, em, id);
      return c.json(await rowDetail(em, id, rowId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/count-orders',
      request: { params: IdParam },
      responses: { 200: jsonResponse('Count orders of every round'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await readable(c, em, id);
      return c.json({ countOrders: await ordersOfReconciliation(em, id) }, 200);
    },
  );
}

/** Live from the workflow; closed workflows still answer queries while Temporal retains their history. */
async function progressOf(deps: AppDeps, record: ReconciliationRecord): Promise<Progress | null> {
  try {
    return await deps.temporal.workflow.getHandle(record.workflowId).query(progressQuery);
  } catch {
    return null;
  }
}

function splitCodes(list: string): string[] {
  return list.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
}
