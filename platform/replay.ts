import type { HistoryAndWorkflowId } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { describeEvent, locateDivergence, type HistoryEvent } from './replay-divergence';

/**
 * Replays workflow histories against workflow code, one after another on one
 * replay worker, and says for each whether the code takes the recorded path.
 * A determinism error names the event where the code and the history parted.
 */

export interface ReplayOutcome {
  /** What was replayed: a file path, or the workflow id of a history from the server. */
  label: string;
  /** The run the history is of. */
  runId: string;
  /** Undefined: the code replayed the history without a difference. */
  failure?: ReplayFailure;
}

export interface ReplayFailure {
  /** 'nondeterminism': the code took another path; 'workflow-task': it threw while replaying. */
  kind: 'nondeterminism' | 'workflow-task';
  /** The history event the code disagreed with (from core's message, or located by replaying prefixes). */
  eventId: number | undefined;
  /** That event's type and what it named, e.g. `ActivityTaskScheduled generateSnapshot`. */
  event: string | undefined;
  /** What differed, as the SDK's core put it (one line). */
  detail: string;
}

/**
 * Each history's outcome, in order. `bundle` is the workflow code (as
 * platform/workflow-bundle.ts builds it: the code a worker would run).
 */
export async function* replayHistories(bundle: ReplayWorkerOptions['workflowBundle'], histories: Iterable<HistoryAndWorkflowId> | AsyncIterable<HistoryAndWorkflowId>): AsyncGenerator<ReplayOutcome> {
  // Results come one per history, in order: the queue pairs each with its history, to look into a failure.
  const pushed: HistoryAndWorkflowId[] = [];
  async function* remembered() {
    for await (const h of histories) {
      pushed.push(h);
      yield h;
    }
  }
  const replayOptions: ReplayWorkerOptions = { workflowBundle: bundle, replayName: 'stocktake-replay' };
  for await (const result of Worker.runReplayHistories(replayOptions, remembered())) {
    const history = pushed.shift()!;
    if (!result.error) {
      yield { label: result.workflowId, runId: result.runId };
      continue;
    }
    const failure = describeFailure(result.error);
    if (failure.eventId === undefined) {
      const divergence = await locateDivergence(bundle, history, failure.detail);
      if (divergence) Object.assign(failure, divergence);
    } else {
      const named = (history.history as { events?: HistoryEvent[] }).events?.find((e) => Number(e.eventId) === failure.eventId);
      if (named) failure.event = describeEvent(named);
    }
    yield { label: result.workflowId, runId: result.runId, failure };
  }
}

/**
 * The event id and the difference from a replay error. Core's messages name
 * the event as `HistoryEvent(id: 11, ...)` at times; the SDK wraps them in a
 * sentence and a debug dump of which only the failure's message matters.
 */
export function describeFailure(error: Error): ReplayFailure {
  const kind = error.name === 'DeterminismViolationError' ? 'nondeterminism' : 'workflow-task';
  const details = /Details: ([\s\S]*)$/.exec(error.message)?.[1] ?? error.message;
  const detail = (/message: "((?:[^"\\]|\\.)*)"/.exec(details)?.[1] ?? details).replace(/\s+/g, ' ').trim();
  const eventId = /HistoryEvent\(id: (\d+)/.exec(details)?.[1];
  return { kind, eventId: eventId === undefined ? undefined : Number(eventId), event: undefined, detail };
}

/**
 * For the replay commands: the SDK's own log lines (a workflow task failing
 * while replaying, the replay worker starting and stopping) would only repeat
 * the result lines. Call before anything else of the SDK runs.
 */
export function installQuietReplayRuntime(): void {
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
}

/** The line the replay command prints for one history; the run tells apart the runs of a chain that continued as new. */
export function formatOutcome(outcome: ReplayOutcome): string {
  const what = `${outcome.label} (run ${outcome.runId})`;
  if (!outcome.failure) return `ok    ${what}`;
  const { kind, eventId, event, detail } = outcome.failure;
  const at = eventId === undefined ? 'an unknown event' : `event ${eventId}${event ? ` (${event})` : ''}`;
  return `FAIL  ${what}: ${kind} at ${at}: ${detail}`;
}
