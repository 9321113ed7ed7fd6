import type { RawBuilder } from 'kysely';
import { affected, one, rows, sql, type Em } from '../../db/sql';
import type { Scope } from '../../domain/scope';
import { audit, auditFrom } from '../audit';
import { once, requestHash } from '../idempotency';
import { createReconciliation, requireReconciliation, type NewReconciliation, type ReconciliationRecord } from '../reconciliations';
import { notFound, refuse } from '../refusal';

/**
 * The exception queue (seeds 002 and 004): the differences a comparison could
 * not explain, ranked by absolute value, each with an owner, a status, a root
 * cause and a history. The one home of `system_exception` and
 * `system_exception_event`.
 *
 * What recurs is the same difference again: the same sources (in the run's
 * order, A then B), item, warehouse, location and status category. While an
 * exception of that key is open or investigating, a later run's line joins it
 * (occurrences + 1) instead of opening another; once it is resolved or
 * accepted, the next occurrence opens a new one.
 *
 * Statuses: open -> investigating -> resolved | accepted, and open -> resolved
 * | accepted directly; resolved and accepted are final. A manager may start a
 * count reconciliation of the exception's item and location from it (the two
 * are linked both ways: `reconciliation.origin` and
 * `system_exception.count_reconciliation_id`); that count's release resolves it.
 */
export const EXCEPTION_STATUSES = ['open', 'investigating', 'resolved', 'accepted'] as const;
export type ExceptionStatus = (typeof EXCEPTION_STATUSES)[number];
/** What a person may set: `open` is where every exception starts, never where one goes back to. */
export const SETTABLE_STATUSES = ['investigating', 'resolved', 'accepted'] as const;
export type SettableStatus = (typeof SETTABLE_STATUSES)[number];
export const ROOT_CAUSES = ['unprocessed_message', 'timing', 'status_mapping', 'unit_conversion', 'one_sided_adjustment', 'unknown'] as const;
export type RootCause = (typeof ROOT_CAUSES)[number];

const CLOSED = ['resolved', 'accepted'];

/** Roles that may own an exception: those who may change it. */
const OWNER_ROLES = ['manager', 'senior_manager'];

export interface RunRef {
  id: string;
  number: number;
}

export interface ExceptionView {
  id: number;
  status: ExceptionStatus;
  owner: string | null;
  rootCause: RootCause;
  item: string;
  warehouse: string;
  location: string;
  category: string;
  sourceA: string;
  sourceB: string;
  /** Of its latest occurrence, signed as the comparison has it (B minus A, in storage units). */
  difference: number;
  value: number;
  occurrences: number;
  firstRun: RunRef;
  lastRun: RunRef;
  openedAt: string;
  resolvedAt: string | null;
  countReconciliation: { id: string; number: number; status: string; closedAt: string | null } | null;
}

/** Who recorded what a run found: no person, the run itself (a name no principal can have: it holds spaces). */
const runActor = (number: RunBuilder) => sql`'system reconciliation ' || ${number}`;
type RunBuilder = RawBuilder<unknown>;

/**
 * A run's exception lines not yet in the queue, one per recurrence key (a
 * comparison writes one line per key; should it write several, they join
 * one exception with their summed difference and value, and the root cause
 * of the largest). CTEs `run` and `pending` for the statements below.
 */
function pendingKeys(runId: string): RawBuilder<unknown> {
  return sql`
    run as (select id, number, source_a, source_b, coalesce(compared_at, now()) as at from system_reconciliation where id = ${runId}),
    lines as (
      select d.*, ${recurrenceKey(sql`run.source_a`, sql`run.source_b`, sql`i.code`, sql`d`)} as key
      from system_difference d join run on d.system_reconciliation_id = run.id join item i on i.id = d.item_id
      where d.outcome = 'exception' and d.exception_id is null),
    pending as (
      select key, item_id, warehouse_code, location_code, category, sum(difference) as difference, sum(value) as value,
             (array_agg(case when root_cause = any(${[...ROOT_CAUSES]}::text[]) then root_cause else 'unknown' end
                        order by abs(value) desc, line))[1] as root_cause
      from lines group by key, item_id, warehouse_code, location_code, category)`;
}

