import { describe, expect, it } from 'vitest';
import { createReconciliation } from '../store/reconciliations';
import * as m from '../workflows/messages';
import { smallWarehouse } from './support/fixtures';
import { maybeSaveRuns } from './support/histories';
import { useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * A long reconciliation continues as new instead of growing one history:
 * with the limit lowered to a few events, the run rolls over mid-review
 * and mid-count, and the next run carries on with the same state.
 */
describe('continue-as-new', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  it('rolls over to a new run and keeps round, orders and counts', async () => {
    const { stack, f } = t;
    const { record } = await createReconciliation(
      stack.db.orm.em.fork(),
      {
        warehouse: 'W1', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'by_zone' }, tolerance: { default: {} },
        blindCount: true, maxRecountRounds: 2, countDeadlineMinutes: null, managerApprovalLimit: 1000,
      },
      'manager-1',
      undefined,
    );
    const first = await stack.client.workflow.start(m.RECONCILIATION_WORKFLOW, {
      workflowId: record.workflowId,
      taskQueue: stack.taskQueue,
      args: [{ reconciliationId: record.id, countDeadlineMinutes: null, historyLimit: 16 } satisfies m.ReconciliationInput],
    });
    await f.waitFor(record.id, 'ready');
    await f.decide(record.id, 'initial-count');
    const orders = await f.orders(record.id, 0);
    expect(orders).toHaveLength(2);

    const runId = async () => (await stack.client.workflow.getHandle(record.workflowId).describe()).runId;
    await eventually(async () => ((await runId()) !== first.firstExecutionRunId ? true : undefined), 'a continued run');
    const carried = await f.progress(record.id);
    expect(carried).toMatchObject({ status: 'counting', round: 0, ordersOpen: 2 });
    expect(carried!.historyLength).toBeLessThan(16);

    // The new run still deduplicates completions and closes the round.
    await f.submit(orders[0]!.id, 'a', [{ location: 'A-01', item: 'P1', quantity: 9 }]);
    await f.complete(orders[0]!.id);
    await f.complete(orders[0]!.id);
    await f.complete(orders[1]!.id);
    const review = await f.waitFor(record.id, 'review', 0);
    expect(review.rows).toMatchObject({ total: 5, counted: 5 });
    expect(await f.row(record.id, 'P1', 'A-01')).toMatchObject({ countedQuantity: 9, varianceQuantity: -1 });
    await f.decide(record.id, 'cancellation', { reason: 'done' });
    expect(await stack.client.workflow.getHandle(record.workflowId).result()).toEqual({ status: 'cancelled' });
    await maybeSaveRuns(stack, record.workflowId, 'continue-as-new');
  });
});
