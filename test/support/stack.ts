import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { createApp } from '../../api/app';
import { answerClientErrors } from '../../api/client-errors';
import { upsertUser, type Role } from '../../store/users';
import { freePort } from '../../platform/free-port';
import { createWorker } from '../../platform/worker';
import { freshDatabase, type TestDatabase } from './db';
import { flow } from './flow';
import { testDecisionKey } from './signed';

let runtimeInstalled = false;

export interface Stack {
  db: TestDatabase;
  client: Client;
  worker: Worker | undefined;
  taskQueue: string;
  baseUrl: string;
  /** Real HTTP against the API on a loopback port, as manager-1 unless headers say `x-as: <user>`. */
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; contentType: string | null }>;
  close(): Promise<void>;
}

/**
 * The whole service for one test file: its own database, a worker on its own
 * task queue against the shared real Temporal dev server, and the API served
 * over HTTP on a free port.
 */
export async function startStack(opts: { worker?: boolean } = {}): Promise<Stack> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const db = await freshDatabase();
  for (const [name, role] of Object.entries(TEST_USERS)) {
    await upsertUser(db.orm.em.fork(), name, role, tokenOf(name), { kind: name.startsWith('dev-') ? 'device' : 'person' });
  }
  const address = inject('temporalAddress');
  const taskQueue = `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = opts.worker === false ? undefined : await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    orm: db.orm,
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
  // Without an in-process worker the test runs worker processes of its own (e.g. to kill one).
  const running = worker ? worker.run() : Promise.resolve();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const app = createApp({ orm: db.orm, temporal: client, taskQueue, decisionKey: testDecisionKey() });
  const port = await freePort();
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  answerClientErrors(server);
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    db,
    client,
    worker,
    taskQueue,
    baseUrl,
    async http(method, path, body, headers = {}) {
      const { 'x-as': as = 'manager-1', ...rest } = headers;
      const res = await fetch(baseUrl + path, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenOf(as)}`, ...rest },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, contentType: res.headers.get('content-type') };
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
      await db.close();
    },
  };
}

/** Users every test stack has; each one's token is `token-<name>`. */
export const TEST_USERS: Record<string, Role> = {
  'manager-1': 'manager',
  'manager-2': 'manager',
  'senior-1': 'senior_manager',
  'auditor-1': 'auditor',
  'admin-1': 'admin',
  'dev-1': 'counter',
  'dev-2': 'counter',
};

export function tokenOf(user: string): string {
  return `token-${user}`;
}

/**
 * One stack per test file: started before its tests, closed after them.
 * `setup` prepares data (a fixture) once the stack is up; its result is `fixture`.
 */
export function useStack<T = undefined>(setup?: (stack: Stack) => Promise<T>, opts: { worker?: boolean } = {}) {
  const ctx = {} as { stack: Stack; f: ReturnType<typeof flow>; fixture: T };
  beforeAll(async () => {
    ctx.stack = await startStack(opts);
    ctx.f = flow(ctx.stack);
    ctx.fixture = (await setup?.(ctx.stack)) as T;
  }, 300_000);
  afterAll(async () => ctx.stack?.close());
  return ctx;
}
