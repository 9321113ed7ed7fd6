import { one, rows, sql, type Em } from '../../db/sql';
import type { TolerancePolicy } from '../../domain/tolerance';
import { notFound, refuse } from '../refusal';
import { BOOK } from '../systems';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a comparison or a refresh needs to know about a system reconciliation
 * run. Timestamps stay PostgreSQL text (they round-trip exactly through
 * `::timestamptz`; a JS Date would drop the microseconds and could move a
 * message across an as-of boundary).
 */
export interface RunContext {
  id: string;
  number: number;
  sourceA: string;
  sourceB: string;
  warehouse: string;
  tolerance: TolerancePolicy;
  cutoffMinutes: number;
  comparedAt: string | null;
  summary: unknown;
  /** When source A's / B's levels are true (levels_receipt.as_of). */
  asOfA: string;
  asOfB: string;
  /** The later of the two. */
  later: string;
  /** Both sources keep stock per location: compare per location; otherwise per warehouse (location ''). */
  perLocation: boolean;
}

export async function loadRunContext(em: Em, runId: string): Promise<RunContext> {
  if (!UUID.test(runId)) throw notFound('system reconciliation');
  const run = await one(
    em,
    sql<{
      number: string;
      source_a: string;
      source_b: string;
      warehouse_code: string;
      tolerance: TolerancePolicy;
      cutoff_minutes: number;
      compared_at: string | null;
      summary: unknown;
      as_of_a: string | null;
      as_of_b: string | null;
      later: string | null;
    }>`
      select r.number::text as number, r.source_a, r.source_b, r.warehouse_code, r.tolerance, r.cutoff_minutes,
             r.compared_at::text as compared_at, r.summary,
             la.as_of::text as as_of_a, lb.as_of::text as as_of_b, greatest(la.as_of, lb.as_of)::text as later
      from system_reconciliation r
      left join levels_receipt la on la.system_reconciliation_id = r.id and la.source = r.source_a
      left join levels_receipt lb on lb.system_reconciliation_id = r.id and lb.source = r.source_b
      where r.id = ${runId}`,
  );
  if (!run) throw notFound('system reconciliation');
  const missing = [run.as_of_a === null ? run.source_a : null, run.as_of_b === null ? run.source_b : null].filter((s) => s !== null);
  if (missing.length > 0) {
    throw refuse('InvalidState', `the levels of ${missing.join(' and ')} have not been received`, { sources: missing });
  }
  const granularity = await rows(
    em,
    sql<{ source: string; granularity: string | null }>`
      select s.source, case when s.source = ${BOOK} then 'location' else e.location_granularity end as granularity
      from unnest(${[run.source_a, run.source_b]}::text[]) s(source)
      left join external_system e on e.name = s.source`,
  );
  const unknown = granularity.filter((g) => g.granularity === null).map((g) => g.source);
  if (unknown.length > 0) throw refuse('UnknownSource', `source ${unknown.join(', ')} is not registered`, { sources: unknown });
  return {
    id: runId,
    number: Number(run.number),
    sourceA: run.source_a,
    sourceB: run.source_b,
    warehouse: run.warehouse_code,
    tolerance: run.tolerance,
    cutoffMinutes: run.cutoff_minutes,
    comparedAt: run.compared_at,
    summary: run.summary,
    asOfA: run.as_of_a!,
    asOfB: run.as_of_b!,
    later: run.later!,
    perLocation: granularity.every((g) => g.granularity === 'location'),
  };
}
