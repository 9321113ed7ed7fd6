import type { RawBuilder } from 'kysely';
import type { Orm } from '../db/orm';
import { affected, one, rows, sql, type Em } from '../db/sql';
import { audit } from './audit';
import { Refusal, notFound, refuse } from './refusal';
import { readRecords, formatOf, type NumberedRecord } from './streaming/records';
import { drain, FieldReader, hashedBody, hashOf, LineProblems, stageRecords, type HashOf, type LineProblem } from './system-sources/lines';
import { BOOK, pullSetting, requireSource, storageUnitsSql, type LevelsMode, type LocationGranularity } from './systems';

/**
 * The levels each source reports for a system reconciliation (a run): what
 * stock it holds per item, warehouse, location and status, in its own
 * statuses and units, exactly as it reported them (`source_level`), and the
 * receipt that says they arrived (`levels_receipt`).
 *
 * - A pushed system uploads them (storeLevels), a pulled one is fetched
 *   (pullLevels), the book is captured from the stock records
 *   (captureBookLevels). Each lands in one transaction: all lines or none.
 * - One receipt per run and source: the same body again returns the first
 *   summary, another body is refused (LevelsAlreadyReceived).
 * - A body is read as it streams, in batches; it is never held whole.
 */

/** The run's selection: an item code range (inclusive), or a list; locations optional. */
export interface Selection {
  itemFrom?: string;
  itemTo?: string;
  items?: string[];
  locations?: string[];
}

export interface LevelsSummary {
  lines: number;
  /** The same levels were received before: nothing was stored again. */
  repeated: boolean;
}

export interface LevelsOptions {
  /** Who delivered them: the integration principal, an admin, or 'book'. */
  receivedBy: string;
  /** The moment the levels describe. */
  asOf: string | Date;
  /** The body's hash: given, or computed once the records were read (a streamed body). */
  requestHash: HashOf;
}

interface RunRecord {
  warehouse: string;
  sourceA: string;
  sourceB: string;
  selection: Selection;
  /** When levels are due: created + levels_deadline_minutes. */
  deadline: string;
  comparedAt: string | null;
  closedAt: string | null;
}

const BATCH = 1_000;

/**
 * Stores what `source` reports for a run, from records streamed off its
 * upload. Each line: item, warehouse, location ('' or absent when the system
 * is warehouse-granular; required otherwise), status, quantity (0 or more)
 * and unit (absent: the item's storage unit). Lines with a bad field are
 * noted as read; the others go to source_level in batches and are checked
 * together: item and warehouse known, the warehouse the run's, the location
 * one of that warehouse, item and location inside the run's selection,
 * status and unit mapped for the source. Any bad line refuses the whole
 * upload (InvalidLevels, the first 1,000 bad lines and the total) and
 * nothing stays. `em` may be in a transaction already (a savepoint is used).
 */
export async function storeLevels(
  em: Em,
  runId: string,
  source: string,
  records: AsyncIterable<NumberedRecord>,
  opts: LevelsOptions,
): Promise<LevelsSummary> {
  return em.transactional(async (tx) => {
    const run = await requireRun(tx, runId);
    requireRunSource(run, source);
    if (source === BOOK) throw refuse('UnknownSource', "the book's levels are captured from Stocktake's own stock, not uploaded");
    const system = await requireSource(tx, source);
    await lockLevels(tx, runId, source);
    const prior = await receiptOf(tx, runId, source);
    if (prior) {
      await drain(records);
      if (hashOf(opts.requestHash) === prior.requestHash) return { lines: prior.lines, repeated: true };
      throw refuse('LevelsAlreadyReceived', `${source} already reported its levels for this reconciliation (${prior.lines} lines); they are not replaced`);
    }
    if (run.comparedAt || run.closedAt) {
      throw refuse('InvalidState', `this reconciliation ${run.closedAt ? 'is closed' : 'was compared already'}: it takes no more levels`);
    }

    const problems = new LineProblems();
    const lines = await stageRecords(
      records,
      (record) => readLevelLine(record, system.locationGranularity),
      (batch) => insertLevels(tx, runId, source, batch),
      { problems, batchSize: BATCH },
    );

    const found = await levelProblems(tx, runId, source, run, system.locationGranularity);
    const all = problems.merged(found.lines, found.total);
    if (all.total > 0) {
      throw refuse('InvalidLevels', `${all.total} of the lines cannot be accepted; nothing was stored`, { lines: all.lines, total: all.total });
    }
    const requestHash = hashOf(opts.requestHash);
    const asOf = new Date(opts.asOf).toISOString();
    await affected(tx, sql`
      insert into levels_receipt (system_reconciliation_id, source, lines, request_hash, as_of, received_by)
      values (${runId}, ${source}, ${lines}, ${requestHash}, ${asOf}, ${opts.receivedBy})`);
    await audit(tx, {
      warehouse: run.warehouse, actor: opts.receivedBy, action: 'levels_received', subject: `system reconciliation ${runId}`,
      after: { source, lines, asOf },
    });
    return { lines, repeated: false };
  });
}

