import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Em } from '../../db/sql';
import { levelsRequest, runSources, storeLevels } from '../../store/levels';
import { ingestMessages, ingestMovements, listMessages, messageCursor, type BatchSummary } from '../../store/messages';
import { notFound } from '../../store/refusal';
import { readRecords, type NumberedRecord } from '../../store/streaming/records';
import { lineFormatOf } from '../line-fields';
import { hashedBody } from '../../store/system-sources/lines';
import {
  CATEGORIES, listSystems, registerSystem, requireSystem, setLevelsSetting, setStatusMapping, setUnitMapping,
  type LevelsSetting, type NewSystem,
} from '../../store/systems';
import { PRINCIPAL_NAME, type Role } from '../../store/users';
import type { App, AppDeps } from '../deps';
import { INTEGRATIONS, READERS, requireRole, seesWarehouse, type Caller } from '../auth';
import { jsonBody, jsonResponse, problemResponses } from '../http';
import { ImportIdHeaders, Instant } from '../schemas';
import { Problem } from '../problem';
import { code, label } from '../text';
import { log } from '../../platform/log';
import { requestIdOf } from '../observability/requests';

/**
 * Told after a source's levels for a run were stored (and committed): the
 * workflow engineer sets `notify` to signal the run's workflow. Called on an
 * identical repeat too (a notice lost with a crash is given again); a
 * failure to notify is logged and does not undo the upload.
 */
export const levelsReceived = {
  notify: async (_runId: string, _source: string): Promise<void> => {},
};

const ADMIN: Role[] = ['admin'];
/** Who may read systems and their mappings: readers of reconciliations, and admins who manage them. */
const SYSTEM_READERS: Role[] = [...READERS, 'admin'];

const SystemName = z
  .string()
  .regex(PRINCIPAL_NAME, "1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (the name of its integration principal)");
const NameParam = z.object({ name: code() });
const StatusRule = z
  .object({ status: code(), category: z.enum(CATEGORIES), blockingReason: code().nullable().optional() })
  .strict()
  .openapi('StatusRule');
const UnitRule = z
  .object({ unit: code(), item: code().nullable().optional(), storageUnits: z.number().positive().max(1e11).openapi({ multipleOf: 0.000001 }) })
  .strict()
  .openapi('UnitRule');
/**
 * An http(s) URL whose host is a name (its last label starting with a
 * letter) or an IPv4 address, with an optional port and any visible ASCII
 * after it: a rule JSON Schema can state and the URL parser always accepts.
 */
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const URL_PATTERN =
  `^[hH][tT][tT][pP][sS]?://(${OCTET}(\\.${OCTET}){3}|([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*)` +
  '(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?([/?#][\\x21-\\x7e]*)?$';
const Url = z
  .string()
  .max(2_000)
  .regex(new RegExp(URL_PATTERN), 'an http or https URL')
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'an http or https URL');
/** A header value (a secret): never echoed, not even in a validation message. */
const Authorization = z.string().max(4_096).regex(/^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$/, 'a header value: visible ASCII characters and spaces');
const Pushed = z.object({ mode: z.literal('pushed') }).strict();
const Pulled = z.object({ mode: z.literal('pulled'), url: Url, authorization: Authorization }).strict();
const NewLevels = z.discriminatedUnion('mode', [Pushed, Pulled]).openapi('LevelsSetting');
const EditLevels = z
  .discriminatedUnion('mode', [Pushed, z.object({ mode: z.literal('pulled'), url: Url, authorization: Authorization.optional() }).strict()])
  .openapi('LevelsSettingChange');
const NewSystemBody = z
  .object({
    name: SystemName,
    description: label(500).default(''),
    locationGranularity: z.enum(['location', 'warehouse']),
    levels: NewLevels,
    statuses: z.array(StatusRule).min(1).max(1_000),
    units: z.array(UnitRule).max(10_000).default([]),
  })
  .strict()
  .openapi('NewSystem');
