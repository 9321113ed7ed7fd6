import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrate, openOrm } from '../../db/orm';
import { startEmbeddedPostgres } from '../../platform/embedded-postgres';
import { findTemporalBinary } from '../../platform/temporal-binaries';
import { dynamicConfigArgs } from '../../platform/temporal-dev-server';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflows } from '../../platform/workflow-bundle';
import { randomBytes, randomUUID } from 'node:crypto';
import { describeProcesses, processesMarked, RUN_MARKER } from './processes';
import { signal, type ProcessInfo } from '../../platform/proc';
import { eventually } from './wait';

export const TEMPLATE_DB = 'stocktake_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDb: string;
    temporalAddress: string;
    temporalTestServerPath: string;
    workflowBundlePath: string;
    /** The decision key compiled into the bundle; the tests' API signs with it. */
    decisionKey: string;
  }
}

/**
 * One real PostgreSQL cluster (throwaway) and one real Temporal dev server for
 * the whole run. Each test file gets its own database cloned from a migrated
 * template, and its own task queue, so files run in parallel without sharing state.
 *
 * The run has an id, in RUN_MARKER of the environment every process it starts
 * inherits (test workers, servers, spawned scripts), and in the path of every
 * test data directory. Teardown fails the run if any process of it is left.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = `run-${process.pid}-${randomUUID().slice(0, 8)}`;
  process.env[RUN_MARKER] = run;
  const root = path.resolve(import.meta.dirname, '../../.test-data');
  const runDir = path.join(root, run);
  const dataDir = path.join(runDir, 'pg');
  const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
  const orm = await openOrm(pg.adminUrl);
  try {
    await orm.em.getConnection().execute(`drop database if exists ${TEMPLATE_DB}`);
    await orm.em.getConnection().execute(`create database ${TEMPLATE_DB}`);
  } finally {
    await orm.close();
  }
  const template = await openOrm(pg.urlFor(TEMPLATE_DB));
  try {
    await migrate(template);
  } finally {
    await template.close();
  }

  // Fails (never skips) with the install hint when no binary can be had.
  const temporalTestServerPath = findTemporalBinary('test-server');
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findTemporalBinary('cli') },
      ip: '127.0.0.1',
      log: { level: 'warn', format: 'pretty' },
      // The settings Stocktake runs with (platform/temporal-dev-server.ts).
      extraArgs: dynamicConfigArgs(),
    },
  });

  // Bundled once per run instead of once per test file's worker, with this run's decision key compiled in.
  const decisionKey = randomBytes(32).toString('hex');
  const bundle = await bundleWorkflows(decisionKey, quietLogger);
  const workflowBundlePath = path.join(runDir, 'workflow-bundle.js');
  fs.writeFileSync(workflowBundlePath, bundle.code);

  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('decisionKey', decisionKey);
  project.provide('pgAdminUrl', pg.adminUrl);
  project.provide('templateDb', TEMPLATE_DB);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalTestServerPath', temporalTestServerPath);

  return async () => {
    try {
      await temporal.teardown();
      await pg.stop();
      fs.rmSync(runDir, { recursive: true, force: true });
    } finally {
      await assertNothingLeft(run);
    }
  };
}

/**
 * Everything the run started must be gone once its servers are stopped: a
 * leftover is SIGKILLed (so it does not outlive the run either) and fails it.
 * Processes get a few seconds, as a stopped server's children exit after it.
 */
async function assertNothingLeft(run: string): Promise<void> {
  const ours = () => processesMarked(RUN_MARKER, run).filter((p) => !isVitestOwn(p));
  const left = await eventually(async () => (ours().length === 0 ? [] : undefined), 'the processes of this test run to exit', 10_000).catch(() => ours());
  if (left.length === 0) return;
  for (const p of left) signal(p.pid, 'SIGKILL');
  throw new Error(`the test run left ${left.length} process(es) behind (now killed):\n${describeProcesses(left)}`);
}

/** Vitest's workers and watchdog inherit the marker too; they are vitest's to stop, after this teardown. */
function isVitestOwn(p: ProcessInfo): boolean {
  return (p.argv[0] ?? '').startsWith('vitest') || p.argv.some((arg) => arg.includes(`${path.sep}vitest${path.sep}dist${path.sep}`));
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
