import { randomUUID } from 'node:crypto';
import { affected, one, rows, sql, type Em } from '../db/sql';
import type { ReconciliationStatus, Step, Transition } from '../domain/reconciliation-status';
import { scopeFilters, type Scope, type SplitPolicy } from '../domain/scope';
import type { TolerancePolicy } from '../domain/tolerance';
import { audit } from './audit';
import { once, requestHash } from './idempotency';
import { notFound, refuse } from './refusal';

/**
 * The reconciliation document: its policies, its status and what the
 * workflow records on it. The status has one writer, the workflow, through
 * `applyTransition` (called by the activity that does the step's work, in the
 * same transaction); nothing else in Stocktake writes it.
 */
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

export interface StepFailure {
  step: Step;
  /** The status the reconciliation goes back to when the manager retries the step. */
  resume: ReconciliationStatus;
  reason: string;
  at: string;
}

export interface ReconciliationRecord extends NewReconciliation {
  id: string;
  number: number;
  status: ReconciliationStatus;
  failure: StepFailure | null;
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

export type { Transition } from '../domain/reconciliation-status';

export function workflowIdOf(reconciliationId: string): string {
  return `reconciliation-${reconciliationId}`;
}

/**
 * Stores a new document. Idempotent by key (bound to the caller and the
 * request). Overlap is checked under a per-warehouse lock so two concurrent
 * creates cannot both pass.
 */
export async function createReconciliation(
  em: Em,
  req: NewReconciliation,
  user: string,
  idempotencyKey: string | undefined,
): Promise<{ record: ReconciliationRecord; created: boolean }> {
  const hash = requestHash(req);
  const request = idempotencyKey
    ? { key: idempotencyKey, actor: user, operation: 'create-reconciliation', subject: '', requestHash: hash }
    : undefined;
  return em.transactional(async (tx) => {
    let created = false;
    const { id } = await once(tx, request, async () => {
      created = true;
      return { id: await insertDocument(tx, req, user, hash) };
    });
    return { record: await requireReconciliation(tx, id), created };
  });
}

/**
 * The count document that carries a system reconciliation's processed lines
 * through release: the same rows, posting code and adjustment order as a
 * count, its counts reported by the other system. Created in review, its
 * status moved by the system reconciliation's workflow; its scope is locked
 * against overlapping counts like any other.
 */
export async function createProcessingDocument(
  em: Em,
  req: NewReconciliation,
  user: string,
  origin: { systemReconciliation: string },
): Promise<string> {
  return insertDocument(em, req, user, requestHash(req), { status: 'review', origin });
}

async function insertDocument(
  em: Em,
  req: NewReconciliation,
  user: string,
  hash: string,
  opts: { status: 'snapshotting' | 'review'; origin?: Record<string, unknown> } = { status: 'snapshotting' },
): Promise<string> {
  await validateScope(em, req);
  await affected(em, sql`select pg_advisory_xact_lock(hashtext(${'reconciliation:' + req.warehouse}))`);
  const inTheWay = await overlapping(em, req);
  if (inTheWay) {
    throw refuse('ScopeOverlap', `stock positions in this scope belong to active reconciliation ${inTheWay.number} (${inTheWay.id})`, {
      reconciliationId: inTheWay.id,
      reconciliationNumber: inTheWay.number,
    });
  }
  const id = randomUUID();
  await affected(
    em,
    sql`insert into reconciliation (id, warehouse_code, scope, split_policy, tolerance, blind_count, max_recount_rounds,
                                    count_deadline_minutes, manager_approval_limit, status, workflow_id, request_hash, created_by,
                                    origin, round, snapshot_at)
        values (${id}, ${req.warehouse}, ${JSON.stringify(req.scope)}::jsonb, ${JSON.stringify(req.splitPolicy)}::jsonb,
                ${JSON.stringify(req.tolerance)}::jsonb, ${req.blindCount}, ${req.maxRecountRounds}, ${req.countDeadlineMinutes},
                ${req.managerApprovalLimit}, ${opts.status}, ${opts.status === 'review' ? `processing-${id}` : workflowIdOf(id)}, ${hash}, ${user},
                ${opts.origin ? JSON.stringify(opts.origin) : null}::jsonb, ${opts.status === 'review' ? 0 : -1},
                ${opts.status === 'review' ? new Date().toISOString() : null}::timestamptz)`,
  );
  await audit(em, { reconciliationId: id, actor: user, action: 'reconciliation_created', after: req });
  return id;
}

async function validateScope(em: Em, req: NewReconciliation): Promise<void> {
  const wh = await one(em, sql`select 1 from warehouse where code = ${req.warehouse}`);
  if (!wh) throw refuse('UnknownWarehouse', `warehouse ${req.warehouse} does not exist`);
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
  if (problems.length > 0) throw refuse('UnknownScopeCodes', problems.join('; '));
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
  count_deadline_minutes as "countDeadlineMinutes", status, failure, round, workflow_id as "workflowId",
  created_by as "createdBy", created_at as "createdAt", snapshot_at as "snapshotAt",
  closed_at as "closedAt", escalations, manager_approval_limit::float8 as "managerApprovalLimit",
  released_by as "releasedBy", released_at as "releasedAt"`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function getReconciliation(em: Em, id: string): Promise<ReconciliationRecord | undefined> {
  if (!UUID.test(id)) return undefined;
  return one(em, sql<ReconciliationRecord>`select ${RECORD_COLUMNS} from reconciliation where id = ${id}`);
}

export async function requireReconciliation(em: Em, id: string): Promise<ReconciliationRecord> {
  const rec = await getReconciliation(em, id);
  if (!rec) throw notFound(`reconciliation ${id}`);
  return rec;
}

/** Newest first, in the warehouses given (all when 'all'). */
export async function listReconciliations(em: Em, limit: number, warehouses: 'all' | string[] = 'all'): Promise<ReconciliationRecord[]> {
  const codes = warehouses === 'all' ? null : warehouses;
  return rows(em, sql<ReconciliationRecord>`select ${RECORD_COLUMNS} from reconciliation
    where ${codes}::text[] is null or warehouse_code = any(${codes}::text[])
    order by number desc limit ${limit}`);
}

export interface LockedReconciliation {
  status: ReconciliationStatus;
  statusSeq: number;
  warehouse: string;
  number: number;
  round: number;
  maxRecountRounds: number;
  managerApprovalLimit: string;
  splitPolicy: SplitPolicy;
  tolerance: TolerancePolicy;
  scope: Scope;
  snapshotAt: string | null;
}

/**
 * The document locked for the rest of the transaction: every step and
 * decision on a reconciliation takes this lock first, so they apply one
 * after another even when a retried activity from a worker thought dead is
 * still running.
 */
export async function lockReconciliation(em: Em, id: string): Promise<LockedReconciliation> {
  const rec = await one(
    em,
    sql<LockedReconciliation>`
      select status, status_seq as "statusSeq", warehouse_code as warehouse, number::int, round,
             max_recount_rounds as "maxRecountRounds", manager_approval_limit as "managerApprovalLimit",
             split_policy as "splitPolicy", tolerance, scope, snapshot_at as "snapshotAt"
      from reconciliation where id = ${id} for update`,
  );
  if (!rec) throw notFound(`reconciliation ${id}`);
  return rec;
}

/** True when the transition was applied before (this is a retry of a step that committed). */
export function alreadyApplied(rec: LockedReconciliation, t: Transition): boolean {
  return rec.statusSeq >= t.seq;
}

/**
 * The only statement that writes a reconciliation's status. A transition
 * numbered at or below the last applied one changes nothing, so a retried or
 * late activity can never move the status backwards. Final statuses close
 * the document (its scope is free again); a failure is kept while the
 * reconciliation waits in step_failed and cleared by the next transition.
 */
export async function applyTransition(
  em: Em,
  id: string,
  t: Transition,
  opts: { outcome?: unknown; failure?: StepFailure | null } = {},
): Promise<boolean> {
  const n = await affected(
    em,
    sql`update reconciliation set status = ${t.to}, status_seq = ${t.seq},
          failure = ${opts.failure ? JSON.stringify(opts.failure) : null}::jsonb,
          closed_at = case when ${t.to}::text in ('released', 'cancelled') then coalesce(closed_at, now()) else closed_at end
        where id = ${id} and status_seq < ${t.seq}`,
  );
  if (n === 0) return false;
  await affected(
    em,
    sql`insert into status_transition (reconciliation_id, seq, status, outcome)
        values (${id}, ${t.seq}, ${t.to}, ${opts.outcome === undefined ? null : JSON.stringify(opts.outcome)}::jsonb)`,
  );
  return true;
}

/** What the step that applied transition `seq` reported; undefined if that transition was never applied. */
export async function transitionOutcome<T>(em: Em, id: string, seq: number): Promise<{ outcome: T } | undefined> {
  const r = await one(em, sql<{ outcome: T }>`select outcome from status_transition where reconciliation_id = ${id} and seq = ${seq}`);
  return r ? { outcome: r.outcome } : undefined;
}

export async function stampSnapshot(em: Em, id: string): Promise<string> {
  const stamped = await one(em, sql<{ snapshot_at: string }>`
    update reconciliation set snapshot_at = coalesce(snapshot_at, now()) where id = ${id} returning snapshot_at`);
  return new Date(stamped!.snapshot_at).toISOString();
}

export async function setRound(em: Em, id: string, round: number): Promise<void> {
  await affected(em, sql`update reconciliation set round = ${round} where id = ${id}`);
}

/** Who released: when is stamped by the release planning itself (store/release/plan.ts), for every planner. */
export async function markReleased(em: Em, id: string, by: string): Promise<void> {
  await affected(em, sql`update reconciliation set released_by = ${by} where id = ${id}`);
}

/** A round's deadline passed with orders open: recorded once per round, counts untouched. */
export async function recordEscalation(em: Em, id: string, round: number, openOrderIds: number[]): Promise<void> {
  await affected(
    em,
    sql`update reconciliation
        set escalations = escalations || jsonb_build_array(jsonb_build_object(
          'round', ${round}::int, 'at', now(), 'openCountOrders', ${JSON.stringify(openOrderIds)}::jsonb,
          'reason', 'count deadline passed with count orders open'))
        where id = ${id}
          and not exists (select 1 from jsonb_array_elements(escalations) e where (e->>'round')::int = ${round}::int)`,
  );
}
