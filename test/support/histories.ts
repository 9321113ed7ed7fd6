import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import fs from 'node:fs';
import path from 'node:path';
import type { Stack } from './stack';

export const HISTORIES_DIR = path.resolve(import.meta.dirname, '../histories');

/**
 * With STOCKTAKE_SAVE_HISTORIES=1 a scenario test saves its workflow's
 * history for the replay suite. Saved files are committed: they are the runs
 * "in flight" that every later workflow change must still replay.
 */
export async function maybeSaveHistory(stack: Stack, workflowId: string, name: string): Promise<void> {
  if (!process.env.STOCKTAKE_SAVE_HISTORIES) return;
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(history));
}
