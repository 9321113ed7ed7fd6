import type { RawBuilder } from 'kysely';
import { one, rows, sql, type Em } from '../../db/sql';
import { toCsv } from '../csv';
import { asDecimalText, asNumber, type NumberFormat } from '../number-format';
import { notFound } from '../refusal';

/**
 * KPIs of system reconciliation (seed 004): per run, and per day over a
 * period for one warehouse and source pair.
 *
 * Definitions (a "line" is a system_difference line; a match makes none):
 * - keys: what the run compared (item x warehouse x location x category keys,
 *   `system_reconciliation.summary.keys`, written by the comparison); null
 *   when the comparison did not say.
 * - matched = keys - lines; explainable, exceptions: lines by outcome, in any
 *   state (what the comparison found, whatever became of the line later).
 * - exception rate = exception lines / keys; accuracy = 1 - exception rate,
 *   the share of compared keys without an exception line.
 * - exception value = sum |value| of the exception lines; value at risk = sum
 *   |value| of the exception lines whose exception is still open or
 *   investigating (a line not yet in the queue counts as open).
 * - exceptions opened / recurring: exceptions this run's lines opened, and
 *   those they joined (first found by an earlier run).
 * - adjustment volume: lines processed (state 'processed': posted to the
 *   book), their count, sum |difference| (storage units) and sum |value|.
 * Over time, a run belongs to the UTC day of its `compared_at` (runs not yet
 * compared are left out); a day's figures are the sums over its runs (a day
 * with two runs counts both), rates are recomputed from those sums; every
 * day from `from` to `to` (both inclusive) has a row, zeros when no run.
 * - resolved, accepted: exceptions of the warehouse and source pair closed
 *   that day (UTC day of `resolved_at`); time to resolution: average and 90th
 *   percentile (linear interpolation, percentile_cont) of resolved_at -
 *   opened_at in hours (to 4 decimals) over both (an accepted exception is settled too).
 *   `opened_at` is the compared_at of the run that opened it.
 * - inventory accuracy by item and by location over the period: for each
 *   item (location), 1 - (runs in which it had an exception line / runs that
 *   covered it). A run covers an item at a location when either source
 *   reported a level for it in that run (`source_level`, any quantity,
 *   including 0) or the run has a line for it (a level one source lacks).
 *   Location '' is stock the sources keep per warehouse, not per location.
 */

/** The figures of the lines of the runs in `runs` (CTE with id), raw numerics, one row per run. */
const LINE_FIGURES = sql`
  count(d.line)::int as lines,
  count(d.line) filter (where d.outcome = 'explainable')::int as explainable,
  count(d.line) filter (where d.outcome = 'exception')::int as exceptions,
  coalesce(sum(abs(d.value)) filter (where d.outcome = 'exception'), 0) as exception_value,
  coalesce(sum(abs(d.value)) filter (where d.outcome = 'exception' and coalesce(e.status, 'open') in ('open', 'investigating')), 0) as value_at_risk,
  count(distinct d.exception_id) filter (where e.first_run = d.system_reconciliation_id)::int as opened,
  count(distinct d.exception_id) filter (where e.first_run <> d.system_reconciliation_id)::int as recurring,
  count(d.line) filter (where d.state = 'processed')::int as adjustment_lines,
  coalesce(sum(abs(d.difference)) filter (where d.state = 'processed'), 0) as adjustment_quantity,
  coalesce(sum(abs(d.value)) filter (where d.state = 'processed'), 0) as adjustment_value`;

/** The compared keys a run's summary states, when it states a whole number that fits. */
const KEYS = sql`case when jsonb_typeof(r.summary->'keys') = 'number' and (r.summary->>'keys')::numeric between 0 and 2147483647
                      and (r.summary->>'keys')::numeric = trunc((r.summary->>'keys')::numeric)
                 then (r.summary->>'keys')::numeric::int end`;

