import { affected, one, rows, sql, type Em } from '../../db/sql';
import { computeVariance } from '../../domain/variance';
import { createAdjustmentOrder } from '../adjustment-orders';
import { audit } from '../audit';
import { applyTransition, createProcessingDocument } from '../reconciliations';
import { refuse } from '../refusal';
import { planRelease } from '../release/plan';
import { skipFailedRows } from '../release/post';
import { rowState } from '../rows/state';
import { storageUnitsSql } from '../systems';
import type { LockedSystemReconciliation } from './document';

/**
 * Processing (seed 000: "optionally, the order can be processed, so the
 * inventory differences will be actually corrected"): the book is set to
 * what the other system reports, for approved lines, through the very rows,
 * posting order and exactly-once posting of a count release (blocking
 * corrections before an OUT, an IN before blocking corrections), ending in an
 * adjustment order. The lines' counts become the rows of a count document of
 * their own, which the system reconciliation's workflow moves through release.
 */
export interface ProcessingPlan {
  reconciliationId: string;
  rows: number;
  lines: number[];
}

interface Key {
  item_id: number;
  location_code: string;
  location_id: number;
  zone_id: number;
  item_code: string;
  positions: number;
  position_id: number | null;
  lot: string;
  serial: string;
  handling_unit: string;
  owner: string;
  book: string;
  counted: string;
  reasonless_unavailable: string;
  conversion_factor: string;
  standard_cost: string;
  lines: number[];
  approvers: string[];
}

export async function materializeProcessing(
  em: Em,
  rec: LockedSystemReconciliation,
  runId: string,
  lines: number[],
  by: { user: string },
): Promise<ProcessingPlan> {
  if (rec.sourceA !== 'book') throw refuse('NotProcessable', 'processing corrects the book: only a reconciliation whose source A is the book can be processed');
  if (lines.length === 0) throw refuse('NoRowsSelected', 'name the lines to process');
  const chosen = await rows(em, sql<{ line: number; state: string; approval: string; location_code: string }>`
    select line, state, approval, location_code from system_difference
    where system_reconciliation_id = ${runId} and line = any(${lines}::int[]) order by line`);
  const missing = lines.filter((l) => !chosen.some((c) => c.line === l));
  if (missing.length) throw refuse('NoRowsSelected', `lines not in this order: ${missing.slice(0, 20).join(', ')}`);
  const unfit = chosen.filter((c) => !['open', 'failed'].includes(c.state) || c.approval !== 'approved' || c.location_code === '');
  if (unfit.length) {
    throw refuse('NotProcessable', `only approved, open (or failed) lines at location level can be processed; refused: ${unfit.map((u) => u.line).slice(0, 20).join(', ')}`);
  }
  const keys = await keysOf(em, runId, lines);
  const problems = keys.flatMap((k) => {
    const out: string[] = [];
    const all = new Set(k.lines);
    if (k.positions > 1) out.push(`item ${k.item_code} at ${k.location_code} has several stock positions (lots, serials, handling units, owners): count it instead`);
    if (Number(k.reasonless_unavailable) !== 0) out.push(`${rec.sourceB} reports unavailable stock of ${k.item_code} at ${k.location_code} without a blocking reason: map its status to a reason`);
    if (![...all].every((l) => lines.includes(l))) out.push(`item ${k.item_code} at ${k.location_code}: process all of its lines (${k.lines.join(', ')}) together`);
    if (k.approvers.length === 0) out.push(`item ${k.item_code} at ${k.location_code}: approve all of its lines first`);
    return out;
  });
  if (problems.length) throw refuse('NotProcessable', problems.slice(0, 10).join('; '));

  const reconciliationId = await createProcessingDocument(
    em,
    {
      warehouse: rec.warehouse,
      scope: { kind: 'locations', locations: [...new Set(keys.map((k) => k.location_code))], items: [...new Set(keys.map((k) => k.item_code))] },
      splitPolicy: { kind: 'none' },
      tolerance: { default: {} },
      blindCount: false,
      maxRecountRounds: 0,
      countDeadlineMinutes: null,
      managerApprovalLimit: Number(rec.managerApprovalLimit),
    },
    by.user,
    { systemReconciliation: runId },
  );
  for (const k of keys) await insertRow(em, reconciliationId, rec.sourceB, k);
  await affected(em, sql`
    insert into reconciliation_row_blocking (row_id, reason, snapshot_quantity, counted_quantity)
    select r.id, x.reason, coalesce(max(x.book), 0), coalesce(max(x.counted), 0)
    from reconciliation_row r
    join lateral (
      select b.reason, b.quantity as book, null::numeric as counted from blocking b where b.stock_position_id = r.stock_position_id and b.quantity > 0
      union all
      select n.reason, null, sum(n.quantity) from ${normalizedLevels(runId, rec.sourceB)} n
      where n.item_id = r.item_id and n.location_code = (select code from location where id = r.location_id) and n.reason is not null
      group by n.reason
    ) x on true
    where r.reconciliation_id = ${reconciliationId}
    group by r.id, x.reason`);
  await affected(em, sql`update system_difference set state = 'processing'
    where system_reconciliation_id = ${runId} and line = any(${lines}::int[])`);
  await affected(em, sql`update system_reconciliation set processing_reconciliation_id = ${reconciliationId} where id = ${runId}`);
  await audit(em, { warehouse: rec.warehouse, actor: by.user, action: 'system_lines_processing', subject: `system reconciliation ${runId}`, after: { lines, reconciliationId } });
  return { reconciliationId, rows: keys.length, lines };
}