/** The recurrence key as text: a JSON array, so no code can run into the next. */
function recurrenceKey(sourceA: RunBuilder, sourceB: RunBuilder, itemCode: RunBuilder, line: RunBuilder): RawBuilder<string> {
  return sql<string>`jsonb_build_array(${sourceA}, ${sourceB}, ${itemCode}, ${line}.warehouse_code, ${line}.location_code, ${line}.category)::text`;
}

/**
 * After a comparison wrote a run's lines: every exception line joins the
 * queue, a recurrence joining the exception still worked for its key, a new
 * key opening one. Set-based (one statement per kind of change) and
 * idempotent: lines already in the queue are left alone, so a retry of the
 * same run counts it once.
 */
export async function recordExceptions(em: Em, runId: string): Promise<{ opened: number; recurring: number }> {
  return em.transactional(async (tx) => {
    const run = await one(tx, sql<{ warehouse: string }>`select warehouse_code as warehouse from system_reconciliation where id = ${runId}`);
    if (!run) throw notFound(`system reconciliation ${runId}`);
    // One run of a warehouse at a time joins the queue, so two runs cannot both open the same key;
    // the exceptions it joins are locked before they change, as a person's change locks them.
    await affected(tx, sql`select pg_advisory_xact_lock(hashtext(${'system-exception:' + run.warehouse}))`);
    await rows(tx, sql`
      with ${pendingKeys(runId)}
      select e.id from system_exception e join pending p on p.key = e.recurrence_key
      where e.status in ('open', 'investigating') order by e.id for update of e`);

    const recurring = await one(tx, sql<{ n: number }>`
      with ${pendingKeys(runId)},
      prior as (
        select e.id, e.occurrences, e.difference, e.value, e.last_run from system_exception e join pending p on p.key = e.recurrence_key
        where e.status in ('open', 'investigating')),
      changed as (
        update system_exception e
        set occurrences = e.occurrences + case when e.last_run = run.id then 0 else 1 end,
            last_run = run.id, difference = p.difference, value = p.value
        from pending p, run
        where e.recurrence_key = p.key and e.status in ('open', 'investigating')
        returning e.id, e.occurrences, e.difference, e.value),
      events as (
        insert into system_exception_event (exception_id, actor, action, before, after)
        select c.id, ${runActor(sql`run.number`)}, 'recurred',
               jsonb_build_object('occurrences', b.occurrences, 'difference', b.difference, 'value', b.value, 'lastRun', b.last_run),
               jsonb_build_object('occurrences', c.occurrences, 'difference', c.difference, 'value', c.value, 'lastRun', run.id,
                                  'lastRunNumber', run.number)
        from changed c join prior b on b.id = c.id cross join run
        where b.last_run <> run.id
        order by c.id
        returning 1)
      select count(*)::int as n from events`);

    const opened = await one(tx, sql<{ n: number }>`
      with ${pendingKeys(runId)},
      created as (
        insert into system_exception (recurrence_key, source_a, source_b, item_id, warehouse_code, location_code, category,
                                      first_run, last_run, difference, value, root_cause, opened_at)
        select p.key, run.source_a, run.source_b, p.item_id, p.warehouse_code, p.location_code, p.category,
               run.id, run.id, p.difference, p.value, p.root_cause, run.at
        from pending p cross join run
        where not exists (select 1 from system_exception e where e.recurrence_key = p.key and e.status in ('open', 'investigating'))
        order by abs(p.value) desc, p.key
        returning id, difference, value, root_cause),
      events as (
        insert into system_exception_event (exception_id, actor, action, after)
        select c.id, ${runActor(sql`run.number`)}, 'opened',
               jsonb_build_object('status', 'open', 'difference', c.difference, 'value', c.value, 'rootCause', c.root_cause,
                                  'run', run.id, 'runNumber', run.number)
        from created c cross join run order by c.id
        returning 1)
      select count(*)::int as n from events`);

    await affected(tx, sql`
      update system_difference d set exception_id = e.id
      from system_reconciliation r, item i, system_exception e
      where d.system_reconciliation_id = ${runId} and r.id = d.system_reconciliation_id and i.id = d.item_id
        and d.outcome = 'exception' and d.exception_id is null
        and e.recurrence_key = ${recurrenceKey(sql`r.source_a`, sql`r.source_b`, sql`i.code`, sql`d`)}
        and e.status in ('open', 'investigating')`);
    return { opened: opened!.n, recurring: recurring!.n };
  });
}

