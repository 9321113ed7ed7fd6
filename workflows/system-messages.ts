import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SystemStatus, SystemStep } from '../domain/system-status';
import type { TolerancePolicy } from '../domain/tolerance';
import type { DecisionBy } from './messages';

/**
 * The system reconciliation workflow's messages, for the API (which never
 * imports the workflow itself). Payloads carry ids and line numbers; levels,
 * differences and messages live in PostgreSQL.
 */
export type { SystemStatus } from '../domain/system-status';

export const SYSTEM_RECONCILIATION_WORKFLOW = 'systemReconciliationWorkflow';

/** What a Schedule starts: the run's document is created from `template` by the workflow's first step. */
export interface SystemRunTemplate {
  sourceA: string;
  sourceB: string;
  warehouse: string;
  selection: { itemFrom?: string; itemTo?: string; items?: string[]; locations?: string[] };
  tolerance: TolerancePolicy;
  cutoffMinutes: number;
  levelsDeadlineMinutes: number;
  managerApprovalLimit: number;
}

export interface SystemReconciliationInput {
  systemReconciliationId: string;
  levelsDeadlineMinutes: number;
}

/**
 * What a Schedule starts each time: a short workflow that creates the run
 * and starts the run's own workflow (which lives on through review), unless
 * the schedule's previous run is still getting levels or comparing.
 */
export const SCHEDULED_SYSTEM_RUN_WORKFLOW = 'scheduledSystemRunWorkflow';
export interface ScheduledSystemRunInput {
  scheduleId: string;
  template: SystemRunTemplate;
  createdBy: string;
}

export interface SystemProgress {
  systemReconciliationId: string;
  status: SystemStatus;
  /** Sources whose levels are in. */
  received: string[];
  waitingFor: string[];
  summary: Record<string, unknown> | null;
  failure: { step: SystemStep; reason: string } | null;
  processingReconciliationId: string | null;
  decisionsQueued: number;
}

/** A pushed source's levels were stored: the workflow reads back which sources are in. */
export const levelsReceivedSignal = defineSignal<[{ source: string }]>('levelsReceived');
export const systemProgressQuery = defineQuery<SystemProgress>('systemProgress');

export interface LinesSelection {
  lines: number[];
}
export const deleteLinesUpdate = defineUpdate<{ lines: number }, [LinesSelection & DecisionBy & { reason: string }]>('deleteLines');
export const refreshLinesUpdate = defineUpdate<{ disappeared: number[]; remaining: number[] }, [LinesSelection & DecisionBy]>('refreshLines');
export const approveLinesUpdate = defineUpdate<{ lines: number }, [LinesSelection & DecisionBy]>('approveLines');
export interface ProcessResult {
  reconciliationId: string;
  rows: number;
  lines: number[];
}
/** Process approved lines: the book is set to what source B reports, through the count release's postings. */
export const processLinesUpdate = defineUpdate<ProcessResult, [LinesSelection & DecisionBy]>('processLines');
export const closeUpdate = defineUpdate<{ status: 'closed' }, [DecisionBy]>('close');
export const systemRetryStepUpdate = defineUpdate<{ status: SystemStatus }, [DecisionBy]>('systemRetryStep');
export const systemCancelUpdate = defineUpdate<{ status: 'cancelled' }, [DecisionBy & { reason: string }]>('systemCancel');
