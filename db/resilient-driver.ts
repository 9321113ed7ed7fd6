import { PostgreSqlConnection, PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Configuration } from '@mikro-orm/core';
import type { Driver, PostgresDialect } from 'kysely';
import type { Pool } from 'pg';
import { trackCopyClients } from './copy';

type PoolHook = Record<string, unknown> & { onPoolCreated?: (pool: Pool) => unknown };

/**
 * PostgreSQL for MikroORM, with one repair: a connection that dies inside a
 * transaction goes back to the pool (which drops it) instead of staying
 * checked out for ever. Kysely releases a transaction's connection only
 * after ROLLBACK succeeds, and ROLLBACK on a dead connection fails, so every
 * connection lost mid-transaction (a database restart, a backend killed)
 * was lost to the pool; after ten, every request waited for good. There is
 * nothing left to roll back on a dead connection: its transaction died with it.
 * Its pool's clients are also made known to db/copy.ts, for COPY.
 */
class ResilientConnection extends PostgreSqlConnection {
  override createKyselyDialect(overrides: Parameters<PostgreSqlConnection['createKyselyDialect']>[0]): PostgresDialect {
    // Every pooled client can also take a COPY (db/copy.ts). MikroORM reads onPoolCreated from the overrides.
    const given = overrides as PoolHook | undefined;
    const withHook: PoolHook = {
      ...given,
      onPoolCreated: (pool) => {
        trackCopyClients(pool);
        return given?.onPoolCreated?.(pool);
      },
    };
    const dialect = super.createKyselyDialect(withHook as Parameters<PostgreSqlConnection['createKyselyDialect']>[0]);
    const createDriver = dialect.createDriver.bind(dialect);
    dialect.createDriver = (): Driver => {
      const driver = createDriver();
      const rollback = driver.rollbackTransaction.bind(driver);
      driver.rollbackTransaction = async (connection) => {
        try {
          await rollback(connection);
        } catch {
          // The connection is broken: released, the pool sees it is no longer queryable and destroys it.
        }
      };
      return driver;
    };
    return dialect;
  }
}

export class ResilientPostgreSqlDriver extends PostgreSqlDriver {
  constructor(config: Configuration) {
    super(config);
    (this as unknown as { connection: PostgreSqlConnection }).connection = new ResilientConnection(this.config);
  }
}
