import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findTemporalBinary } from '../../platform/temporal-binaries';

export const HISTORIES_DIR = path.resolve(import.meta.dirname, '../histories');

/**
 * With STOCKTAKE_SAVE_HISTORIES=1 (set by `npm run histories:refresh`) a
 * scenario test saves its workflow's history for the replay suite. Saved
 * files are committed: they are the runs "in flight" that every later
 * workflow change must still replay.
 */
const saving = () => Boolean(process.env.STOCKTAKE_SAVE_HISTORIES);

/** Every saved history, the archive of earlier workflow versions (test/histories/archive/...) included. */
export function historyFiles(dir = HISTORIES_DIR): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export async function maybeSaveHistory(stack: { client: Client }, workflowId: string, name: string, runId?: string): Promise<void> {
  if (!saving()) return;
  const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
  write(name, historyToJSON(history));
}

/**
 * Every run of a workflow that continued as new, first to last, as
 * `<name>-run1.json`, `<name>-run2.json`, ...: each run is replayed on its own,
 * starting from the state the previous one carried over.
 */
export async function maybeSaveRuns(stack: { client: Client }, workflowId: string, name: string): Promise<void> {
  if (!saving()) return;
  let runId: string | undefined = (await stack.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.firstRunId ?? undefined;
  for (let n = 1; runId; n++) {
    const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
    write(`${name}-run${n}`, historyToJSON(history));
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
}

/** The history as the official Temporal CLI exports it (`temporal workflow show -o json`), proof that its files replay too. */
export function maybeSaveWithTemporalCli(address: string, workflowId: string, name: string): void {
  if (!saving()) return;
  const json = execFileSync(findTemporalBinary('cli'), ['workflow', 'show', '-w', workflowId, '-o', 'json', '--address', address, '--namespace', 'default'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  write(name, json);
}

function write(name: string, json: string): void {
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json);
}

/** One tick of a system reconciliation Schedule (workflows/scheduled-system-run.ts) on the stack's task queue. */
export async function maybeSaveScheduledTick(stack: { client: Client; taskQueue: string }, name: string): Promise<void> {
  if (!saving()) return;
  const query = `WorkflowType='scheduledSystemRunWorkflow' AND TaskQueue='${stack.taskQueue}' AND ExecutionStatus='Completed'`;
  for await (const tick of stack.client.workflow.list({ query })) {
    await maybeSaveHistory(stack, tick.workflowId, name, tick.runId);
    return;
  }
  throw new Error(`no completed scheduled tick listed on ${stack.taskQueue}`);
}
