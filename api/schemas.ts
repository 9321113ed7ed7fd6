import { z } from '@hono/zod-openapi';
import { validateTolerancePolicy } from '../domain/tolerance';

/** Request schemas: validated before anything is written, so bad input changes nothing. */

const code = z.string().trim().min(1).max(100);
const codes = z.array(code).min(1).max(10_000);

export const Scope = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('warehouse'), items: z.array(code).max(10_000).optional() }),
    z.object({ kind: z.literal('zones'), zones: codes, items: z.array(code).max(10_000).optional() }),
    z.object({ kind: z.literal('locations'), locations: codes, items: z.array(code).max(10_000).optional() }),
  ])
  .openapi('Scope');

export const SplitPolicy = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('none') }),
    z.object({ kind: z.literal('by_zone') }),
    z.object({ kind: z.literal('by_size'), maxLocations: z.number().int().min(1).max(100_000) }),
  ])
  .openapi('SplitPolicy');

const TolerancePolicy = z
  .object({ default: z.record(z.string(), z.unknown()), items: z.record(z.string(), z.unknown()).optional() })
  .superRefine((policy, ctx) => {
    for (const message of validateTolerancePolicy(policy)) ctx.addIssue({ code: 'custom', message });
  })
  .openapi('TolerancePolicy', {
    example: { default: { quantity: { plus: 2, minus: 2 }, percent: { plus: 5, minus: 5 }, value: { plus: 100, minus: 50 } } },
  });

export const CreateReconciliation = z
  .object({
    warehouse: code,
    scope: Scope,
    splitPolicy: SplitPolicy.default({ kind: 'none' }),
    tolerance: TolerancePolicy.default({ default: {} }),
    blindCount: z.boolean().default(true),
    maxRecountRounds: z.number().int().min(0).max(20).default(3),
    countDeadlineMinutes: z.number().int().min(1).max(60 * 24 * 60).nullable().default(null),
    /** Largest absolute variance value a manager may approve; above it a senior manager must. */
    managerApprovalLimit: z.number().min(0).max(1e12).default(1000),
  })
  .strict()
  .openapi('CreateReconciliation');

export const RowFilter = z
  .object({
    itemCodes: z.array(code).optional(),
    zoneCodes: z.array(code).optional(),
    locationCodes: z.array(code).optional(),
    approval: z.enum(['to_approve', 'approved', 'not_required']).optional(),
    state: z.enum(['awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted']).optional(),
    minAbsVariance: z.number().min(0).optional(),
    minAbsValue: z.number().min(0).optional(),
  })
  .strict();

export const RowSelection = z
  .object({ rowIds: z.array(z.number().int().positive()).max(100_000).optional(), filter: RowFilter.optional() })
  .strict()
  .openapi('RowSelection');

export const RowDeletion = RowSelection.extend({ reason: z.string().trim().min(1).max(500) }).openapi('RowDeletion');
export const Cancellation = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

export const CountEntry = z
  .object({
    location: code,
    item: code,
    lot: z.string().max(100).default(''),
    serial: z.string().max(100).default(''),
    handlingUnit: z.string().max(100).default(''),
    owner: z.string().max(100).default(''),
    quantity: z.number().min(0).max(1e12).multipleOf(0.0001),
    blocked: z.record(z.string().min(1).max(50), z.number().min(0).max(1e12)).optional(),
  })
  .strict();

export const CountSubmission = z
  .object({
    submissionId: z.string().trim().min(1).max(200),
    device: code,
    entries: z.array(CountEntry).min(1).max(5_000),
  })
  .strict()
  .openapi('CountSubmission');

export const DeviceRef = z.object({ device: code }).strict();

export const RowQuery = z.object({
  item: z.string().optional(),
  zone: z.string().optional(),
  location: z.string().optional(),
  approval: z.enum(['to_approve', 'approved', 'not_required']).optional(),
  state: z.enum(['awaiting_count', 'counted', 'marked_for_recount', 'recounting', 'deleted']).optional(),
  minAbsVariance: z.coerce.number().min(0).optional(),
  minAbsValue: z.coerce.number().min(0).optional(),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5_000).default(500),
});

export const IdParam = z.object({ id: z.string().uuid() });
export const OrderIdParam = z.object({ id: z.coerce.number().int().positive() });
