import { affected, one, rows, sql, type Em } from '../../db/sql';
import { refuse } from '../refusal';
import { selectionWhere } from '../levels';
import { BOOK } from '../systems';
import { createKeyTable, gatherEvidenceFigures, indexKeyTable, judgeKeys, normalizedEvents, writeEvidence } from './keys';
import { loadRunContext, type RunContext } from './run-context';

/** Lines in these states are settled or on their way: a refresh cannot judge them again. */
const NOT_REFRESHABLE = ['deleted', 'processing', 'processed'];

export interface RefreshResult {
  /** Lines whose difference is now within tolerance: state `disappeared`. */
  disappeared: number[];
  /** Lines that still differ, with their new figures and evidence. */
  remaining: number[];
}

/**
 * Refresh: re-judge chosen lines of a compared run against what is true now,
 * in the caller's transaction (which holds the run's lock).
 *
 * - The book's side (when a source is `book`) is recomputed for the line's key
 *   from the stock records now (available = stock − blocked; each blocking
 *   reason in its mapped category, unavailable when unmapped; per location, or
 *   the whole warehouse inside the run's selection when comparing per
 *   warehouse), as captureBookLevels reports it.
 * - An external side keeps the quantity it reported, moved on by the messages
 *   it has processed since its as-of: those the other side sent while its
 *   levels were being reported (sent at or before the other's as-of; for the
 *   book: by now) and processed after this side's as-of and by now.
 * - Then the line is judged by the same rule as the comparison
 *   (domain/system-outcome.ts) with the messages still unprocessed now and the
 *   movements in the cutoff window before the later of the two moments (now
 *   for the book). A line that could not be normalised (root cause
 *   status_mapping / unit_conversion) stays an exception: it needs a new run.
 *
 * A line now within tolerance becomes `disappeared` (its figures updated,
 * outcome and evidence kept as the comparison found them); any other gets its
 * new figures, outcome, root cause and evidence (a `disappeared` line that
 * differs again is `open` again). Both get refreshed_at. Lines that are
 * deleted, processing or processed are refused (InvalidRowState), unknown
 * lines are NotFound; nothing changes then.
 */
export async function refreshLines(em: Em, runId: string, lines: number[]): Promise<RefreshResult> {
  const wanted = [...new Set(lines)].sort((x, y) => x - y);
  if (wanted.length === 0) throw refuse('NoRowsSelected', 'no lines selected');
  const bad = wanted.filter((l) => !Number.isSafeInteger(l) || l < 1 || l > 2_147_483_647);
  if (bad.length > 0) throw refuse('NotFound', `no line ${bad.slice(0, 20).join(', ')} in this reconciliation order`, { lines: bad.slice(0, 1000) });
  const run = await loadRunContext(em, runId);
  if (run.comparedAt === null) throw refuse('InvalidState', 'the sources have not been compared yet: there are no lines to refresh');

  const found = await rows(
    em,
    sql<{ line: number; state: string }>`
      select line, state from system_difference where system_reconciliation_id = ${runId} and line = any(${wanted}::int[]) order by line`,
  );
  const known = new Set(found.map((f) => f.line));
  const missing = wanted.filter((l) => !known.has(l));
  if (missing.length > 0) {
    throw refuse('NotFound', `no line ${missing.slice(0, 20).join(', ')} in this reconciliation order`, { lines: missing.slice(0, 1000) });
  }
  const settled = found.filter((f) => NOT_REFRESHABLE.includes(f.state));
  if (settled.length > 0) {
    throw refuse(
      'InvalidRowState',
      `lines ${settled.slice(0, 20).map((s) => `${s.line} (${s.state})`).join(', ')} cannot be refreshed: only open, failed, skipped or disappeared lines can`,
      { lines: settled.slice(0, 1000) },
    );
  }

  const now = (await one(em, sql<{ now: string }>`select now()::text as now`))!.now;
  await createKeyTable(
    em,
    sql`
      select d.line::bigint as key_id, d.line, d.item_id, i.code as item_code, d.warehouse_code, d.location_code, d.category,
             i.conversion_factor, i.standard_cost, d.quantity_a, d.quantity_b,
             case when d.root_cause in ('status_mapping', 'unit_conversion') then d.root_cause end as mapping_problem,
             d.evidence->'unmappedLevels' as unmapped_levels
      from system_difference d join item i on i.id = d.item_id
      where d.system_reconciliation_id = ${runId} and d.line = any(${wanted}::int[])`,
  );
  await indexKeyTable(em);

  // The moment each side's figures describe now: the book's is now, an external system's stays its as-of.
  const momentA = run.sourceA === BOOK ? now : run.asOfA;
  const momentB = run.sourceB === BOOK ? now : run.asOfB;
  for (const side of ['a', 'b'] as const) {
    const source = side === 'a' ? run.sourceA : run.sourceB;
    if (source === BOOK) await recomputeBook(em, run, side);
    else await applyProcessedMessages(em, run, side, { otherMoment: side === 'a' ? momentB : momentA, now });
  }
  const windowEnd = (await one(em, sql<{ t: string }>`select greatest(${momentA}::timestamptz, ${momentB}::timestamptz)::text as t`))!.t;
  await gatherEvidenceFigures(em, run, { sentByA: momentA, sentByB: momentB, unprocessedAtA: now, unprocessedAtB: now, windowEnd });
  await judgeKeys(em, run.tolerance, () => {});
  await writeEvidence(em, run, windowEnd);

  const updated = await rows(
    em,
    sql<{ line: number; disappeared: boolean }>`
      update system_difference d set
        quantity_a = k.quantity_a, quantity_b = k.quantity_b, difference = k.difference, value = k.value,
        outcome = case when k.outcome = 'match' then d.outcome else k.outcome end,
        root_cause = case when k.outcome = 'match' then d.root_cause else k.root_cause end,
        -- What processing noted on a line (processingFailure) stays with it.
        evidence = case when k.outcome = 'match' then d.evidence
                        else k.evidence || case when d.evidence ? 'processingFailure'
                                                then jsonb_build_object('processingFailure', d.evidence->'processingFailure')
                                                else '{}'::jsonb end end,
        state = case when k.outcome = 'match' then 'disappeared' when d.state = 'disappeared' then 'open' else d.state end,
        refreshed_at = now()
      from sysrec_key k
      where d.system_reconciliation_id = ${runId} and d.line = k.line
      returning d.line, k.outcome = 'match' as disappeared`,
  );
  const disappeared = updated.filter((u) => u.disappeared).map((u) => u.line).sort((x, y) => x - y);
  const remaining = updated.filter((u) => !u.disappeared).map((u) => u.line).sort((x, y) => x - y);
  return { disappeared, remaining };
}

