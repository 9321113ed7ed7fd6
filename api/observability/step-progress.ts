import { z } from '@hono/zod-openapi';

/** The response's `stepProgress`: where the running (or last) long step of the reconciliation stands, from store/progress.ts. */
export const StepProgressView = z
  .object({
    phase: z.enum(['snapshot', 'populate', 'release']).openapi({ description: 'The step started last: snapshot, populate (variances and verdicts of a round) or release (posting)' }),
    done: z.number().int().min(0).openapi({ description: 'Rows the step has finished (committed)' }),
    total: z.number().int().min(0).nullable().openapi({
      description: 'Rows the step will handle; null while not known (the snapshot is one statement: its total is known when it ends). done == total once the step has committed',
    }),
    ratePerSecond: z.number().min(0).nullable().openapi({ description: 'done per second since the step started; null before any time has passed' }),
    startedAt: z.string().datetime().openapi({ description: 'When the step (its current attempt) started' }),
    updatedAt: z.string().datetime().openapi({ description: 'When it last advanced; while a single statement runs this stays at startedAt' }),
  })
  .openapi('StepProgress', {
    example: { phase: 'release', done: 1500, total: 20000, ratePerSecond: 1120.4, startedAt: '2026-11-30T14:02:11.204Z', updatedAt: '2026-11-30T14:02:12.543Z' },
  });

/** GET /reconciliations/{id}: the document with its workflow's `progress` (and more); only `stepProgress` is described here. */
export const ReconciliationWithProgress = z
  .looseObject({
    stepProgress: StepProgressView.nullable().openapi({
      description: 'Progress of the long steps for a progress bar (null before the snapshot starts); `progress` is the workflow\'s own view (status, round, orders, row counts)',
    }),
  })
  .openapi({
    example: {
      id: '0b5c3f0e-6a4b-4f7e-9a55-6f0f3c1d2e10',
      status: 'snapshotting',
      stepProgress: { phase: 'snapshot', done: 0, total: null, ratePerSecond: null, startedAt: '2026-11-30T14:00:00.000Z', updatedAt: '2026-11-30T14:00:00.000Z' },
    },
  });
