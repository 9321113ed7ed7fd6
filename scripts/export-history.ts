import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config';
import { exitOnStartupFailure } from '../platform/process-lifecycle';
import { temporalConnectionOptions, temporalUnreachable } from '../platform/temporal-connection';

/**
 * Saves a workflow's history as JSON, for debugging and for the replay suite:
 *   npm run history:export -- --workflow-id reconciliation-<id> --out test/histories/<name>.json
 * Every file under test/histories is replayed against the current workflow
 * code by `npm test`, which proves a change is safe for runs in flight.
 */
const { values } = parseArgs({ options: { 'workflow-id': { type: 'string' }, 'run-id': { type: 'string' }, out: { type: 'string' } } });
if (!values['workflow-id'] || !values.out) {
  console.error('usage: npm run history:export -- --workflow-id <id> [--run-id <run>] --out <file.json>');
  process.exit(2);
}
const { config, connection } = await connect().catch((e: unknown) => exitOnStartupFailure('history:export', e));
const client = new Client({ connection, namespace: config.temporalNamespace });
const history = await client.workflow.getHandle(values['workflow-id'], values['run-id']).fetchHistory();
fs.writeFileSync(values.out, historyToJSON(history));
console.log(`wrote ${history.events?.length ?? 0} events to ${values.out}`);
await connection.close();

/** TEMPORAL_ADDRESS with the TEMPORAL_TLS_* / TEMPORAL_API_KEY settings, as the API and the worker connect. */
async function connect() {
  const config = loadConfig();
  const connection = await Connection.connect(temporalConnectionOptions(config)).catch((e: unknown) => {
    throw temporalUnreachable(config, 'start it or set TEMPORAL_ADDRESS', e);
  });
  return { config, connection };
}
