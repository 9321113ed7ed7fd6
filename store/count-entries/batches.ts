import { rows, sql, type Em } from '../../db/sql';
import { requestHash } from '../idempotency';
import { refuse } from '../refusal';
import { orderForSubmission, recordSubmission, refuseUnlessOpenFor, type Received } from './submission';
import { codesLookedUp, couldBreakARule, lineProblem, type CountEntryInput, type ResolvedLine, type Submission } from './rules';

/**
 * Count entries sent in batches (submissions of up to 5,000 entries) that a
 * device may repeat on a flaky network. With files.ts, the one home of
 * `count_entry`.
 */

/**
 * Stores one batch of count entries, all or nothing. The submission id makes
 * a retry safe: the same id with the same content answers as the first time;
 * the same id with other content is refused. A completed order takes no new
 * entries.
 */
export async function submitCounts(em: Em, orderId: number, submission: Submission): Promise<Received> {
  const hash = requestHash(submission.entries);
  return em.transactional(async (tx) => {
    const { order, repeat } = await orderForSubmission(tx, orderId, submission.submissionId, () => hash);
    if (repeat) return repeat;
    refuseUnlessOpenFor(order, submission.device);
    // Stored before it is judged: a bad line throws, and the transaction takes the whole batch back.
    refuseBadLines(submission.entries, await storeEntries(tx, orderId, order.warehouse, submission));
    return recordSubmission(tx, order, { ...submission, hash, entries: submission.entries.length });
  });
}

/**
 * Every line resolved against master data and the order, and stored, in one
 * statement (one round trip, the batch sent once): each distinct code is
 * looked up once (rules.ts codesLookedUp), and the quantity stored before is summed for the batch's own positions
 * only. Lines whose codes resolve are inserted with the ids found. Only the
 * lines that could break a rule (rules.ts couldBreakARule) come back, for
 * the caller to judge and throw on, which rolls the insert back: bad lines
 * are rare, so a valid batch costs one statement that returns nothing.
 */
async function storeEntries(em: Em, orderId: number, warehouse: string, s: Submission): Promise<ResolvedLine[]> {
  const col = <T>(f: (e: CountEntryInput) => T) => s.entries.map(f);
  return rows(
    em,
    sql<ResolvedLine>`
      with e as (
        select * from unnest(${col((e) => e.location)}::text[], ${col((e) => e.item)}::text[], ${col((e) => e.lot)}::text[],
                             ${col((e) => e.serial)}::text[], ${col((e) => e.handlingUnit)}::text[], ${col((e) => e.owner)}::text[],
                             ${col((e) => String(e.quantity))}::numeric[],
                             ${col((e) => (e.blocked ? JSON.stringify(e.blocked) : null))}::jsonb[])
          with ordinality as u(location, item, lot, serial, handling_unit, owner, quantity, blocked, line)
      ), ${codesLookedUp(sql.raw('e'), warehouse)}, task as materialized (
        select distinct location_id from count_task where count_order_id = ${orderId}
      ), line as materialized (
        select e.*, l.id as location_id, itm.id as item_id, itm.storage_unit, itm.decimals, itm.serial_tracked, itm.lot_tracked,
               itm.conversion_factor, itm.standard_cost
        from e join loc l on l.code = e.location join itm on itm.code = e.item
      ), stored as (
        insert into count_entry (count_order_id, submission_id, line, location_id, item_id, lot, serial, handling_unit, owner,
                                 quantity, blocked, counted_by)
        select ${orderId}, ${s.submissionId}, line, location_id, item_id, lot, serial, handling_unit, owner, quantity, blocked, ${s.countedBy}
        from line
        -- What the columns can hold; every other rule is judged on the result.
        where location_id is not null and item_id is not null and quantity >= 0 and quantity < 1e14
      )
      select line::int, location_id, item_id, in_order, unit, decimals, serial_tracked, lot_tracked,
             conversion_factor::text, standard_cost::text, stored::text
      from (
        select x.line, x.location_id, x.item_id, t.location_id is not null as in_order, x.lot, x.quantity, x.blocked,
               -- The whole batch's quantity bounds what it holds for any one position: the condition stays a superset.
               ${batchQuantity(s.entries)}::numeric as request_total,
               coalesce(x.storage_unit, '') as unit, coalesce(x.decimals, 0) as decimals,
               coalesce(x.serial_tracked, false) as serial_tracked, coalesce(x.lot_tracked, false) as lot_tracked,
               coalesce(x.conversion_factor, 1) as conversion_factor, coalesce(x.standard_cost, 0) as standard_cost,
               -- The statement's snapshot: what was stored before this batch.
               coalesce((select sum(ce.quantity) from count_entry ce
                         where ce.count_order_id = ${orderId} and ce.location_id = x.location_id and ce.item_id = x.item_id
                           and (ce.lot, ce.serial, ce.handling_unit, ce.owner) = (x.lot, x.serial, x.handling_unit, x.owner)), 0) as stored
        from line x
        left join task t on t.location_id = x.location_id
        offset 0
      ) resolved
      where ${couldBreakARule}
      order by line`,
  );
}

const batchQuantity = (entries: CountEntryInput[]) => String(entries.reduce((sum, e) => sum + e.quantity, 0));

const positionKey = (e: CountEntryInput) => JSON.stringify([e.location, e.item, e.lot, e.serial, e.handlingUnit, e.owner]);

/** The unit rules come from domain/quantity-bounds. All bad lines are reported at once, by line number, and nothing is stored. */
function refuseBadLines(entries: CountEntryInput[], candidates: ResolvedLine[]): void {
  if (candidates.length === 0) return;
  const positionTotal = new Map<string, number>();
  for (const e of entries) positionTotal.set(positionKey(e), (positionTotal.get(positionKey(e)) ?? 0) + e.quantity);
  const bad: Array<{ line: number; problem: string }> = [];
  for (const r of candidates) {
    const entry = entries[r.line - 1]!;
    const problem = lineProblem(entry, r, positionTotal.get(positionKey(entry))!);
    if (problem) bad.push({ line: r.line, problem });
  }
  if (bad.length > 0) {
    throw refuse('InvalidCountEntries', bad.slice(0, 50).map((b) => `line ${b.line}: ${b.problem}`).join('; '), { lines: bad });
  }
}
