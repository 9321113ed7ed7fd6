import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { one, sql, type Em } from '../../db/sql';
import { notFound } from '../../store/refusal';
import {
  EXCEPTION_STATUSES,
  exceptionDetail,
  getException,
  listExceptions,
  ROOT_CAUSES,
  runWarehouse,
  SETTABLE_STATUSES,
  startCountForException,
  updateException,
  type CountOptions,
  type ExceptionStatus,
  type ExceptionView,
} from '../../store/system-reconciliation/exceptions';
import { periodKpis, periodKpisCsv, runKpis, runKpisCsv, type PeriodQuery } from '../../store/system-reconciliation/kpis';
import { PRINCIPAL_NAME } from '../../store/users';
import type { App, AppDeps } from '../deps';
import { MANAGERS, READERS, requireRole, seesWarehouse, type Caller } from '../auth';
import { idempotencyKey, jsonBody, jsonOrCsvResponse, jsonResponse, problemResponses } from '../http';
import { Problem } from '../problem';
import { CreateReconciliation, IdParam, IdempotencyHeaders } from '../schemas';
import { ensureWorkflow } from '../workflow-start';
import { code, freeText } from '../text';

const ExceptionIdParam = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

/** One status or several, comma-separated (spaces around them allowed). */
const ONE_STATUS = ` *(${EXCEPTION_STATUSES.join('|')}) *`;
const STATUS_LIST = new RegExp(`^${ONE_STATUS}(,${ONE_STATUS})*$`);

