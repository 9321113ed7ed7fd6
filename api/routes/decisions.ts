import { createRoute, z } from '@hono/zod-openapi';
import type { UpdateDefinition } from '@temporalio/common';
import type { Context } from 'hono';
import * as m from '../../workflows/messages';
import type { App, AppDeps } from '../deps';
import { decidable } from '../access';
import { jsonBody, jsonResponse, problemResponses } from '../http';
import { sendDecision } from '../send-decision';
import { Cancellation, IdParam, IdempotencyHeaders, RowDeletion, RowSelection } from '../schemas';

/**
 * Manager decisions are Workflow Updates (api/send-decision.ts: signed,
 * idempotent by key): the workflow's validator answers at once (a refused
 * decision is a 409 and leaves no trace in history), the handler's verdict
 * comes back in the same HTTP call. Decisions sent in parallel are applied
 * one after another.
 */
export function decisionRoutes(app: App, deps: AppDeps): void {
  const decide = async <R, A extends m.DecisionBy>(c: Context, update: UpdateDefinition<R, [A]>, id: string, arg: Omit<A, 'user' | 'role' | 'request' | 'signature'>): Promise<R> => {
    const { who, record } = await decidable(c, deps.orm.em.fork(), id);
    return sendDecision(deps, c, { who, workflowId: record.workflowId, subject: id }, update, arg);
  };
  const route = (path: string, summary: string) =>
    createRoute({
      method: 'post',
      path: `/reconciliations/{id}/${path}`,
      summary,
      request: { params: IdParam, headers: IdempotencyHeaders },
      responses: { 200: jsonResponse('The decision was applied'), ...problemResponses },
    });
  const routeWithBody = <B extends z.ZodTypeAny>(path: string, summary: string, body: B) =>
    createRoute({
      method: 'post',
      path: `/reconciliations/{id}/${path}`,
      summary,
      request: { params: IdParam, headers: IdempotencyHeaders, ...jsonBody(body) },
      responses: { 200: jsonResponse('The decision was applied'), ...problemResponses },
    });

  app.openapi(route('initial-count', 'Start the initial count: count orders split by the policy'), async (c) =>
    c.json(await decide(c, m.startInitialCountUpdate, c.req.valid('param').id, {}), 200));

  app.openapi(routeWithBody('recount-marks', 'Mark rows for recount', RowSelection), async (c) =>
    c.json(await decide(c, m.markForRecountUpdate, c.req.valid('param').id, c.req.valid('json') as m.RowSelection), 200));

  app.openapi(route('recount-orders', 'Generate the recount order (single order, all marked rows)'), async (c) =>
    c.json(await decide(c, m.generateRecountOrderUpdate, c.req.valid('param').id, {}), 200));

  app.openapi(routeWithBody('approvals', 'Approve rows that are To Approve', RowSelection), async (c) =>
    c.json(await decide(c, m.approveRowsUpdate, c.req.valid('param').id, c.req.valid('json') as m.RowSelection), 200));

  app.openapi(routeWithBody('row-deletions', 'Delete rows that need no correction (reason required)', RowDeletion), async (c) =>
    c.json(await decide(c, m.deleteRowsUpdate, c.req.valid('param').id, c.req.valid('json') as m.RowSelection & { reason: string }), 200));

  app.openapi(route('release', 'Release: post approved differences as warehouse transactions and blocking corrections'), async (c) =>
    c.json(await decide(c, m.releaseUpdate, c.req.valid('param').id, {}), 200));

  app.openapi(routeWithBody('failed-rows/retry', 'Retry posting failed rows', RowSelection), async (c) =>
    c.json(await decide(c, m.retryFailedRowsUpdate, c.req.valid('param').id, c.req.valid('json') as m.RowSelection), 200));

  app.openapi(routeWithBody('failed-rows/skip', 'Skip failed rows (reason required); the release then completes without them', RowDeletion), async (c) =>
    c.json(await decide(c, m.skipFailedRowsUpdate, c.req.valid('param').id, c.req.valid('json') as m.RowSelection & { reason: string }), 200));

  app.openapi(route('step-retry', 'Run a step that failed for good again (status step_failed), e.g. after the data in its way was corrected'), async (c) =>
    c.json(await decide(c, m.retryStepUpdate, c.req.valid('param').id, {}), 200));

  app.openapi(routeWithBody('cancellation', 'Cancel the reconciliation (reason required), in any status that is not final', Cancellation), async (c) =>
    c.json(await decide(c, m.cancelUpdate, c.req.valid('param').id, c.req.valid('json') as { reason: string }), 200));
}
