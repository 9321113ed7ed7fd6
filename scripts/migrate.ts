import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';

/** Applies pending migrations to DATABASE_URL (or the embedded cluster under .data/). */
const db = await openDatabase(loadConfig());
const orm = await openOrm(db.url);
const applied = await migrate(orm);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
await orm.close();
await db.stop();
