import { affected, one, sql, type Em } from '../../db/sql';
import { refuse } from '../refusal';
import { createKeyTable, gatherEvidenceFigures, indexKeyTable, judgeKeys, storageQuantity, unitMappingJoins, writeEvidence } from './keys';
import { BOOK } from '../systems';
import { loadRunContext, type RunContext } from './run-context';

export interface CompareResult {
  /** Keys (item × warehouse × location × category) either source reported. */
  keys: number;
  /** Keys without a line: equal, or their difference within tolerance. */
  matches: number;
  explainable: number;
  exceptions: number;
  /** Lines of the reconciliation order: explainable + exceptions. */
  differences: number;
  /** Σ |value| of the exception lines (explainable differences are expected to resolve themselves). */
  valueAtRisk: number;
}

/**
 * Reconcile: compare the two sources' levels of a system reconciliation run
 * and write the differences as the lines of its reconciliation order
 * (system_difference), set-based, in the caller's transaction (which holds the
 * run's lock). A run already compared returns its stored result without
 * touching its lines, so a retry after the commit changes nothing.
 *
 * Steps: normalise both sources' level rows to keys and storage units and sum
 * them per key in one pass (a full outer join for free: one GROUP BY with a sum
 * per side); keep only the keys whose quantities differ or could not be
 * normalised; gather the evidence figures of those keys; judge them in
 * batches (domain/system-outcome.ts); write the lines numbered 1..n by
 * (warehouse, location, item code, category); stamp compared_at and summary.
 * `checkpoint` is called between steps and batches and throws when the step
 * was cancelled.
 */
export async function compareSources(em: Em, runId: string, checkpoint: () => void): Promise<CompareResult> {
  const run = await loadRunContext(em, runId);
  if (run.comparedAt !== null) return run.summary as CompareResult;
  // Nothing can be here (lines are written in the transaction that stamps compared_at); a leftover would be rewritten.
  await affected(em, sql`delete from system_difference where system_reconciliation_id = ${runId}`);
  const keys = await gatherDifferingKeys(em, run);
  await refuseUnknownItems(em, run);
  await indexKeyTable(em);
  if (await one(em, sql<{ any: boolean }>`select exists (select 1 from sysrec_key where mapping_problem is not null) as any`).then((r) => r?.any)) {
    await collectUnmappedLevels(em, run);
  }
  checkpoint();
  await gatherEvidenceFigures(em, run, {
    sentByA: run.asOfA,
    sentByB: run.asOfB,
    unprocessedAtA: run.asOfA,
    unprocessedAtB: run.asOfB,
    windowEnd: run.later,
  });
  checkpoint();
  await judgeKeys(em, run.tolerance, checkpoint);
  await writeEvidence(em, run, run.later);
  checkpoint();
  await writeLines(em, runId);
  const result = await summarize(em, keys);
  await affected(
    em,
    sql`update system_reconciliation set compared_at = now(), summary = ${JSON.stringify(result)}::jsonb where id = ${runId}`,
  );
  return result;
}

/**
 * One pass over both sources' level rows: each row normalised (status →
 * category via the source's status mapping; quantity → storage units; location
 * '' when comparing per warehouse, which rolls the finer side up), summed per
 * key and side (a full outer join for free). Keys whose sums differ, or with a
 * row that could not be normalised (its category is then `unmapped:<status>`,
 * except the book's: a blocking reason without a mapping is unavailable; an
 * unconvertible quantity counts as nothing and marks the key), or naming an
 * unknown item, go to sysrec_key. Returns the number of keys.
 *
 * CREATE TABLE AS runs in parallel, where an INSERT could not; the number of
 * keys rides on the first row (a window count), which stays until read even
 * when it does not differ.
 */
async function gatherDifferingKeys(em: Em, run: RunContext): Promise<number> {
  await createKeyTable(
    em,
    sql`
      with summed as (
        select l.item_id, min(l.item_code) filter (where l.item_id is null) as unknown_code,
               l.warehouse_code, l.location_code, l.category,
               round(coalesce(sum(l.quantity) filter (where not l.is_b), 0), 4) as quantity_a,
               round(coalesce(sum(l.quantity) filter (where l.is_b), 0), 4) as quantity_b,
               case when bool_or(l.status_unmapped) then 'status_mapping' when bool_or(l.quantity is null) then 'unit_conversion' end as mapping_problem
        from (${normalizedLevels(run)}) l
        group by l.item_id, l.warehouse_code, l.location_code, l.category
      ),
      counted as (
        select s.*, row_number() over () as key_id, count(*) over () as keys,
               s.quantity_a <> s.quantity_b or s.mapping_problem is not null or s.item_id is null as differs
        from summed s
      )
      select c.key_id, null::int as line, c.item_id, coalesce(i.code, c.unknown_code) as item_code,
             c.warehouse_code, c.location_code, c.category, i.conversion_factor, i.standard_cost,
             c.quantity_a, c.quantity_b, c.mapping_problem, null::jsonb as unmapped_levels, c.keys, c.differs
      from counted c left join item i on i.id = c.item_id
      where c.differs or c.key_id = 1`,
  );
  const keys = (await one(em, sql<{ keys: number }>`select coalesce(max(keys), 0)::int as keys from sysrec_key`))!.keys;
  await affected(em, sql`delete from sysrec_key where not differs`);
  return keys;
}