/** The KPI columns over an aggregate row `x` of summed figures, formatted by `n`. */
function kpiColumns(x: string, n: NumberFormat): RawBuilder<unknown> {
  const c = (name: string) => sql.ref(`${x}.${name}`);
  return sql`${c('keys')} as keys, ${c('keys')} - ${c('lines')} as matched, ${c('explainable')} as explainable, ${c('exceptions')} as exceptions,
    ${c('exceptions')}::float8 / nullif(${c('keys')}, 0) as "exceptionRate", 1 - ${c('exceptions')}::float8 / nullif(${c('keys')}, 0) as accuracy,
    ${n(sql`${c('exception_value')}`)} as "exceptionValue", ${n(sql`${c('value_at_risk')}`)} as "valueAtRisk",
    ${c('opened')} as "exceptionsOpened", ${c('recurring')} as "exceptionsRecurring",
    ${c('adjustment_lines')} as "adjustmentLines", ${n(sql`${c('adjustment_quantity')}`)} as "adjustmentQuantity",
    ${n(sql`${c('adjustment_value')}`)} as "adjustmentValue"`;
}

export interface RunKpis {
  run: { id: string; number: number; warehouse: string; sourceA: string; sourceB: string; comparedAt: string | null };
  keys: number | null;
  matched: number | null;
  explainable: number;
  exceptions: number;
  exceptionRate: number | null;
  accuracy: number | null;
  exceptionValue: number;
  valueAtRisk: number;
  exceptionsOpened: number;
  exceptionsRecurring: number;
  adjustmentLines: number;
  adjustmentQuantity: number;
  adjustmentValue: number;
}

async function runFigures(em: Em, runId: string, n: NumberFormat): Promise<Record<string, unknown> | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(runId)) return undefined;
  return one(em, sql<Record<string, unknown>>`
    select r.id, r.number::int as number, r.warehouse_code as warehouse, r.source_a as "sourceA", r.source_b as "sourceB",
           to_char(r.compared_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "comparedAt", ${kpiColumns('x', n)}
    from system_reconciliation r
    cross join lateral (select ${KEYS} as keys, f.* from (
      select ${LINE_FIGURES} from system_difference d left join system_exception e on e.id = d.exception_id
      where d.system_reconciliation_id = r.id) f) x
    where r.id = ${runId}`);
}

/** The KPIs of one run (JSON numbers). */
export async function runKpis(em: Em, runId: string): Promise<RunKpis> {
  const f = await runFigures(em, runId, asNumber);
  if (!f) throw notFound(`system reconciliation ${runId}`);
  const { id, number, warehouse, sourceA, sourceB, comparedAt, ...figures } = f;
  return { run: { id, number, warehouse, sourceA, sourceB, comparedAt }, ...figures } as unknown as RunKpis;
}

const RUN_CSV = ['run', 'number', 'warehouse', 'sourceA', 'sourceB', 'comparedAt', 'keys', 'matched', 'explainable', 'exceptions',
  'exceptionRate', 'accuracy', 'exceptionValue', 'valueAtRisk', 'exceptionsOpened', 'exceptionsRecurring', 'adjustmentLines',
  'adjustmentQuantity', 'adjustmentValue'] as const;

/** The KPIs of one run as CSV: a header and one record (amounts as exact decimals). */
export async function runKpisCsv(em: Em, runId: string): Promise<{ number: number; csv: string }> {
  const f = await runFigures(em, runId, asDecimalText);
  if (!f) throw notFound(`system reconciliation ${runId}`);
  return { number: f.number as number, csv: toCsv(RUN_CSV, [{ ...f, run: f.id }]) };
}

export interface PeriodQuery {
  warehouse: string;
  sourceA: string;
  sourceB: string;
  /** YYYY-MM-DD, UTC days, both inclusive. */
  from: string;
  to: string;
}

