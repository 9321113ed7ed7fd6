import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { orderCompletedSignal, reconciliationWorkflowId } from '../../workflows/messages';
import { assignCountOrder, completeCountOrder, countTasks, ordersAssignedTo } from '../../store/count-orders';
import { submitCounts } from '../../store/count-entries/batches';
import type { CountEntryInput } from '../../store/count-entries/rules';
import { countEntriesAccepted } from '../../platform/metrics';
import { notFound, refuse } from '../../store/refusal';
import type { App, AppDeps } from '../deps';
import { countedOrder, visibleOrder } from '../access';
import { caller, COUNTERS, MANAGERS, READERS, requireRole, seesWarehouse } from '../auth';
import { jsonBody, jsonResponse, problemResponses } from '../http';
import { CountSubmission, DeviceParam, DeviceRef, OptionalDevice, OrderIdParam } from '../schemas';

/**
 * The counting side. A device (or a person counting) authenticates as
 * itself and sees and counts only the orders assigned to it; any other
 * order answers 404. Devices sit on flaky networks and retry, so every
 * write here is safe to repeat: submissions by their id, completion by the
 * order's state. Entries are written straight to PostgreSQL; only the
 * completion reaches the workflow, as a signal it deduplicates.
 */
export function deviceRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/me/count-orders',
      summary: 'Open count orders assigned to the caller (a device or a person who counts)',
      responses: { 200: jsonResponse('Open orders') },
    }),
    async (c) => {
      const who = requireRole(c, COUNTERS);
      return c.json({ countOrders: await ordersAssignedTo(deps.orm.em.fork(), who.name, who.warehouses) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/devices/{device}/count-orders',
      summary: "Open count orders assigned to a device: a device sees its own only; readers see any device's in their warehouses",
      request: { params: DeviceParam },
      responses: { 200: jsonResponse('Open orders'), ...problemResponses },
    }),
    async (c) => {
      const who = caller(c);
      const { device } = c.req.valid('param');
      if (!READERS.includes(who.role)) {
        requireRole(c, COUNTERS);
        if (device !== who.name) throw notFound(`device ${device}`);
      }
      return c.json({ countOrders: await ordersAssignedTo(deps.orm.em.fork(), device, who.warehouses) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/count-orders/{id}/assignment',
      summary: 'Assign an open count order to a device or a person who counts (manager)',
      request: { params: OrderIdParam, ...jsonBody(DeviceRef) },
      responses: { 200: jsonResponse('The order'), ...problemResponses },
    }),
    async (c) => {
      const manager = requireRole(c, MANAGERS);
      const em = deps.orm.em.fork();
      const { order } = await visibleOrder(c, em, c.req.valid('param').id);
      if (!seesWarehouse(manager, order.warehouse)) throw notFound(`count order ${order.id}`);
      return c.json(await assignCountOrder(em, order.id, c.req.valid('json').device, manager.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/count-orders/{id}',
      request: { params: OrderIdParam },
      responses: { 200: jsonResponse('The order'), ...problemResponses },
    }),
    async (c) => c.json((await visibleOrder(c, deps.orm.em.fork(), c.req.valid('param').id)).order, 200),
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
    async (c) => {
      const em = deps.orm.em.fork();
      const { order } = await visibleOrder(c, em, c.req.valid('param').id);
      return c.json(await countTasks(em, order.id, c.req.valid('query')), 200);
    },
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
      const em = deps.orm.em.fork();
      const { who, order } = await countedOrder(c, em, c.req.valid('param').id);
      const result = await submitCounts(em, order.id, {
        submissionId: body.submissionId,
        device: countingAs(c, body.device),
        countedBy: who.name,
        entries: body.entries as CountEntryInput[],
      });
      if (!result.duplicate) countEntriesAccepted.inc(result.accepted);
      return c.json(result, result.duplicate ? 200 : 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/count-orders/{id}/completion',
      summary: 'Signal the order complete; repeating it is harmless',
      request: { params: OrderIdParam, body: { content: { 'application/json': { schema: OptionalDevice } }, required: false } },
      responses: { 200: jsonResponse('Complete'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { who, order } = await countedOrder(c, em, c.req.valid('param').id);
      const body = (c.req.valid('json') as { device?: string } | undefined) ?? {};
      const done = await completeCountOrder(em, order.id, countingAs(c, body.device), who.name);
      // Signalled on every call, not only the first: if an earlier call died after the commit, this retry delivers it.
      await deps.temporal.workflow
        .getHandle(reconciliationWorkflowId(done.reconciliationId))
        .signal(orderCompletedSignal, { countOrderId: order.id, round: done.round });
      return c.json({ countOrderId: order.id, status: 'complete', alreadyComplete: done.alreadyComplete }, 200);
    },
  );
}

/** A device counts as itself: a `device` named in the body must be the caller. */
function countingAs(c: Context, device: string | undefined): string {
  const who = caller(c).name;
  if (device !== undefined && device !== who) throw refuse('InvalidAssignee', `you are ${who}: a device counts as itself, not as ${device}`);
  return who;
}
