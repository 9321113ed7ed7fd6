import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { UpdateDefinition } from '@temporalio/common';
import type { Context } from 'hono';
import * as m from '../../workflows/messages';
import { signDecision } from '../../domain/decision-signature';
import { replayOf, requestHash, type IdempotentRequest } from '../../store/idempotency';
import type { AppDeps } from '../app';
import { decidable } from '../access';
import { idempotencyKey, jsonBody, jsonResponse, problemResponses } from '../http';
import { Cancellation, IdParam, RowDeletion, RowSelection } from '../schemas';

/**
 * Manager decisions are Workflow Updates: the workflow's validator answers
 * at once (a refused decision is a 409 and leaves no trace in history), the
 * handler's verdict comes back in the same HTTP call. Decisions sent in
 * parallel are applied one after another.
 *
 * An Idempotency-Key is bound to the caller, the decision and the body: the
 * activity that applies the decision records its result under the key in
 * the same transaction, so a retry gets that result (also after
 * continue-as-new or a restart) and a reuse for anything else is a 422. A
 * decision that was refused or failed recorded nothing, so its retry with
 * the same key is decided afresh.
 */
export function decisionRoutes(app: OpenAPIHono, deps: AppDeps): void {
  const decide = async <R, A extends m.DecisionBy>(
    c: Context,
    update: UpdateDefinition<R, [A]>,
    id: string,
    arg: Omit<A, 'user' | 'role' | 'request'>,
  ): Promise<R> => {
    const em = deps.orm.em.fork();
    const { who, record } = await decidable(c, em, id);
    const { name: user, role } = who;
    const key = idempotencyKey(c);
    const request: IdempotentRequest | undefined = key
      ? { key, actor: user, operation: update.name, subject: id, requestHash: requestHash(arg) }
      : undefined;
    if (request) {
      const prior = await replayOf<R>(em, request);
      if (prior !== undefined) return prior;
    }
    const handle = deps.temporal.workflow.getHandle(record.workflowId);
    const unsigned = { ...arg, user, role: role as m.DecisionBy['role'], ...(request ? { request: { key: request.key, operation: request.operation, requestHash: request.requestHash } } : {}) };
    // The caller was authenticated here; the signature carries that to the workflow, which trusts nothing unsigned.
    const signature = signDecision(deps.decisionKey, { workflowId: record.workflowId, update: update.name, args: unsigned, issuedAt: Date.now() });
    const args = { ...unsigned, signature } as unknown as A;
    // No update id from the key: Temporal would hand a retry the first attempt's failure. The activity's record is the guard.
    try {
      return await handle.executeUpdate(update, { args: [args] });
    } catch (e) {
      // The same request may have been applied meanwhile (e.g. by a retry that raced this one): its result is the answer.
      if (request) {
        const prior = await replayOf<R>(deps.orm.em.fork(), request);
        if (prior !== undefined) return prior;
      }
      throw e;
    }
  };
  const route = (path: string, summary: string) =>
    createRoute({
      method: 'post',
      path: `/reconciliations/{id}/${path}`,
      summary,
      request: { params: IdParam, headers: z.object({ 'idempotency-key': z.string().optional() }) },
      responses: { 200: jsonResponse('The decision was applied'), ...problemResponses },
    });
  const routeWithBody = <B extends z.ZodTypeAny>(path: string, summary: string, body: B) =>
    createRoute({
      method: 'post',
      path: `/reconciliations/{id}/${path}`,
      summary,
      request: { params: IdParam, headers: z.object({ 'idempotency-key': z.string().optional() }), ...jsonBody(body) },
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
