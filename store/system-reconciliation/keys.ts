import type { RawBuilder } from 'kysely';
import { affected, rows, sql, type Em } from '../../db/sql';
import { judgeDifference, type MappingProblem } from '../../domain/system-outcome';
import { ruleForItem, type TolerancePolicy } from '../../domain/tolerance';
import { BOOK } from '../systems';
import type { RunContext } from './run-context';

/**
 * The keys a comparison or a refresh judges, in one narrow temp table
 * (`sysrec_key`, dropped at commit), and the steps both share:
 * the evidence figures per key (outstanding messages, movements in the cutoff
 * window), the judgement (domain/system-outcome.ts, in batches), and the
 * evidence each judged difference carries.
 *
 * A key is (item, warehouse, location, category): location is '' when the
 * comparison is per warehouse. Quantities are storage units.
 */
export const JUDGE_BATCH = 5000;
/** At most this many entries per list in an explainable difference's evidence. */
export const EVIDENCE_LIST_MAX = 100;
/** An exception's history: entries per list, and how far back. */
export const HISTORY_MAX = 20;
export const HISTORY_DAYS = 7;

/**
 * Creates sysrec_key from a query (CREATE TABLE AS, so the query may run in
 * parallel) that yields the key columns: key_id (bigint, unique), line (int;
 * null in a comparison), item_id (int), item_code, warehouse_code,
 * location_code, category, conversion_factor, standard_cost, quantity_a,
 * quantity_b (numeric), mapping_problem (text), unmapped_levels (jsonb);
 * the judgement's columns are added empty. Returns the rows created.
 */
export async function createKeyTable(em: Em, keys: RawBuilder<unknown>): Promise<number> {
  await affected(em, sql`drop table if exists sysrec_key, sysrec_msg, sysrec_mov`);
  const created = await affected(
    em,
    sql`
      create temp table sysrec_key on commit drop as
      select k.*,
             0 as msg_count, 0::numeric as msg_net, 0 as mov_count, 0::numeric as mov_magnitude,
             null::numeric as difference, null::numeric as value, null::text as outcome, null::text as root_cause, null::jsonb as evidence
      from (${keys}) k`,
  );
  return created;
}

/** Once sysrec_key holds its keys: the index the batches page on, and statistics. */
export async function indexKeyTable(em: Em): Promise<void> {
  await affected(em, sql`create unique index on sysrec_key (key_id)`);
  await affected(em, sql`analyze sysrec_key`);
}

/**
 * SQL pieces that normalise a row of a source (alias `x` with columns source,
 * item_code, status, quantity, unit) joined to its item `i`:
 *  - storage quantity: the source's unit mapping for that item first, then the
 *    item's own storage unit (×1) and inventory unit (×1 / conversion factor),
 *    then the source's mapping for every item (''); null when none applies.
 *    The same order as store/systems.ts storageUnitsSql, which the levels
 *    ingestion checks units with (test/system-compare-units.test.ts holds the
 *    two together); written as joins here because it runs over millions of rows;
 *  - the unit-mapping joins that expression needs (`umi`, `uma`).
 */
export const storageQuantity = (x: string) =>
  sql.raw(`(case when umi.storage_units is not null then ${x}.quantity * umi.storage_units
                 when ${x}.unit = i.storage_unit then ${x}.quantity
                 when ${x}.unit = i.inventory_unit then ${x}.quantity / i.conversion_factor
                 else ${x}.quantity * uma.storage_units end)`);

export const unitMappingJoins = (x: string) =>
  sql.raw(`left join unit_mapping umi on umi.source = ${x}.source and umi.unit = ${x}.unit and umi.item_code = ${x}.item_code
           left join unit_mapping uma on uma.source = ${x}.source and uma.unit = ${x}.unit and uma.item_code = ''`);

/**
 * Messages and movements normalised to keys. Their status names the category
 * they affect (mapped with the sender's status mapping; the book's unmapped
 * blocking reasons are unavailable, as for its levels); an empty status means
 * plain available stock. One whose status or unit has no mapping cannot be
 * counted as evidence (it still shows in an exception's history).
 */
