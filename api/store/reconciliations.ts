import { createHash, randomUUID } from 'node:crypto';
import { conflict, notFound, unprocessable } from '../problem';
import { scopeFilters, type Scope, type SplitPolicy } from '../../domain/scope';
import type { TolerancePolicy } from '../../domain/tolerance';
import { reconciliationWorkflowId } from '../../workflows/messages';
import { affected, one, rows, sql, type Em } from '../../db/sql';

export interface NewReconciliation {
  warehouse: string;
  scope: Scope;
  splitPolicy: SplitPolicy;
  tolerance: TolerancePolicy;
  blindCount: boolean;
  maxRecountRounds: number;
  countDeadlineMinutes: number | null;
  managerApprovalLimit: number;
}

/** The stored document: the request's policies plus what the workflow and release add. */
export interface ReconciliationRecord extends NewReconciliation {
  id: string;
  number: number;
  status: string;
  releasedBy: string | null;
  releasedAt: string | null;
  round: number;
  workflowId: string;
  createdBy: string;
  createdAt: string;
  snapshotAt: string | null;
  closedAt: string | null;
  escalations: unknown[];
}

/**
 * Stores a new reconciliation document. Idempotent by key: the same key and
 * request return the first document; the same key with another request is a
 * client bug and refused. Overlap is checked under a per-warehouse lock so two
 * concurrent creates cannot both pass.
 */
export async function createReconciliation(
  em: Em,
  req: NewReconciliation,
  user: string,
  idempotencyKey: string | undefined,
): Promise<{ record: ReconciliationRecord; created: boolean }> {
  const hash = createHash('sha256').update(JSON.stringify(req)).digest('hex');
  return em.transactional(async (tx) => {
    if (idempotencyKey) {
      await affected(tx, sql`select pg_advisory_xact_lock(hashtext(${'idem:' + idempotencyKey}))`);
      const prior = await one(tx, sql<{ id: string; request_hash: string }>`
        select id, request_hash from reconciliation where idempotency_key = ${idempotencyKey}`);
      if (prior) {
        if (prior.request_hash !== hash) {
          throw unprocessable('idempotency-key-reused', 'this Idempotency-Key was used for a different request');
        }
        return { record: (await getReconciliation(tx, prior.id))!, created: false };
      }
    }
    await validateScope(tx, req);
    await affected(tx, sql`select pg_advisory_xact_lock(hashtext(${'reconciliation:' + req.warehouse}))`);
    const inTheWay = await overlapping(tx, req);
    if (inTheWay) {
      throw conflict('scope-overlap', `stock positions in this scope belong to active reconciliation ${inTheWay.number} (${inTheWay.id})`, {
        reconciliationId: inTheWay.id,
        reconciliationNumber: inTheWay.number,
      });
    }
    const id = randomUUID();
    await affected(
      tx,
      sql`insert into reconciliation (id, warehouse_code, scope, split_policy, tolerance, blind_count, max_recount_rounds,
                                      count_deadline_minutes, manager_approval_limit, status, workflow_id, idempotency_key,
                                      request_hash, created_by)
          values (${id}, ${req.warehouse}, ${JSON.stringify(req.scope)}::jsonb, ${JSON.stringify(req.splitPolicy)}::jsonb,
                  ${JSON.stringify(req.tolerance)}::jsonb, ${req.blindCount}, ${req.maxRecountRounds}, ${req.countDeadlineMinutes},
                  ${req.managerApprovalLimit}, 'snapshotting', ${reconciliationWorkflowId(id)}, ${idempotencyKey ?? null}, ${hash}, ${user})`,
    );
    return { record: (await getReconciliation(tx, id))!, created: true };
  });
}

async function validateScope(em: Em, req: NewReconciliation): Promise<void> {
  const wh = await one(em, sql`select 1 from warehouse where code = ${req.warehouse}`);
  if (!wh) throw unprocessable('unknown-warehouse', `warehouse ${req.warehouse} does not exist`);
  const f = scopeFilters(req.scope);
  const unknown = await one(
    em,
    sql<{ zones: string[] | null; locations: string[] | null; items: string[] | null }>`
      select
        (select array_agg(x) from unnest(${f.zones}::text[]) x
          where not exists (select 1 from zone z where z.warehouse_code = ${req.warehouse} and z.code = x)) as zones,
        (select array_agg(x) from unnest(${f.locations}::text[]) x
          where not exists (select 1 from location l where l.warehouse_code = ${req.warehouse} and l.code = x)) as locations,
        (select array_agg(x) from unnest(${f.items}::text[]) x
          where not exists (select 1 from item i where i.code = x)) as items`,
  );
  const problems = Object.entries(unknown ?? {})
    .filter(([, v]) => v && v.length > 0)
    .map(([k, v]) => `unknown ${k}: ${(v as string[]).join(', ')}`);
  if (problems.length > 0) throw unprocessable('unknown-scope-codes', problems.join('; '));
}

/**
 * Two scopes share a stock position when their location sets and their item
 * sets intersect. Judged on the scopes, not on today's positions, so stock
 * received into the scope later cannot slip into two reconciliations either.
 */
async function overlapping(em: Em, req: NewReconciliation): Promise<{ id: string; number: number } | undefined> {
  const f = scopeFilters(req.scope);
  return one(
    em,
    sql<{ id: string; number: number }>`
      with new_locations as (
        select l.id, l.code, z.code as zone_code from location l join zone z on z.id = l.zone_id
        where l.warehouse_code = ${req.warehouse}
          and (${f.zones}::text[] is null or z.code = any(${f.zones}::text[]))
          and (${f.locations}::text[] is null or l.code = any(${f.locations}::text[]))
      )
      select r.id, r.number::int from reconciliation r
      where r.warehouse_code = ${req.warehouse} and r.closed_at is null
        and exists (
          select 1 from new_locations n
          where r.scope->>'kind' = 'warehouse'
             or (r.scope->>'kind' = 'zones' and r.scope->'zones' ? n.zone_code)
             or (r.scope->>'kind' = 'locations' and r.scope->'locations' ? n.code))
        and (coalesce(jsonb_array_length(r.scope->'items'), 0) = 0 or ${f.items}::text[] is null
             or r.scope->'items' ?| ${f.items}::text[])
      order by r.number limit 1`,
  );
}

const RECORD_COLUMNS = sql`id, number::int, warehouse_code as warehouse, scope, split_policy as "splitPolicy", tolerance,
  blind_count as "blindCount", max_recount_rounds as "maxRecountRounds",
  count_deadline_minutes as "countDeadlineMinutes", status, round, workflow_id as "workflowId",
  created_by as "createdBy", created_at as "createdAt", snapshot_at as "snapshotAt",
  closed_at as "closedAt", escalations, manager_approval_limit::float8 as "managerApprovalLimit",
  released_by as "releasedBy", released_at as "releasedAt"`;

export async function getReconciliation(em: Em, id: string): Promise<ReconciliationRecord | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  return one(em, sql<ReconciliationRecord>`select ${RECORD_COLUMNS} from reconciliation where id = ${id}`);
}

export async function requireReconciliation(em: Em, id: string): Promise<ReconciliationRecord> {
  const rec = await getReconciliation(em, id);
  if (!rec) throw notFound(`reconciliation ${id}`);
  return rec;
}

export async function listReconciliations(em: Em, limit: number): Promise<ReconciliationRecord[]> {
  return rows(em, sql<ReconciliationRecord>`select ${RECORD_COLUMNS} from reconciliation order by number desc limit ${limit}`);
}
