import type { Client, HistoryAndWorkflowId } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Where histories to replay come from: JSON files (the format of
 * `temporal workflow show -o json`, of `npm run history:export` and of
 * GET /reconciliations/{id}/history), a folder of them, one workflow on the
 * server, or every workflow a visibility query lists.
 */

/** Histories saved as JSON; each is labelled with its path as given. */
export function historiesFromFiles(files: string[]): HistoryAndWorkflowId[] {
  return files.map((file) => ({ workflowId: file, history: historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8'))) }));
}

/** Every `*.json` in `dir` and its subfolders (test/histories/archive/...), by path. */
export function historiesFromDir(dir: string): HistoryAndWorkflowId[] {
  const files = fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error(`${dir} holds no .json history`);
  return historiesFromFiles(files);
}

/** One run of a workflow: the latest unless `runId` is given. */
export async function historyOfWorkflow(client: Client, workflowId: string, runId?: string): Promise<HistoryAndWorkflowId> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const history = await handle.fetchHistory();
  return { workflowId, history };
}

/** A list filter for open runs, narrowed by `query` when one is given. */
export function openRunsQuery(query: string | undefined): string {
  return query ? `ExecutionStatus='Running' AND (${query})` : `ExecutionStatus='Running'`;
}

/** Every run the visibility query lists (closed ones too, unless the query says otherwise). */
export function historiesOfQuery(client: Client, query: string): AsyncIterable<HistoryAndWorkflowId> {
  return client.workflow.list({ query }).intoHistories();
}
