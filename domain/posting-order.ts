/**
 * Fixed order of the postings that release a counted row (after Infor LN):
 * "Inventory must be decreased, but the inventory is blocked: blocking correction
 * first, then the regular inventory difference. Inventory must be increased, then
 * blocked: regular inventory difference first, then the blocking correction."
 * Either way a blocking never exceeds the stock on hand between two postings.
 */
import { roundTo, QTY_DECIMALS } from './decimal';

/** Blocked quantity per reason: expected (book) vs counted. */
export interface BlockingCount {
  reason: string;
  expected: number;
  counted: number;
}

export type PostingStep =
  | { kind: 'transaction'; taskType: 'Count'; direction: 'IN' | 'OUT'; quantity: number } // quantity: magnitude > 0
  | { kind: 'blocking_correction'; reason: string; from: number; to: number };

type BlockingCorrection = Extract<PostingStep, { kind: 'blocking_correction' }>;

// Rounded to storage precision so float noise (0.1 + 0.2) neither creates nor hides a posting.
function quantity(x: number, what: string, allowNegative: boolean): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`${what} must be a finite number (got ${String(x)})`);
  if (!allowNegative && x < 0) throw new RangeError(`${what} must not be negative (got ${x})`);
  return roundTo(x, QTY_DECIMALS);
}

/**
 * Corrections that decrease a blocking come first, whatever the difference: freeing stock
 * before blocking other stock keeps the total blocked within the stock on hand (required
 * when the difference is negative, harmless otherwise). Then by reason, compared by code
 * unit rather than localeCompare, whose result depends on the runtime's locale data.
 */
function byDecreaseThenReason(a: BlockingCorrection, b: BlockingCorrection): number {
  const aDown = a.to < a.from ? 0 : 1;
  const bDown = b.to < b.from ? 0 : 1;
  if (aDown !== bDown) return aDown - bDown;
  return a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0;
}

export function planPostings(row: { difference: number; blockings: BlockingCount[] }): PostingStep[] {
  const difference = quantity(row.difference, 'difference', true);
  const seen = new Set<string>();
  const corrections: BlockingCorrection[] = [];
  for (const b of row.blockings) {
    // A repeated reason would make two steps share an idempotency key.
    if (b.reason === '' || seen.has(b.reason)) throw new RangeError(`blocking reason must be non-empty and unique (got ${JSON.stringify(b.reason)})`);
    seen.add(b.reason);
    const from = quantity(b.expected, `blocking ${b.reason} expected`, false);
    const to = quantity(b.counted, `blocking ${b.reason} counted`, false);
    if (from !== to) corrections.push({ kind: 'blocking_correction', reason: b.reason, from, to });
  }
  corrections.sort(byDecreaseThenReason);

  if (difference < 0) {
    return [...corrections, { kind: 'transaction', taskType: 'Count', direction: 'OUT', quantity: -difference }];
  }
  if (difference > 0) {
    return [{ kind: 'transaction', taskType: 'Count', direction: 'IN', quantity: difference }, ...corrections];
  }
  return corrections;
}

/**
 * Deterministic idempotency key of one step. Free-text parts are URI-encoded so a ':' inside
 * an id or reason cannot make two different steps collide.
 */
export function postingKey(reconciliationId: string, rowId: number | string, stepIndex: number, step: PostingStep): string {
  if (!Number.isSafeInteger(stepIndex) || stepIndex < 0) throw new RangeError(`stepIndex must be an integer >= 0 (got ${stepIndex})`);
  const base = `${encodeURIComponent(reconciliationId)}:${encodeURIComponent(String(rowId))}:${stepIndex}:${step.kind}`;
  return step.kind === 'blocking_correction' ? `${base}:${encodeURIComponent(step.reason)}` : base;
}
