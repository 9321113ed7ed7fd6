import { createRoute, z } from '@hono/zod-openapi';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { notFound, refuse } from '../../store/refusal';
import * as sm from '../../workflows/system-messages';
import type { App, AppDeps } from '../deps';
import { MANAGERS, READERS, requireRole, seesWarehouse, type Caller } from '../auth';
import { jsonBody, jsonResponse, problemResponses } from '../http';
import { SystemReconciliationRequest } from '../schemas';
import { code, freeText } from '../text';

const PREFIX = 'system-schedule-';
const NameParam = z.object({ name: code(60) });
const Every = z.number().int().min(5).max(31 * 24 * 60);
const NewSchedule = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'lower-case letters, digits and -, at most 60'),
    template: SystemReconciliationRequest,
    /** Minutes between runs (default: daily). */
    everyMinutes: Every.default(24 * 60),
    paused: z.boolean().default(false),
  })
  .strict();
const Change = z
  .object({ template: SystemReconciliationRequest.optional(), everyMinutes: Every.optional() })
  .strict()
  .refine((b) => b.template !== undefined || b.everyMinutes !== undefined, 'name the template, everyMinutes or both')
  .openapi('ScheduleChange', { minProperties: 1, example: { everyMinutes: 720 } });
const Note = z.object({ note: freeText().optional() }).strict();

/**
 * System reconciliations on a Temporal Schedule: daily unless configured,
 * pausable, triggered now on demand; a run still going when the next is due
 * makes the next one skip (overlap policy SKIP). Each run's document is
 * created from the schedule's template by the run's workflow.
 */
