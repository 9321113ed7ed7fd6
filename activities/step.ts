import { CancelledFailure, Context } from '@temporalio/activity';
import type { Orm } from '../db/orm';
import { one, sizeForBulk, sql, type Em } from '../db/sql';

/** Well inside the 10 s heartbeat timeout the workflow sets, so a live step is never mistaken for a dead one. */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs one step of work in one transaction, as an activity that heartbeats
 * while its statements run (a dead worker is noticed within the heartbeat
 * timeout) and stops when cancelled: the running statement is cancelled in
 * PostgreSQL, the transaction rolls back, nothing of the step remains.
 * `checkpoint` throws once cancellation was requested; call it between
 * batches. Outside an activity (benchmarks, scripts) it is a plain transaction.
 */
export async function inStep<T>(orm: Orm, work: (em: Em, checkpoint: () => void) => Promise<T>): Promise<T> {
  const ctx = activityContext();
  let cancelled: unknown;
  const checkpoint = () => {
    if (cancelled !== undefined) throw cancelled;
  };
  return orm.em.fork().transactional(async (em) => {
    await sizeForBulk(em);
    if (!ctx) return work(em, checkpoint);
    const backend = (await one(em, sql<{ pid: number }>`select pg_backend_pid() as pid`))!.pid;
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
    ctx.cancelled.catch((reason: unknown) => {
      cancelled = reason instanceof Error ? reason : new CancelledFailure(String(reason));
      void cancelStatement(orm, backend);
    });
    try {
      const result = await work(em, checkpoint);
      // Cancelled after the last statement: roll back rather than commit what the workflow no longer wants.
      checkpoint();
      return result;
    } catch (e) {
      // A statement we cancelled fails with query_canceled; the cancellation is the truth.
      checkpoint();
      throw e;
    } finally {
      clearInterval(beat);
    }
  });
}

/** Heartbeats while `work` runs, for activities that commit in several transactions of their own. */
export async function heartbeating<T>(work: (checkpoint: () => void) => Promise<T>): Promise<T> {
  const ctx = activityContext();
  let cancelled: unknown;
  ctx?.cancelled.catch((reason: unknown) => {
    cancelled = reason instanceof Error ? reason : new CancelledFailure(String(reason));
  });
  const beat = ctx ? setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await work(() => {
      if (cancelled !== undefined) throw cancelled;
    });
  } finally {
    clearInterval(beat);
  }
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

async function cancelStatement(orm: Orm, backend: number): Promise<void> {
  try {
    await one(orm.em.fork(), sql`select pg_cancel_backend(${backend})`);
  } catch {
    // The connection or the server is gone: the transaction is gone with it.
  }
}
