import { affected, one, sql, type Em } from '../../db/sql';
import { scopeFilters, type Scope } from '../../domain/scope';

/**
 * Generate Snapshot: one reconciliation row per stock position in scope,
 * with its expected quantity and blockings by reason, in one set-based
 * statement. The caller holds the document lock and stamps the snapshot in
 * the same transaction, so a retry after a commit finds it done.
 */
export async function insertSnapshotRows(em: Em, reconciliationId: string, warehouse: string, scope: Scope): Promise<void> {
  const f = scopeFilters(scope);
  await affected(
    em,
    sql`
      with inserted as (
        insert into reconciliation_row (reconciliation_id, stock_position_id, origin, zone_id, location_id, item_id,
                                        lot, serial, handling_unit, owner, snapshot_quantity, state)
        select ${reconciliationId}, sp.id, 'snapshot', l.zone_id, sp.location_id, sp.item_id,
               sp.lot, sp.serial, sp.handling_unit, sp.owner, sp.quantity, 'awaiting_count'
        from stock_position sp
        join location l on l.id = sp.location_id
        join zone z on z.id = l.zone_id
        join item i on i.id = sp.item_id
        where sp.warehouse_code = ${warehouse}
          and (${f.zones}::text[] is null or z.code = any(${f.zones}::text[]))
          and (${f.locations}::text[] is null or l.code = any(${f.locations}::text[]))
          and (${f.items}::text[] is null or i.code = any(${f.items}::text[]))
        returning id, stock_position_id
      )
      insert into reconciliation_row_blocking (row_id, reason, snapshot_quantity)
      select ins.id, b.reason, b.quantity
      from inserted ins join blocking b on b.stock_position_id = ins.stock_position_id
      where b.quantity > 0`,
  );
  // Fresh bulk rows have no planner statistics yet; every later set-based step joins on them.
  await affected(em, sql`analyze reconciliation_row`);
  await affected(em, sql`analyze reconciliation_row_blocking`);
}

export async function rowTotal(em: Em, reconciliationId: string): Promise<number> {
  const r = await one(em, sql<{ n: number }>`select count(*)::int as n from reconciliation_row where reconciliation_id = ${reconciliationId}`);
  return r?.n ?? 0;
}
