import { affected, one, rows, sql, type Em } from '../db/sql';
import { MAX_COUNTED_QUANTITY, MAX_INVENTORY_QUANTITY, MAX_VALUE, quantityProblem } from '../domain/quantity-bounds';
import { audit } from './audit';
import { requestHash } from './idempotency';
import { notFound, refuse } from './refusal';

/**
 * What devices report: count entries, stored in batches (submissions) that a
 * device may repeat on a flaky network. The one home of `count_submission`
 * and `count_entry`.
 */
export interface CountEntryInput {
  location: string;
  item: string;
  lot: string;
  serial: string;
  handlingUnit: string;
  owner: string;
  quantity: number;
  /** Counted blocked quantity per reason; omit when the device does not count blockings. */
  blocked?: Record<string, number>;
}

export interface Submission {
  submissionId: string;
  device: string;
  countedBy: string;
  entries: CountEntryInput[];
}

/**
 * Stores one batch of count entries, all or nothing. The submission id makes
 * a retry safe: the same id with the same content answers as the first time;
 * the same id with other content is refused. A completed order takes no new
 * entries.
 */
export async function submitCounts(
  em: Em,
  orderId: number,
  submission: Submission,
): Promise<{ submissionId: string; accepted: number; duplicate: boolean }> {
  const hash = requestHash(submission.entries);
  return em.transactional(async (tx) => {
    const order = await one(tx, sql<{ status: string; assigned_to: string | null; warehouse: string; reconciliation_id: string }>`
      select o.status, o.assigned_to, r.warehouse_code as warehouse, o.reconciliation_id
      from count_order o join reconciliation r on r.id = o.reconciliation_id where o.id = ${orderId} for update of o`);
    if (!order) throw notFound(`count order ${orderId}`);
    const prior = await one(tx, sql<{ request_hash: string; entries: number }>`
      select request_hash, entries from count_submission where count_order_id = ${orderId} and submission_id = ${submission.submissionId}`);
    if (prior) {
      if (prior.request_hash !== hash) {
        throw refuse('SubmissionIdReused', `submission ${submission.submissionId} was already received with different entries`);
      }
      return { submissionId: submission.submissionId, accepted: prior.entries, duplicate: true };
    }
    if (order.status !== 'open') {
      throw refuse('CountOrderClosed', `count order ${orderId} is ${order.status}; entries after completion are rejected`);
    }
    if (order.assigned_to && order.assigned_to !== submission.device) {
      throw refuse('CountOrderAssigned', `count order ${orderId} is assigned to device ${order.assigned_to}`);
    }
    // Stored before it is judged: a bad line throws, and the transaction takes the whole batch back.
    const resolved = await storeEntries(tx, orderId, order.warehouse, submission);
    refuseBadLines(submission.entries, resolved);
    await affected(tx, sql`insert into count_submission (count_order_id, submission_id, request_hash, entries, device)
      values (${orderId}, ${submission.submissionId}, ${hash}, ${submission.entries.length}, ${submission.device})`);
    await audit(tx, {
      reconciliationId: order.reconciliation_id,
      actor: submission.countedBy,
      action: 'count_submitted',
      subject: `count order ${orderId}`,
      after: { submissionId: submission.submissionId, entries: submission.entries.length, device: submission.device },
    });
    return { submissionId: submission.submissionId, accepted: submission.entries.length, duplicate: false };
  });
}

interface ResolvedLine {
  line: number;
  location_id: number | null;
  item_id: number | null;
  in_order: boolean;
  unit: string;
  decimals: number;
  serial_tracked: boolean;
  lot_tracked: boolean;
  conversion_factor: string;
  standard_cost: string;
  /** Quantity already stored for the same stock position in this order (entries add up). */
  stored: string;
}

const positionKey = (e: CountEntryInput) => JSON.stringify([e.location, e.item, e.lot, e.serial, e.handlingUnit, e.owner]);

