import type { HistoryAndWorkflowId } from '@temporalio/client';
import proto from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';

// The SDK's own generated protobuf types (a dependency of @temporalio/client), CommonJS: read through its default export.
const { temporal } = proto;

type History = proto.temporal.api.history.v1.IHistory;
export type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** The event where the code and a history parted, found by replaying ever longer prefixes. */
export interface Divergence {
  eventId: number;
  /** The event's type and what it named (an activity type, a timer id, a marker), e.g. `ActivityTaskScheduled generateSnapshot`. */
  event: string;
}

/**
 * Core's nondeterminism messages often do not say which event they mean
 * ("Activity type of scheduled event 'x' does not match ..."). A history cut
 * right after a WorkflowTaskStarted event is checked only up to the commands
 * of the task before it, so the shortest failing cut brackets the workflow
 * task whose commands differed; within it, the event the message quotes (or
 * else the first event the task's commands produced) is the one named.
 */
export async function locateDivergence(bundle: ReplayWorkerOptions['workflowBundle'], failed: HistoryAndWorkflowId, message: string): Promise<Divergence | undefined> {
  // Histories reach the replay worker as protobuf History objects (platform/history-sources.ts).
  const history = failed.history as History;
  const events = history.events ?? [];
  const cuts = events.flatMap((e, i) => (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ? [i + 1] : []));
  if (cuts.at(-1) !== events.length) cuts.push(events.length);
  const prefixes = cuts.map((cut): HistoryAndWorkflowId => ({ workflowId: failed.workflowId, history: { ...history, events: events.slice(0, cut) } satisfies History }));

  // Results come in the order of the prefixes; the first failure ends the search.
  let passed = 0;
  let failedAt: number | undefined;
  let i = 0;
  const options: ReplayWorkerOptions = { workflowBundle: bundle, replayName: 'stocktake-divergence' };
  for await (const result of Worker.runReplayHistories(options, prefixes)) {
    if (result.error) {
      failedAt = cuts[i];
      break;
    }
    passed = cuts[i++]!;
  }
  if (failedAt === undefined) return undefined;

  // The task's commands produced the events after its WorkflowTaskCompleted, up to the cut.
  const window = events.slice(passed, failedAt);
  const completed = window.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  const produced = window.slice(completed + 1).filter((e) => !isWorkflowTaskEvent(e));
  const quoted = [...message.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const named = produced.find((e) => quoted.some((q) => describeEvent(e).split(' ').includes(q)));
  const chosen = named ?? produced[0] ?? window[completed];
  if (!chosen) return undefined;
  return { eventId: Number(chosen.eventId), event: describeEvent(chosen) };
}

function isWorkflowTaskEvent(e: HistoryEvent): boolean {
  const t = e.eventType;
  return (
    t === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED ||
    t === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ||
    t === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED ||
    t === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED ||
    t === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
  );
}

/** `ActivityTaskScheduled generateSnapshot`, `TimerStarted 3`, `MarkerRecorded core_patch`, ... */
export function describeEvent(e: HistoryEvent): string {
  const type = pascal(EventType[e.eventType ?? 0] ?? 'unknown');
  const what =
    e.activityTaskScheduledEventAttributes?.activityType?.name ??
    e.timerStartedEventAttributes?.timerId ??
    e.markerRecordedEventAttributes?.markerName ??
    e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ??
    e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName ??
    undefined;
  return what ? `${type} ${what}` : type;
}

function pascal(enumName: string): string {
  return enumName
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}
