import type { RawBuilder } from 'kysely';
import { affected, one, sql, type Em } from '../../db/sql';
import type { TolerancePolicy } from '../../domain/tolerance';
import { createToleranceRules, varianceJoins } from './variance-sql';

export interface PopulateResult {
  round: number;
  rowsCounted: number;
  foundRows: number;
  toApprove: number;
}

/**
 * Populate Counted Quantities for one round. The caller runs it in one
 * transaction under the document lock, so a retry either sees nothing done
 * or everything done (it re-derives the same values from the same, by now
 * closed, count entries). `checkpoint` is called between statements and throws
 * when the step was cancelled.
 *
 * Semantics: entries for one stock position in one round add up (a device may
 * scan a position in several passes). A row the round had to count with no
 * entry was counted as zero: its location was counted and the stock not found.
 * Expected quantity = snapshot quantity + movements on the stock position
 * between the snapshot and the count (the frozen book quantity), so a receipt
 * posted after the count does not change the count's variance.
 */
export async function populateRound(
  em: Em,
  r: { reconciliationId: string; round: number; tolerance: TolerancePolicy; snapshotAt: string },
  checkpoint: () => void = () => {},
): Promise<PopulateResult> {
  await aggregateRoundCounts(em, r.reconciliationId, r.round);
  await selectRoundRows(em, r.reconciliationId, r.round);
  // Temp tables have no statistics until analysed; without them the planner guesses badly at 10^5+ rows.
  for (const table of ['round_count', 'round_blocked', 'round_row']) await affected(em, sql`analyze ${sql.table(table)}`);
  checkpoint();
  await affected(em, sql`create temp table round_result on commit drop as ${resultsOf(sql`round_row`)}`);
  const foundRows = await addFoundRows(em, r.reconciliationId);
  await freezeBookQuantities(em, r.snapshotAt);
  checkpoint();
  await createToleranceRules(em, r.tolerance);
  const { rowsCounted, toApprove } = await writeRoundResults(em, r.reconciliationId, r.round);
  await writeCountedBlockings(em);
  // Approval and variance just changed for every decided row: the review's filters plan on these statistics.
  await affected(em, sql`analyze reconciliation_row`);
  return { round: r.round, rowsCounted, foundRows, toApprove };
}

/** round_count: the round's entries summed per stock position; round_blocked: counted blocked quantity per reason. */
async function aggregateRoundCounts(em: Em, reconciliationId: string, round: number): Promise<void> {
  await affected(
    em,
    sql`
      create temp table round_count on commit drop as
      select e.location_id, e.item_id, e.lot, e.serial, e.handling_unit, e.owner,
             sum(e.quantity) as quantity, max(e.counted_at) as counted_at,
             string_agg(distinct e.counted_by, ',') as counted_by,
             bool_or(e.blocked is not null) as blocked_reported
      from count_entry e join count_order o on o.id = e.count_order_id
      where o.reconciliation_id = ${reconciliationId} and o.round = ${round} and o.status = 'complete'
      group by 1, 2, 3, 4, 5, 6`,
  );
  await affected(
    em,
    sql`
      create temp table round_blocked on commit drop as
      select e.location_id, e.item_id, e.lot, e.serial, e.handling_unit, e.owner, b.key as reason,
             sum(b.value::numeric) as quantity
      from count_entry e join count_order o on o.id = e.count_order_id
      cross join lateral jsonb_each_text(e.blocked) b
      where o.reconciliation_id = ${reconciliationId} and o.round = ${round} and o.status = 'complete'
        and e.blocked is not null
      group by 1, 2, 3, 4, 5, 6, 7`,
  );
}

/**
 * round_row: every row this round decides (found stock is added later), with
 * the fallback count time (order completion) when no entry exists. A round
 * has one task per location (initial count) or per row (recount)
 * (store/count-orders.ts), so each row comes once; the unique index on
 * round_result (row_id) would fail the step if that ever changed.
 */