/** CTEs `runs` (compared in the period) and `per_run` (with their line figures), and `closed` (exceptions closed in it). */
function periodCtes(q: PeriodQuery): RawBuilder<unknown> {
  const start = sql`(${q.from}::date)::timestamp at time zone 'UTC'`;
  const end = sql`(${q.to}::date + 1)::timestamp at time zone 'UTC'`;
  return sql`
    runs as (
      select r.id, (r.compared_at at time zone 'UTC')::date as day, ${KEYS} as keys
      from system_reconciliation r
      where r.warehouse_code = ${q.warehouse} and r.source_a = ${q.sourceA} and r.source_b = ${q.sourceB}
        and r.compared_at >= ${start} and r.compared_at < ${end}),
    per_run as (
      select runs.id, runs.day, runs.keys, f.* from runs cross join lateral (
        select ${LINE_FIGURES} from system_difference d left join system_exception e on e.id = d.exception_id
        where d.system_reconciliation_id = runs.id) f),
    closed as (
      select (e.resolved_at at time zone 'UTC')::date as day, e.status, extract(epoch from e.resolved_at - e.opened_at) / 3600 as hours
      from system_exception e
      where e.warehouse_code = ${q.warehouse} and e.source_a = ${q.sourceA} and e.source_b = ${q.sourceB}
        and e.status in ('resolved', 'accepted') and e.resolved_at >= ${start} and e.resolved_at < ${end})`;
}

/** Sums of the per-run figures (keys only of runs that state them, and exceptions likewise for the rate). */
const SUMMED = sql`
  count(p.id)::int as runs,
  sum(p.keys)::int as keys, coalesce(sum(p.lines) filter (where p.keys is not null), 0)::int as lines,
  coalesce(sum(p.explainable), 0)::int as explainable, coalesce(sum(p.exceptions), 0)::int as exceptions,
  coalesce(sum(p.exceptions) filter (where p.keys is not null), 0)::int as rated_exceptions,
  coalesce(sum(p.exception_value), 0) as exception_value, coalesce(sum(p.value_at_risk), 0) as value_at_risk,
  coalesce(sum(p.opened), 0)::int as opened, coalesce(sum(p.recurring), 0)::int as recurring,
  coalesce(sum(p.adjustment_lines), 0)::int as adjustment_lines, coalesce(sum(p.adjustment_quantity), 0) as adjustment_quantity,
  coalesce(sum(p.adjustment_value), 0) as adjustment_value`;
const RESOLUTION = sql`
  count(*) filter (where c.status = 'resolved')::int as resolved, count(*) filter (where c.status = 'accepted')::int as accepted,
  round(avg(c.hours), 4)::float8 as ttr_avg, round((percentile_cont(0.9) within group (order by c.hours::float8))::numeric, 4)::float8 as ttr_p90`;

/** The columns of a day (or of the whole period) over `x` (SUMMED) and `y` (RESOLUTION). */
function periodColumns(n: NumberFormat): RawBuilder<unknown> {
  return sql`coalesce(x.runs, 0) as runs, x.keys, x.keys - x.lines as matched, coalesce(x.explainable, 0) as explainable,
    coalesce(x.exceptions, 0) as exceptions,
    x.rated_exceptions::float8 / nullif(x.keys, 0) as "exceptionRate", 1 - x.rated_exceptions::float8 / nullif(x.keys, 0) as accuracy,
    ${n(sql`coalesce(x.exception_value, 0)`)} as "exceptionValue", ${n(sql`coalesce(x.value_at_risk, 0)`)} as "valueAtRisk",
    coalesce(x.opened, 0) as "exceptionsOpened", coalesce(x.recurring, 0) as "exceptionsRecurring",
    coalesce(x.adjustment_lines, 0) as "adjustmentLines", ${n(sql`coalesce(x.adjustment_quantity, 0)`)} as "adjustmentQuantity",
    ${n(sql`coalesce(x.adjustment_value, 0)`)} as "adjustmentValue",
    coalesce(y.resolved, 0) as resolved, coalesce(y.accepted, 0) as accepted,
    y.ttr_avg as "timeToResolutionAvgHours", y.ttr_p90 as "timeToResolutionP90Hours"`;
}

