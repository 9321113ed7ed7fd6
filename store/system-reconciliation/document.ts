import { randomUUID } from 'node:crypto';
import { affected, one, rows, sql, type Em } from '../../db/sql';
import type { SystemStatus, SystemStep, SystemTransition } from '../../domain/system-status';
import type { TolerancePolicy } from '../../domain/tolerance';
import { audit } from '../audit';
import { once, requestHash } from '../idempotency';
import { notFound, refuse } from '../refusal';

/**
 * The system reconciliation document: two sources compared for a selection
 * of one warehouse (seed 000: initiate, reconcile, analyse, process). Its
 * status has one writer, its workflow, through `applySystemTransition`.
 */
export interface Selection {
  /** Item code range, inclusive on both ends. */
  itemFrom?: string;
  itemTo?: string;
  items?: string[];
  locations?: string[];
}

export interface NewSystemReconciliation {
  sourceA: string;
  sourceB: string;
  warehouse: string;
  selection: Selection;
  tolerance: TolerancePolicy;
  /** A difference covered by movements within this many minutes before the levels is timing, not an exception. */
  cutoffMinutes: number;
  /** How long a source that pushes its levels has to send them. */
  levelsDeadlineMinutes: number;
  managerApprovalLimit: number;
}

export interface SystemReconciliationRecord extends NewSystemReconciliation {
  id: string;
  number: number;
  status: SystemStatus;
  failure: { step: SystemStep; reason: string } | null;
  scheduleId: string | null;
  workflowId: string;
  createdBy: string;
  createdAt: string;
  comparedAt: string | null;
  closedAt: string | null;
  processingReconciliationId: string | null;
  summary: Record<string, unknown>;
}

export function systemWorkflowIdOf(id: string): string {
  return `system-reconciliation-${id}`;
}

const COLUMNS = sql`id, number::int, source_a as "sourceA", source_b as "sourceB", warehouse_code as warehouse, selection, tolerance,
  cutoff_minutes as "cutoffMinutes", levels_deadline_minutes as "levelsDeadlineMinutes",
  manager_approval_limit::float8 as "managerApprovalLimit", status, failure, schedule_id as "scheduleId", workflow_id as "workflowId",
  created_by as "createdBy", created_at as "createdAt", compared_at as "comparedAt", closed_at as "closedAt",
  processing_reconciliation_id as "processingReconciliationId", summary`;

/** Stores a new run (idempotent by key, or by the Schedule tick that creates it). */
export async function createSystemReconciliation(
  em: Em,
  req: NewSystemReconciliation,
  user: string,
  opts: { idempotencyKey?: string; tickWorkflowId?: string; scheduleId?: string } = {},
): Promise<{ record: SystemReconciliationRecord; created: boolean }> {
  const hash = requestHash(req);
  const request = opts.idempotencyKey
    ? { key: opts.idempotencyKey, actor: user, operation: 'create-system-reconciliation', subject: '', requestHash: hash }
    : undefined;
  return em.transactional(async (tx) => {
    if (opts.tickWorkflowId) {
      const existing = await one(tx, sql<{ id: string }>`select id from system_reconciliation where tick_workflow_id = ${opts.tickWorkflowId}`);
      if (existing) return { record: await requireSystemReconciliation(tx, existing.id), created: false };
    }
    let created = false;
    const { id } = await once(tx, request, async () => {
      created = true;
      return { id: await insert(tx, req, user, opts) };
    });
    return { record: await requireSystemReconciliation(tx, id), created };
  });
}

