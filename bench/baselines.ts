import { affected, one, sql, type Em } from '../db/sql';
import { rowState } from '../store/rows/state';

/**
 * The baselines of bench/run.ts: each step of a count reconciliation as one
 * would hand-write it in set-based SQL on the same schema, for a copy of the
 * document (same warehouse, same scope), with no per-batch transactions, no
 * application code in the loop and no checks beyond what the schema
 * enforces. Where Stocktake takes the data from elsewhere (device
 * submissions over HTTP), the baseline is the database's limit: the same
 * entries written by one INSERT ... SELECT. `same*` compare the two
 * documents' results; a baseline that does not produce Stocktake's result
 * is not a baseline, and the bench says so.
 */

/** The per-position bump the devices count: positions whose id ends in 0 (not serial-tracked) are one more than expected. */
export const BUMPED = sql`(r.stock_position_id % 10 = 0 and not i.serial_tracked)`;

export async function copyDocument(em: Em, reconciliationId: string): Promise<string> {
  const r = await one(em, sql<{ id: string }>`
    insert into reconciliation (id, warehouse_code, scope, split_policy, tolerance, blind_count, max_recount_rounds, count_deadline_minutes,
                                status, workflow_id, request_hash, created_by, manager_approval_limit, closed_at)
    select gen_random_uuid(), warehouse_code, scope, split_policy, tolerance, blind_count, max_recount_rounds, count_deadline_minutes,
           status, 'bench-baseline-' || gen_random_uuid(), request_hash, 'bench', manager_approval_limit,
           -- closed from the start: the copy must not stand in the way of the next run's reconciliation of the same scope
           now()
    from reconciliation where id = ${reconciliationId}
    returning id`);
  return r!.id;
}

export async function snapshot(em: Em, id: string): Promise<void> {
  await affected(em, sql`
    with ins as (
      insert into reconciliation_row (reconciliation_id, stock_position_id, origin, zone_id, location_id, item_id,
                                      lot, serial, handling_unit, owner, snapshot_quantity, state)
      select ${id}, sp.id, 'snapshot', l.zone_id, sp.location_id, sp.item_id, sp.lot, sp.serial, sp.handling_unit, sp.owner,
             sp.quantity, 'awaiting_count'
      from stock_position sp join location l on l.id = sp.location_id
      where sp.warehouse_code = (select warehouse_code from reconciliation where id = ${id})
      returning id, stock_position_id
    )
    insert into reconciliation_row_blocking (row_id, reason, snapshot_quantity)
    select ins.id, b.reason, b.quantity from ins join blocking b on b.stock_position_id = ins.stock_position_id where b.quantity > 0`);
  await affected(em, sql`update reconciliation set snapshot_at = now() where id = ${id}`);
  // As Stocktake's snapshot does (store/rows/snapshot.ts): without them the submissions baseline, when
  // autovacuum had not come by yet, took the new document for one row and ran for 52 s instead of 7.
  await affected(em, sql`analyze reconciliation_row`);
  await affected(em, sql`analyze reconciliation_row_blocking`);
}

export async function countOrders(em: Em, id: string, maxLocations: number): Promise<void> {
  await affected(em, sql`
    with locs as (
      select distinct r.location_id, z.code as zone_code, l.code as location_code
      from reconciliation_row r join location l on l.id = r.location_id join zone z on z.id = r.zone_id
      where r.reconciliation_id = ${id}
    ), numbered as (
      select location_id, (row_number() over (order by zone_code, location_code) - 1) / ${maxLocations} as seq from locs
    ), orders as (
      insert into count_order (reconciliation_id, round, kind, sequence, status)
      select ${id}, 0, 'initial', seq, 'open' from numbered group by seq
      returning id, sequence
    )
    insert into count_task (count_order_id, location_id) select o.id, n.location_id from numbered n join orders o on o.sequence = n.seq`);
  // As Stocktake does after its bulk insert: without fresh statistics the submissions baseline once
  // planned nested loops over the new orders and ran for minutes at 200,000 positions.
  await affected(em, sql`analyze count_order`);
  await affected(em, sql`analyze count_task`);
}

