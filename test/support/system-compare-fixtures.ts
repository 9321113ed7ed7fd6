import { randomUUID } from 'node:crypto';
import type { Orm } from '../../db/orm';
import { affected, rows, sql } from '../../db/sql';
import type { TolerancePolicy } from '../../domain/tolerance';
import { compareSources, type CompareResult } from '../../store/system-reconciliation/compare';
import { refreshLines, type RefreshResult } from '../../store/system-reconciliation/refresh';

/**
 * Data for comparison tests, written straight in SQL (the APIs that load it
 * are others' work). Everything a test creates lives in a warehouse of its own,
 * so messages, movements and earlier runs of one test never reach another.
 *
 * Items (shared master): CMP-P (PCS, cost 10), CMP-BOX (stored in BOX of 12 PCS,
 * inventory unit PCS, cost 2.5 per PCS), CMP-CASE (PCS, cost 1; the ERP reports
 * it in CASE of 24). Systems: ERP (warehouse-granular: free, unavailable,
 * transit) and WMS (location-granular: ok, damaged, quality, pending_putaway,
 * transit); the book's mapping is the migration's.
 */
export const T0 = '2024-06-01T10:00:00Z';
export const minutesBefore = (minutes: number, at = T0) => new Date(Date.parse(at) - minutes * 60_000).toISOString();
export const minutesAfter = (minutes: number, at = T0) => new Date(Date.parse(at) + minutes * 60_000).toISOString();

export async function compareMasterData(orm: Orm): Promise<void> {
  const em = orm.em.fork();
  await affected(
    em,
    sql`insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost)
        values ('CMP-P', 'PCS', 'PCS', 1, 10), ('CMP-BOX', 'BOX', 'PCS', 12, 2.5), ('CMP-CASE', 'PCS', 'PCS', 1, 1)
        on conflict (code) do nothing`,
  );
  await affected(
    em,
    sql`insert into external_system (name, location_granularity, levels_mode, created_by)
        values ('ERP', 'warehouse', 'pushed', 'test'), ('WMS', 'location', 'pushed', 'test'), ('WMS2', 'location', 'pushed', 'test')
        on conflict (name) do nothing`,
  );
  await affected(
    em,
    sql`insert into status_mapping (source, status, category, blocking_reason) values
          ('ERP', 'free', 'available', null), ('ERP', 'unavailable', 'unavailable', null), ('ERP', 'transit', 'in_transit', null),
          ('WMS', 'ok', 'available', null), ('WMS', 'damaged', 'unavailable', 'damaged'), ('WMS', 'quality', 'unavailable', 'quality'),
          ('WMS', 'pending_putaway', 'unavailable', 'pending_putaway'), ('WMS', 'transit', 'in_transit', null),
          ('WMS2', 'ok', 'available', null)
        on conflict do nothing`,
  );
  await affected(
    em,
    sql`insert into unit_mapping (source, unit, item_code, storage_units) values ('ERP', 'CASE', 'CMP-CASE', 24)
        on conflict do nothing`,
  );
}

/** A warehouse of the test's own with locations L-01, L-02, L-03 in zone Z. */
export async function warehouse(orm: Orm, code: string): Promise<string> {
  const em = orm.em.fork();
  await affected(em, sql`insert into warehouse (code, name) values (${code}, ${code})`);
  await affected(em, sql`insert into zone (warehouse_code, code) values (${code}, 'Z')`);
  await affected(
    em,
    sql`insert into location (warehouse_code, zone_id, code)
        select ${code}, z.id, l from zone z, unnest(array['L-01', 'L-02', 'L-03']) l where z.warehouse_code = ${code}`,
  );
  return code;
}

export interface RunSpec {
  warehouse: string;
  sourceA?: string;
  sourceB?: string;
  tolerance?: TolerancePolicy;
  cutoffMinutes?: number;
  asOfA?: string;
  asOfB?: string;
}

export interface LevelRow {
  item: string;
  location?: string;
  status: string;
  quantity: number;
  unit?: string;
}

/** A run row and both sources' level receipts (as_of), without levels yet. */
export async function createRun(orm: Orm, spec: RunSpec): Promise<string> {
  const id = randomUUID();
  const em = orm.em.fork();
  const a = spec.sourceA ?? 'ERP';
  const b = spec.sourceB ?? 'WMS';
  await affected(
    em,
    sql`insert into system_reconciliation (id, source_a, source_b, warehouse_code, selection, tolerance, cutoff_minutes,
                                           levels_deadline_minutes, manager_approval_limit, status, workflow_id, created_by)
        values (${id}, ${a}, ${b}, ${spec.warehouse}, '{}'::jsonb,
                ${JSON.stringify(spec.tolerance ?? { default: { quantity: { plus: 0, minus: 0 } } })}::jsonb,
                ${spec.cutoffMinutes ?? 60}, 60, 1000000, 'comparing', ${'wf-' + id}, 'test')`,
  );
  for (const [source, asOf] of [[a, spec.asOfA ?? T0], [b, spec.asOfB ?? T0]] as const) {
    await affected(
      em,
      sql`insert into levels_receipt (system_reconciliation_id, source, lines, request_hash, as_of, received_by)
          values (${id}, ${source}, 0, 'test', ${asOf}::timestamptz, 'test')`,
    );
  }
  return id;
}

