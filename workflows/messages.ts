import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReconciliationStatus, Step } from '../domain/reconciliation-status';

/**
 * The reconciliation workflow's messages. The API imports this module (never
 * the workflow implementation), so it holds names and payload types only.
 * Payloads carry IDs and counts, never rows: rows live in PostgreSQL.
 */
export type { ReconciliationStatus } from '../domain/reconciliation-status';

export const RECONCILIATION_WORKFLOW = 'reconciliationWorkflow';

export function reconciliationWorkflowId(reconciliationId: string): string {
  return `reconciliation-${reconciliationId}`;
}

export interface ReconciliationInput {
  reconciliationId: string;
  /** Per count round; when it passes with orders open, the workflow records an escalation. */
  countDeadlineMinutes: number | null;
  /** Events after which the run continues as new (default 5,000); tests lower it to exercise continue-as-new. */
  historyLimit?: number;
}

export interface RowCounts {
  total: number;
  awaitingCount: number;
  counted: number;
  markedForRecount: number;
  recounting: number;
  deleted: number;
  posting: number;
  processed: number;
  failed: number;
  skipped: number;
  /** Rows of a release cancelled before they were posted. */
  withdrawn: number;
  toApprove: number;
  approved: number;
  notRequired: number;
  movedAfterSnapshot: number;
}

/** A bulk step that failed for good: the reconciliation waits in `step_failed` for the manager to retry or cancel. */
export interface StepFailureView {
  step: Step;
  reason: string;
}

export interface Progress {
  reconciliationId: string;
  status: ReconciliationStatus;
  /** -1 before any count; 0 = initial count; 1.. = recounts. */
  round: number;
  ordersOpen: number;
  ordersComplete: number;
  rows: RowCounts;
  escalations: number;
  failure: StepFailureView | null;
  /** Decisions accepted and waiting for the one before them to finish. */
  decisionsQueued: number;
  historyLength: number;
}

/** Device signals an order complete; duplicates and late arrivals are harmless. */
export const orderCompletedSignal = defineSignal<[{ countOrderId: number; round: number }]>('orderCompleted');

export const progressQuery = defineQuery<Progress>('progress');

/** An Idempotency-Key the caller sent, with the operation and the hash of the body it was sent with. */
export interface RequestKey {
  key: string;
  operation: string;
  requestHash: string;
}

export interface DecisionBy {
  /** Who decided, for approval authority, segregation of duties and the audit trail. */
  user: string;
  role: 'manager' | 'senior_manager';
  /** Present when the caller sent an Idempotency-Key: the decision is then applied at most once for it. */
  request?: RequestKey;
  /** The API's signature over the decision (domain/decision-signature): without it, or forged, the decision is refused. */
  signature?: { issuedAt: number; mac: string };
}

export interface StartInitialCountResult {
  round: number;
  orders: number;
  tasks: number;
}
export const startInitialCountUpdate = defineUpdate<StartInitialCountResult, [DecisionBy]>('startInitialCount');

export interface RowSelection {
  rowIds?: number[];
  /** Filters, ANDed; rows of the reconciliation that match. */
  filter?: RowFilter;
}
export interface RowFilter {
  itemCodes?: string[];
  zoneCodes?: string[];
  locationCodes?: string[];
  approval?: 'to_approve' | 'approved' | 'not_required';
  state?: string;
  minAbsVariance?: number;
  minAbsValue?: number;
  /** gain: counted more than expected; loss: less. */
  direction?: 'gain' | 'loss';
  /** Absolute variance as a percentage of the expected quantity, at least this (a variance on nothing expected always qualifies). */
  minAbsPercent?: number;
}

export interface RowsChanged {
  rows: number;
}
export const markForRecountUpdate = defineUpdate<RowsChanged, [RowSelection & DecisionBy]>('markForRecount');

export interface RecountOrderResult {
  round: number;
  countOrderId: number;
  tasks: number;
}
export const generateRecountOrderUpdate = defineUpdate<RecountOrderResult, [DecisionBy]>('generateRecountOrder');

export const approveRowsUpdate = defineUpdate<RowsChanged, [RowSelection & DecisionBy]>('approveRows');

export const deleteRowsUpdate = defineUpdate<RowsChanged, [RowSelection & DecisionBy & { reason: string }]>('deleteRows');

export interface CancelResult {
  status: 'cancelled';
  cancelledWhile: ReconciliationStatus;
  countOrdersCancelled: number;
  /** Postings a release had already made: they stay, and the adjustment order reports them. */
  postingsDone: number;
  postingsWithdrawn: number;
  rowsWithdrawn: number;
  adjustmentOrder: { orderNumber: number; lines: number } | null;
}
/** Cancel: allowed in every status that is not final; a running step is stopped first (between batches for a release). */
export const cancelUpdate = defineUpdate<CancelResult, [DecisionBy & { reason: string }]>('cancel');

export interface ReleaseResult {
  rowsToPost: number;
  postings: number;
  processedWithoutPosting: number;
}
/** Release: refused (with the rows in the way) while rows are being counted, marked for recount or To Approve. */
export const releaseUpdate = defineUpdate<ReleaseResult, [DecisionBy]>('release');

export const retryFailedRowsUpdate = defineUpdate<RowsChanged, [RowSelection & DecisionBy]>('retryFailedRows');
export const skipFailedRowsUpdate = defineUpdate<RowsChanged, [RowSelection & DecisionBy & { reason: string }]>('skipFailedRows');

/** After a step failed for good (status step_failed): run it again, e.g. once the data in its way was corrected. */
export const retryStepUpdate = defineUpdate<{ status: ReconciliationStatus }, [DecisionBy]>('retryStep');
