import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createActivities } from '../activities';
import { FailureTranslation } from '../activities/failure-translation';
import { completeCountOrder } from '../store/count-orders';
import { submitCounts } from '../store/count-entries/batches';
import { createReconciliation } from '../store/reconciliations';
import { one, sql } from '../db/sql';
import * as m from '../workflows/messages';
import { freshDatabase, type TestDatabase } from './support/db';
import { smallWarehouse } from './support/fixtures';
import { maybeSaveHistory } from './support/histories';
import { executeSigned } from './support/signed';

/**
 * On the time-skipping test server a three-day count deadline passes in
 * moments: the escalation is recorded on the document and the counts already
 * made survive it (the hourly re-reads of the round's orders run on the way).
 */
describe('count deadline (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
    });
    db = await freshDatabase();
    await smallWarehouse(db.orm);
  });
  afterAll(async () => {
    await db?.close();
    await env?.teardown();
  });

  it('escalates a round whose deadline passes with orders open, keeping its counts', async () => {
    const taskQueue = `deadline-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      activities: createActivities(db.orm),
      interceptors: { activity: [(ctx) => ({ inbound: new FailureTranslation(ctx) })] },
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    await worker.runUntil(async () => {
      const { record } = await createReconciliation(
        db.orm.em.fork(),
        {
          warehouse: 'W1',
          scope: { kind: 'warehouse' },
          splitPolicy: { kind: 'none' },
          tolerance: { default: {} },
          blindCount: true,
          maxRecountRounds: 1,
          countDeadlineMinutes: 3 * 24 * 60,
          managerApprovalLimit: 1000,
        },
        'manager-1',
        undefined,
      );
      const handle = await env.client.workflow.start(m.RECONCILIATION_WORKFLOW, {
        workflowId: record.workflowId,
        taskQueue,
        args: [{ reconciliationId: record.id, countDeadlineMinutes: record.countDeadlineMinutes } satisfies m.ReconciliationInput],
      });
      await waitUntil(async () => (await handle.query(m.progressQuery)).status === 'ready');
      const started = await executeSigned(handle, m.startInitialCountUpdate, { user: 'manager-1', role: 'manager' });
      const orderId = (await one(db.orm.em.fork(), sql<{ id: number }>`select id::int from count_order where round = 0`))!.id;
      await submitCounts(db.orm.em.fork(), orderId, {
        submissionId: 's1',
        device: 'dev-1',
        countedBy: 'dev-1',
        entries: [{ location: 'A-01', item: 'P1', lot: '', serial: '', handlingUnit: '', owner: '', quantity: 7 }],
      });

      // Three days on the time-skipping server's clock; the test's own timeout bounds the wall time.
      await env.sleep('3 days');

      await waitUntil(async () => (await handle.query(m.progressQuery)).escalations === 1);
      const doc = await one(db.orm.em.fork(), sql<{ escalations: Array<{ round: number; openCountOrders: number[] }> }>`
        select escalations from reconciliation where id = ${record.id}`);
      expect(doc!.escalations).toHaveLength(1);
      expect(doc!.escalations[0]).toMatchObject({ round: 0, openCountOrders: [orderId] });
      expect(started.orders).toBe(1);

      // The order completes late: the round goes on to review with the count made before the deadline.
      await completeCountOrder(db.orm.em.fork(), orderId, 'dev-1', 'dev-1');
      await handle.signal(m.orderCompletedSignal, { countOrderId: orderId, round: 0 });
      await waitUntil(async () => (await handle.query(m.progressQuery)).status === 'review');
      const row = await one(db.orm.em.fork(), sql<{ counted: string }>`
        select r.counted_quantity::text as counted from reconciliation_row r join item i on i.id = r.item_id
        join location l on l.id = r.location_id where i.code = 'P1' and l.code = 'A-01'`);
      expect(Number(row!.counted)).toBe(7);
      await executeSigned(handle, m.cancelUpdate, { user: 'manager-1', role: 'manager', reason: 'test over' }, await env.currentTimeMs());
      expect(await handle.result()).toEqual({ status: 'cancelled' });
      await maybeSaveHistory(env, record.workflowId, 'deadline-escalated');
    });
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
