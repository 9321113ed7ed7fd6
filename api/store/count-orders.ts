import { createHash } from 'node:crypto';
import { affected, one, rows, sql, type Em } from '../../db/sql';
import { conflict, notFound, Problem, unprocessable } from '../problem';

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

export interface CountOrderView {
  id: number;
  reconciliationId: string;
  round: number;
  kind: 'initial' | 'recount';
  status: 'open' | 'complete' | 'cancelled';
  assignedTo: string | null;
  tasks: number;
  completedAt: string | null;
}

const ORDER_COLUMNS = sql`o.id::int, o.reconciliation_id as "reconciliationId", o.round, o.kind, o.status,
  o.assigned_to as "assignedTo", o.completed_at as "completedAt",
  (select count(*)::int from count_task t where t.count_order_id = o.id) as tasks`;

export async function getCountOrder(em: Em, id: number): Promise<CountOrderView> {
  const order = await one(em, sql<CountOrderView>`select ${ORDER_COLUMNS} from count_order o where o.id = ${id}`);
  if (!order) throw notFound(`count order ${id}`);
  return order;
}

export async function ordersOfReconciliation(em: Em, reconciliationId: string): Promise<CountOrderView[]> {
  return rows(em, sql<CountOrderView>`select ${ORDER_COLUMNS} from count_order o
    where o.reconciliation_id = ${reconciliationId} order by o.round, o.sequence`);
}

export async function ordersAssignedTo(em: Em, device: string): Promise<CountOrderView[]> {
  return rows(em, sql<CountOrderView>`select ${ORDER_COLUMNS} from count_order o
    where o.assigned_to = ${device} and o.status = 'open' order by o.created_at, o.id`);
}

export async function assignCountOrder(em: Em, id: number, device: string, user: string): Promise<CountOrderView> {
  const n = await affected(em, sql`
    with before as (select id, assigned_to from count_order where id = ${id} and status = 'open' for update),
    assigned as (
      update count_order o set assigned_to = ${device} from before b where o.id = b.id
      returning o.id, o.reconciliation_id)
    insert into audit_event (reconciliation_id, actor, action, subject, before, after)
    select a.reconciliation_id, ${user}, 'count_order_assigned', 'count order ' || a.id,
           jsonb_build_object('assignedTo', b.assigned_to), jsonb_build_object('assignedTo', ${device}::text)
    from assigned a join before b on b.id = a.id`);
  if (n === 0) {
    const order = await getCountOrder(em, id);
    throw conflict('count-order-closed', `count order ${id} is ${order.status} and can no longer be assigned`);
  }
  return getCountOrder(em, id);
}

/**
 * What the device must count. Initial orders list locations (the device
 * counts whatever it finds there); recount orders list exact stock
 * positions. Expected quantities only when the count is not blind.
 */
export async function countTasks(em: Em, orderId: number, page: { after: number; limit: number }) {
  const order = await one(em, sql<{ blind: boolean; kind: string }>`
    select r.blind_count as blind, o.kind from count_order o join reconciliation r on r.id = o.reconciliation_id
    where o.id = ${orderId}`);
  if (!order) throw notFound(`count order ${orderId}`);
  const tasks = await rows(
    em,
    sql<Record<string, unknown>>`
      select t.id::int as "taskId", l.code as location, z.code as zone,
             i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner,
             case when ${order.blind} then null else r.snapshot_quantity::float8 end as "expectedQuantity"
      from count_task t
      join location l on l.id = t.location_id
      join zone z on z.id = l.zone_id
      left join reconciliation_row r on r.id = t.row_id
      left join item i on i.id = r.item_id
      where t.count_order_id = ${orderId} and t.id > ${page.after}
      order by t.id limit ${page.limit}`,
  );
  const cleaned = tasks.map((t) => (t.item === null ? { taskId: t.taskId, location: t.location, zone: t.zone } : t));
  return { kind: order.kind, blind: order.blind, tasks: cleaned };
}

/**
 * Stores one batch of count entries. The submission id makes a retry safe:
 * the same id with the same content answers as the first time; the same id
 * with other content is refused. A completed order takes no new entries.
 */
