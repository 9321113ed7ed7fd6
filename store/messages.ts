import { affected, one, rows, sql, type Em } from '../db/sql';
import { audit } from './audit';
import { refuse } from './refusal';
import type { NumberedRecord } from './streaming/records';
import { drain, FieldReader, hashOf, LineProblems, stageRecords, type HashOf, type LineProblem } from './system-sources/lines';
import { BOOK, requireSource, storageUnitsSql } from './systems';

/**
 * Interface messages and movement events an external system sends, streamed
 * (CSV or JSON lines) in batches identified by an Import-Id.
 *
 * - Interface message: one system told another of a stock change (receipt,
 *   putaway, pick, shipment, transfer, adjustment, status change), with its
 *   id, when it was sent and, once the target processed it, when that was.
 *   Unprocessed messages explain differences between the two systems' levels.
 * - Movement event: a stock change a system recorded, with when it happened;
 *   those close to a run's levels explain timing differences.
 *
 * Rules:
 * - A batch is all or nothing: any bad line refuses it (InvalidImport, the
 *   first 1,000 bad lines and the total) and nothing is stored. A line for a
 *   warehouse the sender is not granted refuses it as WarehouseNotGranted.
 * - The same Import-Id with the same body (and sender, kind and system)
 *   changes nothing and returns the first summary; with anything else it is
 *   refused (ImportIdReused). Recorded in import_load.
 * - A message sent again with the same id changes only its processedAt, and
 *   only from none to a time: that is how a processing notice arrives (the
 *   same message, processedAt set). Everything else of the first sending
 *   stays; a processedAt once set stays. Within one batch the first line of
 *   an id gives its fields, and the first processedAt given wins.
 * - A movement event sent again with the same id changes nothing.
 */
export const MESSAGE_KINDS = ['receipt', 'putaway', 'pick', 'shipment', 'transfer', 'adjustment', 'status_change'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];
export type BatchKind = 'messages' | 'movements';

export interface BatchOptions {
  importId: string;
  /** Who sent it: the system's integration principal or an admin. */
  actor: string;
  /** The warehouses the sender is granted. */
  warehouses: 'all' | string[];
  /** The body's hash: given, or computed once the records were read (a streamed body). */
  requestHash: HashOf;
}

export interface BatchSummary {
  importId: string;
  kind: BatchKind;
  system: string;
  lines: number;
  /** New messages or events. */
  inserted: number;
  /** Messages known before whose processedAt this batch set. */
  processed: number;
  /** Lines that changed nothing (sent before, or repeated within the batch). */
  unchanged: number;
  /** The same batch was received before: nothing was applied again. */
  repeated: boolean;
}

export interface MessageView {
  messageId: string;
  source: string;
  target: string;
  kind: MessageKind;
  item: string;
  warehouse: string;
  location: string;
  status: string;
  quantity: string;
  unit: string;
  sentAt: string;
  processedAt: string | null;
}

export interface MessageQuery {
  unprocessed?: boolean;
  item?: string;
  warehouse?: string;
  target?: string;
  /** Sent at or after. */
  from?: string;
  /** Sent before. */
  to?: string;
  /** The `next` of the previous page, read by messageCursor. */
  after?: MessageCursor;
  limit: number;
}

const BATCH = 1_000;

interface Line {
  line: number;
  id: string;
  target: string;
  kind: string;
  item: string;
  warehouse: string;
  location: string;
  status: string;
  quantity: string;
  unit: string;
  at: string;
  processedAt: string | null;
}

/** Stores a batch of interface messages `system` sent (see the rules above). */
export function ingestMessages(em: Em, system: string, records: AsyncIterable<NumberedRecord>, opts: BatchOptions): Promise<BatchSummary> {
  return ingest(em, 'messages', system, records, opts);
}

/** Stores a batch of movement events `system` recorded (see the rules above). */
export function ingestMovements(em: Em, system: string, records: AsyncIterable<NumberedRecord>, opts: BatchOptions): Promise<BatchSummary> {
  return ingest(em, 'movements', system, records, opts);
}

