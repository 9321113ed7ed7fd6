import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  createSystemReconciliation,
  listSystemReconciliations,
  requireSystemReconciliation,
  type NewSystemReconciliation,
  type SystemReconciliationRecord,
} from '../../store/system-reconciliation/document';
import { listLines, orderCsv } from '../../store/system-reconciliation/order';
import { notFound, refuse } from '../../store/refusal';
import * as sm from '../../workflows/system-messages';
import type { App, AppDeps } from '../deps';
import { MANAGERS, READERS, requireRole, seesWarehouse } from '../auth';
import { idempotencyKey, jsonBody, jsonOrCsvResponse, jsonResponse, problemResponses } from '../http';
import { IdParam, IdempotencyHeaders, SystemReconciliationRequest } from '../schemas';
import { sendDecision } from '../send-decision';
import { levelsReceived, levelsRoutes } from './systems';
import { freeText } from '../text';

const Lines = z.object({ lines: z.array(z.number().int().positive().max(2_147_483_647)).min(1).max(100_000) }).strict();
const LineDeletion = Lines.extend({ reason: freeText() }).strict();
const Reason = z.object({ reason: freeText() }).strict();
const LineParam = IdParam.extend({ line: z.coerce.number().int().positive().max(2_147_483_647) });
const OrderQuery = z.object({
  outcome: z.enum(['explainable', 'exception']).optional(),
  state: z.enum(['open', 'deleted', 'disappeared', 'processing', 'processed', 'failed', 'skipped']).optional(),
  format: z.enum(['json', 'csv']).optional(),
  after: z.coerce.number().int().min(0).max(2_147_483_647).default(0),
  limit: z.coerce.number().int().min(1).max(5_000).default(500),
});

/**
 * System reconciliations (seed 000): a manager initiates one between two
 * sources for a selection of a warehouse; its workflow gets the levels,
 * compares, and the result is a reconciliation order whose lines are
 * reviewed, deleted with a reason, refreshed, approved, processed, and the
 * order closed. Readers see runs and orders of their warehouses.
 */