async function insert(em: Em, req: NewSystemReconciliation, user: string, opts: { tickWorkflowId?: string; scheduleId?: string }): Promise<string> {
  const wh = await one(em, sql`select 1 from warehouse where code = ${req.warehouse}`);
  if (!wh) throw refuse('UnknownWarehouse', `warehouse ${req.warehouse} does not exist`);
  const unknown = await rows(em, sql<{ name: string }>`
    select s as name from unnest(${[req.sourceA, req.sourceB]}::text[]) s
    where s <> 'book' and not exists (select 1 from external_system e where e.name = s)`);
  if (unknown.length > 0) throw refuse('UnknownSource', `unknown sources: ${unknown.map((u) => u.name).join(', ')} (register them under /systems)`);
  if (req.sourceA === req.sourceB) throw refuse('UnknownSource', 'a system reconciliation compares two different sources');
  const id = randomUUID();
  await affected(em, sql`
    insert into system_reconciliation (id, source_a, source_b, warehouse_code, selection, tolerance, cutoff_minutes, levels_deadline_minutes,
                                       manager_approval_limit, status, schedule_id, workflow_id, tick_workflow_id, created_by)
    values (${id}, ${req.sourceA}, ${req.sourceB}, ${req.warehouse}, ${JSON.stringify(req.selection)}::jsonb, ${JSON.stringify(req.tolerance)}::jsonb,
            ${req.cutoffMinutes}, ${req.levelsDeadlineMinutes}, ${req.managerApprovalLimit}, 'requesting', ${opts.scheduleId ?? null},
            ${systemWorkflowIdOf(id)}, ${opts.tickWorkflowId ?? null}, ${user})`);
  await audit(em, { warehouse: req.warehouse, actor: user, action: 'system_reconciliation_created', subject: `system reconciliation ${id}`, after: req });
  return id;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function requireSystemReconciliation(em: Em, id: string): Promise<SystemReconciliationRecord> {
  const r = UUID.test(id) ? await one(em, sql<SystemReconciliationRecord>`select ${COLUMNS} from system_reconciliation where id = ${id}`) : undefined;
  if (!r) throw notFound(`system reconciliation ${id}`);
  return r;
}

export async function listSystemReconciliations(em: Em, limit: number, warehouses: 'all' | string[]): Promise<SystemReconciliationRecord[]> {
  const codes = warehouses === 'all' ? null : warehouses;
  return rows(em, sql<SystemReconciliationRecord>`select ${COLUMNS} from system_reconciliation
    where ${codes}::text[] is null or warehouse_code = any(${codes}::text[]) order by number desc limit ${limit}`);
}

export interface LockedSystemReconciliation {
  status: SystemStatus;
  statusSeq: number;
  warehouse: string;
  sourceA: string;
  sourceB: string;
  managerApprovalLimit: string;
  processingReconciliationId: string | null;
}

export async function lockSystemReconciliation(em: Em, id: string): Promise<LockedSystemReconciliation> {
  const r = await one(em, sql<LockedSystemReconciliation>`
    select status, status_seq as "statusSeq", warehouse_code as warehouse, source_a as "sourceA", source_b as "sourceB",
           manager_approval_limit as "managerApprovalLimit", processing_reconciliation_id as "processingReconciliationId"
    from system_reconciliation where id = ${id} for update`);
  if (!r) throw notFound(`system reconciliation ${id}`);
  return r;
}

/**
 * The only statement that writes a system reconciliation's status, with the
 * same rule as a count's: a transition numbered at or below the last one
 * applied changes nothing; final statuses close the document.
 */
export async function applySystemTransition(
  em: Em,
  id: string,
  t: SystemTransition,
  opts: { outcome?: unknown; failure?: { step: SystemStep; resume: SystemStatus; reason: string; at: string } | null } = {},
): Promise<boolean> {
  const n = await affected(em, sql`
    update system_reconciliation set status = ${t.to}, status_seq = ${t.seq},
      failure = ${opts.failure ? JSON.stringify(opts.failure) : null}::jsonb,
      closed_at = case when ${t.to}::text in ('matched', 'no_answer', 'closed', 'cancelled') then coalesce(closed_at, now()) else closed_at end
    where id = ${id} and status_seq < ${t.seq}`);
  if (n === 0) return false;
  await affected(em, sql`
    insert into system_status_transition (system_reconciliation_id, seq, status, outcome)
    values (${id}, ${t.seq}, ${t.to}, ${opts.outcome === undefined ? null : JSON.stringify(opts.outcome)}::jsonb)`);
  return true;
}

export async function systemTransitionOutcome<T>(em: Em, id: string, seq: number): Promise<{ outcome: T } | undefined> {
  const r = await one(em, sql<{ outcome: T }>`select outcome from system_status_transition where system_reconciliation_id = ${id} and seq = ${seq}`);
  return r ? { outcome: r.outcome } : undefined;
}

/** Which of the run's sources have delivered their levels. */
export async function levelsReceived(em: Em, id: string): Promise<string[]> {
  return (await rows(em, sql<{ source: string }>`select source from levels_receipt where system_reconciliation_id = ${id}`)).map((r) => r.source);
}

/** How each source delivers its levels: the book and pulled systems are asked; pushed systems send them. */
export async function sourceModes(em: Em, sources: string[]): Promise<Record<string, 'book' | 'pushed' | 'pulled'>> {
  const found = await rows(em, sql<{ name: string; mode: 'pushed' | 'pulled' }>`
    select name, levels_mode as mode from external_system where name = any(${sources}::text[])`);
  return Object.fromEntries(sources.map((s) => [s, s === 'book' ? 'book' : (found.find((f) => f.name === s)?.mode ?? 'pushed')]));
}
