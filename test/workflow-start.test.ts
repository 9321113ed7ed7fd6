import { describe, expect, it } from 'vitest';
import { sweepUnstarted } from '../api/workflow-start';
import { createReconciliation } from '../store/reconciliations';
import { smallWarehouse } from './support/fixtures';
import { useStack } from './support/stack';

/**
 * A process that dies between storing a document and starting its workflow
 * leaves a reconciliation nobody drives; the API's sweep starts it.
 */
describe('a document whose workflow start was lost', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));

  it('gets its workflow from the sweep and reaches ready', async () => {
    const { stack, f } = t;
    const { record } = await createReconciliation(
      stack.db.orm.em.fork(),
      { warehouse: 'W1', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'none' }, tolerance: { default: {} }, blindCount: true,
        maxRecountRounds: 1, countDeadlineMinutes: null, managerApprovalLimit: 1000 },
      'manager-1',
      undefined,
    );
    const deps = { orm: stack.db.orm, temporal: stack.client, taskQueue: stack.taskQueue };
    expect(await sweepUnstarted(deps, 0)).toBe(1);
    expect((await f.waitFor(record.id, 'ready')).rows.total).toBe(5);
    expect(await sweepUnstarted(deps, 0)).toBe(0);
  });
});
