import { copierFor } from '../../db/copy';
import { oneInFlight } from '../../db/one-in-flight';
import { affected, rows, sizeForBulk, sql, type Em } from '../../db/sql';
import { refuse } from '../refusal';
import { codesLookedUp, couldBreakARule, lineProblem, type CountEntryInput, type ResolvedLine } from './rules';
import { orderForSubmission, recordSubmission, refuseUnlessOpenFor, type Received } from './submission';

/**
 * A whole file of count entries as one submission: what a device that
 * counted offline, or a scanner docked at the end of a shift, sends in one
 * request. The lines arrive as the body streams in and go to PostgreSQL by
 * COPY, a batch at a time; the codes are then resolved for the whole file at
 * once and the entries written in one statement. The rules are the batches'
 * (rules.ts lineProblem), and the file is stored whole or not at all. With
 * batches.ts, the one home of `count_entry`.
 */
export const FILE_BATCH_LINES = 5_000;
/** How many bad lines a refusal lists (with the number of all of them). */
export const MAX_LISTED = 1_000;
/** Candidates for judging are read in pages of this many lines. */
const JUDGE_PAGE = 10_000;

export type EntryLine = { line: number; row: CountEntryInput } | { line: number; problem: string };

export interface EntryFile {
  submissionId: string;
  device: string;
  countedBy: string;
  /** The body's lines, checked field by field, in batches as they arrive. */
  lines: AsyncIterable<EntryLine[]>;
  /** Reads whatever is left of the body; the hash of all of it (the submission's content). */
  bodyHash(): Promise<string>;
}

const COLUMNS = ['line', 'location', 'item', 'lot', 'serial', 'handling_unit', 'owner', 'quantity', 'blocked'] as const;

export async function submitCountFile(em: Em, orderId: number, file: EntryFile): Promise<Received> {
  return em.transactional(async (tx) => {
    const { order, repeat } = await orderForSubmission(tx, orderId, file.submissionId, () => file.bodyHash());
    if (repeat) return repeat;
    refuseUnlessOpenFor(order, file.device);
    await sizeForBulk(tx);
    await affected(tx, sql`
      create temp table entry_file (line int not null, location text not null, item text not null, lot text not null, serial text not null,
                                    handling_unit text not null, owner text not null, quantity numeric not null, blocked jsonb) on commit drop`);
    const unreadable = new BadLines();
    const lines = await stageLines(tx, file.lines, unreadable);
    const hash = await file.bodyHash();
    if (lines === 0) throw refuse('InvalidCountEntries', 'the file holds no entries; nothing was stored', { lines: [], badLines: 0 });
    await resolve(tx, orderId, order.warehouse);
    const broken = await judge(tx);
    const bad = unreadable.count + broken.count;
    if (bad > 0) {
      // Both lists are in line order and hold each one's first lines: together they hold the file's first.
      const listed = [...unreadable.first, ...broken.first].sort((a, b) => a.line - b.line).slice(0, MAX_LISTED);
      const shown = listed.slice(0, 5).map((p) => `line ${p.line}: ${p.problem}`).join('; ');
      throw refuse(
        'InvalidCountEntries',
        `${bad} of ${lines} lines cannot be stored, so nothing was: ${shown}${bad > 5 ? '; ...' : ''}`,
        { lines: listed, badLines: bad },
      );
    }
    await affected(tx, sql`
      insert into count_entry (count_order_id, submission_id, line, location_id, item_id, lot, serial, handling_unit, owner,
                               quantity, blocked, counted_by)
      select ${orderId}, ${file.submissionId}, line, location_id, item_id, lot, serial, handling_unit, owner, quantity, blocked, ${file.countedBy}
      from entry_resolved order by line`);
    return recordSubmission(tx, order, { ...file, hash, entries: lines });
  });
}

/**
 * Copies the good lines into entry_file while the next batch is read
 * (db/one-in-flight.ts) and keeps the lines whose fields could not be read.
 */