/**
 * The book's levels for the run's selection, captured from the stock records
 * in one set-based statement: per item and location, the available quantity
 * (stock minus its blockings) as status `available`, and per blocking reason
 * the blocked quantity as that status; storage units, location granularity.
 * Positions of several lots or owners at one location add up. A second call
 * returns the first capture.
 */
export async function captureBookLevels(em: Em, runId: string): Promise<{ lines: number }> {
  return em.transactional(async (tx) => {
    const run = await requireRun(tx, runId);
    requireRunSource(run, BOOK);
    await lockLevels(tx, runId, BOOK);
    const prior = await receiptOf(tx, runId, BOOK);
    if (prior) return { lines: prior.lines };
    const lines = await affected(tx, sql`
      with pos as (
        select sp.id, i.code as item, i.storage_unit as unit, l.code as location, sp.quantity
        from system_reconciliation r
        join stock_position sp on sp.warehouse_code = r.warehouse_code
        join item i on i.id = sp.item_id
        join location l on l.id = sp.location_id
        where r.id = ${runId} and ${selectionWhere(sql`r.selection`, sql`i.code`, sql`l.code`)}
      ),
      levels as (
        select item, location, unit, 'available' as status, sum(quantity - coalesce(b.blocked, 0)) as quantity
        from pos left join lateral (select sum(b.quantity) as blocked from blocking b where b.stock_position_id = pos.id) b on true
        group by item, location, unit
        union all
        select item, location, unit, b.reason, sum(b.quantity)
        from pos join blocking b on b.stock_position_id = pos.id
        where b.quantity <> 0
        group by item, location, unit, b.reason
      )
      insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
      select ${runId}, ${BOOK}, row_number() over (order by item, location, status <> 'available', status),
             item, ${run.warehouse}, location, status, quantity, unit
      from levels`);
    await affected(tx, sql`
      insert into levels_receipt (system_reconciliation_id, source, lines, request_hash, as_of, received_by)
      values (${runId}, ${BOOK}, ${lines}, ${BOOK}, now(), ${BOOK})`);
    return { lines };
  });
}

export interface PullOptions {
  /** Attempts in all (network errors, 5xx, 408, 429); default 5. */
  attempts?: number;
  /** Waiting for the answer's headers, and between two chunks of its body; default 30 s. */
  timeoutMs?: number;
  /** The first wait between attempts, doubled each time (capped at 30 s); default 1 s. */
  backoffMs?: number;
}

/** Fetching levels failed for now (unreachable, 5xx, timeouts) after every attempt: worth trying again later. */
export class LevelsFetchError extends Error {
  override name = 'LevelsFetchError';
}

/**
 * Fetches a pulled system's levels for a run and stores them (storeLevels).
 * GET on the system's URL with the request's parameters (requestId,
 * warehouse, itemFrom, itemTo, items and locations, one parameter per code)
 * and the configured Authorization header; the body, CSV or JSON lines by
 * its Content-Type, streams into storeLevels. Network errors, timeouts, 5xx,
 * 408 and 429 are tried again with backoff (`attempts` in all, then
 * LevelsFetchError: retryable); any other answer is final (InvalidLevels).
 * Redirects are not followed (the secret stays with the configured host).
 * `heartbeat` is called while waiting and reading. No message ever holds the
 * authorization. Levels already received are returned without a call.
 */