/** Every position counted, as the devices count them, in one statement; then every order complete. */
export async function submissions(em: Em, id: string): Promise<void> {
  await affected(em, sql`
    insert into count_entry (count_order_id, submission_id, line, location_id, item_id, lot, serial, handling_unit, owner, quantity, counted_by)
    select t.count_order_id, 'bulk', row_number() over (), r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner,
           r.snapshot_quantity + case when ${BUMPED} then 1 else 0 end, 'counter'
    from count_order o
    join count_task t on t.count_order_id = o.id
    join reconciliation_row r on r.reconciliation_id = o.reconciliation_id and r.location_id = t.location_id
    join item i on i.id = r.item_id
    where o.reconciliation_id = ${id}`);
  await affected(em, sql`
    update count_order set status = 'complete', completed_at = now(), completed_by = 'scanner'
    where reconciliation_id = ${id} and status = 'open'`);
}

/** Counts summed per position, frozen book quantity, variance and verdict (zero tolerance), blockings cut to the count. */
export async function populate(em: Em, id: string): Promise<void> {
  await affected(em, sql`
    with c as (
      select e.location_id, e.item_id, e.lot, e.serial, e.handling_unit, e.owner, sum(e.quantity) as quantity,
             max(e.counted_at) as counted_at, string_agg(distinct e.counted_by, ',') as counted_by
      from count_entry e join count_order o on o.id = e.count_order_id
      where o.reconciliation_id = ${id} and o.round = 0 and o.status = 'complete'
      group by 1, 2, 3, 4, 5, 6
    ), x as (
      select r.id, coalesce(c.quantity, 0) as counted, coalesce(c.counted_at, o.completed_at) as counted_at,
             coalesce(c.counted_by, o.completed_by) as counted_by, r.stock_position_id, r.snapshot_quantity,
             i.conversion_factor as cf, i.standard_cost as cost
      from reconciliation_row r
      join count_task t on t.location_id = r.location_id
      join count_order o on o.id = t.count_order_id and o.reconciliation_id = r.reconciliation_id and o.round = 0 and o.status = 'complete'
      join item i on i.id = r.item_id
      left join c on (c.location_id, c.item_id, c.lot, c.serial, c.handling_unit, c.owner)
                   = (r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner)
      where r.reconciliation_id = ${id} and r.state = 'awaiting_count'
    ), v as (
      select x.*, e.expected, x.counted - e.expected as variance, e.moved
      from x, reconciliation d, lateral (
        select x.snapshot_quantity + coalesce(sum(m.quantity) filter (where m.occurred_at <= x.counted_at), 0) as expected,
               count(m.id) > 0 as moved
        from movement m where m.stock_position_id = x.stock_position_id and m.occurred_at > d.snapshot_at) e
      where d.id = ${id}
    )
    -- A first count supersedes none, so row_count (the superseded counts) gets nothing.
    update reconciliation_row r set state = 'counted', counted_round = 0, counted_quantity = v.counted, expected_quantity = v.expected,
           counted_at = v.counted_at, counted_by = v.counted_by, moved_after_snapshot = v.moved,
           variance_quantity = v.variance, variance_inventory_quantity = round(v.variance * v.cf, 4),
           variance_value = round(v.variance * v.cf * v.cost, 4),
           approval = case when v.variance = 0 then 'not_required' else 'to_approve' end
    from v where r.id = v.id`);
  await affected(em, sql`
    update reconciliation_row_blocking b
    set counted_quantity = least(b.snapshot_quantity, greatest(0, r.counted_quantity - coalesce((
          select sum(o.snapshot_quantity) from reconciliation_row_blocking o
          where o.row_id = b.row_id and o.reason collate "C" < b.reason collate "C"), 0))),
        implied = r.counted_quantity < (select sum(o.snapshot_quantity) from reconciliation_row_blocking o where o.row_id = b.row_id)
    from reconciliation_row r where r.id = b.row_id and r.reconciliation_id = ${id}`);
}

/** Every row To Approve approved, each decision in the audit trail as Stocktake records it (one event per row). */
export async function approveAll(em: Em, id: string): Promise<void> {
  await affected(em, sql`
    with approved as (
      update reconciliation_row set approval = 'approved', approved_by = 'bench', approved_at = now()
      where reconciliation_id = ${id} and state = 'counted' and approval = 'to_approve'
      returning id, variance_quantity, variance_value
    )
    insert into audit_event (reconciliation_id, warehouse_code, actor, action, subject, before, after)
    select ${id}, (select warehouse_code from reconciliation where id = ${id}), 'bench', 'row_approved', 'row ' || a.id,
           jsonb_build_object('approval', 'to_approve'),
           jsonb_build_object('approval', 'approved', 'role', 'senior_manager', 'varianceQuantity', a.variance_quantity, 'varianceValue', a.variance_value)
    from approved a`);
}