async function ingest(em: Em, kind: BatchKind, system: string, records: AsyncIterable<NumberedRecord>, opts: BatchOptions): Promise<BatchSummary> {
  if (system === BOOK) throw refuse('UnknownSource', "the book sends no messages: its movements are Stocktake's own");
  return em.transactional(async (tx) => {
    await requireSource(tx, system);
    await one(tx, sql`select pg_advisory_xact_lock(hashtext(${'import_load:' + opts.importId}))`);
    const prior = await one(tx, sql<{ kind: string; actor: string; requestHash: string; summary: BatchSummary }>`
      select kind, actor, request_hash as "requestHash", summary from import_load where id = ${opts.importId}`);
    if (prior) {
      await drain(records);
      const same = prior.kind === kind && prior.actor === opts.actor && prior.summary.system === system && prior.requestHash === hashOf(opts.requestHash);
      if (same) return { ...prior.summary, repeated: true };
      throw refuse('ImportIdReused', 'this Import-Id was already used for another batch; use a new Import-Id for a new batch');
    }

    await affected(tx, sql`
      create temp table staged_line (
        line int not null, id text not null, target text not null, kind text not null, item_code text not null,
        warehouse_code text not null, location_code text not null, status text not null, quantity numeric(18,4) not null,
        unit text not null, at timestamptz not null, processed_at timestamptz
      ) on commit drop`);
    const problems = new LineProblems();
    const lines = await stageRecords(records, (record) => readLine(record, kind), (batch) => stage(tx, batch), { problems, batchSize: BATCH });

    const ungranted = await ungrantedLines(tx, opts.warehouses);
    if (ungranted.total > 0) {
      throw refuse('WarehouseNotGranted', `${ungranted.total} of the lines are for warehouses ${opts.actor} is not granted; nothing was stored`, {
        lines: ungranted.lines, total: ungranted.total,
      });
    }
    const found = await stagedProblems(tx, kind, system);
    const all = problems.merged(found.lines, found.total);
    if (all.total > 0) {
      throw refuse('InvalidImport', `${all.total} of the lines cannot be accepted; nothing was stored`, { lines: all.lines, total: all.total });
    }

    const applied = kind === 'messages' ? await applyMessages(tx, system) : await applyMovements(tx, system);
    const byWarehouse = await rows(tx, sql<{ warehouse: string; lines: number }>`
      select warehouse_code as warehouse, count(*)::int as lines from staged_line group by 1 order by 1`);
    await affected(tx, sql`drop table staged_line`);
    const summary: BatchSummary = {
      importId: opts.importId, kind, system, lines,
      inserted: applied.inserted, processed: applied.processed, unchanged: lines - applied.inserted - applied.processed, repeated: false,
    };
    await affected(tx, sql`
      insert into import_load (id, kind, actor, request_hash, lines, summary)
      values (${opts.importId}, ${kind}, ${opts.actor}, ${hashOf(opts.requestHash)}, ${lines}, ${JSON.stringify(summary)}::jsonb)`);
    // One event per warehouse, so an auditor sees only the part of a batch for
    // the warehouses they are granted, and nothing of the rest.
    for (const part of byWarehouse) {
      await audit(tx, {
        actor: opts.actor, action: kind === 'messages' ? 'messages_received' : 'movements_received', subject: `system ${system}`,
        warehouse: part.warehouse,
        after: { importId: opts.importId, lines: part.lines },
      });
    }
    return summary;
  });
}

function readLine(record: NumberedRecord, kind: BatchKind): Line | { problem: string } {
  const f = new FieldReader(record.fields);
  const messages = kind === 'messages';
  const line: Line = {
    line: record.line,
    id: f.code(messages ? 'messageId' : 'eventId', { max: 200 }),
    target: messages ? f.code('target') : '',
    kind: f.oneOf('kind', MESSAGE_KINDS),
    item: f.code('item'),
    warehouse: f.code('warehouse'),
    location: f.code('location', { optional: true }),
    status: f.code('status', { optional: true }),
    quantity: f.quantity('quantity', { signed: true }),
    unit: f.code('unit', { optional: true }),
    at: f.time(messages ? 'sentAt' : 'occurredAt') ?? '',
    processedAt: messages ? f.time('processedAt', { optional: true }) : null,
  };
  if (line.processedAt && line.at && line.processedAt < line.at) f.problems.push('processedAt is before sentAt');
  return f.problems.length > 0 ? { problem: f.problems.join('; ') } : line;
}

