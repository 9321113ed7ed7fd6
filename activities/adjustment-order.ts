import { refuse } from './refusal';
import type { Orm } from '../db/orm';
import { affected, one, sql } from '../db/sql';

/**
 * The adjustment order the ERP receives after release: one line per posted
 * row with a variance, in the field layout of an LN adjustment order line.
 */
export function adjustmentOrderActivities(orm: Orm) {
  return {
    /**
     * Idempotent: the order is unique per reconciliation, so a retried
     * activity (or a concurrent one, which waits on the unique index) finds the
     * order already there and returns it unchanged.
     */
    async createAdjustmentOrder(reconciliationId: string): Promise<{ orderNumber: number; lines: number }> {
      return orm.em.fork().transactional(async (em) => {
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
          if (!existing) throw refuse(`reconciliation ${reconciliationId} not found`, 'NotFound');
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
      });
    },
  };
}