async function stageLines(tx: Em, arriving: AsyncIterable<EntryLine[]>, problems: BadLines): Promise<number> {
  const copier = await copierFor(tx);
  let lines = 0;
  let batch: CountEntryLine[] = [];
  await oneInFlight(async (start) => {
    const flush = () => {
      const rowsOf = batch;
      batch = [];
      return start(async () => {
        if (rowsOf.length > 0) await copier.copy('entry_file', COLUMNS, rowsOf.map(copyRow));
      });
    };
    for await (const arrived of arriving) {
      for (const l of arrived) {
        lines++;
        if ('problem' in l) problems.add(l);
        else batch.push(l);
        if (batch.length >= FILE_BATCH_LINES) await flush();
      }
    }
    await flush();
  });
  return lines;
}

/** Bad lines as they are found, in line order: the first MAX_LISTED kept, all counted (a file of garbage costs no memory). */
class BadLines {
  readonly first: Array<{ line: number; problem: string }> = [];
  count = 0;

  add(bad: { line: number; problem: string }): void {
    this.count++;
    if (this.first.length < MAX_LISTED) this.first.push({ line: bad.line, problem: bad.problem });
  }
}

type CountEntryLine = { line: number; row: CountEntryInput };

const copyRow = ({ line, row: e }: CountEntryLine) =>
  [line, e.location, e.item, e.lot, e.serial, e.handlingUnit, e.owner, e.quantity, e.blocked ? JSON.stringify(e.blocked) : null] as const;

/**
 * entry_resolved: every line with what judging it needs, for the whole file
 * at once: its location and item (each distinct code looked up once), whether
 * the location is part of the order, the item's unit rules, what the order
 * already holds for the line's position, and what the file holds for it.
 */
async function resolve(tx: Em, orderId: number, warehouse: string): Promise<void> {
  await affected(tx, sql`
    create temp table entry_resolved on commit drop as
    with ${codesLookedUp(sql.raw('entry_file'), warehouse)}, task as (
      select distinct location_id from count_task where count_order_id = ${orderId}
    ), stored as (
      select location_id, item_id, lot, serial, handling_unit, owner, sum(quantity) as quantity
      from count_entry where count_order_id = ${orderId} group by 1, 2, 3, 4, 5, 6
    )
    select e.line, e.location, e.item, e.lot, e.serial, e.handling_unit, e.owner, e.quantity, e.blocked,
           loc.id as location_id, itm.id as item_id, t.location_id is not null as in_order,
           coalesce(itm.storage_unit, '') as unit, coalesce(itm.decimals, 0) as decimals,
           coalesce(itm.serial_tracked, false) as serial_tracked, coalesce(itm.lot_tracked, false) as lot_tracked,
           coalesce(itm.conversion_factor, 1) as conversion_factor, coalesce(itm.standard_cost, 0) as standard_cost,
           coalesce(s.quantity, 0) as stored,
           sum(e.quantity) over (partition by e.location, e.item, e.lot, e.serial, e.handling_unit, e.owner) as request_total
    from entry_file e
    join loc on loc.code = e.location
    join itm on itm.code = e.item
    left join task t on t.location_id = loc.id
    left join stored s on (s.location_id, s.item_id, s.lot, s.serial, s.handling_unit, s.owner)
                        = (loc.id, itm.id, e.lot, e.serial, e.handling_unit, e.owner)`);
}

/**
 * The lines rules.ts lineProblem refuses. Only the lines it could refuse
 * (rules.ts couldBreakARule) are read back and judged by it, however many.
 */
async function judge(tx: Em): Promise<BadLines> {
  const problems = new BadLines();
  let after = 0;
  for (;;) {
    const page = await rows(tx, sql<ResolvedLine & Omit<CountEntryInput, 'blocked'> & { blocked: Record<string, number> | null; request_total: number }>`
      select line, location, item, lot, serial, handling_unit as "handlingUnit", owner, quantity::float8 as quantity, blocked,
             location_id, item_id, in_order, unit, decimals, serial_tracked, lot_tracked,
             conversion_factor::text, standard_cost::text, stored::text, request_total::float8 as request_total
      from entry_resolved
      where line > ${after} and ${couldBreakARule}
      order by line limit ${JUDGE_PAGE}`);
    for (const r of page) {
      const problem = lineProblem({ ...r, blocked: r.blocked ?? undefined }, r, r.request_total);
      if (problem) problems.add({ line: r.line, problem });
    }
    if (page.length < JUDGE_PAGE) return problems;
    after = page[page.length - 1]!.line;
  }
}