/** Per item and location of the chosen lines: the book's position and what source B reports, in storage units. */
async function keysOf(em: Em, runId: string, lines: number[]): Promise<Key[]> {
  return rows(em, sql<Key>`
    with run as (select warehouse_code, source_b from system_reconciliation where id = ${runId}),
    chosen as (
      select distinct d.item_id, d.location_code from system_difference d
      where d.system_reconciliation_id = ${runId} and d.line = any(${lines}::int[])
    ),
    b as (
      select n.item_id, n.location_code,
             coalesce(sum(n.quantity) filter (where n.category in ('available', 'unavailable')), 0) as counted,
             coalesce(sum(n.quantity) filter (where n.category = 'unavailable' and n.reason is null), 0) as reasonless
      from ${normalizedLevels(runId, sql`(select source_b from run)`)} n group by 1, 2
    )
    select c.item_id, c.location_code, l.id as location_id, l.zone_id, i.code as item_code,
           (select count(*)::int from stock_position sp where sp.location_id = l.id and sp.item_id = c.item_id) as positions,
           sp.id::int as position_id, coalesce(sp.lot, '') as lot, coalesce(sp.serial, '') as serial,
           coalesce(sp.handling_unit, '') as handling_unit, coalesce(sp.owner, '') as owner,
           coalesce(sp.quantity, 0) as book, coalesce(b.counted, 0) as counted, coalesce(b.reasonless, 0) as reasonless_unavailable,
           i.conversion_factor, i.standard_cost,
           (select array_agg(d.line order by d.line) from system_difference d
             where d.system_reconciliation_id = ${runId} and d.item_id = c.item_id and d.location_code = c.location_code
               and d.state in ('open', 'failed')) as lines,
           coalesce((select array_agg(distinct d.approved_by) from system_difference d
             where d.system_reconciliation_id = ${runId} and d.item_id = c.item_id and d.location_code = c.location_code
               and d.state in ('open', 'failed') and d.approval = 'approved'
             having bool_and(d.approval = 'approved')), '{}') as approvers
    from chosen c
    join item i on i.id = c.item_id
    join location l on l.warehouse_code = (select warehouse_code from run) and l.code = c.location_code
    left join lateral (select * from stock_position s where s.location_id = l.id and s.item_id = c.item_id order by s.id limit 1) sp on true
    left join b on b.item_id = c.item_id and b.location_code = c.location_code
    order by c.location_code, i.code`);
}

async function insertRow(em: Em, reconciliationId: string, sourceB: string, k: Key): Promise<void> {
  const v = computeVariance({ expected: Number(k.book), counted: Number(k.counted), conversionFactor: Number(k.conversion_factor), standardCost: Number(k.standard_cost) });
  await affected(em, sql`
    insert into reconciliation_row (reconciliation_id, stock_position_id, origin, zone_id, location_id, item_id, lot, serial, handling_unit, owner,
                                    snapshot_quantity, state, approval, counted_round, counted_quantity, expected_quantity, counted_at, counted_by,
                                    variance_quantity, variance_inventory_quantity, variance_value, approved_by, approved_at)
    values (${reconciliationId}, ${k.position_id}, ${k.position_id === null ? 'found' : 'snapshot'}, ${k.zone_id}, ${k.location_id}, ${k.item_id},
            ${k.lot}, ${k.serial}, ${k.handling_unit}, ${k.owner}, ${k.book}, 'counted', 'approved', 0, ${k.counted}, ${k.book}, now(),
            ${`system ${sourceB}`}, ${v.quantity}, ${v.inventoryQuantity}, ${v.value}, ${k.approvers.join(',')}, now())`);
}

