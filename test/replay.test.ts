import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { HISTORIES_DIR, historyFiles } from './support/histories';

/**
 * Replays every saved history, the archived ones of earlier workflow
 * versions included, against the current workflow code. A change that would
 * make a run in flight take a different path fails here with a
 * nondeterminism error, before it reaches a worker in production.
 */
const files = historyFiles();

describe('workflow history replay', () => {
  it('has saved histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('replays %s', async (file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file);
  });
});
