import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities';
import { FailureTranslation } from '../activities/failure-translation';
import { affected, one, sql } from '../db/sql';
import { createSystemReconciliation } from '../store/system-reconciliation/document';
import * as sm from '../workflows/system-messages';
import { freshDatabase, type TestDatabase } from './support/db';
import { smallWarehouse } from './support/fixtures';

/**
 * A system that never sends its levels: on the time-skipping server the
 * deadline passes at once, and the run ends `no_answer`, naming the source
 * and the deadline, instead of waiting for ever.
 */
describe('a system that never answers', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // Installed by another test in this process.
    }
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
    });
    db = await freshDatabase();
    await smallWarehouse(db.orm);
    await affected(db.orm.em.fork(), sql`
      insert into external_system (name, location_granularity, levels_mode, created_by) values ('wms-silent', 'location', 'pushed', 'admin-1');
      insert into status_mapping (source, status, category) values ('wms-silent', 'available', 'available')`);
  });
  afterAll(async () => {
    await db?.close();
    await env?.teardown();
  });

  it('ends no_answer once the levels deadline passes, with the source and the deadline named', async () => {
    const taskQueue = `no-answer-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      activities: createActivities(db.orm),
      interceptors: { activity: [(ctx) => ({ inbound: new FailureTranslation(ctx) })] },
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    await worker.runUntil(async () => {
      const { record } = await createSystemReconciliation(db.orm.em.fork(), {
        sourceA: 'book', sourceB: 'wms-silent', warehouse: 'W1', selection: {}, tolerance: { default: {} },
        cutoffMinutes: 60, levelsDeadlineMinutes: 240, managerApprovalLimit: 1000,
      }, 'manager-1');
      const handle = await env.client.workflow.start(sm.SYSTEM_RECONCILIATION_WORKFLOW, {
        workflowId: record.workflowId,
        taskQueue,
        args: [{ systemReconciliationId: record.id, levelsDeadlineMinutes: 240 } satisfies sm.SystemReconciliationInput],
      });
      expect(await handle.result()).toEqual({ status: 'no_answer' });
      const stored = await one(db.orm.em.fork(), sql<{ status: string; failure: { reason: string }; closed: boolean }>`
        select status, failure, closed_at is not null as closed from system_reconciliation where id = ${record.id}`);
      expect(stored).toMatchObject({ status: 'no_answer', closed: true, failure: { reason: 'wms-silent did not send levels within 240 minutes' } });
    });
  });
});
