import { Client, Connection, type HistoryAndWorkflowId } from '@temporalio/client';
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config';
import { historiesFromDir, historiesFromFiles, historiesOfQuery, historyOfWorkflow, openRunsQuery } from '../platform/history-sources';
import { formatOutcome, installQuietReplayRuntime, replayHistories } from '../platform/replay';
import { temporalConnectionOptions, temporalUnreachable } from '../platform/temporal-connection';
import { bundleWorkflows } from '../platform/workflow-bundle';

/**
 * Replays histories against the workflow code in this checkout, bundled as
 * the worker bundles it, and prints one line per history: `ok` or `FAIL` with
 * the event where the code took another path. Exit 0: all replayed; 1: at
 * least one did not; 2: wrong usage, or the histories could not be read.
 * The server is the one TEMPORAL_ADDRESS (and TEMPORAL_TLS_*, TEMPORAL_API_KEY,
 * TEMPORAL_NAMESPACE) name, as for the API and the worker.
 */
const USAGE = `usage: npm run replay -- (--workflow-id <id> [--run-id <run>] | --all-open [--query <filter>] | --query <filter> | --file <h.json>... | --dir <folder>)`;

const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {} };

const OPTIONS = {
  'workflow-id': { type: 'string' },
  'run-id': { type: 'string' },
  'all-open': { type: 'boolean' },
  query: { type: 'string' },
  file: { type: 'string', multiple: true },
  dir: { type: 'string' },
} as const;
const { values } = (() => {
  try {
    return parseArgs({ options: OPTIONS, strict: true });
  } catch (e) {
    return fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  }
})();
const fromServer = values['workflow-id'] !== undefined || values['all-open'] === true || values.query !== undefined;
const sources = [values['workflow-id'] !== undefined, values['all-open'] === true || values.query !== undefined, values.file !== undefined, values.dir !== undefined];
if (sources.filter(Boolean).length !== 1 || (values['run-id'] !== undefined && values['workflow-id'] === undefined)) fail(USAGE);

// The SDK's own warnings (a failed workflow task while replaying) repeat what the result line says.
installQuietReplayRuntime();

let connection: Connection | undefined;
try {
  const histories = fromServer ? await serverHistories() : values.dir !== undefined ? historiesFromDir(values.dir) : historiesFromFiles(values.file ?? []);
  const bundle = await bundleWorkflows('', { ...quiet, warn: (m: string) => console.error(m), error: (m: string) => console.error(m) });
  let replayed = 0;
  let failed = 0;
  for await (const outcome of replayHistories({ code: bundle.code }, histories)) {
    replayed++;
    if (outcome.failure) failed++;
    console.log(formatOutcome(outcome));
  }
  console.log(`${replayed} replayed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
} catch (e) {
  fail(`replay: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
} finally {
  await connection?.close();
}

async function serverHistories(): Promise<Iterable<HistoryAndWorkflowId> | AsyncIterable<HistoryAndWorkflowId>> {
  const config = loadConfig();
  connection = await Connection.connect(temporalConnectionOptions(config)).catch((e: unknown) => {
    throw temporalUnreachable(config, 'start it or set TEMPORAL_ADDRESS', e);
  });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  if (values['workflow-id'] !== undefined) return [await historyOfWorkflow(client, values['workflow-id'], values['run-id'])];
  return historiesOfQuery(client, values['all-open'] ? openRunsQuery(values.query) : values.query!);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

