import { z } from '@hono/zod-openapi';
import { MAX_COUNTED_QUANTITY, MAX_VALUE } from '../domain/quantity-bounds';
import { decimalPlaces } from '../domain/decimal';
import { validateTolerancePolicy } from '../domain/tolerance';
import { code, codeList, freeText, keyedByCode, label } from './text';

/**
 * Request schemas: validated before anything is written, so bad input
 * changes nothing. Bounds match the columns they end up in; quantities are
 * checked against the item's unit when the entries are stored.
 */

const codes = z.array(code()).min(1).max(10_000);
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** A money or quantity amount as the numeric(18,4) columns hold it. */
const amount = (max: number) =>
  z.number().min(0).max(max).refine((x) => decimalPlaces(x) <= 4, 'at most 4 decimals');

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

const TolerancePolicy = z
  .object({ default: z.record(z.string(), z.unknown()), items: keyedByCode(z.unknown(), 'an item code').optional() })
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
  .openapi('CreateReconciliation');

export const RowFilter = z
  .object({
    itemCodes: z.array(code()).max(10_000).optional(),
    zoneCodes: z.array(code()).max(10_000).optional(),
    locationCodes: z.array(code()).max(10_000).optional(),
    approval: z.enum(['to_approve', 'approved', 'not_required']).optional(),
    state: z.enum(['awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted']).optional(),
    minAbsVariance: amount(MAX_VALUE).optional(),
    minAbsValue: amount(MAX_VALUE).optional(),
  })
  .strict();

export const RowSelection = z
  .object({ rowIds: z.array(id).max(100_000).optional(), filter: RowFilter.optional() })
  .strict()
  .openapi('RowSelection');

export const RowDeletion = z
  .object({ rowIds: z.array(id).max(100_000).optional(), filter: RowFilter.optional(), reason: freeText() })
  .strict()
  .openapi('RowDeletion');
export const Cancellation = z.object({ reason: freeText() }).strict();

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
  .openapi('CountSubmission');

export const DeviceRef = z.object({ device: code() }).strict();
export const OptionalDevice = z.object({ device: code().optional() }).strict();

export const RowQuery = z.object({
  item: codeList().optional(),
  zone: codeList().optional(),
  location: codeList().optional(),
  approval: z.enum(['to_approve', 'approved', 'not_required']).optional(),
  state: z.enum(['awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted']).optional(),
  minAbsVariance: z.coerce.number().min(0).max(MAX_VALUE).optional(),
  minAbsValue: z.coerce.number().min(0).max(MAX_VALUE).optional(),
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(5_000).default(500),
});

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