async function selectRoundRows(em: Em, reconciliationId: string, round: number): Promise<void> {
  await affected(
    em,
    sql`
      create temp table round_row on commit drop as
        -- Location tasks (initial count) decide every row awaiting count in their location ...
        select r.id as row_id, o.completed_at, o.completed_by
        from count_order o
        join count_task t on t.count_order_id = o.id and t.row_id is null
        join reconciliation_row r on r.reconciliation_id = o.reconciliation_id and r.location_id = t.location_id
        where o.reconciliation_id = ${reconciliationId} and o.round = ${round} and o.status = 'complete'
          and r.state = 'awaiting_count'
        union all
        -- ... product tasks (recount) decide exactly their row.
        select r.id, o.completed_at, o.completed_by
        from count_order o
        join count_task t on t.count_order_id = o.id
        join reconciliation_row r on r.id = t.row_id
        where o.reconciliation_id = ${reconciliationId} and o.round = ${round} and o.status = 'complete'
          and r.state = 'recounting'`,
  );
}

/**
 * Stock found that the snapshot did not expect becomes a row with expected 0,
 * decided in this round. An entry that met a decided row is not found stock,
 * so when every entry met one (the usual count) the search among all the
 * document's rows is skipped.
 */
async function addFoundRows(em: Em, reconciliationId: string): Promise<number> {
  const unmatched = await one(em, sql<{ n: number }>`
    select ((select count(*) from round_count) - (select count(*) from round_result where has_entry))::int as n`);
  if (unmatched!.n === 0) return 0;
  await affected(em, sql`create temp table found_row (row_id bigint primary key) on commit drop`);
  const found = await affected(
    em,
    sql`
      with inserted as (
        insert into reconciliation_row (reconciliation_id, stock_position_id, origin, zone_id, location_id, item_id,
                                        lot, serial, handling_unit, owner, snapshot_quantity, state)
        select ${reconciliationId}, sp.id, 'found', l.zone_id, c.location_id, c.item_id,
               c.lot, c.serial, c.handling_unit, c.owner, 0, 'counted'
        from round_count c
        join location l on l.id = c.location_id
        left join stock_position sp on (sp.location_id, sp.item_id, sp.lot, sp.serial, sp.handling_unit, sp.owner)
                                     = (c.location_id, c.item_id, c.lot, c.serial, c.handling_unit, c.owner)
        where not exists (
          select 1 from reconciliation_row r
          where r.reconciliation_id = ${reconciliationId}
            and (r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner)
              = (c.location_id, c.item_id, c.lot, c.serial, c.handling_unit, c.owner))
        returning id
      )
      insert into found_row select id from inserted`,
  );
  if (found > 0) {
    await affected(em, sql`insert into round_result ${resultsOf(sql`(select row_id, now() as completed_at, null::text as completed_by from found_row)`)}`);
  }
  return found;
}

/**
 * round_result: per decided row, the count, the frozen book quantity and the
 * item data the verdict needs, in a narrow temp table, so the wide
 * reconciliation_row is updated once per row. `decided` gives row_id and the
 * fallback count time and counter (the order's completion) for a row no
 * entry met.
 */
function resultsOf(decided: RawBuilder<unknown>) {
  return sql`
    select rr.row_id, r.stock_position_id, coalesce(c.quantity, 0) as counted, coalesce(c.counted_at, rr.completed_at) as counted_at,
           coalesce(c.counted_by, rr.completed_by) as counted_by, r.snapshot_quantity as expected, false as moved,
           i.code as item_code, i.conversion_factor, i.standard_cost, c.location_id is not null as has_entry
    from ${decided} rr
    join reconciliation_row r on r.id = rr.row_id
    join item i on i.id = r.item_id
    left join round_count c
      on (c.location_id, c.item_id, c.lot, c.serial, c.handling_unit, c.owner)
       = (r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner)`;
}

/**
 * The frozen book quantity adds the position's movements since the
 * snapshot. Those are few beside the rows (a count freezes the book for
 * days, not years), so they are read once, through the BRIN index on the
 * time movements are appended in (migration 0009), and joined by hash,
 * rather than probed for each of a million rows.
 */