export function normalizedEvents(table: 'interface_message' | 'movement_event', run: RunContext, where: RawBuilder<unknown>): RawBuilder<unknown> {
  const extra =
    table === 'interface_message'
      ? sql.raw(`x.target, x.message_id as id, x.sent_at as at, x.processed_at`)
      : sql.raw(`null::text as target, x.event_id as id, x.occurred_at as at, null::timestamptz as processed_at`);
  return sql`
    select x.source, ${extra}, x.kind, x.status, x.quantity, x.unit, x.location_code,
           i.id as item_id, x.warehouse_code,
           case when ${run.perLocation}::boolean then x.location_code else '' end as key_location,
           case when x.status = '' then 'available'
                else coalesce(sm.category, case when x.source = ${BOOK} then 'unavailable' end) end as key_category,
           round(${storageQuantity('x')}, 4) as storage_quantity
    from ${sql.table(table)} x
    join item i on i.code = x.item_code
    left join status_mapping sm on sm.source = x.source and sm.status = x.status
    ${unitMappingJoins('x')}
    where x.warehouse_code in (select distinct warehouse_code from sysrec_key) and (${where})`;
}

/** Which messages are outstanding, and the cutoff window: the moments a comparison and a refresh differ in. */
export interface EvidenceMoments {
  /** A message from A (B) counts when sent at or before this moment: A's (B's) levels include it ... */
  sentByA: string;
  sentByB: string;
  /** ... and its target had not processed it by this moment (processed_at null or later). */
  unprocessedAtA: string;
  unprocessedAtB: string;
  /** Movements in (windowEnd − cutoff, windowEnd] are timing; an exception's history starts 7 days before it. */
  windowEnd: string;
}

/**
 * Per key: the outstanding messages between the two sources (count, net effect
 * on B − A) and the movements of either source inside the cutoff window
 * (count, Σ |quantity|). The messages and movements themselves stay in
 * sysrec_msg / sysrec_mov for the evidence.
 */
export async function gatherEvidenceFigures(em: Em, run: RunContext, at: EvidenceMoments): Promise<void> {
  const { sourceA: a, sourceB: b } = run;
  await affected(
    em,
    sql`
      create temp table sysrec_msg on commit drop as
      select k.key_id, m.*
      from (${normalizedEvents(
        'interface_message',
        run,
        sql`(x.source = ${a} and x.target = ${b} and x.sent_at <= ${at.sentByA}::timestamptz
               and (x.processed_at is null or x.processed_at > ${at.unprocessedAtB}::timestamptz))
            or (x.source = ${b} and x.target = ${a} and x.sent_at <= ${at.sentByB}::timestamptz
               and (x.processed_at is null or x.processed_at > ${at.unprocessedAtA}::timestamptz))`,
      )}) m
      join sysrec_key k on (k.item_id, k.warehouse_code, k.location_code, k.category) = (m.item_id, m.warehouse_code, m.key_location, m.key_category)
      where m.storage_quantity is not null`,
  );
  await affected(
    em,
    sql`
      create temp table sysrec_mov on commit drop as
      select k.key_id, e.*
      from (${normalizedEvents(
        'movement_event',
        run,
        sql`x.source in (${a}, ${b})
            and x.occurred_at > ${at.windowEnd}::timestamptz - make_interval(mins => ${run.cutoffMinutes}::int)
            and x.occurred_at <= ${at.windowEnd}::timestamptz`,
      )}) e
      join sysrec_key k on (k.item_id, k.warehouse_code, k.location_code, k.category) = (e.item_id, e.warehouse_code, e.key_location, e.key_category)
      where e.storage_quantity is not null`,
  );
  await affected(em, sql`create index on sysrec_msg (key_id)`);
  await affected(em, sql`create index on sysrec_mov (key_id)`);
  for (const table of ['sysrec_msg', 'sysrec_mov']) await affected(em, sql`analyze ${sql.table(table)}`);
  await affected(
    em,
    sql`
      update sysrec_key k set msg_count = x.n, msg_net = x.net
      from (select key_id, count(*)::int as n,
                   sum(case when source = ${b} then storage_quantity else -storage_quantity end) as net
            from sysrec_msg group by key_id) x
      where x.key_id = k.key_id`,
  );
  await affected(
    em,
    sql`
      update sysrec_key k set mov_count = x.n, mov_magnitude = x.magnitude
      from (select key_id, count(*)::int as n, sum(abs(storage_quantity)) as magnitude from sysrec_mov group by key_id) x
      where x.key_id = k.key_id`,
  );
}