async function stage(em: Em, batch: Line[]): Promise<void> {
  await affected(em, sql`
    insert into staged_line (line, id, target, kind, item_code, warehouse_code, location_code, status, quantity, unit, at, processed_at)
    select v.line, v.id, v.target, v.kind, v.item, v.warehouse, v.location, v.status, v.quantity::numeric,
           coalesce(nullif(v.unit, ''), it.storage_unit, ''), v.at::timestamptz, v.processed_at::timestamptz
    from unnest(${batch.map((b) => b.line)}::int[], ${batch.map((b) => b.id)}::text[], ${batch.map((b) => b.target)}::text[],
                ${batch.map((b) => b.kind)}::text[], ${batch.map((b) => b.item)}::text[], ${batch.map((b) => b.warehouse)}::text[],
                ${batch.map((b) => b.location)}::text[], ${batch.map((b) => b.status)}::text[], ${batch.map((b) => b.quantity)}::text[],
                ${batch.map((b) => b.unit)}::text[], ${batch.map((b) => b.at)}::text[], ${batch.map((b) => b.processedAt)}::text[])
         as v(line, id, target, kind, item, warehouse, location, status, quantity, unit, at, processed_at)
    left join item it on it.code = v.item`);
}

async function ungrantedLines(em: Em, warehouses: 'all' | string[]): Promise<{ lines: LineProblem[]; total: number }> {
  if (warehouses === 'all') return { lines: [], total: 0 };
  const found = await rows(em, sql<{ line: number; problem: string; total: number }>`
    select line, 'warehouse ' || warehouse_code || ' is not granted to the sender' as problem, count(*) over ()::int as total
    from staged_line where warehouse_code <> all(${warehouses}::text[])
    order by line limit 1000`);
  return { lines: found.map((f) => ({ line: f.line, problem: f.problem })), total: found[0]?.total ?? 0 };
}

async function stagedProblems(em: Em, kind: BatchKind, system: string): Promise<{ lines: LineProblem[]; total: number }> {
  const found = await rows(em, sql<{ line: number; problem: string; total: number }>`
    select line, problem, count(*) over ()::int as total from (
      select s.line, array_to_string(array[
        case when ${kind === 'messages'} and s.target <> ${BOOK} and not exists (select 1 from external_system e where e.name = s.target)
             then 'unknown target ' || s.target || ' (a registered system or book)' end,
        case when ${kind === 'messages'} and s.target = ${system} then 'a message goes to another system than its sender' end,
        case when it.id is null then 'unknown item ' || s.item_code end,
        case when w.code is null then 'unknown warehouse ' || s.warehouse_code end,
        case when w.code is not null and s.location_code <> ''
                  and not exists (select 1 from location l where l.warehouse_code = s.warehouse_code and l.code = s.location_code)
             then 'location ' || s.location_code || ' is not a location of warehouse ' || s.warehouse_code end,
        case when s.status <> '' and not exists (select 1 from status_mapping m where m.source = ${system} and m.status = s.status)
             then 'status ' || s.status || ' has no mapping for ' || ${system} end,
        case when it.id is not null and ${storageUnitsSql(sql`${system}::text`, sql`s.item_code`, sql`s.unit`)} is null
             then 'unit ' || s.unit || ' has no mapping for ' || ${system} || ' (item ' || s.item_code || ')' end
      ], '; ') as problem
      from staged_line s
      left join item it on it.code = s.item_code
      left join warehouse w on w.code = s.warehouse_code
    ) p
    where problem <> ''
    order by line
    limit 1000`);
  return { lines: found.map((f) => ({ line: f.line, problem: f.problem })), total: found[0]?.total ?? 0 };
}

