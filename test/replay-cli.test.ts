import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { runDataDir, spawnGroup, type SpawnedGroup } from './support/processes';
import { useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * `npm run replay` as an engineer runs it before deploying a workflow change:
 * against the live Temporal server (TEMPORAL_ADDRESS), the current code
 * replays what is running there; an altered history is refused, naming the
 * event where the code took another path.
 */
const spawned: SpawnedGroup[] = [];
const dir = runDataDir('replay-cli');

async function replay(...args: string[]): Promise<{ code: number | null; output: string }> {
  const group = spawnGroup('npm', ['run', '--silent', 'replay', '--', ...args], { env: { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default' } });
  spawned.push(group);
  const { code } = await group.exited;
  return { code, output: group.output() };
}

describe('npm run replay', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm);
    return {};
  });
  let workflowId: string;

  afterAll(async () => {
    for (const group of spawned) await group.kill();
    for (const group of spawned) expect(group.leftovers()).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('replays a running reconciliation fetched by workflow id', async () => {
    const rec = await t.f.create({ warehouse: 'W1', scope: { kind: 'warehouse' } });
    await t.f.waitFor(rec.id, 'ready');
    workflowId = rec.workflowId;
    const { code, output } = await replay('--workflow-id', workflowId);
    expect(output).toContain(`ok    ${workflowId} (run `);
    expect(output).toContain('1 replayed, 0 failed');
    expect(code).toBe(0);
  }, 120_000);

  it('replays every open run a list filter names', async () => {
    const query = `TaskQueue='${t.stack.taskQueue}'`;
    // Visibility trails the run's start a little: the run must be listed before the command can find it.
    await eventually(async () => {
      for await (const w of t.stack.client.workflow.list({ query: `ExecutionStatus='Running' AND ${query}` })) if (w.workflowId === workflowId) return true;
      return undefined;
    }, 'the reconciliation to be listed as open');
    const { code, output } = await replay('--all-open', '--query', query);
    expect(output).toContain(`ok    ${workflowId} (run `);
    expect(output).toMatch(/\d+ replayed, 0 failed/);
    expect(code).toBe(0);
  }, 120_000);

  it('fails on an altered history, naming the event that differs', async () => {
    const history = JSON.parse(historyToJSON(await t.stack.client.workflow.getHandle(workflowId).fetchHistory())) as {
      events: Array<{ eventId: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } } }>;
    };
    const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'anActivityTheCodeNeverRuns';
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'altered.json');
    fs.writeFileSync(file, JSON.stringify(history));

    const { code, output } = await replay('--file', file);
    expect(output).toMatch(new RegExp(`FAIL  ${file} \\(run [0-9a-f-]+\\): nondeterminism at event ${scheduled.eventId} \\(ActivityTaskScheduled anActivityTheCodeNeverRuns\\)`));
    expect(output).toContain('1 replayed, 1 failed');
    expect(code).toBe(1);
  }, 120_000);
});