export function systemReconciliationRoutes(app: App, deps: AppDeps): void {
  levelsRoutes(app, deps);
  // Levels a system pushed are stored: its run's workflow is told (a hint; it reads back which sources are in).
  levelsReceived.notify = async (runId, source) => {
    const record = await requireSystemReconciliation(deps.orm.em.fork(), runId);
    await deps.temporal.workflow.getHandle(record.workflowId).signal(sm.levelsReceivedSignal, { source });
  };
  const readable = async (c: Context, id: string) => {
    const who = requireRole(c, READERS);
    const record = await requireSystemReconciliation(deps.orm.em.fork(), id);
    if (!seesWarehouse(who, record.warehouse)) throw notFound(`system reconciliation ${id}`);
    return { who, record };
  };
  const decidable = async (c: Context, id: string) => {
    const who = requireRole(c, MANAGERS);
    const record = await requireSystemReconciliation(deps.orm.em.fork(), id);
    if (!seesWarehouse(who, record.warehouse)) throw notFound(`system reconciliation ${id}`);
    return { who, record };
  };
  const decide = <R, A extends sm.LinesSelection | object>(c: Context, id: string, update: Parameters<typeof sendDecision<R, A & { user: string; role: 'manager' | 'senior_manager' }>>[3], arg: A) =>
    decidable(c, id).then(({ who, record }) => sendDecision(deps, c, { who, workflowId: record.workflowId, subject: id }, update, arg as never));

  app.openapi(
    createRoute({
      method: 'post',
      path: '/system-reconciliations',
      summary: 'Initiate a system reconciliation between two sources (book or a registered system) for a selection of a warehouse',
      request: { ...jsonBody(SystemReconciliationRequest), headers: IdempotencyHeaders },
      responses: { 201: jsonResponse('Initiated'), 200: jsonResponse('Already initiated with this Idempotency-Key'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      const req = c.req.valid('json') as NewSystemReconciliation;
      if (!seesWarehouse(who, req.warehouse)) throw refuse('WarehouseNotGranted', `${who.name} is not granted warehouse ${req.warehouse}`);
      const { record, created } = await createSystemReconciliation(deps.orm.em.fork(), req, who.name, { idempotencyKey: idempotencyKey(c) });
      await startRun(deps, record);
      return c.json(record, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-reconciliations',
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
      responses: { 200: jsonResponse('Newest first') },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      return c.json({ systemReconciliations: await listSystemReconciliations(deps.orm.em.fork(), c.req.valid('query').limit, who.warehouses) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-reconciliations/{id}',
      summary: 'The run, with live progress from its workflow (the status is the workflow\'s own)',
      request: { params: IdParam },
      responses: { 200: jsonResponse('The run'), ...problemResponses },
    }),
    async (c) => {
      const { record } = await readable(c, c.req.valid('param').id);
      const progress = await deps.temporal.workflow.getHandle(record.workflowId).query(sm.systemProgressQuery).catch(() => null);
      return c.json({ ...record, status: progress?.status ?? record.status, statusFrom: progress ? 'workflow' : 'database', progress }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-reconciliations/{id}/order',
      summary: 'The reconciliation order: one line per difference, with its outcome, root cause and evidence (`?format=csv`)',
      request: { params: IdParam, query: OrderQuery },
      responses: { 200: jsonOrCsvResponse('A page of lines; `next` is the `after` of the next page', 'every line as CSV'), ...problemResponses },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { record } = await readable(c, id);
      const q = c.req.valid('query');
      if (q.format === 'csv') {
        return c.body(await orderCsv(deps.orm.em.fork(), id), 200, {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="system-reconciliation-${record.number}-order.csv"`,
        });
      }
      return c.json(await listLines(deps.orm.em.fork(), id, q), 200);
    },
  );

  // Lines originate from the other system: deleted with a reason, never edited or added.
  for (const method of ['put', 'patch'] as const) {
    app.openapi(
      createRoute({
        method,
        path: '/system-reconciliations/{id}/order/lines/{line}',
        summary: 'Refused: the lines of a reconciliation order come from the other system and are never edited (delete one with a reason instead)',
        request: { params: LineParam },
        responses: { 405: { description: 'Lines are never edited (application/problem+json)' }, ...problemResponses },
      }),
      async (c) => {
        await readable(c, c.req.valid('param').id);
        c.header('allow', 'GET');
        return c.body(JSON.stringify({
          type: 'https://stocktake.dev/problems/line-not-editable', title: 'Lines are never edited', status: 405,
          detail: 'the lines of a reconciliation order come from the other system: delete a line with a reason (POST .../line-deletions), or refresh it',
        }), 405, { 'content-type': 'application/problem+json' });
      },
    );
  }

  const withBody = <B extends z.ZodTypeAny>(path: string, summary: string, body: B) =>
    createRoute({
      method: 'post',
      path: `/system-reconciliations/{id}/${path}`,
      summary,
      request: { params: IdParam, headers: IdempotencyHeaders, ...jsonBody(body) },
      responses: { 200: jsonResponse('The decision was applied'), ...problemResponses },
    });
  const withoutBody = (path: string, summary: string) =>
    createRoute({
      method: 'post',
      path: `/system-reconciliations/{id}/${path}`,
      summary,
      request: { params: IdParam, headers: IdempotencyHeaders },
      responses: { 200: jsonResponse('The decision was applied'), ...problemResponses },
    });

  app.openapi(withBody('line-deletions', 'Delete lines with a reason (the difference disappeared, or related orders will be corrected instead)', LineDeletion), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.deleteLinesUpdate, c.req.valid('json') as { lines: number[]; reason: string }), 200));
  app.openapi(withBody('line-refresh', 'Compare lines again against the latest levels and messages; the ones that disappeared are marked so', Lines), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.refreshLinesUpdate, c.req.valid('json') as { lines: number[] }), 200));
  app.openapi(withBody('line-approvals', 'Approve lines for processing (approval limit and segregation of duties as for counts)', Lines), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.approveLinesUpdate, c.req.valid('json') as { lines: number[] }), 200));
  app.openapi(withBody('processing', 'Process approved lines: the book is set to what source B reports, posted in the defined order, exactly once', Lines), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.processLinesUpdate, c.req.valid('json') as { lines: number[] }), 200));
  app.openapi(withoutBody('close', 'Close the reconciliation order'), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.closeUpdate, {}), 200));
  app.openapi(withoutBody('step-retry', 'Run a step that failed for good again'), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.systemRetryStepUpdate, {}), 200));
  app.openapi(withBody('cancellation', 'Cancel the run (reason required); a processing is stopped between batches, what it posted stays', Reason), async (c) =>
    c.json(await decide(c, c.req.valid('param').id, sm.systemCancelUpdate, c.req.valid('json') as { reason: string }), 200));
}

/** Starts a run's workflow unless it already runs or ran. */
export async function startRun(deps: AppDeps, record: SystemReconciliationRecord): Promise<void> {
  try {
    await deps.temporal.workflow.start(sm.SYSTEM_RECONCILIATION_WORKFLOW, {
      workflowId: record.workflowId,
      taskQueue: deps.taskQueue,
      args: [{ systemReconciliationId: record.id, levelsDeadlineMinutes: record.levelsDeadlineMinutes } satisfies sm.SystemReconciliationInput],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
}