const quantityColumn = (side: 'a' | 'b') => sql.raw(side === 'a' ? 'quantity_a' : 'quantity_b');

/** The book's quantity for each key from the stock records now, as captureBookLevels reports it. */
async function recomputeBook(em: Em, run: RunContext, side: 'a' | 'b'): Promise<void> {
  const column = quantityColumn(side);
  await affected(
    em,
    sql`
      with pos as (
        select sp.id, sp.item_id, sp.warehouse_code, l.code as location_code, sp.quantity
        from stock_position sp
        join location l on l.id = sp.location_id
        join item i on i.id = sp.item_id
        join system_reconciliation r on r.id = ${run.id}
        where (sp.item_id, sp.warehouse_code) in (select item_id, warehouse_code from sysrec_key)
          and sp.warehouse_code = r.warehouse_code
          and ${selectionWhere(sql`r.selection`, sql`i.code`, sql`l.code`)}
      ),
      part as (
        select p.item_id, p.warehouse_code, p.location_code, 'available' as category,
               p.quantity - coalesce((select sum(b.quantity) from blocking b where b.stock_position_id = p.id), 0) as quantity
        from pos p
        union all
        select p.item_id, p.warehouse_code, p.location_code, coalesce(sm.category, 'unavailable'), b.quantity
        from pos p
        join blocking b on b.stock_position_id = p.id
        left join status_mapping sm on sm.source = ${BOOK} and sm.status = b.reason
      ),
      book as (
        select item_id, warehouse_code, case when ${run.perLocation}::boolean then location_code else '' end as location_code,
               category, sum(quantity) as quantity
        from part group by 1, 2, 3, 4
      )
      update sysrec_key k set ${column} = round(coalesce(b.quantity, 0), 4)
      from sysrec_key k2
      left join book b on (b.item_id, b.warehouse_code, b.location_code, b.category) = (k2.item_id, k2.warehouse_code, k2.location_code, k2.category)
      where k.key_id = k2.key_id`,
  );
}

/**
 * An external side moved on by the messages from the other side that it has
 * processed since its as-of (their effect on the sender's stock is the effect
 * on the target's once processed), converted with the sender's mappings.
 */
async function applyProcessedMessages(em: Em, run: RunContext, side: 'a' | 'b', at: { otherMoment: string; now: string }): Promise<void> {
  const target = side === 'a' ? run.sourceA : run.sourceB;
  const sender = side === 'a' ? run.sourceB : run.sourceA;
  const asOf = side === 'a' ? run.asOfA : run.asOfB;
  const column = quantityColumn(side);
  await affected(
    em,
    sql`
      update sysrec_key k set ${column} = round(k.${column} + p.effect, 4)
      from (
        select k2.key_id, sum(m.storage_quantity) as effect
        from sysrec_key k2
        join (${normalizedEvents(
          'interface_message',
          run,
          sql`x.source = ${sender} and x.target = ${target} and x.sent_at <= ${at.otherMoment}::timestamptz
              and x.processed_at > ${asOf}::timestamptz and x.processed_at <= ${at.now}::timestamptz`,
        )}) m
          on (m.item_id, m.warehouse_code, m.key_location, m.key_category) = (k2.item_id, k2.warehouse_code, k2.location_code, k2.category)
        where m.storage_quantity is not null
        group by k2.key_id
      ) p
      where p.key_id = k.key_id`,
  );
}
