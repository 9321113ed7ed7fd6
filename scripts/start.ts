import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import net from 'node:net';
import path from 'node:path';
import { createApp } from '../api/app';
import { migrate, openOrm } from '../db/orm';
import { seedDemoWarehouse } from '../db/seed';
import { sql } from '../db/sql';
import { upsertUser, type Role } from '../api/auth';
import fs from 'node:fs';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { freePort } from '../platform/free-port';
import { startTemporalDevServer, type RunningTemporal } from '../platform/temporal-dev-server';
import { createWorker } from '../platform/worker';

/**
 * `npm start`: the whole of Stocktake in one command on the embedded defaults
 * (or on DATABASE_URL / TEMPORAL_ADDRESS when set): PostgreSQL, the Temporal
 * dev server with its Web UI, the worker and the API. Ctrl-C stops all of it.
 */
const config = loadConfig();
const say = (line: string) => console.log(`[stocktake] ${line}`);
const stops: Array<() => Promise<unknown>> = [];

async function main(): Promise<void> {
  const db = await openDatabase(config);
  stops.unshift(() => db.stop());
  const orm = await openOrm(db.url);
  stops.unshift(() => orm.close());
  const applied = await migrate(orm);
  if (applied.length > 0) say(`migrations applied: ${applied.join(', ')}`);
  const hasWarehouse = await sql<{ n: number }>`select count(*)::int as n from warehouse`.execute(orm.em.fork().getKysely());
  if (hasWarehouse.rows[0]!.n === 0 && config.seedPositions > 0) {
    const seeded = await seedDemoWarehouse(orm, { positions: config.seedPositions });
    say(`seeded demo warehouse ${seeded.warehouseCode}: ${seeded.positions} stock positions in ${seeded.locations} locations`);
  }
  await ensureDemoUsers(orm);

  let temporalServer: RunningTemporal | undefined;
  let address = config.temporalAddress;
  if (!address) {
    temporalServer = await startTemporalDevServer({
      dbFile: path.join(config.dataDir, 'temporal.sqlite'),
      port: (await isFree(config.temporalDevPort)) ? config.temporalDevPort : await freePort(),
      uiPort: (await isFree(config.temporalUiPort)) ? config.temporalUiPort : await freePort(),
      namespace: config.temporalNamespace,
    });
    stops.unshift(() => temporalServer!.stop());
    address = temporalServer.address;
  }

  const workerConnection = await NativeConnection.connect({ address });
  stops.unshift(() => workerConnection.close());
  const worker = await createWorker({ connection: workerConnection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, orm });
  const running = worker.run();
  stops.unshift(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  });

  const connection = await Connection.connect({ address });
  stops.unshift(() => connection.close());
  const app = createApp({ orm, temporal: new Client({ connection, namespace: config.temporalNamespace }), taskQueue: config.taskQueue });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' });
  stops.unshift(() => new Promise((resolve) => server.close(resolve)));

  say(`API         http://127.0.0.1:${config.port}  (health: /health, OpenAPI: /openapi.json)`);
  say(`Temporal    ${address}${temporalServer?.uiUrl ? `  (Web UI: ${temporalServer.uiUrl})` : ''}`);
  say(`Database    ${config.databaseUrl ? 'DATABASE_URL' : `embedded PostgreSQL in ${path.join(config.dataDir, 'pg')}`}`);
  say('Ctrl-C stops everything.');
}

/**
 * First start: one user per role, tokens written to <dataDir>/demo-tokens.json
 * (readable by this user only) so a newcomer can call the API at once.
 */
async function ensureDemoUsers(orm: Awaited<ReturnType<typeof openOrm>>): Promise<void> {
  const file = path.join(config.dataDir, 'demo-tokens.json');
  if (fs.existsSync(file)) return;
  const users: Record<string, Role> = { manager: 'manager', senior: 'senior_manager', counter: 'counter' };
  const tokens: Record<string, { role: Role; token: string }> = {};
  for (const [name, role] of Object.entries(users)) tokens[name] = { role, token: await upsertUser(orm.em.fork(), name, role) };
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(tokens, null, 2), { mode: 0o600 });
  say(`demo users manager, senior, counter: bearer tokens in ${file}`);
}

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping ...');
    for (const stop of stops) await stop().catch((e) => say(`while stopping: ${e instanceof Error ? e.message : e}`));
    say('stopped.');
  }
  process.exit(code);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(0));
main().catch(async (e) => {
  console.error(e);
  await shutdown(1);
});
