import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { useStack } from './support/stack';

/**
 * GET /reconciliations/{id}/history hands an engineer (or an auditor) the
 * workflow's history in the JSON Temporal's tools read, and that history
 * replays against the workflow code. Who may fetch it is in the access matrix.
 */
describe('a reconciliation history over the API', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm);
    return {};
  });
  let id: string;

  it('is the JSON of Temporal tools, starting with the workflow started event', async () => {
    id = (await t.f.create({ warehouse: 'W1', scope: { kind: 'warehouse' } })).id;
    await t.f.waitFor(id, 'ready');
    const res = await t.stack.http('GET', `/reconciliations/${id}/history`, undefined, { 'x-as': 'auditor-1' });
    expect(res.status).toBe(200);
    expect(res.contentType).toContain('application/json');
    expect(res.body.events[0]).toMatchObject({ eventId: '1', eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' });
    expect(res.body.events[0].workflowExecutionStartedEventAttributes.workflowType.name).toBe('reconciliationWorkflow');
  }, 60_000);

  it('replays against the current workflow code', async () => {
    const res = await t.stack.http('GET', `/reconciliations/${id}/history`);
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, historyFromJSON(res.body), `reconciliation-${id}`);
  });

  it('answers 404 for a run id Temporal does not know', async () => {
    const res = await t.stack.http('GET', `/reconciliations/${id}/history?runId=${randomUUID()}`);
    expectProblem(res, 404, 'history-not-kept');
  });
});