/**
 * Release planning: one posting per row with a difference (the bench's counts change no blocking), those rows
 * posting; the rest read as processed once the release is stamped (store/rows/state.ts).
 */
export async function planRelease(em: Em, id: string): Promise<void> {
  await affected(em, sql`
    with planned as (
      insert into posting (key, reconciliation_id, row_id, step_index, kind, task_type, direction, quantity, stock_position_id, status)
      select ${id}::text || ':' || r.id || ':0:transaction', ${id}, r.id, 0, 'transaction', 'Count',
             case when r.variance_quantity > 0 then 'IN' else 'OUT' end, abs(r.variance_quantity), r.stock_position_id, 'pending'
      from reconciliation_row r
      where r.reconciliation_id = ${id} and r.state = 'counted' and r.approval in ('approved', 'not_required') and r.variance_quantity <> 0
      returning row_id
    )
    update reconciliation_row r set state = 'posting' from planned p where r.id = p.row_id`);
  await affected(em, sql`update reconciliation set released_at = now() where id = ${id}`);
}

/** Release posting: every posting done, its movement written, the stock moved and audited, in one statement. */
export async function post(em: Em, id: string): Promise<void> {
  await affected(em, sql`
    with done as (
      update posting p set status = 'done', posted_at = clock_timestamp(), sequence = nextval('posting_sequence')
      where p.reconciliation_id = ${id} and p.status = 'pending'
      returning p.key, p.stock_position_id, p.direction, p.quantity, case p.direction when 'IN' then p.quantity else -p.quantity end as signed
    ), moved as (
      insert into movement (stock_position_id, kind, quantity, reference, posting_key)
      select stock_position_id, 'count', signed, 'baseline', key from done
    ), audited as (
      insert into audit_event (reconciliation_id, actor, action, subject, before, after)
      select ${id}, 'bench', 'warehouse_transaction_posted', d.key, jsonb_build_object('onHand', sp.quantity),
             jsonb_build_object('onHand', sp.quantity + d.signed, 'taskType', 'Count', 'direction', d.direction, 'quantity', d.quantity)
      from done d join stock_position sp on sp.id = d.stock_position_id
    )
    update stock_position sp set quantity = sp.quantity + d.signed, updated_at = now()
    from done d where sp.id = d.stock_position_id`);
  await affected(em, sql`
    update reconciliation_row set state = 'processed', processed_at = now() where reconciliation_id = ${id} and state = 'posting'`);
}

export async function adjustmentOrder(em: Em, id: string): Promise<void> {
  const order = await one(em, sql<{ number: number }>`
    insert into adjustment_order (reconciliation_id, warehouse_code) select id, warehouse_code from reconciliation where id = ${id}
    returning number::int`);
  await affected(em, sql`
    insert into adjustment_order_line (
      order_number, line, row_id, warehouse_code, location, item, lot, serial, handling_unit, storage_unit, inventory_unit,
      stock_point_inventory_su, actual_inventory_su, variance_su, stock_point_inventory_iu, actual_inventory_iu, variance_iu,
      reason, adjustment_date, approval, adjustment_price, adjustment_amount, ownership, owner, processed)
    select ${order!.number}::bigint, row_number() over (order by z.code, l.code, i.code, r.lot, r.serial, r.handling_unit, r.owner, r.id),
           r.id, rec.warehouse_code, l.code, i.code, r.lot, r.serial, r.handling_unit, i.storage_unit, i.inventory_unit,
           r.expected_quantity, r.counted_quantity, r.variance_quantity,
           r.expected_quantity * i.conversion_factor, r.counted_quantity * i.conversion_factor, r.variance_quantity * i.conversion_factor,
           'cycle count reconciliation ' || rec.number, current_date, r.approval,
           i.standard_cost, round(i.standard_cost * r.variance_quantity * i.conversion_factor, 4),
           case when r.owner = '' then 'company_owned' else 'customer_owned' end, r.owner, true
    from reconciliation_row r join reconciliation rec on rec.id = r.reconciliation_id
    join item i on i.id = r.item_id join location l on l.id = r.location_id join zone z on z.id = r.zone_id
    where r.reconciliation_id = ${id} and r.state = 'processed' and r.variance_quantity <> 0`);
}

/**
 * Rows in one document's result and not in the other's (both ways), for
 * a projection keyed by what the two documents share (stock positions,
 * codes), never by their own ids.
 */