async function freezeBookQuantities(em: Em, snapshotAt: string): Promise<void> {
  await affected(em, sql`
    create temp table round_moved on commit drop as
    select stock_position_id, occurred_at, quantity from movement where occurred_at > ${snapshotAt}::timestamptz`);
  await affected(em, sql`analyze round_moved`);
  await affected(em, sql`
    update round_result x set expected = x.expected + m.until_count, moved = true
    from (select x.row_id, coalesce(sum(m.quantity) filter (where m.occurred_at <= x.counted_at), 0) as until_count
          from round_result x join round_moved m on m.stock_position_id = x.stock_position_id
          group by x.row_id) m
    where x.row_id = m.row_id`);
  await affected(em, sql`create unique index on round_result (row_id)`);
  await affected(em, sql`analyze round_result`);
}

/**
 * The row carries its latest count, its variance and its verdict, judged in
 * the same statement by the domain's rules in SQL (./variance-sql). row_count
 * keeps the counts a recount superseded, archived here before the row takes
 * the new one. A first count archives nothing, so the initial round writes
 * the million rows once, not twice (the row detail reads both,
 * store/rows/queries.ts rowDetail).
 */
async function writeRoundResults(em: Em, reconciliationId: string, round: number): Promise<{ rowsCounted: number; toApprove: number }> {
  if (round > 0) {
    await affected(
      em,
      sql`
        insert into row_count (row_id, round, counted_quantity, expected_quantity, counted_at, counted_by)
        select r.id, r.counted_round, r.counted_quantity, r.expected_quantity, r.counted_at, r.counted_by
        from round_result x join reconciliation_row r on r.id = x.row_id
        where r.counted_round is not null
        on conflict (row_id, round) do nothing`,
    );
  }
  const written = await one(
    em,
    sql<{ rowsCounted: number; toApprove: number }>`
      with written as (
        update reconciliation_row r set
          state = 'counted', counted_round = ${round},
          counted_quantity = x.counted, expected_quantity = x.expected,
          counted_at = x.counted_at, counted_by = x.counted_by, moved_after_snapshot = x.moved,
          variance_quantity = v.quantity, variance_inventory_quantity = v.inventory_quantity,
          variance_value = v.value, approval = v.approval,
          approved_by = null, approved_at = null
        from round_result x ${varianceJoins('x')}
        where r.id = x.row_id and r.reconciliation_id = ${reconciliationId}
        returning r.approval
      )
      select count(*)::int as "rowsCounted", (count(*) filter (where approval = 'to_approve'))::int as "toApprove" from written`,
  );
  return written!;
}

/**
 * Counted blocked quantity per reason. A count that reported no blockings
 * leaves them as the snapshot had them, unless less was counted than was
 * blocked: blocked stock cannot exceed the stock there, so the blockings are
 * cut to the counted quantity (domain/blocking-correction.ts, the same rule)
 * and marked implied, for the approver to see. A count that reported
 * blockings makes every reason it left out zero.
 */
async function writeCountedBlockings(em: Em): Promise<void> {
  await affected(
    em,
    sql`update reconciliation_row_blocking b
        set counted_quantity = least(b.snapshot_quantity, greatest(0, x.counted - coalesce((
              select sum(o.snapshot_quantity) from reconciliation_row_blocking o
              where o.row_id = b.row_id and o.reason collate "C" < b.reason collate "C"), 0))),
            implied = x.counted < (select sum(o.snapshot_quantity) from reconciliation_row_blocking o where o.row_id = b.row_id)
        from round_result x
        where b.row_id = x.row_id`,
  );
  await affected(
    em,
    sql`
      update reconciliation_row_blocking b set counted_quantity = 0, implied = false
      from round_result rr
      join reconciliation_row r on r.id = rr.row_id
      join round_count c on c.blocked_reported
        and (c.location_id, c.item_id, c.lot, c.serial, c.handling_unit, c.owner)
          = (r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner)
      where b.row_id = r.id`,
  );
  await affected(
    em,
    sql`
      insert into reconciliation_row_blocking (row_id, reason, snapshot_quantity, counted_quantity)
      select r.id, rb.reason, 0, rb.quantity
      from round_result rr
      join reconciliation_row r on r.id = rr.row_id
      join round_blocked rb
        on (rb.location_id, rb.item_id, rb.lot, rb.serial, rb.handling_unit, rb.owner)
         = (r.location_id, r.item_id, r.lot, r.serial, r.handling_unit, r.owner)
      on conflict (row_id, reason) do update set counted_quantity = excluded.counted_quantity`,
  );
}
