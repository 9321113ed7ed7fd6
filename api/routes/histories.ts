import { createRoute, z } from '@hono/zod-openapi';
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Context } from 'hono';
import { requireSystemReconciliation } from '../../store/system-reconciliation/document';
import { notFound } from '../../store/refusal';
import { readable } from '../access';
import { READERS, requireRole, seesWarehouse } from '../auth';
import type { App, AppDeps } from '../deps';
import { Problem } from '../problem';
import { IdParam } from '../schemas';

/**
 * A reconciliation's workflow history, in the JSON Temporal's own tools read
 * and write (`temporal workflow show -o json`): an engineer replays it
 * against changed workflow code (`npm run replay -- --file h.json`) or adds
 * it to test/histories. Readers who may see the reconciliation may fetch it;
 * it holds ids, counts and statuses, the same facts the document shows them.
 */
const HistoryQuery = z.object({
  runId: z.string().uuid().optional().openapi({ description: 'One run of a workflow that continued as new; the latest run when absent' }),
});

const responses = {
  200: {
    description: 'The history of the run: `{ "events": [...] }` as `temporal workflow show -o json` prints it',
    content: { 'application/json': { schema: z.object({ events: z.array(z.record(z.string(), z.unknown())) }).passthrough() } },
  },
  401: { description: 'No or unknown credentials (application/problem+json)' },
  403: { description: 'The role may not read reconciliations, e.g. a counting device (application/problem+json)' },
  404: { description: 'No such reconciliation in a warehouse the caller sees, or its history is no longer kept (application/problem+json)' },
  422: { description: 'The id or run id is not a UUID (application/problem+json)' },
  503: { description: 'Temporal is not reachable just now (application/problem+json)' },
};

export function historyRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliations/{id}/history',
      summary: "The reconciliation workflow's history, for replay against changed workflow code",
      request: { params: IdParam, query: HistoryQuery },
      responses,
    }),
    async (c) => {
      const { record } = await readable(c, deps.orm.em.fork(), c.req.valid('param').id);
      return historyResponse(c, deps, record.workflowId, c.req.valid('query').runId);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-reconciliations/{id}/history',
      summary: "The system reconciliation workflow's history, for replay against changed workflow code",
      request: { params: IdParam, query: HistoryQuery },
      responses,
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const who = requireRole(c, READERS);
      const record = await requireSystemReconciliation(deps.orm.em.fork(), id);
      if (!seesWarehouse(who, record.warehouse)) throw notFound(`system reconciliation ${id}`);
      return historyResponse(c, deps, record.workflowId, c.req.valid('query').runId);
    },
  );
}

/** gRPC status 5: fetching a history answers with it as it is (no WorkflowNotFoundError). */
const GRPC_NOT_FOUND = 5;

async function historyResponse(c: Context, deps: AppDeps, workflowId: string, runId: string | undefined): Promise<Response> {
  try {
    const history = await deps.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    return c.body(historyToJSON(history), 200, { 'content-type': 'application/json' });
  } catch (e) {
    // Past the namespace's retention Temporal forgets a closed run; a run id of another workflow is unknown too.
    if (e instanceof WorkflowNotFoundError || (isGrpcServiceError(e) && e.code === GRPC_NOT_FOUND)) throw new Problem(404, 'history-not-kept', 'No such workflow history', `Temporal keeps no history of ${runId ? `run ${runId} of ` : ''}this workflow`);
    throw e;
  }
}
