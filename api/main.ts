import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { createApp } from './app';

/** API process for deployments: applies migrations, then serves on PORT. */
const config = loadConfig();
const db = await openDatabase(config, console.log);
const orm = await openOrm(db.url);
await migrate(orm);
const address = config.temporalAddress ?? '127.0.0.1:7233';
const connection = await Connection.connect({ address });
const temporal = new Client({ connection, namespace: config.temporalNamespace });
const app = createApp({ orm, temporal, taskQueue: config.taskQueue });
const server = serve({ fetch: app.fetch, port: config.port, hostname: '0.0.0.0' }, (info) =>
  console.log(`Stocktake API on http://localhost:${info.port} (Temporal ${address})`),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close(async () => {
      await connection.close();
      await orm.close();
      await db.stop();
      process.exit(0);
    });
  });
}
