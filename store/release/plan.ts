import { affected, one, rows, sql, type Em } from '../../db/sql';
import { planPostings, postingKey, type BlockingCount } from '../../domain/posting-order';
import type { ReleaseResult } from '../../workflows/messages';
import { refuse } from '../refusal';

const PLAN_BATCH = 5000;

/**
 * Release, first half: refuse while anything is undecided, then write every
 * posting the release will make, in the fixed order of domain/posting-order,
 * each under a key derived from reconciliation, row and step. The caller runs
 * it in one transaction under the document lock.
 *
 * Only the rows with something to post are read and written. Every other
 * decided row had nothing to post and is processed from now on without being
 * rewritten: the stamp below makes it read so (store/rows/state.ts).
 */
export async function planRelease(em: Em, reconciliationId: string, checkpoint: () => void = () => {}): Promise<ReleaseResult> {
  const decided = await refuseUndecided(em, reconciliationId);
  const rowsToPost = await selectRowsToPlan(em, reconciliationId);
  checkpoint();
  let postings = await markRowsAndPlanTransactions(em, reconciliationId);
  let lastId = 0;
  for (;;) {
    checkpoint();
    const planned = await planBatch(em, reconciliationId, lastId);
    if (planned === undefined) break;
    lastId = planned.lastId;
    postings += planned.postings;
  }
  await affected(em, sql`update reconciliation set released_at = now() where id = ${reconciliationId}`);
  // The posting batches plan on these: fresh statistics of the postings just written (a sample, not a scan).
  await affected(em, sql`analyze posting`);
  // Every decided row is planned or has nothing to post (a release is planned once, from review).
  return { rowsToPost, postings, processedWithoutPosting: decided - rowsToPost };
}

/**
 * plan_row: the decided rows with something to post (a difference, or a
 * blocking counted other than the snapshot had it: exactly the rows
 * planPostings gives steps, as quantities are stored at posting precision),
 * found in one pass over the document's rows. The rows with a changed
 * blocking are few and collected first, into a hash the pass looks up:
 * probing the blocking table for each of a million rows cost most of the pass.
 */
async function selectRowsToPlan(em: Em, reconciliationId: string): Promise<number> {
  await affected(em, sql`
    create temp table plan_row on commit drop as
    with blocking_changed as (
      select distinct c.row_id from reconciliation_row_blocking c join reconciliation_row b on b.id = c.row_id
      where b.reconciliation_id = ${reconciliationId} and c.counted_quantity is not null and c.counted_quantity <> c.snapshot_quantity)
    select r.id, c.row_id is not null as blocking_changed
    from reconciliation_row r left join blocking_changed c on c.row_id = r.id
    where r.reconciliation_id = ${reconciliationId} and r.state = 'counted' and r.approval in ('approved', 'not_required')
      and (r.variance_quantity <> 0 or c.row_id is not null)`);
  await affected(em, sql`alter table plan_row add primary key (id)`);
  // CREATE TABLE AS reports no row count to the driver.
  return (await one(em, sql<{ n: number }>`select count(*)::int as n from plan_row`))!.n;
}

/**
 * Marks every row of plan_row posting, and plans the rows whose blockings
 * stay as they were, in the same statement. The rows are found by index
 * (`= any(array)`): a join let the planner scan the whole table, every
 * document's rows, to update a tenth of one document's. Such a
 * row posts one step, its difference as a Count transaction: IN or OUT by
 * its sign, the magnitude as quantity (domain/posting-order.ts planPostings),
 * under step 0's key (postingKey; row ids are digits and the reconciliation
 * id is escaped as there). They are nearly all rows, hence SQL;
 * test/release-plan-sql.test.ts holds it to the domain's rules.
 */
async function markRowsAndPlanTransactions(em: Em, reconciliationId: string): Promise<number> {
  return affected(em, sql`
    with marked as (
      update reconciliation_row r set state = 'posting', processed_at = null
      where r.id = any(array(select id from plan_row order by id)) and r.state = 'counted'
      returning r.id, r.variance_quantity, r.stock_position_id)
    insert into posting (key, reconciliation_id, row_id, step_index, kind, task_type, direction, quantity, reason,
                         blocked_from, blocked_to, stock_position_id, status)
    select ${encodeURIComponent(reconciliationId)} || ':' || m.id || ':0:transaction', ${reconciliationId}, m.id, 0, 'transaction', 'Count',
           case when v.quantity > 0 then 'IN' else 'OUT' end, abs(v.quantity), null, null, null, m.stock_position_id, 'pending'
    from marked m
    join plan_row p on p.id = m.id
    cross join lateral (select round(m.variance_quantity, 4) as quantity) v
    where not p.blocking_changed and v.quantity <> 0
    on conflict (key) do nothing`);
}

