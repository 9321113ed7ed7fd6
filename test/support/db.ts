import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { openOrm, type Orm } from '../../db/orm';

export interface TestDatabase {
  url: string;
  orm: Orm;
  close(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file, cloned from the template. */
export async function freshDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = await openOrm(adminUrl, { poolMax: 1 });
  try {
    await admin.em.getConnection().execute(`create database ${name} template ${inject('templateDb')}`);
  } finally {
    await admin.close();
  }
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const orm = await openOrm(url);
  return { url, orm, close: () => orm.close() };
}
