import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { historiesFromDir } from '../platform/history-sources';
import { installQuietReplayRuntime, replayHistories, type ReplayOutcome } from '../platform/replay';
import { HISTORIES_DIR } from './support/histories';
import { ROOT, runDataDir } from './support/processes';

/**
 * The replay check bites: a copy of the reconciliation workflow changed the
 * way a careless edit would (an activity added, a timer moved), bundled as
 * the worker bundles, fails the saved histories with a DeterminismViolationError
 * that names the event where the code and the history part.
 */
installQuietReplayRuntime();
const WORKFLOWS = path.join(ROOT, 'workflows');
const dir = runDataDir('altered-workflow');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * The workflows with reconciliation.ts rewritten by `alter`, bundled: the copy
 * and an index of its own live in a scratch folder, importing everything else
 * from the real workflows/ and domain/ folders.
 */
async function alteredBundle(name: string, alter: (source: string) => string): Promise<string> {
  const folder = path.join(dir, name);
  fs.mkdirSync(folder, { recursive: true });
  const original = fs.readFileSync(path.join(WORKFLOWS, 'reconciliation.ts'), 'utf8');
  const altered = alter(original);
  expect(altered, 'the alteration applies to the current source').not.toBe(original);
  const absolute = (source: string) =>
    source.replace(/from '(\.\.?\/[^']+)'/g, (_, rel: string) => `from '${path.resolve(WORKFLOWS, rel)}'`);
  fs.writeFileSync(path.join(folder, 'reconciliation.ts'), absolute(altered));
  fs.writeFileSync(
    path.join(folder, 'index.ts'),
    absolute(fs.readFileSync(path.join(WORKFLOWS, 'index.ts'), 'utf8')).replace(`'${path.join(WORKFLOWS, 'reconciliation')}'`, `'./reconciliation'`),
  );
  const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };
  return (await bundleWorkflowCode({ workflowsPath: path.join(folder, 'index.ts'), logger: quiet })).code;
}

async function replayCorpus(code: string): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for await (const o of replayHistories({ code }, historiesFromDir(HISTORIES_DIR))) outcomes.push(o);
  return outcomes;
}

const file = (name: string) => path.join(HISTORIES_DIR, name);
const eventsOf = (name: string) => (JSON.parse(fs.readFileSync(file(name), 'utf8')) as { events: Array<Record<string, any>> }).events;

describe('replay of the corpus against an altered reconciliation workflow', () => {
  it('fails every reconciliation history at the snapshot when an activity is added before it', async () => {
    const code = await alteredBundle('activity-added', (source) =>
      source.replace(
        'const r = await steps.generateSnapshot(',
        'await bookkeeping.roundOrders({ reconciliationId: id, round: s.round });\n      const r = await steps.generateSnapshot(',
      ),
    );
    const outcomes = await replayCorpus(code);
    const reconciliations = outcomes.filter((o) => !/system|scheduled/.test(o.label) && !/continue-as-new-run[2-9]/.test(o.label));
    expect(reconciliations.length).toBeGreaterThanOrEqual(5);
    for (const o of reconciliations) {
      expect(o.failure, o.label).toMatchObject({ kind: 'nondeterminism', eventId: 5, event: 'ActivityTaskScheduled generateSnapshot' });
      expect(o.failure!.detail).toContain('roundOrders');
    }
    // The system reconciliation workflows were not touched: they still replay.
    expect(outcomes.filter((o) => /system/.test(o.label)).every((o) => !o.failure)).toBe(true);
    await expect(
      Worker.runReplayHistory({ workflowBundle: { code } }, historyFromJSON(JSON.parse(fs.readFileSync(file('full-warehouse.json'), 'utf8')))),
    ).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  }, 120_000);

  it("fails a counted reconciliation at its first timer when the round's read is moved before the wait", async () => {
    const code = await alteredBundle('timer-moved', (source) =>
      source.replace(
        '    const woke = await condition(',
        '    await bookkeeping.roundOrders({ reconciliationId: id, round: s.round });\n    const woke = await condition(',
      ),
    );
    const outcomes = await replayCorpus(code);
    const full = outcomes.find((o) => o.label.endsWith(`${path.sep}full-warehouse.json`) && !o.label.includes('archive'))!;
    const firstTimer = eventsOf('full-warehouse.json').find((e) => e.timerStartedEventAttributes)!;
    expect(full.failure).toMatchObject({ kind: 'nondeterminism', eventId: Number(firstTimer.eventId), event: `TimerStarted ${firstTimer.timerStartedEventAttributes.timerId}` });
    // A reconciliation cancelled before counting never waited on a round: it replays still.
    expect(outcomes.find((o) => o.label.endsWith('cancelled-while-snapshotting.json'))!.failure).toBeUndefined();
  }, 120_000);
});