/**
 * Every line resolved against master data and the order, and stored, in one
 * statement (one round trip, the batch sent once): each distinct code is
 * looked up once by its unique index (a batch names a few hundred codes;
 * joining would hash every location and item of the warehouse per batch),
 * and the quantity stored before is summed for the batch's own positions
 * only. Lines whose codes resolve are inserted with the ids found; the
 * caller judges every line on what comes back and throws on any bad one,
 * which rolls the insert back: bad lines are rare, and a valid batch then
 * costs one statement instead of two.
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
      ), loc as materialized (
        select c.code, (select l.id from location l where l.warehouse_code = ${warehouse} and l.code = c.code) as id
        from (select distinct location as code from e) c
      ), itm as materialized (
        -- Probed per code, with what the checks need. OFFSET 0 keeps the planner from turning the probes into a
        -- join, which hashed the whole item master on every request (50,000 items at a million positions).
        select c.code, i.id, i.storage_unit, i.decimals, i.serial_tracked, i.lot_tracked, i.conversion_factor, i.standard_cost
        from (select distinct item as code from e) c
        left join lateral (
          select i.id, i.storage_unit, u.decimals, i.serial_tracked, i.lot_tracked, i.conversion_factor, i.standard_cost
          from item i left join unit u on u.code = i.storage_unit where i.code = c.code offset 0) i on true
      ), task as materialized (
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
      select x.line::int, x.location_id, x.item_id, t.location_id is not null as in_order,
             coalesce(x.storage_unit, '') as unit, coalesce(x.decimals, 0) as decimals,
             coalesce(x.serial_tracked, false) as serial_tracked, coalesce(x.lot_tracked, false) as lot_tracked,
             coalesce(x.conversion_factor, 1) as conversion_factor, coalesce(x.standard_cost, 0) as standard_cost,
             -- The statement's snapshot: what was stored before this batch.
             coalesce((select sum(ce.quantity) from count_entry ce
                       where ce.count_order_id = ${orderId} and ce.location_id = x.location_id and ce.item_id = x.item_id
                         and (ce.lot, ce.serial, ce.handling_unit, ce.owner) = (x.lot, x.serial, x.handling_unit, x.owner)), 0) as stored
      from line x
      left join task t on t.location_id = x.location_id
      order by x.line`,
  );
}

/** The unit rules come from domain/quantity-bounds. All bad lines are reported at once, by line number, and nothing is stored. */
function refuseBadLines(entries: CountEntryInput[], resolved: ResolvedLine[]): void {
  const batchTotal = new Map<string, number>();
  for (const e of entries) batchTotal.set(positionKey(e), (batchTotal.get(positionKey(e)) ?? 0) + e.quantity);

  const bad: Array<{ line: number; problem: string }> = [];
  resolved.forEach((r, i) => {
    const problem = lineProblem(entries[i]!, r, batchTotal.get(positionKey(entries[i]!))!);
    if (problem) bad.push({ line: r.line, problem });
  });
  if (bad.length > 0) {
    throw refuse('InvalidCountEntries', bad.slice(0, 50).map((b) => `line ${b.line}: ${b.problem}`).join('; '), { lines: bad });
  }
}

function lineProblem(e: CountEntryInput, r: ResolvedLine, batchTotal: number): string | undefined {
  if (r.location_id === null) return `unknown location ${e.location}`;
  if (r.item_id === null) return `unknown item ${e.item}`;
  if (!r.in_order) return `location ${e.location} is not part of this count order`;
  if (r.serial_tracked && e.serial === '') return `item ${e.item} is serial-tracked: give the serial and a quantity of 0 or 1`;
  if (r.lot_tracked && e.lot === '') return `item ${e.item} is lot-tracked: give the lot`;
  const rules = { decimals: r.decimals, serialTracked: r.serial_tracked };
  const quantity = quantityProblem(e.quantity, r.unit, rules);
  if (quantity) return `item ${e.item}: ${quantity}`;
  let blockedTotal = 0;
  for (const [reason, q] of Object.entries(e.blocked ?? {})) {
    const p = quantityProblem(q, r.unit, rules);
    if (p) return `item ${e.item}, blocked ${reason}: ${p}`;
    blockedTotal += q;
  }
  if (blockedTotal > e.quantity) return `item ${e.item}: the blocked quantity ${blockedTotal} exceeds the counted quantity ${e.quantity}`;
  const total = Number(r.stored) + batchTotal;
  const inventory = total * Number(r.conversion_factor);
  if (total > MAX_COUNTED_QUANTITY || inventory > MAX_INVENTORY_QUANTITY || inventory * Number(r.standard_cost) > MAX_VALUE) {
    return `item ${e.item}: ${total} ${r.unit} at this stock position is more than the stock records can hold`;
  }
  return undefined;
}
