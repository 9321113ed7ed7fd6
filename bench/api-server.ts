import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import { createApp } from '../api/app';
import { openOrm } from '../db/orm';
import { freePort } from '../platform/free-port';

/**
 * The API as the benchmark's devices talk to it, in a process of its own so
 * its memory is measured apart from the client and the activities:
 * `tsx bench/api-server.ts <database url>` prints `listening <port>` and
 * serves until SIGTERM. No Temporal: the bench completes orders through the
 * store, so no route it calls signals a workflow.
 */
const url = process.argv[2];
if (!url) {
  console.error('usage: tsx bench/api-server.ts <database url>');
  process.exit(2);
}
const orm = await openOrm(url, { poolMax: 8 });
const app = createApp({ orm, temporal: {} as Client, taskQueue: 'bench', decisionKey: new Uint8Array(32) });
const port = await freePort();
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }) as Server;
console.log(`listening ${port}`);
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void orm.close().then(() => process.exit(0)));
});