/**
 * The judgement of every key (domain/system-outcome.ts judgeDifference, the
 * same code its unit tests pin down), in batches of JUDGE_BATCH keys: one
 * SELECT and one UPDATE per batch, `checkpoint` between them.
 */
export async function judgeKeys(em: Em, tolerance: TolerancePolicy, checkpoint: () => void): Promise<void> {
  let lastId = 0;
  for (;;) {
    checkpoint();
    const batch = await rows(
      em,
      sql<{
        key_id: string;
        item_code: string;
        quantity_a: string;
        quantity_b: string;
        conversion_factor: string;
        standard_cost: string;
        mapping_problem: MappingProblem | null;
        msg_count: number;
        msg_net: string;
        mov_count: number;
        mov_magnitude: string;
      }>`
        select key_id, item_code, quantity_a, quantity_b, conversion_factor, standard_cost, mapping_problem,
               msg_count, msg_net, mov_count, mov_magnitude
        from sysrec_key where key_id > ${lastId} order by key_id limit ${JUDGE_BATCH}`,
    );
    if (batch.length === 0) return;
    const ids: string[] = [];
    const difference: number[] = [];
    const value: number[] = [];
    const outcome: string[] = [];
    const rootCause: (string | null)[] = [];
    for (const k of batch) {
      const j = judgeDifference(
        {
          quantityA: Number(k.quantity_a),
          quantityB: Number(k.quantity_b),
          conversionFactor: Number(k.conversion_factor),
          standardCost: Number(k.standard_cost),
          mappingProblem: k.mapping_problem,
          messages: { count: k.msg_count, net: Number(k.msg_net) },
          window: { count: k.mov_count, magnitude: Number(k.mov_magnitude) },
        },
        ruleForItem(tolerance, k.item_code),
      );
      ids.push(k.key_id);
      difference.push(j.difference);
      value.push(j.value);
      outcome.push(j.outcome);
      rootCause.push(j.rootCause);
    }
    await affected(
      em,
      sql`
        update sysrec_key k set difference = u.difference, value = u.value, outcome = u.outcome, root_cause = u.root_cause
        from unnest(${ids}::bigint[], ${difference}::numeric[], ${value}::numeric[], ${outcome}::text[], ${rootCause}::text[])
          as u(key_id, difference, value, outcome, root_cause)
        where k.key_id = u.key_id`,
    );
    lastId = Number(batch[batch.length - 1]!.key_id);
  }
}

/**
 * The evidence of every judged difference (outcome not match), set-based:
 *  - unprocessed_message: the outstanding messages (source, target, id, kind,
 *    quantities, sent and processed times) and their net effect on B − A;
 *  - timing: the cutoff window and the movements inside it;
 *  - exception (any root cause): the key's movements and messages between the
 *    two sources over the HISTORY_DAYS before windowEnd (newest first, at most
 *    HISTORY_MAX each, every status of the item at the key's location), the
 *    last earlier run of the same sources and warehouse that was compared and
 *    has no line for the key (it matched then), and for a mapping problem the
 *    level rows that could not be normalised.
 */