const VIEW_COLUMNS = sql`e.id::int, e.status, e.owner, e.root_cause as "rootCause", i.code as item, e.warehouse_code as warehouse,
  e.location_code as location, e.category, e.source_a as "sourceA", e.source_b as "sourceB",
  e.difference::float8 as difference, e.value::float8 as value, e.occurrences,
  jsonb_build_object('id', f.id, 'number', f.number) as "firstRun", jsonb_build_object('id', l.id, 'number', l.number) as "lastRun",
  e.opened_at as "openedAt", e.resolved_at as "resolvedAt",
  case when c.id is null then null
       else jsonb_build_object('id', c.id, 'number', c.number, 'status', c.status, 'closedAt', c.closed_at) end as "countReconciliation"`;
const VIEW_JOINS = sql`system_exception e join item i on i.id = e.item_id
  join system_reconciliation f on f.id = e.first_run join system_reconciliation l on l.id = e.last_run
  left join reconciliation c on c.id = e.count_reconciliation_id`;

export interface ExceptionFilter {
  status?: ExceptionStatus[];
  owner?: string;
  rootCause?: RootCause;
  warehouse?: string;
  /** The warehouses the reader is granted: 'all' or a list. */
  warehouses: 'all' | string[];
  /** The id of the last exception of the previous page. */
  after?: number;
  limit: number;
}

/**
 * The queue: highest absolute value first (then oldest id), keyset-paginated:
 * `next` is the `after` of the next page (the page after an exception, as the
 * queue ranks now).
 */
export async function listExceptions(em: Em, filter: ExceptionFilter): Promise<{ exceptions: ExceptionView[]; next: number | null }> {
  const codes = filter.warehouses === 'all' ? null : filter.warehouses;
  const statuses = filter.status && filter.status.length > 0 ? filter.status : null;
  const list = await rows(em, sql<ExceptionView>`
    select ${VIEW_COLUMNS} from ${VIEW_JOINS}
    where (${statuses}::text[] is null or e.status = any(${statuses}::text[]))
      and (${filter.owner ?? null}::text is null or e.owner = ${filter.owner ?? null}::text)
      and (${filter.rootCause ?? null}::text is null or e.root_cause = ${filter.rootCause ?? null}::text)
      and (${filter.warehouse ?? null}::text is null or e.warehouse_code = ${filter.warehouse ?? null}::text)
      and (${codes}::text[] is null or e.warehouse_code = any(${codes}::text[]))
      and (${filter.after ?? null}::bigint is null
           or (abs(e.value), -e.id) < (select abs(a.value), -a.id from system_exception a where a.id = ${filter.after ?? null}::bigint))
    order by abs(e.value) desc, e.id limit ${filter.limit}`);
  const last = list[list.length - 1];
  return { exceptions: list, next: list.length === filter.limit && last ? last.id : null };
}

export async function getException(em: Em, id: number): Promise<ExceptionView | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return one(em, sql<ExceptionView>`select ${VIEW_COLUMNS} from ${VIEW_JOINS} where e.id = ${id}`);
}

