import { affected, one, rows, sql, type Em } from '../../db/sql';
import type { DecisionBy, RowSelection, RowsChanged } from '../../workflows/messages';
import { audit, auditFrom } from '../audit';
import { refuse } from '../refusal';
import { ownCountsRule, refuseIneligible } from '../rows/decisions';
import { isEmptySelection, rowPredicate } from '../rows/filter';

/**
 * Rows per posting transaction; the crash tests lower it to widen the window
 * for a kill. Every batch pays a fixed cost (its statements, its progress
 * record, a durable commit): at 500 rows that was most of the release's time,
 * and 20,000 rather than 5,000 took a million-row release's posting from 7.4
 * to 6.9 s. A batch of 20,000 takes about 1.5 s: the granularity of a cancel
 * and what a crashed worker's retry does again.
 */
export const POSTING_BATCH_ROWS = Number(process.env.POSTING_BATCH_ROWS || 20_000);

/**
 * Release, second half: carry out the planned postings, one batch of rows
 * per transaction (the caller's). Exactly once because a posting flips from
 * pending to done in the same statement that moves the stock, and a movement
 * carries the posting's unique key. A worker killed mid-batch loses only
 * that batch's uncommitted transaction; the retry finds those postings still
 * pending. Order within a row is kept by executing step 0 of every row in
 * the batch, then step 1, and so on; `posting.sequence` records the order
 * actually followed.
 *
 * A row that cannot be posted (its stock would go negative, its position is
 * gone, blocked stock would exceed stock) is marked failed with the reason;
 * the other rows still post.
 *
 * Returns the batch (its last row id, its rows, how many of them failed), or
 * undefined when no row is left to post.
 */
export async function postBatch(em: Em, reconciliationId: string, afterId: number): Promise<PostedBatch | undefined> {
  // Shares the document lock a cancellation takes exclusively: no batch posts once the release has been cancelled.
  const doc = await one(em, sql<{ status: string }>`select status from reconciliation where id = ${reconciliationId} for share`);
  if (doc?.status !== 'releasing') return undefined;
  const ids = await nextRowsToPost(em, reconciliationId, afterId);
  if (ids.length === 0) return undefined;
  const rec = (await one(em, sql<{ number: number; warehouse: string; actor: string }>`
    select number::int, warehouse_code as warehouse, coalesce(released_by, 'system') as actor
    from reconciliation where id = ${reconciliationId}`))!;
  await createFoundPositions(em, ids, rec.warehouse);
  const failed = await failUnpostable(em, ids);
  // Only the steps the batch has: most rows post one transaction, and a statement that finds nothing still costs a pass.
  const steps = await rows(em, sql<{ step: number; kind: 'transaction' | 'blocking_correction' }>`
    select distinct step_index as step, kind from posting where row_id = any(${ids}::bigint[]) and status = 'pending' order by 1, 2 desc`);
  for (const { step, kind } of steps) {
    if (kind === 'transaction') await postTransactions(em, ids, step, rec);
    else await postBlockingCorrections(em, ids, step, rec.actor, reconciliationId);
  }
  await affected(em, sql`
    update reconciliation_row r set state = 'processed', processed_at = now()
    where r.id = any(${ids}::bigint[]) and r.state = 'posting'
      and not exists (select 1 from posting p where p.row_id = r.id and p.status = 'pending')`);
  return { lastId: ids[ids.length - 1]!, rows: ids.length, failed };
}

/**
 * The next rows still posting after `afterId`, in id order, locked. Found
 * through their pending postings (posting_pending_idx), not by the rows'
 * state: no index covers reconciliation_row.state (migration 0008), and a
 * row is posting only while it has pending postings (planning marks exactly
 * those; a failed row keeps its postings pending until retried or
 * withdrawn). Candidates whose row is not posting (failed, skipped) are
 * stepped over.
 */
async function nextRowsToPost(em: Em, reconciliationId: string, afterId: number): Promise<number[]> {
  for (let from = afterId; ;) {
    const candidates = await rows(em, sql<{ row_id: number }>`
      select distinct row_id::int from posting
      where reconciliation_id = ${reconciliationId} and status = 'pending' and row_id > ${from}
      order by row_id limit ${POSTING_BATCH_ROWS}`);
    if (candidates.length === 0) return [];
    const ids = candidates.map((c) => c.row_id);
    const locked = await rows(em, sql<{ id: number }>`
      select id::int from reconciliation_row where id = any(${ids}::bigint[]) and state = 'posting' order by id for update`);
    if (locked.length > 0) return locked.map((r) => r.id);
    from = ids[ids.length - 1]!;
  }
}

export interface PostedBatch {
  lastId: number;
  rows: number;
  /** Rows of the batch marked failed; the others were posted. */
  failed: number;
}

