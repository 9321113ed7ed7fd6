import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { expect } from 'vitest';
import { one, sql } from '../../db/sql';
import { call, type Call } from './access-http';
import { tokenOf, type Stack } from './stack';
import { exceptionOfLine } from './system-runs';
import { WMS } from './systems-stack';
import { eventually } from './wait';

/**
 * What the access matrix needs for the system reconciliation operations:
 * raw bodies (CSV, JSON lines) over the matrix's own HTTP, runs made by the
 * real flow (POST /system-reconciliations, levels uploaded), their
 * exceptions, messages of both warehouses and paused schedules; and waits
 * for what an allowed call started, so the next cell meets a quiet database.
 */


export const SCHEDULE_PREFIX = 'system-schedule-';
export const LEVELS_HEADER = 'item,warehouse,location,status,quantity';
export const MESSAGES_HEADER = 'messageId,target,kind,item,warehouse,location,status,quantity,unit,sentAt,processedAt';
export const MOVEMENTS_HEADER = 'eventId,kind,item,warehouse,location,status,quantity,unit,occurredAt';

/** The system reconciliation things of one warehouse the matrix calls about. */
export interface SystemTarget {
  /** A run, book against wms-dc1, in review with lines whose exceptions are queued. */
  run: string;
  /** Lines of `run`: one to delete, one to refresh and approve, one never approved (processing it is refused). */
  lines: { deletion: number; approval: number; other: number };
  /** W1: a run waiting for wms-dc1's levels (the matrix uploads them); W2: `run`. */
  waiting: string;
  /** An exception a line of `run` joined. */
  exception: number;
  /** A paused schedule of the warehouse. */
  schedule: string;
}

const as = (stack: Stack, user: string, c: Call) => call(stack.baseUrl, { ...c, token: tokenOf(user) });

/** A run's status as its workflow has it (what its decisions are checked against). */
export async function workflowStatus(stack: Stack, runId: string): Promise<string | undefined> {
  const r = await as(stack, 'manager-1', { method: 'GET', path: `/system-reconciliations/${runId}` });
  return r.body?.statusFrom === 'workflow' ? (r.body.status as string) : undefined;
}

/** Waits until the book's levels of a run are in: its workflow then waits for the other source and writes nothing more. */
export async function bookLevelsIn(stack: Stack, runId: string): Promise<void> {
  await eventually(async () => {
    const r = await one(stack.db.orm.em.fork(), sql<{ n: number }>`
      select count(*)::int as n from levels_receipt where system_reconciliation_id = ${runId} and source = 'book'`);
    return r!.n > 0 && (await workflowStatus(stack, runId)) === 'requesting' ? true : undefined;
  }, `the book's levels of system reconciliation ${runId}`);
}

/** Waits until a run is compared (review, or matched) in its workflow: the comparison and its exceptions are committed. */
export async function compared(stack: Stack, runId: string): Promise<string> {
  return eventually(async () => {
    const status = await workflowStatus(stack, runId);
    return status === 'review' || status === 'matched' ? status : undefined;
  }, `system reconciliation ${runId} compared`);
}

/**
 * After a trigger: waits for the tick it started (one the schedule took after
 * those in `seen`) to end, and for the run it created, if any, to have the
 * book's levels. A tick skipped while a run still waits creates nothing.
 */
export async function triggered(stack: Stack, schedule: string, seen: Set<string>): Promise<void> {
  const handle = stack.client.schedule.getHandle(SCHEDULE_PREFIX + schedule);
  const tick = await eventually(async () => {
    const d = await handle.describe();
    return d.info.recentActions.map((a) => a.action.workflow).find((w) => !seen.has(`${w.workflowId}/${w.firstExecutionRunId}`));
  }, `the tick of schedule ${schedule}`);
  seen.add(`${tick.workflowId}/${tick.firstExecutionRunId}`);
  const result = (await stack.client.workflow.getHandle(tick.workflowId, tick.firstExecutionRunId).result()) as { runId: string | null };
  if (result.runId) await bookLevelsIn(stack, result.runId);
}

/** The state of the named schedules in Temporal (null: absent), as one text to compare before and after a call. */
export async function scheduleState(client: Client, names: string[]): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const name of [...new Set(names)].sort()) {
    try {
      const d = await client.schedule.getHandle(SCHEDULE_PREFIX + name).describe();
      out[name] = {
        paused: d.state.paused,
        note: d.state.note ?? null,
        spec: d.spec,
        action: d.action,
        ticks: d.info.recentActions.map((a) => `${a.action.workflow.workflowId}/${a.action.workflow.firstExecutionRunId}`),
      };
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
      out[name] = null;
    }
  }
  return JSON.stringify(out);
}

/** Deletes schedules, whether they exist or not. */
export async function removeSchedules(client: Client, names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await client.schedule.getHandle(SCHEDULE_PREFIX + name).delete();
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
}

