import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { one, rows, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { applied, csv, integration, positionState, postLoad, type LoadAnswer } from './support/imports';
import { useStack, type Stack } from './support/stack';

/**
 * A stock load against other writers of the book (a release posting, here a
 * transaction of the test's own): it locks only the positions it changes, and
 * the movement of a position it waited for is the difference to the quantity
 * the position had once the load got it.
 */
const HEADER = ['warehouse', 'location', 'item', 'quantity'];

/** Another writer holding a position: a transaction on its own connection. */
async function holdPosition(stack: Stack, positionId: number): Promise<pg.Client> {
  const other = new pg.Client({ connectionString: stack.db.url });
  await other.connect();
  await other.query('begin');
  await other.query('select id from stock_position where id = $1 for update', [positionId]);
  return other;
}

/** Whether any backend waits for a row lock held by another transaction. */
async function someoneWaits(stack: Stack): Promise<boolean> {
  return (await one(stack.db.orm.em.fork(), sql<{ waits: boolean }>`
    select exists (select 1 from pg_locks where not granted) as waits`))!.waits;
}

/** Resolves with the load's answer, or with 'waiting' as soon as a backend waits for a lock while the load runs. */
async function answerOrWait(stack: Stack, load: Promise<LoadAnswer>): Promise<LoadAnswer | 'waiting'> {
  let done: LoadAnswer | undefined;
  void load.then((a) => (done = a), () => {});
  for (;;) {
    if (done) return done;
    if (await someoneWaits(stack)) return 'waiting';
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ledger = (stack: Stack, positionId: number) =>
  one(stack.db.orm.em.fork(), sql<{ sum: number }>`
    select coalesce(sum(quantity), 0)::float8 as sum from movement where stock_position_id = ${positionId}`).then((r) => r!.sum);

describe('stock loads beside other writers', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm, 'L1');
    await integration(stack, 'wms-dc1');
  });

  it('does not wait for a position another transaction holds when the load leaves it as it is', async () => {
    const held = (await positionState(t.stack, 'L1', 'A-01', 'P1'))!;
    const other = await holdPosition(t.stack, held.id);
    try {
      const load = postLoad(t.stack, 'stock', csv(HEADER, [
        { warehouse: 'L1', location: 'A-01', item: 'P1', quantity: held.quantity },
        { warehouse: 'L1', location: 'A-01', item: 'BOX', quantity: 6 },
      ]), { importId: 'leaves-held-alone' });
      const answer = await answerOrWait(t.stack, load);
      expect(answer === 'waiting' ? 'the load waited for the held position' : applied(answer)).toMatchObject({ updated: 1, unchanged: 1, movements: 1 });
    } finally {
      await other.query('rollback');
      await other.end();
    }
  });

  it('writes the movement from the quantity a position has once the load gets it, when another writer changed it meanwhile', async () => {
    const before = (await positionState(t.stack, 'L1', 'A-02', 'P1'))!;
    const other = await holdPosition(t.stack, before.id);
    let load: Promise<LoadAnswer> | undefined;
    try {
      // The other writer moves 5 in, as a posting would, and holds its transaction open.
      await other.query(`insert into movement (stock_position_id, kind, quantity, reference) values ($1, 'count', 5, 'other writer')`, [before.id]);
      await other.query('update stock_position set quantity = quantity + 5 where id = $1', [before.id]);
      load = postLoad(t.stack, 'stock', csv(HEADER, [{ warehouse: 'L1', location: 'A-02', item: 'P1', quantity: 30 }]), { importId: 'after-other-writer' });
      expect(await answerOrWait(t.stack, load)).toBe('waiting');
      await other.query('commit');
    } finally {
      await other.end();
    }
    expect(applied(await load)).toMatchObject({ updated: 1, movements: 1 });
    const moved = await rows(t.stack.db.orm.em.fork(), sql<{ quantity: number }>`
      select quantity::float8 as quantity from movement where stock_position_id = ${before.id} and reference = 'import after-other-writer'`);
    expect(moved).toEqual([{ quantity: 30 - (before.quantity + 5) }]);
    expect((await positionState(t.stack, 'L1', 'A-02', 'P1'))!.quantity).toBe(30);
    expect(await ledger(t.stack, before.id)).toBe(30);
  });

  it('waits for a position whose quantity stays but whose blockings change, and moves it back to the loaded quantity if another writer changed it', async () => {
    const before = (await positionState(t.stack, 'L1', 'A-01', 'BOX'))!;
    const other = await holdPosition(t.stack, before.id);
    let load: Promise<LoadAnswer> | undefined;
    try {
      await other.query(`insert into movement (stock_position_id, kind, quantity, reference) values ($1, 'count', 2, 'other writer')`, [before.id]);
      await other.query('update stock_position set quantity = quantity + 2 where id = $1', [before.id]);
      load = postLoad(t.stack, 'stock', csv([...HEADER, 'blocked'], [
        { warehouse: 'L1', location: 'A-01', item: 'BOX', quantity: before.quantity, blocked: 'damaged=1' },
      ]), { importId: 'blockings-after-other-writer' });
      expect(await answerOrWait(t.stack, load)).toBe('waiting');
      await other.query('commit');
    } finally {
      await other.end();
    }
    expect(applied(await load)).toMatchObject({ updated: 1, movements: 1 });
    expect(await positionState(t.stack, 'L1', 'A-01', 'BOX')).toMatchObject({ quantity: before.quantity, blocked: { damaged: 1 } });
    expect(await ledger(t.stack, before.id)).toBe(before.quantity);
  });
});
