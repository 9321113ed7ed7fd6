import { ROW_JOINS } from '../../db/row-filter';
import { one, rows, sql, type Em } from '../../db/sql';
import { asDecimalText } from './number-format';
import { rowColumns } from './rows';

/** RFC 4180: CRLF line ends; a field with a quote, comma or line break is quoted, quotes doubled. */
export function toCsv(header: readonly string[], records: ReadonlyArray<Record<string, unknown>>): string {
  const field = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [header, ...records.map((r) => header.map((k) => r[k]))].map((cells) => cells.map(field).join(',') + '\r\n').join('');
}

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
  const source = sql`(select r.*, r.state in ('processed', 'counted', 'failed', 'skipped') and r.counted_quantity is not null as counted
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

const ROW_CSV_HEADER = [
  'id', 'zone', 'location', 'item', 'lot', 'serial', 'handlingUnit', 'owner', 'state', 'approval',
  'snapshotQuantity', 'expectedQuantity', 'countedQuantity', 'varianceQuantity', 'varianceInventoryQuantity', 'varianceValue',
  'countedRound', 'countedBy', 'approvedBy',
] as const;

/** Every row of the reconciliation, in warehouse walking order, for a spreadsheet. */
export async function rowsCsv(em: Em, reconciliationId: string): Promise<string> {
  const list = await rows(
    em,
    sql<Record<string, unknown>>`
      select ${rowColumns(asDecimalText)} from ${ROW_JOINS}
      where r.reconciliation_id = ${reconciliationId}
      order by z.code, l.code, i.code, r.lot, r.serial, r.handling_unit, r.owner, r.id`,
  );
  return toCsv(ROW_CSV_HEADER, list);
}

/** The audit trail, oldest first, keyset-paginated by event id. */
export async function auditTrail(em: Em, reconciliationId: string, page: { after: number; limit: number }) {
  const events = await rows(
    em,
    sql<{ id: number }>`
      select id::int, at, actor, action, subject, before, after from audit_event
      where reconciliation_id = ${reconciliationId} and id > ${page.after}
      order by id limit ${page.limit}`,
  );
  const last = events[events.length - 1];
  return { events, next: events.length === page.limit && last ? last.id : null };
}