export async function writeEvidence(em: Em, run: RunContext, windowEnd: string): Promise<void> {
  const { sourceA: a, sourceB: b } = run;
  await affected(
    em,
    sql`
      update sysrec_key k set evidence = case
        when k.root_cause = 'unprocessed_message' then jsonb_build_object(
          'messageCount', k.msg_count,
          'messageNet', k.msg_net,
          'messages', (select coalesce(jsonb_agg(jsonb_build_object(
              'source', m.source, 'target', m.target, 'messageId', m.id, 'kind', m.kind, 'status', m.status,
              'quantity', m.quantity, 'unit', m.unit, 'storageQuantity', m.storage_quantity,
              'sentAt', m.at, 'processedAt', m.processed_at) order by m.at, m.source, m.id), '[]'::jsonb)
            from (select * from sysrec_msg m where m.key_id = k.key_id order by m.at, m.source, m.id limit ${EVIDENCE_LIST_MAX}) m))
        when k.root_cause = 'timing' then jsonb_build_object(
          'window', jsonb_build_object(
            'from', ${windowEnd}::timestamptz - make_interval(mins => ${run.cutoffMinutes}::int),
            'to', ${windowEnd}::timestamptz, 'cutoffMinutes', ${run.cutoffMinutes}::int),
          'movementCount', k.mov_count,
          'movementMagnitude', k.mov_magnitude,
          'movements', (select coalesce(jsonb_agg(jsonb_build_object(
              'source', e.source, 'eventId', e.id, 'kind', e.kind, 'status', e.status,
              'quantity', e.quantity, 'unit', e.unit, 'storageQuantity', e.storage_quantity, 'at', e.at)
              order by e.at desc, e.source, e.id), '[]'::jsonb)
            from (select * from sysrec_mov e where e.key_id = k.key_id order by e.at desc, e.source, e.id limit ${EVIDENCE_LIST_MAX}) e))
        else jsonb_build_object(
          'historyFrom', ${windowEnd}::timestamptz - make_interval(days => ${HISTORY_DAYS}::int),
          'movements', (select coalesce(jsonb_agg(h.entry order by h.at desc, h.source, h.id), '[]'::jsonb) from (
              select jsonb_build_object('source', e.source, 'eventId', e.event_id, 'kind', e.kind, 'status', e.status,
                       'quantity', e.quantity, 'unit', e.unit, 'storageQuantity', round(${storageQuantity('e')}, 4),
                       'location', e.location_code, 'at', e.occurred_at) as entry,
                     e.occurred_at as at, e.source, e.event_id as id
              from movement_event e
              join item i on i.id = k.item_id
              ${unitMappingJoins('e')}
              where e.warehouse_code = k.warehouse_code and e.item_code = k.item_code and e.source in (${a}, ${b})
                and (not ${run.perLocation}::boolean or e.location_code = k.location_code)
                and e.occurred_at > ${windowEnd}::timestamptz - make_interval(days => ${HISTORY_DAYS}::int)
              order by e.occurred_at desc, e.source, e.event_id limit ${HISTORY_MAX}) h),
          'messages', (select coalesce(jsonb_agg(h.entry order by h.at desc, h.source, h.id), '[]'::jsonb) from (
              select jsonb_build_object('source', m.source, 'target', m.target, 'messageId', m.message_id, 'kind', m.kind,
                       'status', m.status, 'quantity', m.quantity, 'unit', m.unit,
                       'storageQuantity', round(${storageQuantity('m')}, 4), 'location', m.location_code,
                       'sentAt', m.sent_at, 'processedAt', m.processed_at) as entry,
                     m.sent_at as at, m.source, m.message_id as id
              from interface_message m
              join item i on i.id = k.item_id
              ${unitMappingJoins('m')}
              where m.warehouse_code = k.warehouse_code and m.item_code = k.item_code
                and ((m.source = ${a} and m.target = ${b}) or (m.source = ${b} and m.target = ${a}))
                and (not ${run.perLocation}::boolean or m.location_code = k.location_code)
                and m.sent_at > ${windowEnd}::timestamptz - make_interval(days => ${HISTORY_DAYS}::int)
              order by m.sent_at desc, m.source, m.message_id limit ${HISTORY_MAX}) h),
          'lastMatchedRun', (
              select jsonb_build_object('id', r.id, 'number', r.number, 'comparedAt', r.compared_at)
              from system_reconciliation r
              where r.warehouse_code = ${run.warehouse} and r.source_a = ${a} and r.source_b = ${b}
                and r.compared_at is not null and r.number < ${run.number}::bigint
                and not exists (
                  select 1 from system_difference d
                  where d.system_reconciliation_id = r.id and d.item_id = k.item_id and d.warehouse_code = k.warehouse_code
                    and d.location_code = k.location_code and d.category = k.category)
              order by r.number desc limit 1))
          || case when k.unmapped_levels is null then '{}'::jsonb else jsonb_build_object('unmappedLevels', k.unmapped_levels) end
      end
      where k.outcome is distinct from 'match'`,
  );
}
