import { z } from '@hono/zod-openapi';
import { MAX_COUNTED_QUANTITY, MAX_VALUE } from '../domain/quantity-bounds';
import { decimalPlaces } from '../domain/decimal';
import { validateTolerancePolicy } from '../domain/tolerance';
import { code, codeList, freeText, keyedByCode, label } from './text';
import { ROW_SORTS } from '../store/rows/queries';

/**
 * Request schemas: validated before anything is written, so bad input
 * changes nothing. Bounds match the columns they end up in; quantities are
 * checked against the item's unit when the entries are stored.
 */

const codes = z.array(code()).min(1).max(10_000);
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** A money or quantity amount as the numeric(18,4) columns hold it. */
const amount = (max: number) =>
  z
    .number()
    .min(0)
    .max(max)
    .refine((x) => decimalPlaces(x) <= 4, 'at most 4 decimals')
    // The decimal a number is written as (its shortest form) is a multiple of 0.0001: JSON Schema's reading, and decimalPlaces'.
    .openapi({ multipleOf: 0.0001 });

export const Scope = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('warehouse'), items: z.array(code()).max(10_000).optional() }).strict(),
    z.object({ kind: z.literal('zones'), zones: codes, items: z.array(code()).max(10_000).optional() }).strict(),
    z.object({ kind: z.literal('locations'), locations: codes, items: z.array(code()).max(10_000).optional() }).strict(),
  ])
  .openapi('Scope');

export const SplitPolicy = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('none') }).strict(),
    z.object({ kind: z.literal('by_zone') }).strict(),
    z.object({ kind: z.literal('by_size'), maxLocations: z.number().int().min(1).max(100_000) }).strict(),
  ])
  .openapi('SplitPolicy');

/**
 * Limits on each side, each a number >= 0 or null (unlimited). The schema
 * states the shape; validateTolerancePolicy, the domain's own check, still
 * judges the whole policy and words its refusals.
 */
const limit = (decimals: boolean) => {
  const n = z.number().min(0);
  return (decimals ? n.refine((x) => decimalPlaces(x) <= 4, 'at most 4 decimals').openapi({ multipleOf: 0.0001 }) : n).nullable();
};
const limits = (decimals: boolean) => z.object({ plus: limit(decimals), minus: limit(decimals) }).strict();
const ToleranceRule = z
  .object({ quantity: limits(true).optional(), percent: limits(false).optional(), value: limits(true).optional() })
  .strict()
  .openapi('ToleranceRule');
const TolerancePolicy = z
  .object({ default: ToleranceRule, items: keyedByCode(ToleranceRule, 'an item code').optional() })
  .strict()
  .superRefine((policy, ctx) => {
    for (const message of validateTolerancePolicy(policy)) ctx.addIssue({ code: 'custom', message });
  })
  .openapi('TolerancePolicy', {
    example: { default: { quantity: { plus: 2, minus: 2 }, percent: { plus: 5, minus: 5 }, value: { plus: 100, minus: 50 } } },
  });

export const CreateReconciliation = z
  .object({
    warehouse: code(),
    scope: Scope,
    splitPolicy: SplitPolicy.default({ kind: 'none' }),
    tolerance: TolerancePolicy.default({ default: {} }),
    blindCount: z.boolean().default(true),
    maxRecountRounds: z.number().int().min(0).max(20).default(3),
    countDeadlineMinutes: z.number().int().min(1).max(60 * 24 * 60).nullable().default(null),
    /** Largest absolute variance value a manager may approve; above it a senior manager must. */
    managerApprovalLimit: amount(1e12).default(1000),
  })
  .strict()
  .openapi('CreateReconciliation', {
    // The demo data (`npm start` seeds WH1 with zones Z01, Z02 ...): a reconciliation that can run.
    example: { warehouse: 'WH1', scope: { kind: 'zones', zones: ['Z01'] }, splitPolicy: { kind: 'none' }, blindCount: true, maxRecountRounds: 3, managerApprovalLimit: 1000 },
  });

export const RowFilter = z
  .object({
    itemCodes: z.array(code()).max(10_000).optional(),
    zoneCodes: z.array(code()).max(10_000).optional(),
    locationCodes: z.array(code()).max(10_000).optional(),
    approval: z.enum(['to_approve', 'approved', 'not_required']).optional(),
    state: z.enum(['awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted']).optional(),
    minAbsVariance: amount(MAX_VALUE).optional(),
    minAbsValue: amount(MAX_VALUE).optional(),
    direction: z.enum(['gain', 'loss']).optional(),
    minAbsPercent: amount(1e9).optional(),
  })
  .strict();

export const RowSelection = z
  .object({ rowIds: z.array(id).max(100_000).optional(), filter: RowFilter.optional() })
  .strict()
  .openapi('RowSelection', { example: { filter: { approval: 'to_approve', zoneCodes: ['Z01'] } } });

export const RowDeletion = z
  .object({ rowIds: z.array(id).max(100_000).optional(), filter: RowFilter.optional(), reason: freeText() })
  .strict()
  .openapi('RowDeletion', { example: { filter: { state: 'counted', itemCodes: ['ITEM-000001'] }, reason: 'Booked twice by the ERP; corrected there' } });