export async function pullLevels(orm: Orm, runId: string, source: string, heartbeat: () => void, opts: PullOptions = {}): Promise<{ lines: number }> {
  const attempts = opts.attempts ?? 5;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const backoffMs = opts.backoffMs ?? 1_000;
  const em = orm.em.fork();
  const run = await requireRun(em, runId);
  requireRunSource(run, source);
  if (source === BOOK) throw refuse('UnknownSource', "the book's levels are captured from Stocktake's own stock, not fetched");
  const prior = await receiptOf(em, runId, source);
  if (prior) return { lines: prior.lines };
  const setting = await pullSetting(em, source);
  const secret = setting.authorization ?? '';
  const redact = (text: string) => (secret ? text.split(secret).join('[authorization]') : text);
  const url = requestUrl(setting.url, runId, run);
  const where = `${source} (GET ${url.origin}${url.pathname})`;

  let lastFailure = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    heartbeat();
    try {
      const summary = await fetchOnce(orm, { runId, source, url, secret, timeoutMs, heartbeat, where, redact });
      return { lines: summary.lines };
    } catch (e) {
      // Delivered meanwhile (an earlier attempt of this activity, or an upload): the first delivery stands.
      if (e instanceof Refusal && e.type === 'LevelsAlreadyReceived') {
        const first = await receiptOf(orm.em.fork(), runId, source);
        if (first) return { lines: first.lines };
      }
      if (!(e instanceof Transient)) throw e;
      lastFailure = redact(e.message);
    }
    if (attempt < attempts) await pause(Math.min(backoffMs * 2 ** (attempt - 1), 30_000), heartbeat);
  }
  throw new LevelsFetchError(`${where} failed ${attempts} times; last: ${lastFailure}`);
}

/** A failure worth another attempt (network, timeout, 5xx, 408, 429). */
class Transient extends Error {}

async function fetchOnce(
  orm: Orm,
  a: { runId: string; source: string; url: URL; secret: string; timeoutMs: number; heartbeat: () => void; where: string; redact: (s: string) => string },
): Promise<LevelsSummary> {
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), a.timeoutMs);
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), a.timeoutMs);
  };
  try {
    let res: Response;
    try {
      res = await fetch(a.url, {
        method: 'GET',
        headers: { ...(a.secret ? { authorization: a.secret } : {}), accept: 'text/csv, application/x-ndjson' },
        redirect: 'manual',
        signal: abort.signal,
      });
    } catch (e) {
      throw new Transient(abort.signal.aborted ? `no answer within ${a.timeoutMs} ms` : `the connection failed (${causeOf(e)})`);
    }
    const status = res.status;
    if (status >= 500 || status === 408 || status === 429) {
      await res.body?.cancel().catch(() => undefined);
      throw new Transient(`answered ${status}`);
    }
    if (status >= 300 && status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw refuse('InvalidLevels', `${a.where} answered ${status} (a redirect): configure the system's final URL; redirects are not followed`, { source: a.source, status });
    }
    if (status < 200 || status >= 300) {
      const text = a.redact(await shortText(res));
      throw refuse('InvalidLevels', `${a.where} answered ${status}${text ? `: ${text}` : ''}`, { source: a.source, status });
    }
    const format = formatOf(res.headers.get('content-type') ?? undefined);
    if (!format || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw refuse('InvalidLevels', `${a.where} answered with content type ${JSON.stringify(res.headers.get('content-type') ?? '')}; expected text/csv or application/x-ndjson`, { source: a.source, status });
    }
    const body = res.body;
    let lastBeat = 0;
    const chunks = (async function* () {
      const reader = body[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await reader.next();
        } catch (e) {
          throw new Transient(abort.signal.aborted ? `the body stalled for ${a.timeoutMs} ms` : `the connection failed while reading (${causeOf(e)})`);
        }
        if (next.done) return;
        rearm();
        // Outside the try: a heartbeat that throws (the activity was cancelled) is not a network failure.
        if (Date.now() - lastBeat >= 1_000) {
          lastBeat = Date.now();
          a.heartbeat();
        }
        yield next.value;
      }
    })();
    const hashed = hashedBody(chunks);
    return await storeLevels(orm.em.fork(), a.runId, a.source, readRecords(hashed.chunks, format), {
      receivedBy: a.source,
      asOf: new Date(),
      requestHash: hashed.digest,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** What the system is asked for: the request id, warehouse and selection as query parameters. */
function requestUrl(base: string, runId: string, run: RunRecord): URL {
  const url = new URL(base);
  url.searchParams.set('requestId', runId);
  url.searchParams.set('warehouse', run.warehouse);
  if (run.selection.itemFrom !== undefined) url.searchParams.set('itemFrom', run.selection.itemFrom);
  if (run.selection.itemTo !== undefined) url.searchParams.set('itemTo', run.selection.itemTo);
  for (const item of run.selection.items ?? []) url.searchParams.append('items', item);
  for (const location of run.selection.locations ?? []) url.searchParams.append('locations', location);
  return url;
}

async function shortText(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 300);
    return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  } catch {
    return '';
  }
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return e instanceof Error ? e.message : String(e);
}

