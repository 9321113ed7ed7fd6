import type { Orm } from '../db/orm';
import { affected, one, sql, type Em } from '../db/sql';
import { scopeFilters, type Scope } from '../domain/scope';

export interface SnapshotResult {
  rows: number;
  snapshotAt: string;
}

/**
 * Generate Snapshot: one reconciliation row per stock position in scope, with
 * its expected quantity and blockings by reason, in two set-based statements.
 * Idempotent: the same transaction stamps `snapshot_at`, so a retry after a
 * commit finds it stamped and only reports.
 */
export function snapshotActivities(orm: Orm) {
  return {
    async generateSnapshot(reconciliationId: string): Promise<SnapshotResult> {
      return orm.em.fork().transactional(async (em) => {
        const rec = await one(
          em,
          sql<{ warehouse_code: string; scope: Scope; snapshot_at: string | null }>`
            select warehouse_code, scope, snapshot_at from reconciliation where id = ${reconciliationId} for update`,
        );
        if (!rec) throw new Error(`reconciliation ${reconciliationId} not found`);
        if (rec.snapshot_at) return { rows: await rowTotal(em, reconciliationId), snapshotAt: new Date(rec.snapshot_at).toISOString() };

        const f = scopeFilters(rec.scope);
        await one(
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
              where sp.warehouse_code = ${rec.warehouse_code}
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
        const stamped = await one(
          em,
          sql<{ snapshot_at: string }>`
            update reconciliation set snapshot_at = now(), status = 'ready' where id = ${reconciliationId}
            returning snapshot_at`,
        );
        return { rows: await rowTotal(em, reconciliationId), snapshotAt: new Date(stamped!.snapshot_at).toISOString() };
      });
    },
  };
}

async function rowTotal(em: Em, reconciliationId: string): Promise<number> {
  const r = await one(em, sql<{ n: number }>`select count(*)::int as n from reconciliation_row where reconciliation_id = ${reconciliationId}`);
  return r?.n ?? 0;
}
