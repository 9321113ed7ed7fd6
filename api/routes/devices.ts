import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { orderCompletedSignal, reconciliationWorkflowId } from '../../workflows/messages';
import type { AppDeps } from '../app';
import { caller, MANAGERS, requireRole } from '../auth';
import { jsonBody, jsonResponse, problemResponses } from '../http';
import { CountSubmission, DeviceParam, DeviceRef, OrderIdParam } from '../schemas';
import { assignCountOrder, completeCountOrder, countTasks, getCountOrder, ordersAssignedTo } from '../../store/count-orders';
import { submitCounts, type CountEntryInput } from '../../store/count-entries';

/**
 * The counting devices' side. Devices sit on flaky networks and retry, so
 * every write here is safe to repeat: submissions by their id, completion by
 * the order's state. Entries are written straight to PostgreSQL; only the
 * completion reaches the workflow, as a signal it deduplicates.
 */
export function deviceRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/devices/{device}/count-orders',
      summary: 'Open count orders assigned to a device',
      request: { params: DeviceParam },
      responses: { 200: jsonResponse('Open orders') },
    }),
    async (c) => c.json({ countOrders: await ordersAssignedTo(deps.orm.em.fork(), c.req.valid('param').device) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/count-orders/{id}/assignment',
      summary: 'Assign an open count order to a device (manager)',
      request: { params: OrderIdParam, ...jsonBody(DeviceRef) },
      responses: { 200: jsonResponse('The order'), ...problemResponses },
    }),
    async (c) => {
      const manager = requireRole(c, MANAGERS);
      return c.json(await assignCountOrder(deps.orm.em.fork(), c.req.valid('param').id, c.req.valid('json').device, manager.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/count-orders/{id}',
      request: { params: OrderIdParam },
      responses: { 200: jsonResponse('The order'), ...problemResponses },
    }),
    async (c) => c.json(await getCountOrder(deps.orm.em.fork(), c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/count-orders/{id}/tasks',
      summary: 'What to count; blind counts carry no expected quantities',
      request: {
        params: OrderIdParam,
        query: z.object({
          after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
          limit: z.coerce.number().int().min(1).max(5_000).default(1_000),
        }),
      },
      responses: { 200: jsonResponse('A page of tasks'), ...problemResponses },
    }),
    async (c) => c.json(await countTasks(deps.orm.em.fork(), c.req.valid('param').id, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/count-orders/{id}/submissions',
      summary: 'Submit a batch of count entries; a repeated submissionId changes nothing',
      request: { params: OrderIdParam, ...jsonBody(CountSubmission) },
      responses: { 201: jsonResponse('Stored'), 200: jsonResponse('Already stored (duplicate)'), ...problemResponses },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const result = await submitCounts(deps.orm.em.fork(), c.req.valid('param').id, {
        submissionId: body.submissionId,
        device: body.device,
        countedBy: caller(c).name,
        entries: body.entries as CountEntryInput[],
      });
      return c.json(result, result.duplicate ? 200 : 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/count-orders/{id}/completion',
      summary: 'Signal the order complete; repeating it is harmless',
      request: { params: OrderIdParam, ...jsonBody(DeviceRef) },
      responses: { 200: jsonResponse('Complete'), ...problemResponses },
    }),
    async (c) => {
      const countOrderId = c.req.valid('param').id;
      const done = await completeCountOrder(deps.orm.em.fork(), countOrderId, c.req.valid('json').device, caller(c).name);
      // Signalled on every call, not only the first: if an earlier call died after the commit, this retry delivers it.
      await deps.temporal.workflow
        .getHandle(reconciliationWorkflowId(done.reconciliationId))
        .signal(orderCompletedSignal, { countOrderId, round: done.round });
      return c.json({ countOrderId, status: 'complete', alreadyComplete: done.alreadyComplete }, 200);
    },
  );
}
