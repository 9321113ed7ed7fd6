import { parseArgs } from 'node:util';
import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { exitOnStartupFailure } from '../platform/process-lifecycle';
import { ROLES, upsertUser, type Role } from '../store/users';

/** `npm run users -- --name alice --role manager`: creates the user (or gives it a new token) and prints the token once. */
const { values } = parseArgs({ options: { name: { type: 'string' }, role: { type: 'string' } } });
if (!values.name || !ROLES.includes(values.role as Role)) {
  console.error(`usage: npm run users -- --name <name> --role ${ROLES.join('|')}`);
  process.exit(2);
}
try {
  const db = await openDatabase(loadConfig());
  const orm = await openOrm(db.url);
  await migrate(orm);
  console.log(await upsertUser(orm.em.fork(), values.name, values.role as Role));
  await orm.close();
  await db.stop();
} catch (e) {
  exitOnStartupFailure('users', e);
}