export async function levels(orm: Orm, runId: string, source: string, lines: LevelRow[]): Promise<void> {
  const em = orm.em.fork();
  const warehouseCode = (await rows(em, sql<{ w: string }>`select warehouse_code as w from system_reconciliation where id = ${runId}`))[0]!.w;
  let line = (await rows(em, sql<{ n: number }>`select count(*)::int as n from source_level where system_reconciliation_id = ${runId} and source = ${source}`))[0]!.n;
  for (const l of lines) {
    line++;
    await affected(
      em,
      sql`insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
          select ${runId}, ${source}, ${line}, ${l.item}, ${warehouseCode}, ${l.location ?? ''}, ${l.status}, ${l.quantity},
                 coalesce(${l.unit ?? null}::text, (select storage_unit from item where code = ${l.item}))`,
    );
  }
}

export interface MessageSpec {
  source: string;
  target: string;
  id: string;
  warehouse: string;
  item: string;
  location?: string;
  status?: string;
  kind?: string;
  quantity: number;
  unit?: string;
  sentAt: string;
  processedAt?: string | null;
}

export async function message(orm: Orm, m: MessageSpec): Promise<void> {
  await affected(
    orm.em.fork(),
    sql`insert into interface_message (source, message_id, target, kind, item_code, warehouse_code, location_code, status, quantity, unit, sent_at, processed_at)
        select ${m.source}, ${m.id}, ${m.target}, ${m.kind ?? 'receipt'}, ${m.item}, ${m.warehouse}, ${m.location ?? ''}, ${m.status ?? ''},
               ${m.quantity}, coalesce(${m.unit ?? null}::text, (select storage_unit from item where code = ${m.item})),
               ${m.sentAt}::timestamptz, ${m.processedAt ?? null}::timestamptz`,
  );
}

export interface MovementSpec {
  source: string;
  id: string;
  warehouse: string;
  item: string;
  location?: string;
  status?: string;
  kind?: string;
  quantity: number;
  unit?: string;
  occurredAt: string;
}

export async function movementEvent(orm: Orm, m: MovementSpec): Promise<void> {
  await affected(
    orm.em.fork(),
    sql`insert into movement_event (source, event_id, kind, item_code, warehouse_code, location_code, status, quantity, unit, occurred_at)
        select ${m.source}, ${m.id}, ${m.kind ?? 'shipment'}, ${m.item}, ${m.warehouse}, ${m.location ?? ''}, ${m.status ?? ''},
               ${m.quantity}, coalesce(${m.unit ?? null}::text, (select storage_unit from item where code = ${m.item})),
               ${m.occurredAt}::timestamptz`,
  );
}

/** compareSources in a transaction of its own, as the step runs it. */
export function compare(orm: Orm, runId: string): Promise<CompareResult> {
  return orm.em.fork().transactional((em) => compareSources(em, runId, () => {}));
}

export function refresh(orm: Orm, runId: string, lines: number[]): Promise<RefreshResult> {
  return orm.em.fork().transactional((em) => refreshLines(em, runId, lines));
}

export interface Line {
  line: number;
  item: string;
  warehouse: string;
  location: string;
  category: string;
  quantityA: number;
  quantityB: number;
  difference: number;
  value: number;
  outcome: string;
  rootCause: string;
  evidence: any;
  state: string;
  refreshedAt: string | null;
}

export async function linesOf(orm: Orm, runId: string): Promise<Line[]> {
  const found = await rows(
    orm.em.fork(),
    sql<Record<string, any>>`
      select d.line, i.code as item, d.warehouse_code, d.location_code, d.category, d.quantity_a::text, d.quantity_b::text,
             d.difference::text, d.value::text, d.outcome, d.root_cause, d.evidence, d.state, d.refreshed_at::text
      from system_difference d join item i on i.id = d.item_id
      where d.system_reconciliation_id = ${runId} order by d.line`,
  );
  return found.map((r) => ({
    line: r.line,
    item: r.item,
    warehouse: r.warehouse_code,
    location: r.location_code,
    category: r.category,
    quantityA: Number(r.quantity_a),
    quantityB: Number(r.quantity_b),
    difference: Number(r.difference),
    value: Number(r.value),
    outcome: r.outcome,
    rootCause: r.root_cause,
    evidence: r.evidence,
    state: r.state,
    refreshedAt: r.refreshed_at,
  }));
}