async function pause(ms: number, heartbeat: () => void): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    heartbeat();
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, until - Date.now())));
  }
}

export interface LevelsRequest {
  systemReconciliationId: string;
  source: string;
  /** How the source delivers: pushed (it uploads), pulled (Stocktake fetches), book (captured). */
  mode: LevelsMode | 'book';
  warehouse: string;
  selection: Selection;
  locationGranularity: LocationGranularity;
  /** Levels arriving later than this may find the run closed. */
  deadline: string;
  /** Where a pushed system uploads them. */
  upload: { method: 'POST'; path: string; contentTypes: string[] };
  /** The receipt, once they arrived. */
  received: { lines: number; asOf: string; receivedBy: string; receivedAt: string } | null;
}

/** What `source` is asked to report for a run: warehouse, selection, deadline, and whether it has. */
export async function levelsRequest(em: Em, runId: string, source: string): Promise<LevelsRequest> {
  const run = await requireRun(em, runId);
  requireRunSource(run, source);
  const system = await requireSource(em, source);
  const receipt = await one(em, sql<{ lines: number; asOf: string; receivedBy: string; receivedAt: string }>`
    select lines, as_of as "asOf", received_by as "receivedBy", received_at as "receivedAt"
    from levels_receipt where system_reconciliation_id = ${runId} and source = ${source}`);
  return {
    systemReconciliationId: runId,
    source,
    mode: system.mode,
    warehouse: run.warehouse,
    selection: run.selection,
    locationGranularity: system.locationGranularity,
    deadline: new Date(run.deadline).toISOString(),
    upload: {
      method: 'POST',
      path: `/system-reconciliations/${runId}/levels?source=${encodeURIComponent(source)}`,
      contentTypes: ['text/csv', 'application/x-ndjson'],
    },
    received: receipt
      ? { lines: receipt.lines, asOf: new Date(receipt.asOf).toISOString(), receivedBy: receipt.receivedBy, receivedAt: new Date(receipt.receivedAt).toISOString() }
      : null,
  };
}

/** The run's warehouse and sources, for access checks (NotFound if there is none). */
export async function runSources(em: Em, runId: string): Promise<{ warehouse: string; sources: [string, string] }> {
  const run = await requireRun(em, runId);
  return { warehouse: run.warehouse, sources: [run.sourceA, run.sourceB] };
}

/**
 * The selection as an SQL condition on an item code and a location code:
 * inside the code range (inclusive), in the item list, at a listed location.
 * Absent parts restrict nothing.
 */
export function selectionWhere(selection: RawBuilder<unknown>, itemCode: RawBuilder<unknown>, locationCode: RawBuilder<unknown> | null): RawBuilder<unknown> {
  return sql`(${selection}->>'itemFrom' is null or ${itemCode} >= ${selection}->>'itemFrom')
    and (${selection}->>'itemTo' is null or ${itemCode} <= ${selection}->>'itemTo')
    and (jsonb_typeof(${selection}->'items') is distinct from 'array' or ${itemCode} in (select jsonb_array_elements_text(${selection}->'items')))
    and (${locationCode === null ? sql`true` : sql`jsonb_typeof(${selection}->'locations') is distinct from 'array'
         or ${locationCode} in (select jsonb_array_elements_text(${selection}->'locations'))`})`;
}

// ---------------------------------------------------------------- internals

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function requireRun(em: Em, runId: string): Promise<RunRecord> {
  const run = UUID.test(runId)
    ? await one(em, sql<RunRecord>`
        select warehouse_code as warehouse, source_a as "sourceA", source_b as "sourceB", selection,
               created_at + make_interval(mins => levels_deadline_minutes) as deadline, compared_at as "comparedAt", closed_at as "closedAt"
        from system_reconciliation where id = ${runId}`)
    : undefined;
  if (!run) throw notFound(`system reconciliation ${runId}`);
  return run;
}

function requireRunSource(run: RunRecord, source: string): void {
  if (source !== run.sourceA && source !== run.sourceB) {
    throw refuse('UnknownSource', `${source} is not a source of this reconciliation (${run.sourceA}, ${run.sourceB})`);
  }
}

/** One delivery per run and source at a time: a second waits, then finds the first's receipt. */
async function lockLevels(em: Em, runId: string, source: string): Promise<void> {
  await one(em, sql`select pg_advisory_xact_lock(hashtext(${`levels:${runId}:${source}`}))`);
}

