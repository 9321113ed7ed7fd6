import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, type RawBuilder } from 'kysely';

export { sql };
export type Em = EntityManager;

/**
 * Runs one set-based statement on the entity manager's connection (inside its
 * transaction when `em` is transactional). Parameters bind natively ($n), so
 * arrays go to PostgreSQL as arrays.
 */
export async function rows<T>(em: Em, query: RawBuilder<T>): Promise<T[]> {
  const result = await query.execute(em.getKysely());
  return result.rows;
}

export async function one<T>(em: Em, query: RawBuilder<T>): Promise<T | undefined> {
  return (await rows(em, query))[0];
}

/** Number of rows an INSERT/UPDATE/DELETE touched. */
export async function affected(em: Em, query: RawBuilder<unknown>): Promise<number> {
  const result = await query.execute(em.getKysely());
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Memory for each sort and hash of the bulk statements in this transaction.
 * PostgreSQL's default, 4 MB, spills a join or aggregate over a million rows
 * to disk in 16 batches. Local to the transaction; durability is untouched.
 */
export async function sizeForBulk(em: Em): Promise<void> {
  await affected(em, sql`set local work_mem = '64MB'`);
}
