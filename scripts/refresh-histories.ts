import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { historiesFromDir } from '../platform/history-sources';
import { formatOutcome, installQuietReplayRuntime, replayHistories } from '../platform/replay';
import { bundleWorkflows } from '../platform/workflow-bundle';

/**
 * `npm run histories:refresh [-- --keep <label>]`: writes test/histories/<shape>.json,
 * one history of every workflow shape, made by the current workflow code.
 *
 * The scenarios are the end-to-end tests that drive each shape over the real
 * API (or client) on a real stack; run with STOCKTAKE_SAVE_HISTORIES=1 they
 * save their workflow's history (test/support/histories.ts). Vitest's global
 * setup starts the stack: embedded PostgreSQL and a Temporal dev server of
 * its own, stopped when the run ends. Then the whole corpus is replayed.
 *
 * `--keep <label>` first copies the current top-level histories into
 * test/histories/archive/<label>/, so runs of the code before a change stay
 * in the corpus: do that whenever the change added a patch.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const HISTORIES = path.join(ROOT, 'test', 'histories');

/** Each scenario test, and the histories it saves. */
const SCENARIOS: Record<string, string[]> = {
  'test/full-reconciliation.test.ts': ['full-warehouse', 'full-warehouse-temporal-cli'], // recount rounds; the second file via `temporal workflow show -o json`
  'test/product-reconciliation.test.ts': ['product-based'], // validator-refused Updates (they leave no event), cancel in review
  'test/release.test.ts': ['release-with-retry'], // a row that failed to post, retried
  'test/deadline.test.ts': ['deadline-escalated'], // the count deadline timer fired (time-skipping server)
  'test/continue-as-new.test.ts': ['continue-as-new-run1', 'continue-as-new-run2'], // every run of the chain
  'test/cancel-long-steps.test.ts': ['cancelled-while-snapshotting'], // a cancel that stops a running activity
  'test/system-reconciliation.test.ts': ['system-reconciliation'],
  'test/system-schedule.test.ts': ['scheduled-system-run'], // one tick of a Schedule, starting the run as a child
};

const { values } = parseArgs({ options: { keep: { type: 'string' } } });

if (values.keep !== undefined) {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(values.keep)) fail('--keep takes a label of lowercase letters, digits, dots and dashes, e.g. before-round-read-once');
  const archive = path.join(HISTORIES, 'archive', values.keep);
  if (fs.existsSync(archive)) fail(`${path.relative(ROOT, archive)} exists already: choose another label`);
  fs.mkdirSync(archive, { recursive: true });
  for (const f of fs.readdirSync(HISTORIES).filter((name) => name.endsWith('.json'))) fs.copyFileSync(path.join(HISTORIES, f), path.join(archive, f));
  console.log(`kept the current histories in ${path.relative(ROOT, archive)}`);
}

const started = Date.now();
const run = spawnSync('npx', ['vitest', 'run', ...Object.keys(SCENARIOS)], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, STOCKTAKE_SAVE_HISTORIES: '1' } });
if (run.status !== 0) fail(`the scenario tests failed (exit ${run.status ?? run.signal}): no history is trustworthy until they pass`);

const stale = Object.values(SCENARIOS)
  .flat()
  .filter((name) => {
    const file = path.join(HISTORIES, `${name}.json`);
    return !fs.existsSync(file) || fs.statSync(file).mtimeMs < started;
  });
if (stale.length > 0) fail(`not written by this refresh: ${stale.join(', ')}`);
// A shape no scenario makes any more (a chain that now continues as new fewer times) is not left behind as if it were current.
for (const f of fs.readdirSync(HISTORIES).filter((name) => name.endsWith('.json'))) {
  if (fs.statSync(path.join(HISTORIES, f)).mtimeMs < started) {
    fs.rmSync(path.join(HISTORIES, f));
    console.log(`removed ${f}: no scenario makes it any more (keep such files with --keep)`);
  }
}

installQuietReplayRuntime();
const bundle = await bundleWorkflows('', { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: console.error, error: console.error });
let failed = 0;
for await (const outcome of replayHistories({ code: bundle.code }, historiesFromDir(path.relative(process.cwd(), HISTORIES)))) {
  if (outcome.failure) failed++;
  console.log(formatOutcome(outcome));
}
if (failed > 0) fail(`${failed} histories do not replay against the current code`);
console.log(`refreshed ${Object.values(SCENARIOS).flat().length} histories in test/histories; commit them`);

function fail(message: string): never {
  console.error(`histories:refresh: ${message}`);
  process.exit(1);
}