/**
 * Both sources' level rows of the run, normalised: is_b, item_id (null for an
 * unknown item), key location and category, the quantity in storage units
 * (null when no conversion applies), whether the status had no mapping.
 */
function normalizedLevels(run: RunContext) {
  return sql`
    select l.source = ${run.sourceB} as is_b, i.id as item_id, l.item_code, l.warehouse_code,
           case when ${run.perLocation}::boolean then l.location_code else '' end as location_code,
           coalesce(sm.category, case when l.source = ${BOOK} then 'unavailable' end, 'unmapped:' || l.status) as category,
           sm.category is null and l.source <> ${BOOK} as status_unmapped,
           ${storageQuantity('l')} as quantity,
           l.source, l.line, l.status, l.unit, l.quantity as reported, l.location_code as reported_location
    from source_level l
    left join item i on i.code = l.item_code
    left join status_mapping sm on sm.source = l.source and sm.status = l.status
    ${unitMappingJoins('l')}
    where l.system_reconciliation_id = ${run.id} and l.source in (${run.sourceA}, ${run.sourceB})`;
}

/** Levels naming an item the item master does not have cannot be compared (nor written: a line needs its item). */
async function refuseUnknownItems(em: Em, run: RunContext): Promise<void> {
  const any = await one(em, sql<{ any: boolean }>`select exists (select 1 from sysrec_key where item_id is null) as any`);
  if (!any?.any) return;
  const unknown = await one(
    em,
    sql<{ codes: string[] }>`
      select (array_agg(distinct l.item_code order by l.item_code))[1:20] as codes
      from source_level l
      where l.system_reconciliation_id = ${run.id} and l.source in (${run.sourceA}, ${run.sourceB})
        and not exists (select 1 from item i where i.code = l.item_code)`,
  );
  const codes = unknown?.codes ?? [];
  throw refuse('InvalidLevels', `levels name items that are not in the item master: ${codes.join(', ')}`, { items: codes });
}

/** For keys with a mapping problem: the level rows that could not be normalised (at most 20 per key), as evidence. */
async function collectUnmappedLevels(em: Em, run: RunContext): Promise<void> {
  await affected(
    em,
    sql`
      update sysrec_key k set unmapped_levels = u.levels
      from (
        select l.item_id, l.warehouse_code, l.location_code, l.category,
               to_jsonb((array_agg(jsonb_build_object('source', l.source, 'line', l.line, 'location', l.reported_location,
                                                      'status', l.status, 'quantity', l.reported, 'unit', l.unit)
                                   order by l.source, l.line))[1:20]) as levels
        from (${normalizedLevels(run)}) l
        where l.status_unmapped or l.quantity is null
        group by 1, 2, 3, 4
      ) u
      where k.mapping_problem is not null
        and (k.item_id, k.warehouse_code, k.location_code, k.category) = (u.item_id, u.warehouse_code, u.location_code, u.category)`,
  );
}

/** The reconciliation order's lines: one per key judged explainable or exception, numbered in a stable order. */
async function writeLines(em: Em, runId: string): Promise<void> {
  await affected(
    em,
    sql`
      insert into system_difference (system_reconciliation_id, line, item_id, warehouse_code, location_code, category,
                                     quantity_a, quantity_b, difference, value, outcome, root_cause, evidence)
      select ${runId},
             row_number() over (order by k.warehouse_code collate "C", k.location_code collate "C", k.item_code collate "C", k.category collate "C"),
             k.item_id, k.warehouse_code, k.location_code, k.category,
             k.quantity_a, k.quantity_b, k.difference, k.value, k.outcome, k.root_cause, k.evidence
      from sysrec_key k
      where k.outcome <> 'match'`,
  );
}

async function summarize(em: Em, keys: number): Promise<CompareResult> {
  const s = await one(
    em,
    sql<{ explainable: number; exceptions: number; value_at_risk: string }>`
      select count(*) filter (where outcome = 'explainable')::int as explainable,
             count(*) filter (where outcome = 'exception')::int as exceptions,
             round(coalesce(sum(abs(value)) filter (where outcome = 'exception'), 0), 4)::text as value_at_risk
      from sysrec_key`,
  );
  const explainable = s?.explainable ?? 0;
  const exceptions = s?.exceptions ?? 0;
  const differences = explainable + exceptions;
  return { keys, matches: keys - differences, explainable, exceptions, differences, valueAtRisk: Number(s?.value_at_risk ?? 0) };
}