/** Stock found that had no stock position gets one (quantity 0) before its IN posting. */
async function createFoundPositions(em: Em, ids: number[], warehouse: string): Promise<void> {
  const found = await one(em, sql<{ any: boolean }>`
    select exists (select 1 from reconciliation_row where id = any(${ids}::bigint[]) and stock_position_id is null) as any`);
  if (!found!.any) return;
  await affected(em, sql`
    insert into stock_position (warehouse_code, location_id, item_id, lot, serial, handling_unit, owner, quantity)
    select ${warehouse}, r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner, 0
    from reconciliation_row r where r.id = any(${ids}::bigint[]) and r.stock_position_id is null
    on conflict on constraint stock_position_natural_key do nothing`);
  await affected(em, sql`
    update reconciliation_row r set stock_position_id = sp.id from stock_position sp
    where r.id = any(${ids}::bigint[]) and r.stock_position_id is null
      and (sp.location_id, sp.item_id, sp.lot, sp.serial, sp.handling_unit, sp.owner)
        = (r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner)`);
  await affected(em, sql`
    update posting p set stock_position_id = r.stock_position_id from reconciliation_row r
    where p.row_id = r.id and r.id = any(${ids}::bigint[]) and p.stock_position_id is null`);
}

/**
 * Judged on today's stock, set-based: what the row's pending postings would
 * leave behind. The batch's rows, their positions and pending postings are
 * each read by index for the batch alone (`= any(array)`: one ordered index
 * pass, where a join would let the planner scan every stock position), and
 * combined by hash. Only the failing rows are then updated, again found by
 * index: joining the verdicts to reconciliation_row made the planner scan
 * every row of every document per batch (about 100 ms per batch at a million).
 */
async function failUnpostable(em: Em, ids: number[]): Promise<number> {
  return affected(em, sql`
    with row_position as materialized (
      select id, stock_position_id from reconciliation_row where id = any(${ids}::bigint[])
    ), position as materialized (
      select id, quantity from stock_position
      where id = any(array(select stock_position_id from row_position where stock_position_id is not null order by 1))
    ), batch as materialized (
      select r.id, sp.id as position, sp.quantity as on_hand from row_position r left join position sp on sp.id = r.stock_position_id
    ), pending as materialized (
      select row_id, kind, direction, quantity, reason, blocked_to from posting where row_id = any(${ids}::bigint[]) and status = 'pending'
    ), delta as (
      select row_id, sum(case direction when 'IN' then quantity when 'OUT' then -quantity end) as delta
      from pending where kind = 'transaction' group by row_id
    ), blocked_today as (
      select b.id as row_id, bl.reason, bl.quantity
      from batch b cross join lateral (select reason, quantity from blocking where stock_position_id = b.position) bl
    ), blocked_after as (
      -- Each reason as the row's corrections would leave it: corrected, untouched, or newly blocked.
      select coalesce(t.row_id, c.row_id) as row_id, sum(coalesce(c.blocked_to, t.quantity)) as blocked
      from blocked_today t
      full join (select row_id, reason, blocked_to from pending where kind = 'blocking_correction') c
        on c.row_id = t.row_id and c.reason = t.reason
      group by 1
    ), verdict as (
      select b.id, case
          when b.position is null then 'the stock position no longer exists'
          when b.on_hand + coalesce(d.delta, 0) < 0
            then 'posting would drive stock negative: on hand ' || b.on_hand::float8 || ', difference ' || coalesce(d.delta, 0)::float8
          when coalesce(ba.blocked, 0) > b.on_hand + coalesce(d.delta, 0)
            then 'blocked quantity ' || ba.blocked::float8 || ' would exceed stock ' || (b.on_hand + coalesce(d.delta, 0))::float8
        end as reason
      from batch b left join delta d on d.row_id = b.id left join blocked_after ba on ba.row_id = b.id
    ), failing as materialized (
      select id, reason from verdict where reason is not null
    )
    update reconciliation_row r set state = 'failed', failure_reason = f.reason
    from failing f where r.id = f.id and r.id = any(array(select id from failing))`);
}

/**
 * The exactly-once step: pending postings of one step index and kind, for the
 * batch's rows still posting, flip to done and get their place in the order.
 * The statement that embeds this as its `done` CTE also moves the stock, so
 * both happen, or neither.
 */
function markDone(ids: number[], step: number, kind: 'transaction' | 'blocking_correction') {
  return sql`
      update posting p set status = 'done', posted_at = clock_timestamp(), sequence = nextval('posting_sequence')
      from reconciliation_row r
      where p.row_id = r.id and r.id = any(${ids}::bigint[]) and r.state = 'posting'
        and p.status = 'pending' and p.step_index = ${step} and p.kind = ${kind}`;
}