export const Cancellation = z.object({ reason: freeText() }).strict().openapi('Cancellation', { example: { reason: 'Started for the wrong zone' } });

export const CountEntry = z
  .object({
    location: code(),
    item: code(),
    lot: label().default(''),
    serial: label().default(''),
    handlingUnit: label().default(''),
    owner: label().default(''),
    /** In the item's storage unit; whole numbers for units counted in pieces (checked against the unit when stored). */
    quantity: z.number().min(0).max(MAX_COUNTED_QUANTITY),
    blocked: keyedByCode(z.number().min(0).max(MAX_COUNTED_QUANTITY), 'a blocking reason', 50).optional(),
  })
  .strict();

export const CountSubmission = z
  .object({
    submissionId: code(200),
    /** Optional: the caller counts as itself; if given it must be the caller's name. */
    device: code().optional(),
    entries: z.array(CountEntry).min(1).max(5_000),
  })
  .strict()
  .openapi('CountSubmission', {
    example: { submissionId: 'counter-2026-11-30-0001', entries: [{ location: 'Z01-A-001-1', item: 'ITEM-000001', quantity: 12 }] },
  });

export const DeviceRef = z.object({ device: code() }).strict().openapi('DeviceRef', { example: { device: 'counter' } });
export const OptionalDevice = z.object({ device: code().optional() }).strict();

export const RowQuery = z.object({
  item: codeList().optional(),
  zone: codeList().optional(),
  location: codeList().optional(),
  approval: z.enum(['to_approve', 'approved', 'not_required']).optional(),
  /** The listing also shows rows by their release state (failed ones, to retry or skip); decisions filter by the review states only. */
  state: z.enum(['awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted', 'posting', 'processed', 'failed', 'skipped', 'withdrawn']).optional(),
  minAbsVariance: z.coerce.number().min(0).max(MAX_VALUE).optional(),
  minAbsValue: z.coerce.number().min(0).max(MAX_VALUE).optional(),
  direction: z.enum(['gain', 'loss']).optional(),
  minAbsPercent: z.coerce.number().min(0).max(1e9).optional(),
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(5_000).default(500),
  /** Sorted pages (the review grid) go by `offset`; without `sort` pages go by row id, keyset (`after`). */
  sort: z.enum(ROW_SORTS).optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  /** Also count the rows that match (the grid shows it). */
  total: z.enum(['true', 'false']).default('false'),
});

/**
 * Keys in headers: visible ASCII, 1 to 200 characters. The handlers check
 * them (api/http.ts idempotencyKey, the loads' Import-Id) and name their own
 * problem type; the schema only states the rule.
 */
const KEY_RULE = { pattern: '^[\\x21-\\x7e]{1,200}$', minLength: 1, maxLength: 200 };
export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .openapi({ ...KEY_RULE, description: 'Makes the call safe to repeat: the same key (with the same body) answers what the first call did' }),
});
export const ImportIdHeaders = z.object({
  'import-id': z
    .string()
    .optional()
    .openapi({ ...KEY_RULE, description: 'Names the load (required): the same id again changes nothing', param: { required: true } }),
});

export const SubmissionIdHeaders = z.object({
  'submission-id': z
    .string()
    .optional()
    .openapi({ ...KEY_RULE, description: 'Names the submission (required): the same id and file again changes nothing', param: { required: true } }),
});

/** Year 1 to 9999 in UTC: what PostgreSQL's timestamptz holds (RFC 3339 allows year 0 and offsets up to 23:59). */
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * A point in time as RFC 3339 writes it (any offset), passed on as UTC ISO:
 * PostgreSQL refuses offsets beyond 15:59, which RFC 3339 allows. Instants
 * outside what the database holds are clamped: as filter bounds they select
 * exactly what the unclamped bound would.
 */
export const Instant = z
  .string()
  .datetime({ offset: true })
  .transform((s) => new Date(Math.min(LATEST, Math.max(EARLIEST, Date.parse(s)))).toISOString())
  .openapi({ type: 'string', format: 'date-time', example: '2026-11-30T08:00:00Z' });

export const IdParam = z.object({ id: z.string().uuid() });
export const OrderIdParam = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
export const DeviceParam = z.object({ device: code() });

export const Selection = z
  .object({
    itemFrom: code().optional(),
    itemTo: code().optional(),
    items: z.array(code()).min(1).max(10_000).optional(),
    locations: z.array(code()).min(1).max(10_000).optional(),
  })
  .strict()
  .openapi('Selection');

export const SystemReconciliationRequest = z
  .object({
    sourceA: code(),
    sourceB: code(),
    warehouse: code(),
    selection: Selection.default({}),
    tolerance: TolerancePolicy.default({ default: {} }),
    /** Movements this recent before the levels make a difference timing, not an exception. */
    cutoffMinutes: z.number().int().min(0).max(7 * 24 * 60).default(60),
    /** How long a source that pushes its levels has to send them. */
    levelsDeadlineMinutes: z.number().int().min(1).max(7 * 24 * 60).default(240),
    managerApprovalLimit: amount(1e12).default(1000),
  })
  .strict()
  .openapi('SystemReconciliationRequest');
