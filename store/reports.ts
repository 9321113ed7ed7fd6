import { one, rows, sql, type Em } from '../db/sql';
import { rowState } from './rows/state';

const FIGURES = sql`
  count(*) filter (where counted)::int as "rowsCounted",
  count(*) filter (where counted and r.approval = 'not_required')::int as "withinTolerance",
  (count(*) filter (where counted and r.approval = 'not_required'))::float8 / nullif(count(*) filter (where counted), 0) as "hitRate",
  coalesce(sum(abs(r.variance_value)) filter (where counted), 0)::float8 as "grossVarianceValue",
  coalesce(sum(r.variance_value) filter (where counted), 0)::float8 as "netVarianceValue",
  count(*) filter (where r.shown_state = 'processed')::int as processed,
  count(*) filter (where r.shown_state = 'failed')::int as failed,
  count(*) filter (where r.shown_state = 'skipped')::int as skipped`;

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
 * Counted rows by variance value, losses to gains: (from, to], with 0 a
 * bucket of its own, so the picture shows how much of the count was exact.
 */
const VALUE_BOUNDS: Array<[number | null, number | null]> = [
  [null, -1000], [-1000, -100], [-100, -10], [-10, 0], [0, 0], [0, 10], [10, 100], [100, 1000], [1000, null],
];
const VALUE_BUCKET = sql`case when r.variance_value <= -1000 then 0 when r.variance_value <= -100 then 1
  when r.variance_value <= -10 then 2 when r.variance_value < 0 then 3 when r.variance_value = 0 then 4
  when r.variance_value <= 10 then 5 when r.variance_value <= 100 then 6 when r.variance_value <= 1000 then 7 else 8 end`;

/**
 * Count accuracy. A row is a hit when its last count fell within tolerance
 * (approval 'not_required'), judged on that row's own absolute deviation: a
 * +2 and a -2 are two misses even though they net to zero, which is also
 * why the gross value (sum of |value|) is reported beside the net.
 */
export async function reconciliationReport(em: Em, reconciliationId: string) {
  const source = sql`(select r.*, ${rowState(reconciliationId)} as shown_state, r.state in ('processed', 'counted', 'failed', 'skipped', 'withdrawn') and r.counted_quantity is not null as counted
                      from reconciliation_row r where r.reconciliation_id = ${reconciliationId}) r
                     join zone z on z.id = r.zone_id`;
  // One snapshot for all three queries, so the zones and the buckets always add up to the total.
  return em.transactional(
    async (tx) => {
      const total = await one(tx, sql<Figures>`select ${FIGURES} from ${source}`);
      const zones = await rows(tx, sql<Figures & { zone: string }>`
        select z.code as zone, ${FIGURES} from ${source} group by z.code order by z.code`);
      const counted = await rows(tx, sql<{ bucket: number; rows: number; value: number }>`
        select ${VALUE_BUCKET} as bucket, count(*)::int as rows, sum(r.variance_value)::float8 as value
        from ${source} where counted group by 1`);
      const distribution = VALUE_BOUNDS.map(([from, to], bucket) => {
        const b = counted.find((x) => x.bucket === bucket);
        return { from, to, rows: b?.rows ?? 0, value: b?.value ?? 0 };
      });
      return { reconciliationId, ...total!, zones, distribution };
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}