export async function submitCounts(
  em: Em,
  orderId: number,
  submission: { submissionId: string; device: string; countedBy: string; entries: CountEntryInput[] },
): Promise<{ submissionId: string; accepted: number; duplicate: boolean }> {
  const hash = createHash('sha256').update(JSON.stringify(submission.entries)).digest('hex');
  return em.transactional(async (tx) => {
    const order = await one(tx, sql<{ status: string; assigned_to: string | null; warehouse: string }>`
      select o.status, o.assigned_to, r.warehouse_code as warehouse
      from count_order o join reconciliation r on r.id = o.reconciliation_id where o.id = ${orderId} for update of o`);
    if (!order) throw notFound(`count order ${orderId}`);
    const prior = await one(tx, sql<{ request_hash: string; entries: number }>`
      select request_hash, entries from count_submission where count_order_id = ${orderId} and submission_id = ${submission.submissionId}`);
    if (prior) {
      if (prior.request_hash !== hash) {
        throw unprocessable('submission-id-reused', `submission ${submission.submissionId} was already received with different entries`);
      }
      return { submissionId: submission.submissionId, accepted: prior.entries, duplicate: true };
    }
    if (order.status !== 'open') {
      throw conflict('count-order-closed', `count order ${orderId} is ${order.status}; entries after completion are rejected`);
    }
    if (order.assigned_to && order.assigned_to !== submission.device) {
      throw conflict('count-order-assigned', `count order ${orderId} is assigned to device ${order.assigned_to}`);
    }
    await insertEntries(tx, orderId, order.warehouse, submission);
    await affected(tx, sql`insert into count_submission (count_order_id, submission_id, request_hash, entries, device)
      values (${orderId}, ${submission.submissionId}, ${hash}, ${submission.entries.length}, ${submission.device})`);
    return { submissionId: submission.submissionId, accepted: submission.entries.length, duplicate: false };
  });
}

async function insertEntries(
  em: Em,
  orderId: number,
  warehouse: string,
  s: { submissionId: string; device: string; countedBy: string; entries: CountEntryInput[] },
): Promise<void> {
  const col = <T>(f: (e: CountEntryInput) => T) => s.entries.map(f);
  // Resolve codes and check every line against the order in one statement; report all bad lines at once.
  const problems = await rows(
    em,
    sql<{ line: number; problem: string }>`
      with e as (
        select * from unnest(${col((e) => e.location)}::text[], ${col((e) => e.item)}::text[], ${col((e) => e.serial)}::text[],
                             ${col((e) => e.lot)}::text[], ${col((e) => e.quantity)}::numeric[])
          with ordinality as u(location, item, serial, lot, quantity, line)
      )
      select e.line::int, case
          when l.id is null then 'unknown location ' || e.location
          when i.id is null then 'unknown item ' || e.item
          when not exists (select 1 from count_task t where t.count_order_id = ${orderId} and t.location_id = l.id)
            then 'location ' || e.location || ' is not part of this count order'
          when i.serial_tracked and (e.serial = '' or e.quantity > 1) then 'item ' || e.item || ' is serial-tracked: give the serial and a quantity of 0 or 1'
          when i.lot_tracked and e.lot = '' then 'item ' || e.item || ' is lot-tracked: give the lot'
        end as problem
      from e
      left join location l on l.warehouse_code = ${warehouse} and l.code = e.location
      left join item i on i.code = e.item
      order by e.line`,
  );
  const bad = problems.filter((p) => p.problem !== null);
  if (bad.length > 0) {
    throw new Problem(422, 'invalid-count-entries', 'Some count entries cannot be accepted', bad.map((b) => `line ${b.line}: ${b.problem}`).join('; '), {
      lines: bad,
    });
  }
  await affected(
    em,
    sql`
      insert into count_entry (count_order_id, submission_id, line, location_id, item_id, lot, serial, handling_unit, owner,
                               quantity, blocked, counted_by)
      select ${orderId}, ${s.submissionId}, u.line, l.id, i.id, u.lot, u.serial, u.handling_unit, u.owner, u.quantity,
             u.blocked, ${s.countedBy}
      from unnest(${col((e) => e.location)}::text[], ${col((e) => e.item)}::text[], ${col((e) => e.lot)}::text[],
                  ${col((e) => e.serial)}::text[], ${col((e) => e.handlingUnit)}::text[], ${col((e) => e.owner)}::text[],
                  ${col((e) => e.quantity)}::numeric[], ${col((e) => (e.blocked ? JSON.stringify(e.blocked) : null))}::jsonb[])
        with ordinality as u(location, item, lot, serial, handling_unit, owner, quantity, blocked, line)
      join location l on l.warehouse_code = ${warehouse} and l.code = u.location
      join item i on i.code = u.item`,
  );
}

/**
 * Marks the order complete. Completing twice is harmless: the second call
 * reports the first completion. Returns what the workflow signal needs.
 */
export async function completeCountOrder(
  em: Em,
  orderId: number,
  device: string,
  user: string,
): Promise<{ reconciliationId: string; round: number; alreadyComplete: boolean }> {
  return em.transactional(async (tx) => {
    const order = await one(tx, sql<{ status: string; reconciliation_id: string; round: number; assigned_to: string | null }>`
      select status, reconciliation_id, round, assigned_to from count_order where id = ${orderId} for update`);
    if (!order) throw notFound(`count order ${orderId}`);
    if (order.status === 'cancelled') throw conflict('count-order-closed', `count order ${orderId} was cancelled`);
    if (order.assigned_to && order.assigned_to !== device) {
      throw conflict('count-order-assigned', `count order ${orderId} is assigned to device ${order.assigned_to}`);
    }
    const alreadyComplete = order.status === 'complete';
    if (!alreadyComplete) {
      await affected(tx, sql`update count_order set status = 'complete', completed_at = now(), completed_by = ${user} where id = ${orderId}`);
    }
    return { reconciliationId: order.reconciliation_id, round: order.round, alreadyComplete };
  });
}
