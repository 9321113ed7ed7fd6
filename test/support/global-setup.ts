import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrate, openOrm } from '../../db/orm';
import { startEmbeddedPostgres } from '../../platform/embedded-postgres';
import { findTemporalBinary } from '../../platform/temporal-binaries';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { WORKFLOWS_PATH } from '../../platform/worker';
import { bundleWorkflowCode } from '@temporalio/worker';

export const TEMPLATE_DB = 'stocktake_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDb: string;
    temporalAddress: string;
    temporalTestServerPath: string;
    workflowBundlePath: string;
  }
}

/**
 * One real PostgreSQL cluster (throwaway) and one real Temporal dev server for
 * the whole run. Each test file gets its own database cloned from a migrated
 * template, and its own task queue, so files run in parallel without sharing state.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = path.resolve(import.meta.dirname, '../../.test-data');
  const dataDir = path.join(root, `pg-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
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
    server: { executable: { type: 'existing-path', path: findTemporalBinary('cli') }, ip: '127.0.0.1', log: { level: 'warn', format: 'pretty' } },
  });

  // Bundled once per run instead of once per test file's worker.
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const workflowBundlePath = path.join(root, `workflow-bundle-${process.pid}.js`);
  fs.writeFileSync(workflowBundlePath, bundle.code);

  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('pgAdminUrl', pg.adminUrl);
  project.provide('templateDb', TEMPLATE_DB);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalTestServerPath', temporalTestServerPath);

  return async () => {
    await temporal.teardown();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(workflowBundlePath, { force: true });
  };
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
