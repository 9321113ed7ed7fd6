import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { BodyTap } from '../../store/imports/body';
import { IMPORT_KINDS, type ImportKind, type ParsedLine, type RowOf } from '../../store/imports/kinds';
import { applyImport } from '../../store/imports/load';
import { readRecordBatches, type NumberedRecord } from '../../store/streaming/records';
import type { App, AppDeps } from '../deps';
import { INTEGRATIONS, requireRole } from '../auth';
import { jsonResponse } from '../http';
import { Problem } from '../problem';
import { ImportIdHeaders } from '../schemas';
import { blocked, decimal, lineFormatOf, linesBody, optional, optionalLabel, parseRecord, parseRecords, quantity, requestName } from '../line-fields';
import { code } from '../text';

/**
 * Loads of master data and stock from the systems that own them (ERP, WMS):
 * `POST /imports/{kind}` with a CSV (header line) or JSON-lines body, read as
 * it streams in. The Import-Id header identifies the load: sending it again
 * changes nothing. A load is applied whole or not at all; bad lines are
 * answered by number with the reason.
 */

/** true or false; CSV text `true` / `false` (any case); absent or empty is false. */
const flag = z.unknown().transform((v, ctx) => {
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  ctx.addIssue({ code: 'custom', message: 'true or false' });
  return z.NEVER;
});

/** 0 to 4. */
const unitDecimals = z.unknown().transform((v, ctx) => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (Number.isInteger(n) && n >= 0 && n <= 4) return n;
  ctx.addIssue({ code: 'custom', message: v === undefined || v === '' ? 'required' : 'a whole number from 0 to 4' });
  return z.NEVER;
});

/** The fields of each kind's lines: CSV header names and JSON keys alike. */
const LINE = {
  warehouses: z.strictObject({ code: code(), name: code(200) }),
  zones: z.strictObject({ warehouse: code(), code: code() }),
  locations: z.strictObject({ warehouse: code(), zone: code(), code: code() }),
  units: z.strictObject({ code: code(20), decimals: unitDecimals }),
  items: z.strictObject({
    code: code(),
    description: optionalLabel(500),
    storageUnit: code(20),
    inventoryUnit: code(20),
    conversionFactor: decimal({ decimals: 6, max: 1e9, positive: true }),
    standardCost: decimal({ decimals: 4, max: 1e10 }),
    lotTracked: optional(flag),
    serialTracked: optional(flag),
  }),
  stock: z.strictObject({
    warehouse: code(),
    location: code(),
    item: code(),
    lot: optionalLabel(),
    serial: optionalLabel(),
    handlingUnit: optionalLabel(),
    owner: optionalLabel(),
    quantity,
    blocked,
  }),
} satisfies { [K in ImportKind]: z.ZodType<RowOf[K]> };

/** One record checked against its kind's fields: the row, or what is wrong with it in words. */
export function parseLine<K extends ImportKind>(kind: K, record: NumberedRecord): ParsedLine<K> {
  return parseRecord(LINE[kind] as unknown as z.ZodType<RowOf[K]>, record);
}

/** The lines of a body, checked one by one, in the batches the reader gives (api/line-fields.ts). */
export function parseLines<K extends ImportKind>(kind: K, records: AsyncIterable<NumberedRecord[]>): AsyncGenerator<Array<ParsedLine<K>>> {
  return parseRecords(LINE[kind] as unknown as z.ZodType<RowOf[K]>, records);
}

/** The Import-Id header (api/line-fields.ts requestName), or a 422. */
function importIdOf(c: Context): string {
  const id = requestName(c.req.header('import-id'));
  if (id === undefined) {
    throw new Problem(422, 'invalid-import-id', 'Import-Id required', 'send an Import-Id header of 1 to 200 visible ASCII characters that identifies this load');
  }
  return id;
}

const FIELDS: Record<ImportKind, string> = {
  warehouses: 'code, name',
  zones: 'warehouse, code',
  locations: 'warehouse, zone, code',
  units: 'code, decimals (0 to 4)',
  items: 'code, description, storageUnit, inventoryUnit, conversionFactor (inventory units per storage unit, above 0, up to 6 decimals), standardCost (per inventory unit, 0 or more, up to 4 decimals), lotTracked, serialTracked (true/false)',
  stock: 'warehouse, location, item, lot, serial, handlingUnit, owner, quantity (storage unit), blocked (JSON lines: {"reason": quantity}; CSV: reason=quantity;reason=quantity)',
};

const route = createRoute({
  method: 'post',
  path: '/imports/{kind}',
  summary: 'Load master data or stock (integrations and admins): CSV or JSON lines, streamed; applied whole or not at all, once per Import-Id',
  description: [
    'One kind per load; CSV header names and JSON keys are the same. Fields by kind:',
    ...IMPORT_KINDS.map((k) => `- ${k}: ${FIELDS[k]}`),
    'Warehouses, zones, locations, units and items are created or updated by their code; references must exist before the load.',
    'A stock load sets the quantity and the blockings of each position it lists (with an adjustment movement of each difference, reference `import <Import-Id>`) and leaves other positions alone.',
    'Rows of a warehouse the caller is not granted are bad lines. Any bad line and nothing is applied: 422 with `lines` (the first 1,000 `{line, problem}`) and `badLines` (how many).',
    'The same Import-Id again from the same caller, for the same kind and body: 200 with the first summary, nothing applied again; with anything else: 422 import-id-reused.',
  ].join('\n'),
  request: {
    params: z.object({ kind: z.enum(IMPORT_KINDS) }),
    headers: ImportIdHeaders,
    body: linesBody('record'),
  },
  responses: {
    201: jsonResponse('Applied: { importId, kind, lines, created, updated, unchanged, movements }'),
    200: jsonResponse('The same load again: the first summary; nothing was applied'),
    403: { description: 'Not an integration or admin (application/problem+json)' },
    415: { description: 'Neither text/csv nor application/x-ndjson (application/problem+json)' },
    422: { description: 'Bad lines (invalid-import, with `lines` and `badLines`), a reused Import-Id (import-id-reused) or none (invalid-import-id) (application/problem+json)' },
  },
});

export function importRoutes(app: App, deps: AppDeps): void {
  // Documented as /imports/{kind}; served only for these kinds, so other loads may live beside it under /imports/.
  app.openAPIRegistry.registerPath(route);
  app.post(`/imports/:kind{${IMPORT_KINDS.join('|')}}`, async (c) => {
    const who = requireRole(c, INTEGRATIONS);
    const kind = c.req.param('kind') as ImportKind;
    const importId = importIdOf(c);
    const format = lineFormatOf(c);
    const body = new BodyTap(c.req.raw.body);
    const { summary, replayed } = await applyImport(deps.orm.em.fork(), {
      importId,
      kind,
      actor: who.name,
      warehouses: who.warehouses,
      lines: parseLines(kind, readRecordBatches(body.chunks(), format)),
      bodyHash: () => body.finish(),
    });
    return c.json(summary, replayed ? 200 : 201);
  });
}
