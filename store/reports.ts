import { one, rows, sql, type Em } from '../db/sql';

const FIGURES = sql`
  count(*) filter (where counted)::int as "rowsCounted",
  count(*) filter (where counted and r.approval = 'not_required')::int as "withinTolerance",
  (count(*) filter (where counted and r.approval = 'not_required'))::float8 / nullif(count(*) filter (where counted), 0) as "hitRate",
  coalesce(sum(abs(r.variance_value)) filter (where counted), 0)::float8 as "grossVarianceValue",
  coalesce(sum(r.variance_value) filter (where counted), 0)::float8 as "netVarianceValue",
  count(*) filter (where r.state = 'processed')::int as processed,
  count(*) filter (where r.state = 'failed')::int as failed,
  count(*) filter (where r.state = 'skipped')::int as skipped`;

type Figures = {
  rowsCounted: number;
  withinTolerance: number;
  hitRate: number | null;
  grossVarianceValue: number;
  netVarianceValue: number;
  processed: number;
  failed: number;
  skipped: number;
};

/**
 * Count accuracy. A row is a hit when its last count fell within tolerance
 * (approval 'not_required'), judged on that row's own absolute deviation: a
 * +2 and a -2 are two misses even though they net to zero, which is also
 * why the gross value (sum of |value|) is reported beside the net.
 */
export async function reconciliationReport(em: Em, reconciliationId: string) {
  const source = sql`(select r.*, r.state in ('processed', 'counted', 'failed', 'skipped', 'withdrawn') and r.counted_quantity is not null as counted
                      from reconciliation_row r where r.reconciliation_id = ${reconciliationId}) r
                     join zone z on z.id = r.zone_id`;
  // One snapshot for both queries, so the zones always add up to the total.
  return em.transactional(
    async (tx) => {
      const total = await one(tx, sql<Figures>`select ${FIGURES} from ${source}`);
      const zones = await rows(tx, sql<Figures & { zone: string }>`
        select z.code as zone, ${FIGURES} from ${source} group by z.code order by z.code`);
      return { reconciliationId, ...total!, zones };
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}
