import { affected, one, rows, sql, type Em } from '../db/sql';
import { audit } from './audit';
import { toCsv } from './csv';
import { asDecimalText, asNumber, type NumberFormat } from './number-format';
import { notFound, refuse } from './refusal';

/**
 * The adjustment order the ERP receives after release: one line per posted
 * row with a variance, in the field layout of an LN adjustment order line.
 * Lines are never edited or added, only withdrawn with a reason.
 */
export async function createAdjustmentOrder(em: Em, reconciliationId: string): Promise<{ orderNumber: number; lines: number }> {
  const created = await one(
    em,
    sql<{ number: number }>`
      insert into adjustment_order (reconciliation_id, warehouse_code)
      select id, warehouse_code from reconciliation where id = ${reconciliationId}
      on conflict (reconciliation_id) do nothing
      returning number::int`,
  );
  if (!created) {
    const existing = await one(
      em,
      sql<{ orderNumber: number; lines: number }>`
        select o.number::int as "orderNumber",
               (select count(*)::int from adjustment_order_line l where l.order_number = o.number) as lines
        from adjustment_order o where o.reconciliation_id = ${reconciliationId}`,
    );
    if (!existing) throw notFound(`reconciliation ${reconciliationId}`);
    return existing;
  }
  // Owner and row id only break ties, so numbering is the same on every run.
  const lines = await affected(
    em,
    sql`insert into adjustment_order_line (
          order_number, line, row_id, warehouse_code, location, item, lot, serial, handling_unit,
          storage_unit, inventory_unit,
          stock_point_inventory_su, actual_inventory_su, variance_su,
          stock_point_inventory_iu, actual_inventory_iu, variance_iu,
          reason, adjustment_date, approval, adjustment_price, adjustment_amount, ownership, owner, processed)
        select ${created.number}::bigint,
               row_number() over (order by z.code, l.code, i.code, r.lot, r.serial, r.handling_unit, r.owner, r.id),
               r.id, rec.warehouse_code, l.code, i.code, r.lot, r.serial, r.handling_unit,
               i.storage_unit, i.inventory_unit,
               r.expected_quantity, r.counted_quantity, r.variance_quantity,
               r.expected_quantity * i.conversion_factor, r.counted_quantity * i.conversion_factor,
               r.variance_quantity * i.conversion_factor,
               'cycle count reconciliation ' || rec.number, current_date, r.approval,
               i.standard_cost, round(i.standard_cost * r.variance_quantity * i.conversion_factor, 4),
               case when r.owner = '' then 'company_owned' else 'customer_owned' end, r.owner, true
        from reconciliation_row r
        join reconciliation rec on rec.id = r.reconciliation_id
        join item i on i.id = r.item_id
        join location l on l.id = r.location_id
        join zone z on z.id = r.zone_id
        where r.reconciliation_id = ${reconciliationId} and r.state = 'processed' and r.variance_quantity <> 0`,
  );
  return { orderNumber: created.number, lines };
}

/** The fields of one adjustment order line (LN whinh5121m000), in the order the CSV lists them. */
const LINE_FIELDS = [
  'line', 'rowId', 'warehouse', 'location', 'item', 'lot', 'serial', 'handlingUnit', 'storageUnit', 'inventoryUnit',
  'stockPointInventorySu', 'actualInventorySu', 'varianceSu', 'stockPointInventoryIu', 'actualInventoryIu', 'varianceIu',
  'reason', 'adjustmentDate', 'approval', 'adjustmentPrice', 'adjustmentAmount', 'ownership', 'owner', 'processed',
] as const;