async function periodDays(em: Em, q: PeriodQuery, n: NumberFormat): Promise<Array<Record<string, unknown>>> {
  return rows(em, sql<Record<string, unknown>>`
    with ${periodCtes(q)},
    days as (select (${q.from}::date + i)::text as day from generate_series(0, ${q.to}::date - ${q.from}::date) i),
    x as (select p.day::text as day, ${SUMMED} from per_run p group by p.day),
    y as (select c.day::text as day, ${RESOLUTION} from closed c group by c.day)
    select days.day, ${periodColumns(n)}
    from days left join x on x.day = days.day left join y on y.day = days.day
    order by days.day`);
}

async function periodTotal(em: Em, q: PeriodQuery, n: NumberFormat): Promise<Record<string, unknown>> {
  return (await one(em, sql<Record<string, unknown>>`
    with ${periodCtes(q)},
    x as (select ${SUMMED} from per_run p),
    y as (select ${RESOLUTION} from closed c)
    select ${periodColumns(n)} from x cross join y`))!;
}

/** Inventory accuracy by item and by location over the period's runs (see the definitions above): worst first. */
async function accuracy(em: Em, q: PeriodQuery, by: 'item' | 'location'): Promise<Array<Record<string, unknown>>> {
  const key = by === 'item' ? sql`item` : sql`location`;
  return rows(em, sql<Record<string, unknown>>`
    with ${periodCtes(q)},
    covered as (
      select sl.system_reconciliation_id as run, sl.item_code as item, sl.location_code as location
      from source_level sl join runs on runs.id = sl.system_reconciliation_id where sl.warehouse_code = ${q.warehouse}
      union
      select d.system_reconciliation_id, i.code, d.location_code
      from system_difference d join runs on runs.id = d.system_reconciliation_id join item i on i.id = d.item_id),
    excepted as (
      select distinct d.system_reconciliation_id as run, i.code as item, d.location_code as location
      from system_difference d join runs on runs.id = d.system_reconciliation_id join item i on i.id = d.item_id
      where d.outcome = 'exception'),
    c as (select distinct run, ${key} as key from covered),
    x as (select distinct run, ${key} as key from excepted)
    select c.key as ${key}, count(*)::int as "runsCovered", count(x.run)::int as "runsWithException",
           1 - count(x.run)::float8 / count(*) as accuracy
    from c left join x on x.run = c.run and x.key = c.key
    group by c.key order by accuracy, c.key`);
}

/** The KPIs over a period, per day, in total, and inventory accuracy by item and by location (JSON numbers). */
export async function periodKpis(em: Em, q: PeriodQuery) {
  return em.transactional(
    async (tx) => ({
      ...q,
      days: await periodDays(tx, q, asNumber),
      total: await periodTotal(tx, q, asNumber),
      items: await accuracy(tx, q, 'item'),
      locations: await accuracy(tx, q, 'location'),
    }),
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}

export type PeriodView = 'days' | 'items' | 'locations';

const DAY_CSV = ['day', 'runs', 'keys', 'matched', 'explainable', 'exceptions', 'exceptionRate', 'accuracy', 'exceptionValue', 'valueAtRisk',
  'exceptionsOpened', 'exceptionsRecurring', 'adjustmentLines', 'adjustmentQuantity', 'adjustmentValue', 'resolved', 'accepted',
  'timeToResolutionAvgHours', 'timeToResolutionP90Hours'] as const;

/** One table of the period's KPIs as CSV: the days (amounts as exact decimals), or accuracy by item or by location. */
export async function periodKpisCsv(em: Em, q: PeriodQuery, view: PeriodView = 'days'): Promise<string> {
  return em.transactional(
    async (tx) => {
      if (view === 'days') return toCsv(DAY_CSV, await periodDays(tx, q, asDecimalText));
      const key = view === 'items' ? 'item' : 'location';
      return toCsv([key, 'runsCovered', 'runsWithException', 'accuracy'], await accuracy(tx, q, key));
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}
