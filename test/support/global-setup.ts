import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrate, openOrm } from '../../db/orm';
import { startEmbeddedPostgres } from '../../platform/embedded-postgres';
import { findTemporalBinary } from '../../platform/temporal-binaries';
import { startTemporalDevServer } from '../../platform/temporal-dev-server';

export const TEMPLATE_DB = 'stocktake_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDb: string;
    temporalAddress: string;
    temporalTestServerPath: string;
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
  const temporal = await startTemporalDevServer({});

  project.provide('pgAdminUrl', pg.adminUrl);
  project.provide('templateDb', TEMPLATE_DB);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalTestServerPath', temporalTestServerPath);

  return async () => {
    await temporal.stop();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