const lineColumns = (n: NumberFormat) => sql`
  l.line, l.row_id::int as "rowId", l.warehouse_code as warehouse, l.location, l.item, l.lot, l.serial,
  l.handling_unit as "handlingUnit", l.storage_unit as "storageUnit", l.inventory_unit as "inventoryUnit",
  ${n(sql`l.stock_point_inventory_su`)} as "stockPointInventorySu", ${n(sql`l.actual_inventory_su`)} as "actualInventorySu",
  ${n(sql`l.variance_su`)} as "varianceSu", ${n(sql`l.stock_point_inventory_iu`)} as "stockPointInventoryIu",
  ${n(sql`l.actual_inventory_iu`)} as "actualInventoryIu", ${n(sql`l.variance_iu`)} as "varianceIu",
  l.reason, l.adjustment_date::text as "adjustmentDate", l.approval,
  ${n(sql`l.adjustment_price`)} as "adjustmentPrice", ${n(sql`l.adjustment_amount`)} as "adjustmentAmount",
  l.ownership, l.owner, l.processed`;

type OrderHeader = { orderNumber: number; reconciliationId: string; warehouse: string; createdAt: string };

async function requireOrder(em: Em, reconciliationId: string): Promise<OrderHeader> {
  const order = await one(
    em,
    sql<OrderHeader>`select number::int as "orderNumber", reconciliation_id as "reconciliationId", warehouse_code as warehouse,
                            created_at as "createdAt"
                     from adjustment_order where reconciliation_id = ${reconciliationId}`,
  );
  if (!order) throw notFound(`adjustment order of reconciliation ${reconciliationId}`);
  return order;
}

async function liveLines(em: Em, orderNumber: number, n: NumberFormat) {
  return rows(
    em,
    sql<Record<string, unknown>>`select ${lineColumns(n)} from adjustment_order_line l
      where l.order_number = ${orderNumber} and l.deleted_at is null order by l.line`,
  );
}

/** The order with its lines; deleted lines are not part of what the ERP receives. */
export async function adjustmentOrder(em: Em, reconciliationId: string) {
  const order = await requireOrder(em, reconciliationId);
  return { ...order, lines: await liveLines(em, order.orderNumber, asNumber) };
}

/** The same lines as CSV, one record per line, led by the order number so a file stands on its own. */
export async function adjustmentOrderCsv(em: Em, reconciliationId: string): Promise<{ orderNumber: number; csv: string }> {
  const order = await requireOrder(em, reconciliationId);
  const lines = await liveLines(em, order.orderNumber, asDecimalText);
  return {
    orderNumber: order.orderNumber,
    csv: toCsv(['orderNumber', ...LINE_FIELDS], lines.map((l) => ({ orderNumber: order.orderNumber, ...l }))),
  };
}

/**
 * Lines are never edited or added, only withdrawn: a soft delete that keeps
 * the line, who withdrew it and why, plus an audit event with the line as it was.
 */
export async function deleteAdjustmentLine(em: Em, reconciliationId: string, line: number, user: string, reason: string) {
  if (!reason.trim()) throw refuse('ReasonRequired', 'a reason is required to delete an adjustment order line');
  return em.transactional(async (tx) => {
    const order = await requireOrder(tx, reconciliationId);
    // The row lock makes a concurrent second delete wait, then see the first one and refuse.
    const current = await one(
      tx,
      sql<{ line: Record<string, unknown>; deleted: boolean }>`
        select (select to_json(x) from (select ${lineColumns(asNumber)}) x) as line, l.deleted_at is not null as deleted
        from adjustment_order_line l
        where l.order_number = ${order.orderNumber} and l.line = ${line} for update`,
    );
    if (!current) throw notFound(`line ${line} of adjustment order ${order.orderNumber}`);
    if (current.deleted) throw refuse('LineAlreadyDeleted', `line ${line} of adjustment order ${order.orderNumber} is already deleted`);
    const deleted = await one(
      tx,
      sql<{ deletedAt: string; deletedBy: string; deletedReason: string }>`
        update adjustment_order_line set deleted_at = now(), deleted_by = ${user}, deleted_reason = ${reason}
        where order_number = ${order.orderNumber} and line = ${line}
        returning deleted_at as "deletedAt", deleted_by as "deletedBy", deleted_reason as "deletedReason"`,
    );
    await audit(tx, { reconciliationId, actor: user, action: 'adjustment_line_deleted', subject: `line ${line}`,
      before: current.line, after: { deletedReason: reason } });
    return { orderNumber: order.orderNumber, ...current.line, ...deleted! };
  });
}