/**
 * Refuses while count orders are open or rows are undecided; otherwise
 * returns how many decided rows there are. The rows are counted by state and
 * approval (a grouped count, which PostgreSQL splits across workers); they
 * are listed only when some are in the way.
 */
async function refuseUndecided(em: Em, reconciliationId: string): Promise<number> {
  const open = (await one(em, sql<{ n: number }>`
    select count(*)::int as n from count_order where reconciliation_id = ${reconciliationId} and status = 'open'`))!.n;
  const groups = await rows(em, sql<{ state: string; approval: string; n: number }>`
    select state, approval, count(*)::int as n from reconciliation_row where reconciliation_id = ${reconciliationId} group by 1, 2`);
  const undecided = (g: { state: string; approval: string }) =>
    g.state === 'marked_for_recount' || g.state === 'recounting' || (g.state === 'counted' && g.approval === 'to_approve');
  if (open === 0 && !groups.some(undecided)) {
    return groups.filter((g) => g.state === 'counted' && (g.approval === 'approved' || g.approval === 'not_required')).reduce((n, g) => n + g.n, 0);
  }
  const blocking = await rows(em, sql<{ id: number; why: string }>`
    select id::int, case when state = 'counted' then 'To Approve' else replace(state, '_', ' ') end as why
    from reconciliation_row
    where reconciliation_id = ${reconciliationId}
      and (state in ('marked_for_recount', 'recounting') or (state = 'counted' and approval = 'to_approve'))
    order by id limit 100`);
  const list = blocking.map((b) => `${b.id} (${b.why})`).join(', ');
  throw refuse(
    'NotReleasable',
    `release refused: ${open > 0 ? `${open} count orders open; ` : ''}rows still undecided: ${list}${blocking.length === 100 ? ', ...' : ''}`,
    { rows: blocking },
  );
}

/** Plans the postings of one batch of the rows whose blockings changed (few), by the domain's rules; undefined when none are left. */
async function planBatch(em: Em, reconciliationId: string, afterId: number): Promise<{ lastId: number; postings: number } | undefined> {
  const batch = await rows(em, sql<{ id: number; difference: string; stock_position_id: number | null; blockings: BlockingCount[] }>`
    select r.id::int, r.variance_quantity as difference, r.stock_position_id::int,
           coalesce((select jsonb_agg(jsonb_build_object('reason', b.reason, 'expected', b.snapshot_quantity,
                                                         'counted', coalesce(b.counted_quantity, b.snapshot_quantity)))
                     from reconciliation_row_blocking b where b.row_id = r.id), '[]') as blockings
    from (select id from plan_row where blocking_changed and id > ${afterId} order by id limit ${PLAN_BATCH}) p
    join reconciliation_row r on r.id = p.id
    order by r.id`);
  if (batch.length === 0) return undefined;
  const cols = { key: [] as string[], row: [] as number[], step: [] as number[], kind: [] as string[], direction: [] as (string | null)[],
    quantity: [] as (number | null)[], reason: [] as (string | null)[], from: [] as (number | null)[], to: [] as (number | null)[], position: [] as (number | null)[] };
  for (const row of batch) {
    const steps = planPostings({
      difference: Number(row.difference),
      blockings: row.blockings.map((b) => ({ reason: b.reason, expected: Number(b.expected), counted: Number(b.counted) })),
    });
    steps.forEach((step, i) => {
      cols.key.push(postingKey(reconciliationId, row.id, i, step));
      cols.row.push(row.id);
      cols.step.push(i);
      cols.kind.push(step.kind);
      cols.position.push(row.stock_position_id);
      cols.direction.push(step.kind === 'transaction' ? step.direction : null);
      cols.quantity.push(step.kind === 'transaction' ? step.quantity : null);
      cols.reason.push(step.kind === 'blocking_correction' ? step.reason : null);
      cols.from.push(step.kind === 'blocking_correction' ? step.from : null);
      cols.to.push(step.kind === 'blocking_correction' ? step.to : null);
    });
  }
  const postings = await affected(em, sql`
    insert into posting (key, reconciliation_id, row_id, step_index, kind, task_type, direction, quantity, reason,
                         blocked_from, blocked_to, stock_position_id, status)
    select u.key, ${reconciliationId}, u.row_id, u.step, u.kind, case when u.kind = 'transaction' then 'Count' end, u.direction,
           u.quantity, u.reason, u.blocked_from, u.blocked_to, u.position, 'pending'
    from unnest(${cols.key}::text[], ${cols.row}::bigint[], ${cols.step}::int[], ${cols.kind}::text[], ${cols.direction}::text[],
                ${cols.quantity}::numeric[], ${cols.reason}::text[], ${cols.from}::numeric[], ${cols.to}::numeric[], ${cols.position}::bigint[])
      as u(key, row_id, step, kind, direction, quantity, reason, blocked_from, blocked_to, position)
    on conflict (key) do nothing`);
  return { lastId: batch[batch.length - 1]!.id, postings };
}
