import { decodeVersioningBehavior } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createReconciliation } from '../store/reconciliations';
import * as m from '../workflows/messages';
import { smallWarehouse } from './support/fixtures';
import { spawnGroup, type SpawnedGroup } from './support/processes';
import { useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * Worker Versioning: `npm run worker` with TEMPORAL_DEPLOYMENT_NAME and
 * TEMPORAL_BUILD_ID joins that Worker Deployment as that build; once the
 * version is made current, new reconciliations run on it (AUTO_UPGRADE, the
 * default behaviour). Without the variables the worker is unversioned, as
 * every other test's worker is.
 */
const deploymentName = `stocktake-test-${randomUUID().slice(0, 8)}`;
const buildId = 'build-2026-11-30';
const taskQueue = `versioned-${randomUUID()}`;
let worker: SpawnedGroup | undefined;

describe('a worker of a Worker Deployment', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm), { worker: false });
  afterAll(async () => {
    await worker?.kill();
    expect(worker?.leftovers() ?? []).toEqual([]);
  }, 60_000);

  const describeDeployment = async () => {
    try {
      return await t.stack.client.workflowService.describeWorkerDeployment({ namespace: 'default', deploymentName });
    } catch {
      return undefined; // not known to the server until the worker's first poll
    }
  };

  it('registers its build id with the deployment named in the environment', async () => {
    worker = spawnGroup('npm', ['run', '--silent', 'worker'], {
      env: {
        DATABASE_URL: t.stack.db.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TASK_QUEUE: taskQueue,
        STOCKTAKE_DECISION_KEY: inject('decisionKey'),
        TEMPORAL_DEPLOYMENT_NAME: deploymentName,
        TEMPORAL_BUILD_ID: buildId,
        LOG_LEVEL: 'warn',
      },
    });
    const deployment = await eventually(async () => {
      const d = await describeDeployment();
      return d?.workerDeploymentInfo?.versionSummaries?.some((v) => v.deploymentVersion?.buildId === buildId) ? d : undefined;
    }, `deployment ${deploymentName} to list build ${buildId}`, 90_000);
    expect(deployment.workerDeploymentInfo?.name).toBe(deploymentName);
    expect(worker.output()).toContain(`deployment version ${deploymentName}.${buildId} (AUTO_UPGRADE)`);
  }, 120_000);

  it('runs a new reconciliation on its version once that version is current', async () => {
    await t.stack.client.workflowService.setWorkerDeploymentCurrentVersion({ namespace: 'default', deploymentName, buildId, identity: 'workflow-versioning test' });
    const { record } = await createReconciliation(
      t.stack.db.orm.em.fork(),
      {
        warehouse: 'W1', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'none' }, tolerance: { default: {} },
        blindCount: true, maxRecountRounds: 1, countDeadlineMinutes: null, managerApprovalLimit: 1000,
      },
      'manager-1',
      undefined,
    );
    const handle = await t.stack.client.workflow.start(m.RECONCILIATION_WORKFLOW, {
      workflowId: record.workflowId,
      taskQueue,
      args: [{ reconciliationId: record.id, countDeadlineMinutes: null } satisfies m.ReconciliationInput],
    });
    await eventually(async () => ((await handle.query(m.progressQuery)).status === 'ready' ? true : undefined), 'the reconciliation to be ready', 60_000);
    const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
    expect(info?.deploymentVersion).toMatchObject({ deploymentName, buildId });
    expect(decodeVersioningBehavior(info?.behavior)).toBe('AUTO_UPGRADE');
    await handle.terminate('test over');
  }, 120_000);
});
