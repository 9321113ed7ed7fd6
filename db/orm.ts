import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { entities } from './entities';
import { migrationsList } from './migrations';
import { ResilientPostgreSqlDriver } from './resilient-driver';

export type Orm = MikroORM;

export async function openOrm(databaseUrl: string, opts: { poolMax?: number } = {}): Promise<Orm> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, silent: true, snapshot: false },
    driver: ResilientPostgreSqlDriver,
    pool: { min: 0, max: opts.poolMax ?? 10 },
    // A request that cannot get a connection within 10 s fails (503) instead of waiting for good.
    driverOptions: { connectionTimeoutMillis: 10_000 },
    onCreateConnection: (connection) => prepareSession(connection as DatabaseConnection),
    debug: false,
    allowGlobalContext: false,
  });
}

/**
 * A worker killed mid-statement leaves its backend running the statement
 * (holding the document lock) until PostgreSQL next talks to the client;
 * checking the client every 2 s lets the retry on another worker start at
 * once. Servers before PostgreSQL 14 lack the setting and simply keep the old behaviour.
 */
async function prepareSession(connection: DatabaseConnection): Promise<void> {
  try {
    await connection.executeQuery(CompiledQuery.raw(`set client_connection_check_interval = '2s'`));
  } catch {
    // PostgreSQL < 14.
  }
}

/** Applies every pending checked-in migration; returns the names applied. */
export async function migrate(orm: Orm): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