export async function requireException(em: Em, id: number): Promise<ExceptionView> {
  const e = await getException(em, id);
  if (!e) throw notFound(`system exception ${id}`);
  return e;
}

/**
 * One exception with its history (`events`, oldest first), its occurrences
 * (`lines`: the difference lines of every run it was found in, with the
 * run's number and compared_at) and the count reconciliations started from
 * it (`countReconciliations`, by `reconciliation.origin`).
 */
export async function exceptionDetail(em: Em, id: number) {
  return em.transactional(
    async (tx) => {
      const exception = await requireException(tx, id);
      const events = await rows(tx, sql`
        select id::int, at, actor, action, before, after from system_exception_event where exception_id = ${id} order by id`);
      const lines = await rows(tx, sql`
        select d.system_reconciliation_id as "runId", r.number::int as "runNumber", coalesce(r.compared_at, r.created_at) as "comparedAt",
               d.line, d.quantity_a::float8 as "quantityA", d.quantity_b::float8 as "quantityB", d.difference::float8 as difference,
               d.value::float8 as value, d.root_cause as "rootCause", d.evidence, d.state
        from system_difference d join system_reconciliation r on r.id = d.system_reconciliation_id
        where d.exception_id = ${id} order by r.number, d.line`);
      const countReconciliations = await rows(tx, sql`
        select id, number::int, status, created_by as "createdBy", created_at as "createdAt", closed_at as "closedAt"
        from reconciliation where origin @> jsonb_build_object('systemException', ${id}::bigint) order by number`);
      return { ...exception, events, lines, countReconciliations };
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}

export interface ExceptionChange {
  /** A manager granted the exception's warehouse; null: nobody. */
  owner?: string | null;
  status?: SettableStatus;
  rootCause?: RootCause;
  /** A remark kept in the history with the change (alone: a remark and nothing else). */
  note?: string;
}

interface Locked {
  id: number;
  status: ExceptionStatus;
  owner: string | null;
  rootCause: RootCause;
  warehouse: string;
  item: string;
  location: string;
  countReconciliationId: string | null;
  countClosed: boolean | null;
  countNumber: number | null;
}

async function lockException(em: Em, id: number): Promise<Locked> {
  const e = Number.isSafeInteger(id) && id > 0
    ? await one(em, sql<Locked>`
        select e.id::int, e.status, e.owner, e.root_cause as "rootCause", e.warehouse_code as warehouse, i.code as item,
               e.location_code as location, e.count_reconciliation_id as "countReconciliationId",
               c.closed_at is not null as "countClosed", c.number::int as "countNumber"
        from system_exception e join item i on i.id = e.item_id left join reconciliation c on c.id = e.count_reconciliation_id
        where e.id = ${id} for update of e`)
    : undefined;
  if (!e) throw notFound(`system exception ${id}`);
  return e;
}

function refuseClosed(e: Locked): void {
  if (CLOSED.includes(e.status)) {
    throw refuse('InvalidState', `system exception ${e.id} is ${e.status}: a closed exception does not change (a recurrence opens a new one)`, {
      exceptionStatus: e.status,
    });
  }
}

/**
 * A person's change: owner, status, root cause. Allowed: open ->
 * investigating, resolved or accepted; investigating -> resolved or accepted.
 * A resolved or accepted exception changes no more. Each change is one event
 * in the exception's history and one in the audit trail, with before and after.
 */
export async function updateException(em: Em, id: number, change: ExceptionChange, actor: string): Promise<ExceptionView> {
  return em.transactional(async (tx) => {
    const e = await lockException(tx, id);
    refuseClosed(e);
    if (change.owner !== undefined && change.owner !== null && change.owner !== e.owner) await refuseOwner(tx, change.owner, e.warehouse);
    const before: Record<string, unknown> = {};
    const after: Record<string, unknown> = {};
    if (change.owner !== undefined && change.owner !== e.owner) {
      before.owner = e.owner;
      after.owner = change.owner;
    }
    if (change.rootCause !== undefined && change.rootCause !== e.rootCause) {
      before.rootCause = e.rootCause;
      after.rootCause = change.rootCause;
    }
    const status = change.status !== undefined && change.status !== e.status ? change.status : undefined;
    if (status) {
      before.status = e.status;
      after.status = status;
    }
    const changed = Object.keys(after).length > 0;
    if (!changed && change.note === undefined) return requireException(tx, id);
    if (changed) {
      await affected(tx, sql`
        update system_exception
        set owner = ${'owner' in after ? (change.owner ?? null) : e.owner},
            root_cause = ${change.rootCause ?? e.rootCause},
            status = ${status ?? e.status},
            resolved_at = case when ${status ?? null}::text in ('resolved', 'accepted') then now() else resolved_at end
        where id = ${id}`);
    }
    if (change.note !== undefined) after.note = change.note;
    const action = status ?? (changed ? 'updated' : 'noted');
    await affected(tx, sql`
      insert into system_exception_event (exception_id, actor, action, before, after)
      values (${id}, ${actor}, ${action}, ${changed ? JSON.stringify(before) : null}::jsonb, ${JSON.stringify(after)}::jsonb)`);
    await audit(tx, { warehouse: e.warehouse, actor, action: 'system_exception_updated', subject: `system exception ${id}`, before, after });
    return requireException(tx, id);
  });
}

/** An owner is a manager (or senior manager), enabled, granted the exception's warehouse: someone who can work it. */
async function refuseOwner(em: Em, owner: string, warehouse: string): Promise<void> {
  const ok = await one(em, sql`
    select 1 from app_user u
    where u.name = ${owner} and u.disabled_at is null and u.kind = 'person' and u.role = any(${OWNER_ROLES}::text[])
      and (u.all_warehouses or exists (select 1 from user_warehouse w where w.user_name = u.name and w.warehouse_code = ${warehouse}))`);
  if (!ok) throw refuse('InvalidAssignee', `the owner of an exception is a manager granted warehouse ${warehouse}; ${owner} is not`);
}

/** How the count is run: what `POST /reconciliations` takes besides the warehouse and the scope (its defaults when absent). */
export type CountOptions = Omit<NewReconciliation, 'warehouse' | 'scope'>;

/** The scope a count of an exception covers: its item at its location, or in the whole warehouse when the sources know no location. */
export function countScopeOf(e: { item: string; location: string }): Scope {
  return e.location ? { kind: 'locations', locations: [e.location], items: [e.item] } : { kind: 'warehouse', items: [e.item] };
}

/**
 * Starts a count reconciliation of the exception's item and location (the
 * count workflow, as `POST /reconciliations` creates it), linked both ways;
 * the exception becomes investigating. Refused while one started from it is
 * still under way, and for a closed exception. Idempotent by key (bound to
 * the caller, this exception and the options). The caller starts the
 * workflow of the record returned (`ensureWorkflow`), after the commit.
 */
export async function startCountForException(
  em: Em,
  id: number,
  actor: string,
  idempotencyKey?: string,
  options: CountOptions = DEFAULT_COUNT_OPTIONS,
): Promise<{ record: ReconciliationRecord & { origin: { systemException: number } }; created: boolean }> {
  const request = idempotencyKey
    ? { key: idempotencyKey, actor, operation: 'system-exception-count', subject: `system exception ${id}`, requestHash: requestHash({ id, options }) }
    : undefined;
  return em.transactional(async (tx) => {
    let created = false;
    const { id: reconciliationId } = await once(tx, request, async () => {
      created = true;
      const e = await lockException(tx, id);
      refuseClosed(e);
      if (e.countReconciliationId && !e.countClosed) {
        throw refuse('InvalidState', `count reconciliation ${e.countNumber} started from system exception ${id} is still under way`, {
          reconciliationId: e.countReconciliationId,
          reconciliationNumber: e.countNumber,
        });
      }
      const { record } = await createReconciliation(tx, { ...options, warehouse: e.warehouse, scope: countScopeOf(e) }, actor, undefined);
      await affected(tx, sql`update reconciliation set origin = jsonb_build_object('systemException', ${id}::bigint) where id = ${record.id}`);
      await affected(tx, sql`
        update system_exception set count_reconciliation_id = ${record.id}, status = 'investigating' where id = ${id}`);
      const before = { status: e.status, countReconciliationId: e.countReconciliationId };
      const after = { status: 'investigating', countReconciliationId: record.id, countReconciliationNumber: record.number };
      await affected(tx, sql`
        insert into system_exception_event (exception_id, actor, action, before, after)
        values (${id}, ${actor}, 'count_reconciliation_started', ${JSON.stringify(before)}::jsonb, ${JSON.stringify(after)}::jsonb)`);
      await audit(tx, {
        reconciliationId: record.id, warehouse: e.warehouse, actor, action: 'system_exception_count_started',
        subject: `system exception ${id}`, before, after,
      });
      return { id: record.id };
    });
    const record = await requireReconciliation(tx, reconciliationId);
    return { record: { ...record, origin: { systemException: id } }, created };
  });
}

/** What `POST /reconciliations` defaults to (api/schemas.ts CreateReconciliation). */
export const DEFAULT_COUNT_OPTIONS: CountOptions = {
  splitPolicy: { kind: 'none' },
  tolerance: { default: {} },
  blindCount: true,
  maxRecountRounds: 3,
  countDeadlineMinutes: null,
  managerApprovalLimit: 1000,
};

/**
 * A count reconciliation was released: the exception it was started from
 * (its `origin`, still linked to it and open or investigating) is resolved,
 * with an event and an audit event. Call it in the transaction that
 * finishes the release; a count not started from an exception changes
 * nothing, and a second call neither. `actor` defaults to whoever released
 * the count.
 */
export async function resolveExceptionsOfRelease(em: Em, countReconciliationId: string, actor?: string): Promise<{ resolved: number }> {
  const r = await one(em, sql<{ n: number }>`
    with rec as (select id, number, coalesce(${actor ?? null}::text, released_by, 'system') as actor from reconciliation where id = ${countReconciliationId}),
    -- A count started from an exception names it in its origin: found by key, so the release of any other count reads nothing more.
    prior as (
      select e.id, e.status from system_exception e
      where e.id in (select (r.origin->>'systemException')::bigint from reconciliation r
                     where r.id = ${countReconciliationId} and r.origin->>'systemException' is not null)
        and e.count_reconciliation_id = ${countReconciliationId} and e.status in ('open', 'investigating')
      order by e.id for update),
    changed as (
      update system_exception e set status = 'resolved', resolved_at = now()
      from prior b where e.id = b.id
      returning e.id),
    events as (
      insert into system_exception_event (exception_id, actor, action, before, after)
      select c.id, rec.actor, 'resolved_by_count_reconciliation', jsonb_build_object('status', b.status),
             jsonb_build_object('status', 'resolved', 'countReconciliationId', rec.id, 'countReconciliationNumber', rec.number,
                                'note', 'resolved by count reconciliation ' || rec.number)
      from changed c join prior b on b.id = c.id cross join rec order by c.id
      returning exception_id, actor, before, after),
    audited as (
      ${auditFrom(sql`select ${countReconciliationId}::uuid, ev.actor, 'system_exception_resolved', 'system exception ' || ev.exception_id,
                             ev.before, ev.after from events ev order by ev.exception_id`)})
    select count(*)::int as n from changed`);
  return { resolved: r!.n };
}

/** The warehouse of a run, for access checks (undefined when there is no such run). */
export async function runWarehouse(em: Em, runId: string): Promise<string | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(runId)) return undefined;
  return (await one(em, sql<{ warehouse: string }>`select warehouse_code as warehouse from system_reconciliation where id = ${runId}`))?.warehouse;
}