const ExceptionQuery = z.object({
  status: z
    .string()
    .max(200)
    .regex(STATUS_LIST, `a comma-separated list of ${EXCEPTION_STATUSES.join(', ')}`)
    .optional(),
  owner: code().optional(),
  rootCause: z.enum(ROOT_CAUSES).optional(),
  warehouse: code().optional(),
  after: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

const ExceptionChange = z
  .object({
    owner: z.string().regex(PRINCIPAL_NAME, 'the name of a manager').nullable().optional(),
    status: z.enum(SETTABLE_STATUSES).optional(),
    rootCause: z.enum(ROOT_CAUSES).optional(),
    note: freeText().optional(),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'name at least one of owner, status, rootCause, note' })
  .openapi('SystemExceptionChange', { minProperties: 1, example: { status: 'investigating', note: 'Checking the ERP postings of last week' } });

/** How the count runs: what POST /reconciliations takes besides the warehouse and scope, with the same defaults. */
const CountOptionsBody = CreateReconciliation.omit({ warehouse: true, scope: true }).openapi('ExceptionCountOptions');

const Day = z
  .string()
  .regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, 'a day, YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a day of the calendar')
  .openapi({ format: 'date', example: '2026-11-30' });
const MAX_DAYS = 731;
const PeriodParams = z.object({
  warehouse: code(),
  sourceA: code(),
  sourceB: code(),
  from: Day.optional(),
  to: Day.optional(),
  format: z.enum(['json', 'csv']).optional(),
  /** For CSV: which table (JSON has them all). */
  view: z.enum(['days', 'items', 'locations']).default('days'),
});


function csv(c: Context, body: string, filename: string): Response {
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_');
  return c.body(body, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${safe}"` });
}

function wantsCsv(c: Context, format: 'json' | 'csv' | undefined): boolean {
  return (format ?? (c.req.header('accept')?.includes('text/csv') ? 'csv' : 'json')) === 'csv';
}

/** An exception the caller may see: in a warehouse granted to them; anything else answers as if it did not exist. */
async function visibleException(who: Caller, em: Em, id: number): Promise<ExceptionView> {
  const e = await getException(em, id);
  if (!e || !seesWarehouse(who, e.warehouse)) throw notFound(`system exception ${id}`);
  return e;
}

/**
 * The exception queue (ranked by absolute value), its changes, a count
 * reconciliation started from an exception, and the KPIs of system
 * reconciliation per run and over time. Readers (managers, senior managers,
 * auditors) of the warehouse read; managers change. What lies in a
 * warehouse the caller is not granted answers 404.
 */
export function exceptionRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-exceptions',
      summary: 'The exception queue, highest absolute value first: filter by status (comma-separated), owner, root cause, warehouse',
      request: { query: ExceptionQuery },
      responses: { 200: jsonResponse('A page of exceptions; `next` is the `after` of the next page'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      const q = c.req.valid('query');
      const status = q.status ? [...new Set(q.status.split(',').map((s) => s.trim() as ExceptionStatus))] : undefined;
      return c.json(
        await listExceptions(deps.orm.em.fork(), {
          status, owner: q.owner, rootCause: q.rootCause, warehouse: q.warehouse, warehouses: who.warehouses, after: q.after, limit: q.limit,
        }),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-exceptions/{id}',
      summary: 'An exception with its history (events), its occurrences (lines of every run) and the count reconciliations started from it',
      request: { params: ExceptionIdParam },
      responses: { 200: jsonResponse('The exception'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await visibleException(who, em, id);
      return c.json(await exceptionDetail(em, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/system-exceptions/{id}',
      summary: 'Owner, status (open -> investigating -> resolved | accepted), root cause, a note (managers); a closed exception does not change (409)',
      request: { params: ExceptionIdParam, ...jsonBody(ExceptionChange) },
      responses: { 200: jsonResponse('The exception'), 403: { description: 'Not a manager (application/problem+json)' }, ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await visibleException(who, em, id);
      return c.json(await updateException(em, id, c.req.valid('json'), who.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/system-exceptions/{id}/count-reconciliation',
      summary: "Count the exception's item at its location: a count reconciliation linked both ways, its workflow started (Idempotency-Key supported)",
      request: {
        params: ExceptionIdParam,
        headers: IdempotencyHeaders,
        body: { content: { 'application/json': { schema: CountOptionsBody } }, required: false },
      },
      responses: {
        201: jsonResponse('The count reconciliation'),
        200: jsonResponse('Already started with this Idempotency-Key'),
        403: { description: 'Not a manager (application/problem+json)' },
        ...problemResponses,
      },
    }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      const key = idempotencyKey(c);
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      await visibleException(who, em, id);
      // The schema's refinement ran validateTolerancePolicy, so the tolerance is a TolerancePolicy.
      const options = ((c.req.valid('json') as unknown) ?? CountOptionsBody.parse({})) as CountOptions;
      const { record, created } = await startCountForException(em, id, who.name, key, options);
      await ensureWorkflow(deps.temporal, deps.taskQueue, record);
      return c.json(record, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/system-reconciliations/{id}/kpis',
      summary: 'KPIs of a run: keys compared, exception rate, value at risk, adjustment volume (JSON, or CSV with ?format=csv or Accept: text/csv)',
      request: { params: IdParam, query: z.object({ format: z.enum(['json', 'csv']).optional() }) },
      responses: { 200: jsonOrCsvResponse('The KPIs of the run', 'The KPIs as one CSV record'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      const em = deps.orm.em.fork();
      const { id } = c.req.valid('param');
      const warehouse = await runWarehouse(em, id);
      if (!warehouse || !seesWarehouse(who, warehouse)) throw notFound(`system reconciliation ${id}`);
      if (wantsCsv(c, c.req.valid('query').format)) {
        const r = await runKpisCsv(em, id);
        return csv(c, r.csv, `system-reconciliation-${r.number}-kpis.csv`);
      }
      return c.json(await runKpis(em, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/kpis/system-reconciliation',
      summary:
        'KPIs over time for a warehouse and source pair, per UTC day from `from` to `to` (inclusive; default the last 30 days): exception rate, value at risk, ' +
        'time to resolution, adjustment volume, and inventory accuracy by item and by location (CSV: ?format=csv&view=days|items|locations)',
      request: { query: PeriodParams },
      responses: { 200: jsonOrCsvResponse('Days, total, items, locations', 'One of the tables as CSV'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, READERS);
      const em = deps.orm.em.fork();
      const p = c.req.valid('query');
      if (!seesWarehouse(who, p.warehouse) || !(await one(em, sql`select 1 from warehouse where code = ${p.warehouse}`))) {
        throw notFound(`warehouse ${p.warehouse}`);
      }
      const q: PeriodQuery = { warehouse: p.warehouse, sourceA: p.sourceA, sourceB: p.sourceB, ...period(p.from, p.to) };
      if (wantsCsv(c, p.format)) {
        return csv(c, await periodKpisCsv(em, q, p.view), `kpis-${q.warehouse}-${q.sourceA}-${q.sourceB}-${q.from}-${q.to}-${p.view}.csv`);
      }
      return c.json(await periodKpis(em, q), 200);
    },
  );
}

const DAY_MS = 86_400_000;

/** The period asked for: `to` defaults to today (UTC), `from` to 29 days before `to`; at most MAX_DAYS days, `from` not after `to`. */
function period(from: string | undefined, to: string | undefined): { from: string; to: string } {
  const end = to ?? new Date().toISOString().slice(0, 10);
  const start = from ?? new Date(Date.parse(`${end}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
  const days = (Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / DAY_MS + 1;
  if (days < 1 || days > MAX_DAYS) {
    throw new Problem(422, 'invalid-period', 'The period cannot be reported', `from must not be after to, and the period is at most ${MAX_DAYS} days`);
  }
  return { from: start, to: end };
}
