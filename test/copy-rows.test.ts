import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copierFor, copyText } from '../db/copy';
import { affected, rows, sql } from '../db/sql';
import { freshDatabase, type TestDatabase } from './support/db';

/** COPY on the connection of a MikroORM transaction (db/copy.ts), against a real PostgreSQL. */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
  await db.orm.em.getConnection().execute('create table copied (id int, note text)');
}, 60_000);

afterAll(() => db?.close());

const awkward = ['tab\there', 'two\nlines', 'back\\slash', 'carriage\rreturn', '\\N', ''];

describe('COPY inside a transaction', () => {
  it('writes text with tabs, line breaks and backslashes, and nulls, as given', async () => {
    const read = await db.orm.em.fork().transactional(async (tx) => {
      const copier = await copierFor(tx);
      await copier.copy('copied', ['id', 'note'], [...awkward.map((note, i) => [i, note] as const), [99, null]]);
      return rows(tx, sql<{ id: number; note: string | null }>`select id, note from copied order by id`);
    });
    expect(read).toEqual([...awkward.map((note, id) => ({ id, note })), { id: 99, note: null }]);
  });

  it('is taken back with the transaction it ran in', async () => {
    const em = db.orm.em.fork();
    await affected(em, sql`truncate copied`);
    await expect(
      em.transactional(async (tx) => {
        await (await copierFor(tx)).copy('copied', ['id', 'note'], [[1, 'kept?']]);
        throw new Error('refused after the copy');
      }),
    ).rejects.toThrow('refused after the copy');
    expect(await rows(em, sql`select * from copied`)).toEqual([]);
  });

  it('fails the statement, not the process, on a value the column cannot hold', async () => {
    await expect(
      db.orm.em.fork().transactional(async (tx) => (await copierFor(tx)).copy('copied', ['id', 'note'], [['not a number', 'x']])),
    ).rejects.toThrow(/invalid input syntax for type integer/);
  });
});

describe('COPY text format', () => {
  it('escapes the characters COPY reads as separators or escapes', () => {
    expect(copyText([['a\tb', 'c\nd', 'e\\f', null, 3]])).toBe('a\\tb\tc\\nd\te\\\\f\t\\N\t3\n');
  });
});