/** A schedule's body: book against wms-dc1 for SER in the warehouse, every 31 days, paused. */
export const scheduleBody = (name: string, warehouse: string) => ({
  name,
  template: { sourceA: 'book', sourceB: 'wms-dc1', warehouse, selection: { items: ['SER'] }, cutoffMinutes: 0 },
  everyMinutes: 31 * 24 * 60,
  paused: true,
});

/** Creates a schedule as manager-1 (granted all); retried while a schedule of that name is still being deleted. */
export async function createSchedule(stack: Stack, name: string, warehouse: string): Promise<void> {
  await eventually(async () => {
    const res = await as(stack, 'manager-1', { method: 'POST', path: '/system-reconciliation-schedules', body: scheduleBody(name, warehouse) });
    if (res.status === 201) return true;
    if (res.status !== 409) throw new Error(`schedule ${name}: ${res.status} ${res.text}`);
    return undefined;
  }, `schedule ${name} created`);
}

/**
 * wms-dc1 registered (as admin-1), and per warehouse: a run of the book
 * against it compared into review with lines and exceptions (W1's levels
 * uploaded by wms-dc1 itself, W2's by admin-1, granted all), a run of W1
 * waiting for wms-dc1's levels, a batch of messages and one of movements of
 * each warehouse alone (Import-Id `fixture-<kind>-<warehouse>`), and a paused
 * schedule each (`mx<suffix>-w1`, `-w2`).
 */
export async function systemFixture(stack: Stack, suffix: string): Promise<{ own: SystemTarget; other: SystemTarget }> {
  const registered = await as(stack, 'admin-1', { method: 'POST', path: '/systems', body: WMS });
  expect(registered.status, registered.text).toBe(201);

  const start = async (warehouse: string, items: string[]) => {
    const res = await as(stack, 'manager-1', {
      method: 'POST', path: '/system-reconciliations',
      body: { sourceA: 'book', sourceB: 'wms-dc1', warehouse, selection: { items }, cutoffMinutes: 0, managerApprovalLimit: 1e6 },
    });
    expect(res.status, res.text).toBe(201);
    await bookLevelsIn(stack, res.body.id);
    return res.body.id as string;
  };
  // Every level differs from the book (which holds several of each), so every key is a line; no message or movement explains them.
  const reviewed = async (warehouse: string, uploader: string): Promise<Omit<SystemTarget, 'waiting' | 'schedule'>> => {
    const run = await start(warehouse, ['P1', 'BOX', 'LOT']);
    const levels = [LEVELS_HEADER, ...['P1,A-01', 'P1,A-02', 'BOX,A-01', 'LOT,B-01'].map((x) => {
      const [item, location] = x.split(',');
      return `${item},${warehouse},${location},available,1000`;
    })].join('\n');
    const uploaded = await as(stack, uploader, { method: 'POST', path: `/system-reconciliations/${run}/levels?source=wms-dc1`, raw: { type: 'text/csv', text: levels } });
    expect(uploaded.status, uploaded.text).toBe(201);
    expect(await compared(stack, run)).toBe('review');
    const order = await as(stack, 'manager-1', { method: 'GET', path: `/system-reconciliations/${run}/order` });
    const lines = order.body.lines as Array<{ line: number; outcome: string }>;
    expect(lines.length, order.text).toBeGreaterThanOrEqual(3);
    const withException = lines.find((l) => l.outcome === 'exception');
    expect(withException, order.text).toBeDefined();
    return {
      run,
      lines: { deletion: lines[0]!.line, approval: lines[1]!.line, other: lines[2]!.line },
      exception: await exceptionOfLine(stack.db.orm, run, withException!.line),
    };
  };
  const [w1, w2, waiting] = await Promise.all([reviewed('W1', 'wms-dc1'), reviewed('W2', 'admin-1'), start('W1', ['BOX'])]);

  // A batch of messages and one of movements per warehouse (about SER, in no run's selection), sent by admin-1 for wms-dc1.
  for (const w of ['W1', 'W2']) {
    const batches = {
      messages: `${MESSAGES_HEADER}\nfixture-${w},book,receipt,SER,${w},B-01,,1,,2024-05-01T10:00:00Z,\n`,
      movements: `${MOVEMENTS_HEADER}\nfixture-${w},receipt,SER,${w},B-01,,1,,2024-05-01T10:00:00Z\n`,
    };
    for (const [kind, text] of Object.entries(batches)) {
      const sent = await as(stack, 'admin-1', { method: 'POST', path: `/systems/wms-dc1/${kind}`, headers: { 'import-id': `fixture-${kind}-${w}` }, raw: { type: 'text/csv', text } });
      expect(sent.status, sent.text).toBe(201);
    }
  }

  const schedules = { own: `mx${suffix}-w1`, other: `mx${suffix}-w2` };
  await createSchedule(stack, schedules.own, 'W1');
  await createSchedule(stack, schedules.other, 'W2');
  return { own: { ...w1, waiting, schedule: schedules.own }, other: { ...w2, waiting: w2.run, schedule: schedules.other } };
}
