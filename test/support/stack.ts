import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createApp } from '../../api/app';
import { freePort } from '../../platform/free-port';
import { createWorker } from '../../platform/worker';
import { freshDatabase, type TestDatabase } from './db';

let runtimeInstalled = false;

export interface Stack {
  db: TestDatabase;
  client: Client;
  worker: Worker;
  taskQueue: string;
  baseUrl: string;
  /** Real HTTP against the API on a loopback port. */
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; contentType: string | null }>;
  close(): Promise<void>;
}

/**
 * The whole service for one test file: its own database, a worker on its own
 * task queue against the shared real Temporal dev server, and the API served
 * over HTTP on a free port.
 */
export async function startStack(): Promise<Stack> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const db = await freshDatabase();
  const address = inject('temporalAddress');
  const taskQueue = `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    orm: db.orm,
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const app = createApp({ orm: db.orm, temporal: client, taskQueue });
  const port = await freePort();
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    db,
    client,
    worker,
    taskQueue,
    baseUrl,
    async http(method, path, body, headers = {}) {
      const res = await fetch(baseUrl + path, {
        method,
        headers: { 'content-type': 'application/json', 'x-user': 'manager-1', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, contentType: res.headers.get('content-type') };
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
      await db.close();
    },
  };
}