const MessagesQuery = z.object({
  unprocessed: z.enum(['true', 'false']).optional(),
  item: code().optional(),
  warehouse: code().optional(),
  target: code().optional(),
  from: Instant.optional(),
  to: Instant.optional(),
  after: z.string().max(1_000).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
const RunParam = z.object({ id: z.string().max(100) });
const SourceQuery = z.object({ source: code().optional() });
const UploadQuery = z.object({ source: code().optional(), asOf: Instant.optional() });
const IMPORT_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * A streamed upload body: CSV or JSON lines by Content-Type. Any bytes are
 * text to read, so the schema states no type; the lines are checked as read.
 */
const streamedBody = (what: string) => ({
  body: {
    content: {
      'text/csv': { schema: z.unknown().openapi({ description: `${what}: a header line naming the fields, then one line each` }) },
      'application/x-ndjson': { schema: z.unknown().openapi({ description: `${what}: one JSON object per line` }) },
    },
    required: true,
  },
});

/**
 * External systems (ERP, WMS ...), their status and unit mappings and how
 * their levels are obtained (admins change them; readers and admins see
 * them, never the pull authorization); the interface messages and movement
 * events a system sends, as itself (its integration principal) or through an
 * admin, in streamed batches with an Import-Id.
 */
export function systemRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/systems',
      summary: "Register an external system (admin): its status and unit mappings, location granularity, and how its levels are obtained; the pull authorization is stored, never shown ('set')",
      request: jsonBody(NewSystemBody),
      responses: { 201: jsonResponse('The system'), 403: { description: 'Not an admin' }, ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, ADMIN);
      return c.json(await registerSystem(deps.orm.em.fork(), c.req.valid('json') as NewSystem, who.name), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/systems',
      summary: 'The sources: the book (Stocktake itself) and every registered system, with their mappings (readers and admins)',
      responses: { 200: jsonResponse('Systems'), ...problemResponses },
    }),
    async (c) => {
      requireRole(c, SYSTEM_READERS);
      return c.json({ systems: await listSystems(deps.orm.em.fork()) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/systems/{name}',
      summary: 'A source (a system or the book) with its mappings (readers and admins)',
      request: { params: NameParam },
      responses: { 200: jsonResponse('The system'), ...problemResponses },
    }),
    async (c) => {
      requireRole(c, SYSTEM_READERS);
      return c.json(await requireSystem(deps.orm.em.fork(), c.req.valid('param').name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/systems/{name}/statuses',
      summary: "Replace a source's status mapping (admin; the book's too): status -> category, and the book's blocking reason it is",
      request: { params: NameParam, ...jsonBody(z.object({ statuses: z.array(StatusRule).min(1).max(1_000) }).strict()) },
      responses: { 200: jsonResponse('The system'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, ADMIN);
      return c.json(await setStatusMapping(deps.orm.em.fork(), c.req.valid('param').name, c.req.valid('json').statuses, who.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/systems/{name}/units',
      summary: "Replace a system's unit mapping (admin): storage units per one of its units, for every item or one",
      request: { params: NameParam, ...jsonBody(z.object({ units: z.array(UnitRule).max(10_000) }).strict()) },
      responses: { 200: jsonResponse('The system'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, ADMIN);
      return c.json(await setUnitMapping(deps.orm.em.fork(), c.req.valid('param').name, c.req.valid('json').units, who.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/systems/{name}/levels',
      summary: 'How a system delivers its levels (admin): pushed, or pulled from a URL with an authorization (kept when omitted and the URL stays on its host)',
      request: { params: NameParam, ...jsonBody(EditLevels) },
      responses: { 200: jsonResponse('The system'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, ADMIN);
      return c.json(await setLevelsSetting(deps.orm.em.fork(), c.req.valid('param').name, c.req.valid('json') as LevelsSetting, who.name), 200);
    },
  );

  for (const kind of ['messages', 'movements'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/systems/{name}/${kind}`,
        summary: kind === 'messages'
          ? 'Interface messages the system sent (the system itself, or an admin): messageId, target, kind, item, warehouse, location?, status?, quantity (signed), unit?, sentAt, processedAt?. A message sent again changes only its processedAt (from none to a time). Import-Id header: the same batch again changes nothing'
          : 'Movement events the system recorded (the system itself, or an admin): eventId, kind, item, warehouse, location?, status?, quantity (signed), unit?, occurredAt. An event sent again changes nothing. Import-Id header: the same batch again changes nothing',
        request: { params: NameParam, headers: ImportIdHeaders, ...streamedBody(kind === 'messages' ? 'Interface messages' : 'Movement events') },
        responses: {
          201: jsonResponse('What the batch stored'),
          200: jsonResponse('The same batch was received before: its summary, nothing applied again'),
          415: { description: 'Neither CSV nor JSON lines' },
          ...problemResponses,
        },
      }),
      async (c) => {
        const name = c.req.valid('param').name;
        const who = sender(c, name);
        const importId = (c.req.header('import-id') ?? '').trim();
        if (!IMPORT_ID.test(importId)) {
          throw new Problem(422, 'invalid-import-id', 'Import-Id required', 'send an Import-Id header (1 to 200 visible ASCII characters) naming this batch; the same id sends it only once');
        }
        const upload = streamed(c);
        const opts = { importId, actor: who.name, warehouses: who.warehouses, requestHash: upload.digest };
        const em = deps.orm.em.fork();
        const summary: BatchSummary = kind === 'messages'
          ? await ingestMessages(em, name, upload.records, opts)
          : await ingestMovements(em, name, upload.records, opts);
        return c.json(summary, summary.repeated ? 200 : 201);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/systems/{name}/messages',
      summary: 'Interface messages the system sent, in the caller\'s warehouses (readers): unprocessed only, by item, warehouse, target and sent time (from inclusive, to exclusive); oldest first, paginated by `after`',
      request: { params: NameParam, query: MessagesQuery },
      responses: { 200: jsonResponse('A page of messages; `next` is the `after` of the next page'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      const q = c.req.valid('query');
      const after = q.after === undefined ? undefined : messageCursor(q.after);
      if (q.after !== undefined && !after) throw new Problem(422, 'invalid-cursor', 'Not a page cursor', 'after: not a page cursor this API gave');
      const page = await listMessages(deps.orm.em.fork(), c.req.valid('param').name, {
        unprocessed: q.unprocessed === 'true', item: q.item, warehouse: q.warehouse, target: q.target, from: q.from, to: q.to, after, limit: q.limit,
      }, who.warehouses);
      return c.json(page, 200);
    },
  );
}

/**
 * The levels of a system reconciliation's sources, under the system
 * reconciliation routes (registered by their owner, with `levelsRoutes(app,
 * deps)`): what a source is asked for, and the upload of a pushed source.
 */
export function levelsRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-reconciliations/{id}/levels-request',
      summary: 'What a source is asked to report for the run: warehouse, selection, deadline, where to upload, and whether it has (readers of the warehouse; the source itself; admins). An integration principal may leave out ?source=',
      request: { params: RunParam, query: SourceQuery },
      responses: { 200: jsonResponse('The levels request'), ...problemResponses },
    }),
    async (c) => {
      const em = deps.orm.em.fork();
      const { source } = await runSource(c, em, c.req.valid('param').id, c.req.valid('query').source, [...READERS, ...INTEGRATIONS]);
      return c.json(await levelsRequest(em, c.req.valid('param').id, source), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/system-reconciliations/{id}/levels',
      summary: "A source's levels for the run (the system itself, or an admin), streamed: item, warehouse, location (empty when the system reports per warehouse), status, quantity, unit? (default: the item's storage unit). All lines or none; the same body again answers 200, another 409",
      request: { params: RunParam, query: UploadQuery, ...streamedBody('Levels') },
      responses: {
        201: jsonResponse('Stored: {lines}'),
        200: jsonResponse('The same levels were received before: nothing stored again'),
        415: { description: 'Neither CSV nor JSON lines' },
        ...problemResponses,
      },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const query = c.req.valid('query');
      const em = deps.orm.em.fork();
      const { who, source } = await runSource(c, em, id, query.source, INTEGRATIONS);
      const upload = streamed(c);
      const summary = await storeLevels(em, id, source, upload.records, {
        receivedBy: who.name,
        asOf: query.asOf ?? new Date(),
        requestHash: upload.digest,
      });
      try {
        await levelsReceived.notify(id, source);
      } catch (e) {
        // Stored and committed: the workflow also finds the receipt when it looks.
        log.error({ event: 'levels_notify_failed', requestId: requestIdOf(c), systemReconciliationId: id, source, error: e instanceof Error ? e.message : String(e) }, 'levels stored, the workflow was not told');
      }
      return c.json({ systemReconciliationId: id, source, lines: summary.lines, repeated: summary.repeated }, summary.repeated ? 200 : 201);
    },
  );
}

/** The caller may act for `name`: its own integration principal, or an admin. */
function sender(c: Context, name: string): Caller {
  const who = requireRole(c, INTEGRATIONS);
  if (who.role === 'integration' && who.name !== name) {
    throw new Problem(403, 'forbidden', 'Not allowed for this role', `${who.name} sends as itself only`);
  }
  return who;
}

/**
 * A run and the source a call is about. Runs in warehouses the caller is not
 * granted, and runs an integration principal is not a source of, answer 404
 * as if absent; an integration principal acts as itself only (403), and may
 * leave the source out.
 */
async function runSource(c: Context, em: Em, id: string, asked: string | undefined, roles: Role[]): Promise<{ who: Caller; source: string }> {
  const who = requireRole(c, roles);
  const run = await runSources(em, id);
  const integration = who.role === 'integration';
  if (!seesWarehouse(who, run.warehouse) || (integration && !run.sources.includes(who.name))) throw notFound(`system reconciliation ${id}`);
  const source = asked ?? (integration ? who.name : undefined);
  if (source === undefined) throw new Problem(422, 'source-required', 'Name the source', 'source: name the source (?source=); only a source itself may leave it out');
  if (integration && source !== who.name) {
    throw new Problem(403, 'forbidden', 'Not allowed for this role', `${who.name} reports its own levels only`);
  }
  return { who, source };
}

/** The request body as records, streamed, with its hash once read. */
function streamed(c: Context): { records: AsyncIterable<NumberedRecord>; digest: () => string } {
  const format = lineFormatOf(c);
  const body: AsyncIterable<Uint8Array> = c.req.raw.body ?? (async function* () {})();
  const hashed = hashedBody(body);
  return { records: readRecords(hashed.chunks, format), digest: hashed.digest };
}