async function symmetricDifference(em: Em, projection: (id: string) => ReturnType<typeof sql>, a: string, b: string): Promise<number> {
  const r = await one(em, sql<{ n: number }>`
    select ((select count(*) from (${projection(a)} except all ${projection(b)}) x)
          + (select count(*) from (${projection(b)} except all ${projection(a)}) y))::int as n`);
  return r!.n;
}

const rowsOf = (columns: ReturnType<typeof sql>) => (id: string) =>
  sql`select ${columns} from reconciliation_row r where r.reconciliation_id = ${id}`;
/** The rows' states as readers see them, not as stored. */
const statesOf = (id: string) => sql`select r.stock_position_id, ${rowState(id)} from reconciliation_row r where r.reconciliation_id = ${id}`;

/** What each phase must leave identical in both documents. */
export const SAME: Record<string, Array<(id: string) => ReturnType<typeof sql>>> = {
  snapshot: [
    rowsOf(sql`r.stock_position_id, r.origin, r.zone_id, r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner, r.snapshot_quantity, r.state`),
    (id) => sql`select r.stock_position_id, b.reason, b.snapshot_quantity from reconciliation_row_blocking b
                join reconciliation_row r on r.id = b.row_id where r.reconciliation_id = ${id}`,
  ],
  countOrders: [
    (id) => sql`select o.round, o.sequence, o.kind, t.location_id from count_order o join count_task t on t.count_order_id = o.id
                where o.reconciliation_id = ${id}`,
  ],
  submissions: [
    (id) => sql`select e.location_id, e.item_id, e.lot, e.serial, e.handling_unit, e.owner, sum(e.quantity) as quantity
                from count_entry e join count_order o on o.id = e.count_order_id where o.reconciliation_id = ${id}
                group by 1, 2, 3, 4, 5, 6`,
    (id) => sql`select status, count(*) from count_order where reconciliation_id = ${id} group by 1`,
  ],
  populate: [
    rowsOf(sql`r.stock_position_id, r.state, r.counted_round, r.counted_quantity, r.expected_quantity, r.variance_quantity,
               r.variance_inventory_quantity, r.variance_value, r.approval, r.moved_after_snapshot`),
    (id) => sql`select r.stock_position_id, b.reason, b.snapshot_quantity, b.counted_quantity, b.implied from reconciliation_row_blocking b
                join reconciliation_row r on r.id = b.row_id where r.reconciliation_id = ${id}`,
    (id) => sql`select r.stock_position_id, c.round, c.counted_quantity, c.expected_quantity from row_count c
                join reconciliation_row r on r.id = c.row_id where r.reconciliation_id = ${id}`,
  ],
  approve: [
    rowsOf(sql`r.stock_position_id, r.approval, r.approved_by is not null`),
    (id) => sql`select r.stock_position_id, a.actor, a.before, a.after from audit_event a
                join reconciliation_row r on r.reconciliation_id = a.reconciliation_id and a.subject = 'row ' || r.id
                where a.reconciliation_id = ${id} and a.action = 'row_approved'`,
  ],
  planRelease: [
    statesOf,
    (id) => sql`select r.stock_position_id, p.step_index, p.kind, p.direction, p.quantity, p.reason, p.blocked_to, p.status
                from posting p join reconciliation_row r on r.id = p.row_id where p.reconciliation_id = ${id}`,
  ],
  post: [
    statesOf,
    (id) => sql`select r.stock_position_id, p.step_index, p.kind, p.direction, p.quantity, p.status
                from posting p join reconciliation_row r on r.id = p.row_id where p.reconciliation_id = ${id}`,
    (id) => sql`select m.stock_position_id, m.quantity from movement m join posting p on p.key = m.posting_key where p.reconciliation_id = ${id}`,
  ],
  adjustmentOrder: [
    (id) => sql`select l.line, l.location, l.item, l.lot, l.serial, l.handling_unit, l.variance_su, l.variance_iu, l.adjustment_amount,
                       l.approval, l.processed
                from adjustment_order_line l join adjustment_order o on o.number = l.order_number where o.reconciliation_id = ${id}`,
  ],
};

/** Number of result rows on which the two documents differ after `phase` (0: identical). */
export async function differences(em: Em, phase: keyof typeof SAME, a: string, b: string): Promise<number> {
  let n = 0;
  for (const projection of SAME[phase]!) n += await symmetricDifference(em, projection, a, b);
  return n;
}