export function systemScheduleRoutes(app: App, deps: AppDeps): void {
  const handle = (name: string) => deps.temporal.schedule.getHandle(PREFIX + name);
  /** The schedule, if the caller may see its warehouse; otherwise 404, as if it did not exist. */
  const visible = async (who: Caller, name: string) => {
    let description: ScheduleDescription;
    try {
      description = await handle(name).describe();
    } catch (e) {
      if (e instanceof ScheduleNotFoundError) throw notFound(`schedule ${name}`);
      throw e;
    }
    const view = viewOf(name, description);
    if (!seesWarehouse(who, view.template.warehouse)) throw notFound(`schedule ${name}`);
    return view;
  };
  const template = (t: sm.SystemRunTemplate, who: Caller) => {
    if (!seesWarehouse(who, t.warehouse)) throw refuse('WarehouseNotGranted', `${who.name} is not granted warehouse ${t.warehouse}`);
    return t;
  };
  const action = (name: string, t: sm.SystemRunTemplate, createdBy: string) => ({
    type: 'startWorkflow' as const,
    workflowType: sm.SCHEDULED_SYSTEM_RUN_WORKFLOW,
    workflowId: PREFIX + name,
    taskQueue: deps.taskQueue,
    args: [{ scheduleId: name, template: t, createdBy } satisfies sm.ScheduledSystemRunInput],
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/system-reconciliation-schedules',
      summary: 'Run a system reconciliation on a schedule (daily by default); overlapping runs are skipped',
      request: jsonBody(NewSchedule),
      responses: { 201: jsonResponse('The schedule'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      const body = c.req.valid('json');
      const t = template(body.template as sm.SystemRunTemplate, who);
      try {
        await deps.temporal.schedule.create({
          scheduleId: PREFIX + body.name,
          spec: { intervals: [{ every: `${body.everyMinutes} minutes` }] },
          action: action(body.name, t, who.name),
          policies: { overlap: ScheduleOverlapPolicy.SKIP },
          state: { paused: body.paused, note: body.paused ? `paused at creation by ${who.name}` : `created by ${who.name}` },
          memo: { warehouse: t.warehouse, createdBy: who.name },
        });
      } catch (e) {
        if (e instanceof Error && /already (exists|running)/i.test(e.message)) throw refuse('SourceExists', `a schedule named ${body.name} exists`);
        throw e;
      }
      return c.json(await visible(who, body.name), 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/system-reconciliation-schedules', summary: 'Schedules of the warehouses the caller sees', responses: { 200: jsonResponse('Schedules') } }),
    async (c) => {
      const who = requireRole(c, READERS);
      const out = [];
      for await (const s of deps.temporal.schedule.list()) {
        if (!s.scheduleId.startsWith(PREFIX)) continue;
        const warehouse = (s.memo?.warehouse as string | undefined) ?? '';
        if (seesWarehouse(who, warehouse)) out.push(await visible(who, s.scheduleId.slice(PREFIX.length)).catch(() => undefined));
      }
      return c.json({ schedules: out.filter((x) => x !== undefined) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/system-reconciliation-schedules/{name}', request: { params: NameParam }, responses: { 200: jsonResponse('The schedule'), ...problemResponses } }),
    async (c) => c.json(await visible(requireRole(c, READERS), c.req.valid('param').name), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/system-reconciliation-schedules/{name}',
      summary: 'Change the template or the interval',
      request: { params: NameParam, ...jsonBody(Change) },
      responses: { 200: jsonResponse('The schedule'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      const { name } = c.req.valid('param');
      const current = await visible(who, name);
      const body = c.req.valid('json');
      const t = body.template ? template(body.template as sm.SystemRunTemplate, who) : current.template;
      await gone(name, handle(name).update((prev) => ({
        ...prev,
        spec: body.everyMinutes ? { intervals: [{ every: `${body.everyMinutes} minutes` }] } : prev.spec,
        action: action(name, t, current.createdBy),
      })));
      return c.json(await visible(who, name), 200);
    },
  );

  const control = (path: string, summary: string, run: (name: string, note: string) => Promise<void>) =>
    app.openapi(
      createRoute({
        method: 'post',
        path: `/system-reconciliation-schedules/{name}/${path}`,
        summary,
        request: { params: NameParam, body: { content: { 'application/json': { schema: Note } }, required: false } },
        responses: { 200: jsonResponse('The schedule'), ...problemResponses },
      }),
      async (c) => {
        const who = requireRole(c, MANAGERS);
        const { name } = c.req.valid('param');
        await visible(who, name);
        const note = ((c.req.valid('json') as { note?: string } | undefined) ?? {}).note ?? `${path} by ${who.name}`;
        await gone(name, run(name, note));
        return c.json(await visible(who, name), 200);
      },
    );
  control('pause', 'Pause the schedule (a note says why)', (name, note) => handle(name).pause(note));
  control('unpause', 'Resume the schedule', (name, note) => handle(name).unpause(note));
  control('trigger', 'Run now (skipped if a run is still going)', (name) => handle(name).trigger(ScheduleOverlapPolicy.SKIP));

  app.openapi(
    createRoute({ method: 'delete', path: '/system-reconciliation-schedules/{name}', request: { params: NameParam }, responses: { 200: jsonResponse('Deleted'), ...problemResponses } }),
    async (c) => {
      const who = requireRole(c, MANAGERS);
      const { name } = c.req.valid('param');
      await visible(who, name);
      await gone(name, handle(name).delete());
      return c.json({ name, deleted: true }, 200);
    },
  );
}

/** A schedule deleted between the caller's check and the change (another request deleted it): 404, as if it never was. */
async function gone<T>(name: string, change: Promise<T>): Promise<T> {
  try {
    return await change;
  } catch (e) {
    if (e instanceof ScheduleNotFoundError) throw notFound(`schedule ${name}`);
    throw e;
  }
}

function viewOf(name: string, d: ScheduleDescription) {
  const act = d.action as { args?: unknown[] };
  const input = (act.args?.[0] ?? {}) as sm.ScheduledSystemRunInput;
  const interval = d.spec.intervals?.[0]?.every;
  return {
    name,
    template: input.template,
    createdBy: input.createdBy,
    every: typeof interval === 'number' ? `${interval / 60_000} minutes` : String(interval ?? ''),
    paused: d.state.paused,
    note: d.state.note ?? null,
    recentRuns: d.info.recentActions.map((a) => ({ at: a.takenAt, workflowId: a.action.workflow.workflowId })),
    nextRuns: d.info.nextActionTimes.slice(0, 3),
  };
}