async function postTransactions(em: Em, ids: number[], step: number, rec: { number: number; actor: string }): Promise<void> {
  await affected(em, sql`
    with done as (
      ${markDone(ids, step, 'transaction')}
      returning p.key, p.reconciliation_id, p.row_id, p.stock_position_id, p.direction, p.quantity,
                case p.direction when 'IN' then p.quantity else -p.quantity end as signed
    ), moved as (
      insert into movement (stock_position_id, kind, quantity, reference, posting_key)
      select stock_position_id, 'count', signed, 'reconciliation ' || ${rec.number}::text, key from done
    ), audited as (
      ${auditFrom(sql`
        select d.reconciliation_id, ${rec.actor}, 'warehouse_transaction_posted', d.key,
               jsonb_build_object('onHand', sp.quantity),
               jsonb_build_object('onHand', sp.quantity + d.signed, 'taskType', 'Count', 'direction', d.direction, 'quantity', d.quantity)
        from done d join stock_position sp on sp.id = d.stock_position_id`)}
    )
    update stock_position sp set quantity = sp.quantity + d.signed, updated_at = now()
    from (select stock_position_id, sum(signed) as signed from done group by stock_position_id) d
    where sp.id = d.stock_position_id`);
}

async function postBlockingCorrections(em: Em, ids: number[], step: number, actor: string, reconciliationId: string): Promise<void> {
  await affected(em, sql`
    with done as (
      ${markDone(ids, step, 'blocking_correction')}
      returning p.key, p.stock_position_id, p.reason, p.blocked_from, p.blocked_to
    ), audited as (
      ${auditFrom(sql`
        select ${reconciliationId}::uuid, ${actor}, 'blocking_corrected', key,
               jsonb_build_object('reason', reason, 'blocked', (select b.quantity from blocking b
                                   where b.stock_position_id = done.stock_position_id and b.reason = done.reason)),
               jsonb_build_object('reason', reason, 'blocked', blocked_to)
        from done`)}
    )
    insert into blocking (stock_position_id, reason, quantity)
    select stock_position_id, reason, blocked_to from done
    on conflict (stock_position_id, reason) do update set quantity = excluded.quantity, updated_at = now()`);
}

export async function retryFailedRows(em: Em, reconciliationId: string, selection: RowSelection, by: DecisionBy): Promise<RowsChanged> {
  return decideOnFailed(em, reconciliationId, selection, by, sql`state = 'posting', failure_reason = null`, 'failed_row_retried');
}

export async function skipFailedRows(em: Em, reconciliationId: string, selection: RowSelection, by: DecisionBy, reason: string): Promise<RowsChanged> {
  if (!reason.trim()) throw refuse('ReasonRequired', 'a reason is required to skip rows');
  await refuseIneligible(em, reconciliationId, { ...selection, filter: { ...selection.filter, state: undefined } }, [ownCountsRule(by.user, 'skip')]);
  return decideOnFailed(em, reconciliationId, selection, by,
    sql`state = 'skipped', failure_reason = failure_reason || ' (skipped: ' || ${reason}::text || ')'`, 'failed_row_skipped');
}

async function decideOnFailed(
  em: Em,
  reconciliationId: string,
  selection: RowSelection,
  by: DecisionBy,
  assignment: ReturnType<typeof sql>,
  action: string,
): Promise<RowsChanged> {
  if (isEmptySelection(selection)) throw refuse('NoRowsSelected', 'select rows by rowIds or a filter');
  const n = await affected(em, sql`
    with changed as (
      update reconciliation_row r set ${assignment}
      where ${rowPredicate(reconciliationId, selection)} and r.state = 'failed'
      returning r.id, r.state, r.failure_reason)
    ${auditFrom(sql`
      select ${reconciliationId}::uuid, ${by.user}, ${action}, 'row ' || id, jsonb_build_object('state', 'failed'),
             jsonb_build_object('state', state, 'failureReason', failure_reason)
      from changed`)}`);
  if (n === 0) throw refuse('NoRowsSelected', 'no failed row matches the selection');
  await audit(em, { reconciliationId, actor: by.user, action: `${action}_decision`, after: { rows: n } });
  return { rows: n };
}

/**
 * Rows still to post: what the posting step is about to do. Counted through
 * their pending postings (posting_pending_idx), as nextRowsToPost finds them:
 * a release posts a tenth of a million rows, and counting by state would read all of them.
 */
export async function rowsToPost(em: Em, reconciliationId: string): Promise<number> {
  const r = await one(em, sql<{ n: number }>`
    select count(*)::int as n from reconciliation_row r
    where r.id = any(array(select distinct row_id from posting where reconciliation_id = ${reconciliationId} and status = 'pending'))
      and r.state = 'posting'`);
  return r!.n;
}

/**
 * A release cancelled part way: what was posted stays posted (it moved real
 * stock, and the adjustment order reports it); rows not posted yet, and rows
 * whose posting failed, are withdrawn with their pending postings.
 */
export async function withdrawUnposted(em: Em, reconciliationId: string): Promise<{ rowsWithdrawn: number; postingsWithdrawn: number }> {
  const postingsWithdrawn = await affected(em, sql`
    update posting set status = 'withdrawn' where reconciliation_id = ${reconciliationId} and status = 'pending'`);
  const rowsWithdrawn = await affected(em, sql`
    update reconciliation_row set state = 'withdrawn'
    where reconciliation_id = ${reconciliationId} and state in ('posting', 'failed')`);
  return { rowsWithdrawn, postingsWithdrawn };
}