/**
 * A source's levels for the run in the book's terms: category and blocking
 * reason from its status mapping, quantity in the item's storage unit (the
 * one conversion rule, store/systems.ts storageUnitsSql).
 */
function normalizedLevels(runId: string, source: string | ReturnType<typeof sql>) {
  return sql`(
    select i.id as item_id, l.location_code, m.category, m.blocking_reason as reason,
           l.quantity * ${storageUnitsSql(sql`l.source`, sql`l.item_code`, sql`l.unit`)} as quantity
    from source_level l
    join item i on i.code = l.item_code
    join status_mapping m on m.source = l.source and m.status = l.status
    where l.system_reconciliation_id = ${runId} and l.source = ${source}
  )`;
}

/** Plans the postings and moves the processing document to releasing, in the caller's transaction. */
export async function planProcessing(em: Em, reconciliationId: string, checkpoint: () => void): Promise<void> {
  await planRelease(em, reconciliationId, checkpoint);
  await applyTransition(em, reconciliationId, { seq: 1, to: 'releasing' });
}

/**
 * After posting: rows that could not post go back to their lines as failed
 * (with the reason; they can be processed again later), the document gets
 * its adjustment order and is released, and the lines that posted are processed.
 */
export async function finishProcessing(em: Em, runId: string, reconciliationId: string, by: string): Promise<{ processed: number; failed: number; adjustmentOrder: { orderNumber: number; lines: number } }> {
  const failed = await rows(em, sql<{ id: number; item_id: number; location_code: string; failure_reason: string }>`
    select r.id::int, r.item_id, l.code as location_code, r.failure_reason from reconciliation_row r join location l on l.id = r.location_id
    where r.reconciliation_id = ${reconciliationId} and r.state = 'failed'`);
  for (const f of failed) {
    await affected(em, sql`update system_difference set state = 'failed',
      evidence = evidence || jsonb_build_object('processingFailure', ${f.failure_reason}::text)
      where system_reconciliation_id = ${runId} and item_id = ${f.item_id} and location_code = ${f.location_code} and state = 'processing'`);
  }
  if (failed.length > 0) {
    await skipFailedRows(em, reconciliationId, { rowIds: failed.map((f) => f.id) }, { user: by, role: 'senior_manager' }, 'left to a later processing of the system reconciliation');
  }
  const adjustmentOrder = await createAdjustmentOrder(em, reconciliationId);
  await applyTransition(em, reconciliationId, { seq: 2, to: 'released' });
  const processed = await affected(em, sql`update system_difference set state = 'processed'
    where system_reconciliation_id = ${runId} and state = 'processing'`);
  await affected(em, sql`update system_reconciliation set processing_reconciliation_id = null where id = ${runId}`);
  const run = await one(em, sql<{ warehouse_code: string }>`select warehouse_code from system_reconciliation where id = ${runId}`);
  await audit(em, { warehouse: run!.warehouse_code, actor: by, action: 'system_lines_processed', subject: `system reconciliation ${runId}`, after: { processed, failed: failed.length, adjustmentOrder } });
  return { processed, failed: failed.length, adjustmentOrder };
}

/** A processing cut short by a cancel: lines whose rows posted are processed, the others go back to open. */
export async function settleCancelledProcessing(em: Em, runId: string, reconciliationId: string): Promise<void> {
  await affected(em, sql`
    update system_difference d set state = case when exists (
        select 1 from reconciliation_row r join location l on l.id = r.location_id
        where r.reconciliation_id = ${reconciliationId} and r.item_id = d.item_id and l.code = d.location_code
          and ${rowState(reconciliationId)} = 'processed')
      then 'processed' else 'open' end
    where d.system_reconciliation_id = ${runId} and d.state = 'processing'`);
  await affected(em, sql`update system_reconciliation set processing_reconciliation_id = null where id = ${runId}`);
}
