/**
 * Tolerance: limits inside which a variance (counted − expected) needs no approval.
 *
 * Comparisons use exact decimals (./decimal): 1.1 / 11 * 100 is 10.000000000000002
 * in floats, which would wrongly push a variance sitting exactly on a 10 % limit
 * out of tolerance. Inputs are first rounded to their storage precision (4 decimals),
 * so float noise such as 0.1 + 0.2 is judged as the 0.3 that will be posted.
 */
import { abs, cmp, dec, decimalPlaces, mul, round, sign, MONEY_DECIMALS, QTY_DECIMALS } from './decimal';
import type { Decimal } from './decimal';

/** Magnitudes >= 0; null = unlimited on that side. */
export interface ToleranceLimits {
  plus: number | null;
  minus: number | null;
}

export interface ToleranceRule {
  quantity?: ToleranceLimits;
  percent?: ToleranceLimits;
  value?: ToleranceLimits;
}

/** `items` is keyed by item code; an item rule REPLACES `default` for that item (no merging). */
export interface TolerancePolicy {
  default: ToleranceRule;
  items?: Record<string, ToleranceRule>;
}

export type ToleranceVerdict = 'not_required' | 'to_approve';

const DIMENSIONS = ['quantity', 'percent', 'value'] as const;
const SIDES = ['plus', 'minus'] as const;
const HUNDRED = dec(100);

export function ruleForItem(policy: TolerancePolicy, itemCode: string): ToleranceRule {
  // hasOwn: an item code such as "constructor" must not resolve to Object.prototype.
  const own = policy.items !== undefined && Object.hasOwn(policy.items, itemCode) ? policy.items[itemCode] : undefined;
  return own ?? policy.default;
}

export function judgeVariance(
  input: { expected: number; variance: number; varianceValue: number },
  rule: ToleranceRule,
): ToleranceVerdict {
  const variance = round(dec(input.variance), QTY_DECIMALS);
  const direction = sign(variance);
  if (direction === 0) return 'not_required';
  const side = direction > 0 ? 'plus' : 'minus';
  const magnitude = abs(variance);
  const expected = abs(round(dec(input.expected), QTY_DECIMALS));
  const value = abs(round(dec(input.varianceValue), MONEY_DECIMALS));

  const within: Record<(typeof DIMENSIONS)[number], (limit: Decimal) => boolean> = {
    quantity: (limit) => cmp(magnitude, limit) <= 0,
    // |v| / expected * 100 <= limit, cross-multiplied to stay exact; expected 0 makes it infinite.
    percent: (limit) => sign(expected) !== 0 && cmp(mul(magnitude, HUNDRED), mul(limit, expected)) <= 0,
    value: (limit) => cmp(value, limit) <= 0,
  };

  const configured = DIMENSIONS.filter((d) => rule[d] !== undefined);
  // No dimension configured means zero tolerance, never "anything goes".
  if (configured.length === 0) return 'to_approve';
  for (const d of configured) {
    const limit = rule[d]?.[side] ?? null;
    if (limit !== null && !within[d](dec(limit))) return 'to_approve';
  }
  return 'not_required';
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? typeof v : String(v);

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${path}: unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`);
  }
}

function validateRule(rule: unknown, path: string, problems: string[]): void {
  if (!isRecord(rule)) {
    problems.push(`${path} must be an object`);
    return;
  }
  unknownKeys(rule, DIMENSIONS, path, problems);
  for (const d of DIMENSIONS) {
    const limits = rule[d];
    if (limits === undefined) continue;
    if (!isRecord(limits)) {
      problems.push(`${path}.${d} must be an object with plus and minus`);
      continue;
    }
    unknownKeys(limits, SIDES, `${path}.${d}`, problems);
    for (const s of SIDES) {
      const v = limits[s];
      if (v === null) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        problems.push(`${path}.${d}.${s} must be a finite number >= 0 or null (got ${describe(v)})`);
      } else if (d !== 'percent' && decimalPlaces(v) > (d === 'value' ? MONEY_DECIMALS : QTY_DECIMALS)) {
        // Quantities and values are stored with 4 decimals; a finer limit cannot be honoured.
        problems.push(`${path}.${d}.${s} has more than 4 decimals (got ${v})`);
      }
    }
  }
}

/** Human-readable problems; empty when the policy is valid. */
export function validateTolerancePolicy(policy: unknown): string[] {
  if (!isRecord(policy)) return ['policy must be an object'];
  const problems: string[] = [];
  unknownKeys(policy, ['default', 'items'], 'policy', problems);
  if (policy.default === undefined) problems.push('policy.default is required');
  else validateRule(policy.default, 'default', problems);
  if (policy.items !== undefined) {
    if (!isRecord(policy.items)) problems.push('items must be an object keyed by item code');
    else {
      for (const [code, rule] of Object.entries(policy.items)) {
        if (code.trim() === '') problems.push('items: item code must not be empty');
        validateRule(rule, `items[${JSON.stringify(code)}]`, problems);
      }
    }
  }
  return problems;
}
