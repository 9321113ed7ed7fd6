import { affected, one, rows, sql, type Em } from '../db/sql';
import type { SplitPolicy } from '../domain/scope';
import { audit, auditFrom } from './audit';
import { notFound, refuse } from './refusal';
import { canCountIn } from './users';

/**
 * Count orders and their tasks: the initial count is location-based and
 * split by the document's policy; a recount is one order holding every row
 * marked for recount, at product level. The one home of `count_order` and
 * `count_task`.
 */
export interface OrdersCreated {
  round: number;
  orders: number;
  tasks: number;
  countOrderIds: number[];
}

export interface CountOrderView {
  id: number;
  reconciliationId: string;
  warehouse: string;
  round: number;
  kind: 'initial' | 'recount';
  status: 'open' | 'complete' | 'cancelled';
  assignedTo: string | null;
  tasks: number;
  completedAt: string | null;
}

/** Orders of a round, or undefined when the round has none yet (so a retried step finds what it committed). */
export async function ordersOfRound(em: Em, reconciliationId: string, round: number): Promise<OrdersCreated | undefined> {
  const r = await one(
    em,
    sql<{ ids: number[] | null; tasks: number }>`
      select array_agg(o.id::int order by o.sequence) as ids,
             (select count(*)::int from count_task t join count_order o2 on o2.id = t.count_order_id
               where o2.reconciliation_id = ${reconciliationId} and o2.round = ${round}) as tasks
      from count_order o where o.reconciliation_id = ${reconciliationId} and o.round = ${round}`,
  );
  if (!r?.ids) return undefined;
  return { round, orders: r.ids.length, tasks: r.tasks, countOrderIds: r.ids };
}

/** Initial count: one task per location with rows awaiting count, grouped into orders by the split policy. */
export async function insertInitialOrders(em: Em, reconciliationId: string, policy: SplitPolicy): Promise<OrdersCreated> {
  const groupSize = policy.kind === 'by_size' ? policy.maxLocations : 0;
  await affected(
    em,
    sql`
      with locs as (
        select distinct r.zone_id, r.location_id, z.code as zone_code, l.code as location_code
        from reconciliation_row r
        join zone z on z.id = r.zone_id
        join location l on l.id = r.location_id
        where r.reconciliation_id = ${reconciliationId} and r.state = 'awaiting_count'
      ), numbered as (
        select zone_id, location_id,
               case ${policy.kind}
                 when 'by_zone' then dense_rank() over (order by zone_code) - 1
                 when 'by_size' then (row_number() over (order by zone_code, location_code) - 1) / ${groupSize}
                 else 0
               end as seq
        from locs
      ), orders as (
        insert into count_order (reconciliation_id, round, kind, sequence, zone_id, status)
        select ${reconciliationId}, 0, 'initial', seq,
               case when ${policy.kind} = 'by_zone' then min(zone_id) end, 'open'
        from numbered group by seq
        returning id, sequence
      )
      insert into count_task (count_order_id, location_id)
      select o.id, n.location_id from numbered n join orders o on o.sequence = n.seq`,
  );
  await affected(em, sql`analyze count_task`);
  const created = await ordersOfRound(em, reconciliationId, 0);
  if (!created) throw refuse('NothingToCount', 'the snapshot has no rows to count');
  return created;
}

/** Recount: one product-level order with a task per row marked for recount; those rows move to recounting. */
export async function insertRecountOrder(em: Em, reconciliationId: string, round: number): Promise<OrdersCreated> {
  const order = await one(
    em,
    sql<{ id: number }>`
      insert into count_order (reconciliation_id, round, kind, sequence, status)
      values (${reconciliationId}, ${round}, 'recount', 0, 'open') returning id::int`,
  );
  const tasks = await affected(
    em,
    sql`
      insert into count_task (count_order_id, location_id, row_id)
      select ${order!.id}, r.location_id, r.id from reconciliation_row r
      where r.reconciliation_id = ${reconciliationId} and r.state = 'marked_for_recount'`,
  );
  if (tasks === 0) throw refuse('NothingToRecount', 'no rows are marked for recount');
  await affected(
    em,
    sql`update reconciliation_row set state = 'recounting'
        where reconciliation_id = ${reconciliationId} and state = 'marked_for_recount'`,
  );
  return (await ordersOfRound(em, reconciliationId, round))!;
}

/** Orders of a round by status (the workflow's source of truth after a lost completion signal). */
export async function roundOrders(em: Em, reconciliationId: string, round: number): Promise<{ open: number[]; complete: number[] }> {
  const list = await rows(
    em,
    sql<{ id: number; status: string }>`
      select id::int, status from count_order where reconciliation_id = ${reconciliationId} and round = ${round}`,
  );
  return {
    open: list.filter((o) => o.status === 'open').map((o) => o.id),
    complete: list.filter((o) => o.status === 'complete').map((o) => o.id),
  };
}