async function receiptOf(em: Em, runId: string, source: string): Promise<{ lines: number; requestHash: string } | undefined> {
  return one(em, sql<{ lines: number; requestHash: string }>`
    select lines, request_hash as "requestHash" from levels_receipt where system_reconciliation_id = ${runId} and source = ${source}`);
}

interface LevelLine {
  line: number;
  item: string;
  warehouse: string;
  location: string;
  status: string;
  quantity: string;
  /** '' for the item's storage unit. */
  unit: string;
}

function readLevelLine(record: NumberedRecord, granularity: LocationGranularity): LevelLine | { problem: string } {
  const f = new FieldReader(record.fields);
  const line: LevelLine = {
    line: record.line,
    item: f.code('item'),
    warehouse: f.code('warehouse'),
    location: f.code('location', { optional: true }),
    status: f.code('status'),
    quantity: f.quantity('quantity', { signed: false }),
    unit: f.code('unit', { optional: true }),
  };
  if (granularity === 'warehouse' && line.location !== '') f.problems.push('this system reports per warehouse: leave location empty');
  if (granularity === 'location' && line.location === '' && !f.problems.some((p) => p.startsWith('location'))) {
    f.problems.push('location is missing (this system reports per location)');
  }
  return f.problems.length > 0 ? { problem: f.problems.join('; ') } : line;
}

async function insertLevels(em: Em, runId: string, source: string, batch: LevelLine[]): Promise<void> {
  await affected(em, sql`
    insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
    select ${runId}, ${source}, v.line, v.item, v.warehouse, v.location, v.status, v.quantity::numeric,
           coalesce(nullif(v.unit, ''), it.storage_unit, '')
    from unnest(${batch.map((b) => b.line)}::int[], ${batch.map((b) => b.item)}::text[], ${batch.map((b) => b.warehouse)}::text[],
                ${batch.map((b) => b.location)}::text[], ${batch.map((b) => b.status)}::text[], ${batch.map((b) => b.quantity)}::text[],
                ${batch.map((b) => b.unit)}::text[]) as v(line, item, warehouse, location, status, quantity, unit)
    left join item it on it.code = v.item`);
}

/** The stored lines' problems, checked together: the first 1,000 in line order, and how many there are. */
async function levelProblems(
  em: Em,
  runId: string,
  source: string,
  run: RunRecord,
  granularity: LocationGranularity,
): Promise<{ lines: LineProblem[]; total: number }> {
  const found = await rows(em, sql<{ line: number; problem: string; total: number }>`
    select line, problem, count(*) over ()::int as total from (
      select s.line, array_to_string(array[
        case when it.id is null then 'unknown item ' || s.item_code end,
        case when w.code is null then 'unknown warehouse ' || s.warehouse_code
             when s.warehouse_code <> ${run.warehouse} then 'warehouse ' || s.warehouse_code || ' is not this reconciliation''s warehouse (' || ${run.warehouse} || ')' end,
        case when s.location_code <> '' and s.warehouse_code = ${run.warehouse}
                  and not exists (select 1 from location l where l.warehouse_code = s.warehouse_code and l.code = s.location_code)
             then 'location ' || s.location_code || ' is not a location of warehouse ' || s.warehouse_code end,
        case when it.id is not null and not (${selectionWhere(sql`r.selection`, sql`s.item_code`, null)})
             then 'item ' || s.item_code || ' is outside the requested selection' end,
        case when ${granularity === 'location'} and s.location_code <> ''
                  and not (${selectionWhere(sql`r.selection`, sql`s.item_code`, sql`s.location_code`)})
                  and (${selectionWhere(sql`r.selection`, sql`s.item_code`, null)})
             then 'location ' || s.location_code || ' is outside the requested selection' end,
        case when not exists (select 1 from status_mapping m where m.source = s.source and m.status = s.status)
             then 'status ' || s.status || ' has no mapping for ' || s.source end,
        case when it.id is not null and ${storageUnitsSql(sql`s.source`, sql`s.item_code`, sql`s.unit`)} is null
             then 'unit ' || s.unit || ' has no mapping for ' || s.source || ' (item ' || s.item_code || ')' end
      ], '; ') as problem
      from source_level s
      join system_reconciliation r on r.id = s.system_reconciliation_id
      left join item it on it.code = s.item_code
      left join warehouse w on w.code = s.warehouse_code
      where s.system_reconciliation_id = ${runId} and s.source = ${source}
    ) p
    where problem <> ''
    order by line
    limit 1000`);
  return { lines: found.map((f) => ({ line: f.line, problem: f.problem })), total: found[0]?.total ?? 0 };
}