async function applyMessages(em: Em, system: string): Promise<{ inserted: number; processed: number }> {
  const r = await one(em, sql<{ inserted: number; processed: number }>`
    with first as (
      select distinct on (id) id, target, kind, item_code, warehouse_code, location_code, status, quantity, unit, at,
             first_value(processed_at) over (partition by id order by processed_at is null, line) as processed_at
      from staged_line order by id, line
    ),
    applied as (
      insert into interface_message as m (source, message_id, target, kind, item_code, warehouse_code, location_code, status, quantity, unit, sent_at, processed_at)
      select ${system}, id, target, kind, item_code, warehouse_code, location_code, status, quantity, unit, at, processed_at from first
      on conflict (source, message_id) do update set processed_at = excluded.processed_at
        where m.processed_at is null and excluded.processed_at is not null
      returning (m.xmax = 0) as inserted
    )
    select (count(*) filter (where inserted))::int as inserted, (count(*) filter (where not inserted))::int as processed from applied`);
  return r!;
}

async function applyMovements(em: Em, system: string): Promise<{ inserted: number; processed: number }> {
  const inserted = await affected(em, sql`
    insert into movement_event (source, event_id, kind, item_code, warehouse_code, location_code, status, quantity, unit, occurred_at)
    select ${system}, id, kind, item_code, warehouse_code, location_code, status, quantity, unit, at from staged_line order by line
    on conflict (source, event_id) do nothing`);
  return { inserted, processed: 0 };
}

/**
 * Messages `system` sent, oldest first (sent time, then id), in the given
 * warehouses: all, or only those not yet processed; by item, warehouse,
 * target and a sent-time window; keyset-paginated (`next` is the `after` of
 * the next page).
 */
export async function listMessages(em: Em, system: string, q: MessageQuery, warehouses: 'all' | string[]): Promise<{ messages: MessageView[]; next: string | null }> {
  await requireSource(em, system);
  const codes = warehouses === 'all' ? null : warehouses;
  const cursor = q.after ?? null;
  const found = await rows(em, sql<MessageView>`
    select message_id as "messageId", source, target, kind, item_code as item, warehouse_code as warehouse, location_code as location,
           status, quantity::text as quantity, unit, sent_at as "sentAt", processed_at as "processedAt"
    from interface_message
    where source = ${system}
      and (${codes}::text[] is null or warehouse_code = any(${codes}::text[]))
      and (not ${q.unprocessed ?? false} or processed_at is null)
      and (${q.item ?? null}::text is null or item_code = ${q.item ?? null}::text)
      and (${q.warehouse ?? null}::text is null or warehouse_code = ${q.warehouse ?? null}::text)
      and (${q.target ?? null}::text is null or target = ${q.target ?? null}::text)
      and (${q.from ?? null}::timestamptz is null or sent_at >= ${q.from ?? null}::timestamptz)
      and (${q.to ?? null}::timestamptz is null or sent_at < ${q.to ?? null}::timestamptz)
      and (${cursor?.sentAt ?? null}::timestamptz is null or (sent_at, message_id) > (${cursor?.sentAt ?? null}::timestamptz, ${cursor?.id ?? null}::text))
    order by sent_at, message_id
    limit ${q.limit}`);
  const messages = found.map((m) => ({
    ...m, sentAt: new Date(m.sentAt).toISOString(), processedAt: m.processedAt === null ? null : new Date(m.processedAt).toISOString(),
  }));
  const last = messages[messages.length - 1];
  return { messages, next: messages.length === q.limit && last ? writeCursor(last.sentAt, last.messageId) : null };
}

function writeCursor(sentAt: string, id: string): string {
  return Buffer.from(JSON.stringify([sentAt, id]), 'utf8').toString('base64url');
}

export interface MessageCursor {
  sentAt: string;
  id: string;
}

/** A page cursor `listMessages` gave (its `next`), or undefined when the text is not one. */
export function messageCursor(text: string): MessageCursor | undefined {
  try {
    const [sentAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof sentAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(sentAt))) return { sentAt, id };
  } catch {
    // not a cursor
  }
  return undefined;
}
