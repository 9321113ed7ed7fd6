import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { exitOnStartupFailure } from '../platform/process-lifecycle';

/** Applies pending migrations to DATABASE_URL (or the embedded cluster under .data/); a failure is one sentence. */
try {
  const db = await openDatabase(loadConfig());
  const orm = await openOrm(db.url);
  const applied = await migrate(orm);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
  await orm.close();
  await db.stop();
} catch (e) {
  exitOnStartupFailure('migrate', e);
}