/** A cancelled reconciliation takes no more counts. */
export async function cancelOpenOrders(em: Em, reconciliationId: string): Promise<number> {
  return affected(em, sql`update count_order set status = 'cancelled' where reconciliation_id = ${reconciliationId} and status = 'open'`);
}

const ORDER_COLUMNS = sql`o.id::int, o.reconciliation_id as "reconciliationId", r.warehouse_code as warehouse, o.round, o.kind, o.status,
  o.assigned_to as "assignedTo", o.completed_at as "completedAt",
  (select count(*)::int from count_task t where t.count_order_id = o.id) as tasks`;
const ORDERS = sql`count_order o join reconciliation r on r.id = o.reconciliation_id`;

export async function getCountOrder(em: Em, id: number): Promise<CountOrderView> {
  const order = await one(em, sql<CountOrderView>`select ${ORDER_COLUMNS} from ${ORDERS} where o.id = ${id}`);
  if (!order) throw notFound(`count order ${id}`);
  return order;
}

export async function ordersOfReconciliation(em: Em, reconciliationId: string): Promise<CountOrderView[]> {
  return rows(em, sql<CountOrderView>`select ${ORDER_COLUMNS} from ${ORDERS}
    where o.reconciliation_id = ${reconciliationId} order by o.round, o.sequence`);
}

/** Open orders assigned to a counting principal, in the warehouses given (all when 'all'). */
export async function ordersAssignedTo(em: Em, assignee: string, warehouses: 'all' | string[]): Promise<CountOrderView[]> {
  const codes = warehouses === 'all' ? null : warehouses;
  return rows(em, sql<CountOrderView>`select ${ORDER_COLUMNS} from ${ORDERS}
    where o.assigned_to = ${assignee} and o.status = 'open' and (${codes}::text[] is null or r.warehouse_code = any(${codes}::text[]))
    order by o.created_at, o.id`);
}

export async function assignCountOrder(em: Em, id: number, device: string, user: string): Promise<CountOrderView> {
  const order = await getCountOrder(em, id);
  if (!(await canCountIn(em, device, order.warehouse))) {
    throw refuse('InvalidAssignee', `${device} is not a counter, device or manager granted warehouse ${order.warehouse}`);
  }
  const n = await affected(em, sql`
    with before as (select id, assigned_to from count_order where id = ${id} and status = 'open' for update),
    assigned as (
      update count_order o set assigned_to = ${device} from before b where o.id = b.id
      returning o.id, o.reconciliation_id)
    ${auditFrom(sql`
      select a.reconciliation_id, ${user}, 'count_order_assigned', 'count order ' || a.id,
             jsonb_build_object('assignedTo', b.assigned_to), jsonb_build_object('assignedTo', ${device}::text)
      from assigned a join before b on b.id = a.id`)}`);
  if (n === 0) throw refuse('CountOrderClosed', `count order ${id} is ${order.status} and can no longer be assigned`);
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
             r.snapshot_quantity::float8 as "expectedQuantity"
      from count_task t
      join location l on l.id = t.location_id
      join zone z on z.id = l.zone_id
      left join reconciliation_row r on r.id = t.row_id
      left join item i on i.id = r.item_id
      where t.count_order_id = ${orderId} and t.id > ${page.after}
      order by t.id limit ${page.limit}`,
  );
  // A blind count's tasks carry no expected quantity at all, not even as null.
  const cleaned = tasks.map((t) => {
    if (t.item === null) return { taskId: t.taskId, location: t.location, zone: t.zone };
    if (!order.blind) return t;
    return Object.fromEntries(Object.entries(t).filter(([k]) => k !== 'expectedQuantity'));
  });
  return { kind: order.kind, blind: order.blind, tasks: cleaned };
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
    if (order.status === 'cancelled') throw refuse('CountOrderClosed', `count order ${orderId} was cancelled`);
    if (order.assigned_to && order.assigned_to !== device) {
      throw refuse('CountOrderAssigned', `count order ${orderId} is assigned to device ${order.assigned_to}`);
    }
    const alreadyComplete = order.status === 'complete';
    if (!alreadyComplete) {
      await affected(tx, sql`update count_order set status = 'complete', completed_at = now(), completed_by = ${user} where id = ${orderId}`);
      await audit(tx, { reconciliationId: order.reconciliation_id, actor: user, action: 'count_order_completed', subject: `count order ${orderId}`, after: { device } });
    }
    return { reconciliationId: order.reconciliation_id, round: order.round, alreadyComplete };
  });
}
