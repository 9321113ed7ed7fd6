import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { flow } from './flow';
import { startStack, type Stack } from './stack';

/**
 * A database that keeps dropping the connection of whoever works on one
 * reconciliation: the document lock is held from outside, and every backend
 * that waits for it is terminated (as a PostgreSQL restart or failover
 * would), until `request` answers. Returns the answer and how many
 * connections were dropped.
 */
export async function whileConnectionsDrop<T>(stack: Stack, reconciliationId: string, request: () => Promise<T>): Promise<{ answer: T; dropped: number }> {
  const holder = new pg.Client({ connectionString: stack.db.url });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query('select 1 from reconciliation where id = $1 for update', [reconciliationId]);
    let answer: { value: T } | undefined;
    let failure: unknown;
    const pending = request().then(
      (value) => (answer = { value }),
      (e: unknown) => (failure = e ?? new Error('request failed')),
    );
    let dropped = 0;
    while (!answer && failure === undefined) {
      // pg_stat_activity is a snapshot per transaction: refresh it.
      await holder.query('select pg_stat_clear_snapshot()');
      const waiting = await holder.query<{ pid: number }>(
        `select pid from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'
           and query ilike '%from reconciliation where id%for update%'`,
      );
      for (const w of waiting.rows) {
        await holder.query('select pg_terminate_backend($1)', [w.pid]);
        dropped++;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await pending;
    if (failure !== undefined) throw failure;
    return { answer: answer!.value, dropped };
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
  }
}

/**
 * Pool connections checked out and not given back. Only meaningful while no
 * request or activity is running.
 */
export async function checkedOutConnections(stack: Stack): Promise<number> {
  const pool = (await (stack.db.orm.em.getConnection() as unknown as { getNativeClient(): Promise<pg.Pool> }).getNativeClient());
  return pool.totalCount - pool.idleCount;
}

/**
 * Like useStack, for files that make the database drop connections: a pool
 * that leaked connections can keep the stack from closing, which must not
 * hang the run (the leak itself is asserted by a test), so closing is
 * bounded and reported.
 */
export function useOutageStack<T>(setup: (stack: Stack) => Promise<T>) {
  const ctx = {} as { stack: Stack; f: ReturnType<typeof flow>; fixture: T };
  beforeAll(async () => {
    ctx.stack = await startStack();
    ctx.f = flow(ctx.stack);
    ctx.fixture = await setup(ctx.stack);
  }, 300_000);
  afterAll(async () => {
    if (!ctx.stack) return;
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      ctx.stack.close().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 5_000))),
    ]);
    clearTimeout(timer);
    if (!closed) console.warn('outage stack: did not close within 5 s (pool connections still checked out)');
  }, 30_000);
  return ctx;
}
