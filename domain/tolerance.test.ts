import { describe, expect, it } from 'vitest';
import { judgeVariance, ruleForItem, validateTolerancePolicy } from './tolerance';
import type { TolerancePolicy, ToleranceRule } from './tolerance';

const judge = (expected: number, variance: number, varianceValue: number, rule: ToleranceRule) =>
  judgeVariance({ expected, variance, varianceValue }, rule);

describe('judgeVariance', () => {
  it('treats a zero variance as not_required, even under zero tolerance', () => {
    expect(judge(10, 0, 0, {})).toBe('not_required');
    expect(judge(0, -0, 0, { quantity: { plus: 0, minus: 0 } })).toBe('not_required');
  });

  it('treats a rule without any dimension as zero tolerance', () => {
    expect(judge(100, 0.0001, 0.01, {})).toBe('to_approve');
    expect(judge(100, -0.0001, -0.01, {})).toBe('to_approve');
  });

  describe('quantity dimension', () => {
    const rule: ToleranceRule = { quantity: { plus: 2, minus: 1.5 } };
    it('is inclusive on the plus side', () => {
      expect(judge(10, 2, 0, rule)).toBe('not_required');
      expect(judge(10, 2.0001, 0, rule)).toBe('to_approve');
    });
    it('is inclusive on the minus side and uses the minus limit', () => {
      expect(judge(10, -1.5, 0, rule)).toBe('not_required');
      expect(judge(10, -1.5001, 0, rule)).toBe('to_approve');
      expect(judge(10, -2, 0, rule)).toBe('to_approve');
    });
    it('judges float noise as the 4-decimal quantity that will be posted', () => {
      expect(judge(10, 0.1 + 0.2, 0, { quantity: { plus: 0.3, minus: 0 } })).toBe('not_required');
    });
  });

  describe('percent dimension', () => {
    const rule: ToleranceRule = { percent: { plus: 10, minus: 5 } };
    it('is inclusive on the plus side (10 % of 30 is exactly 3)', () => {
      expect(judge(30, 3, 0, rule)).toBe('not_required');
      expect(judge(30, 3.0001, 0, rule)).toBe('to_approve');
    });
    it('does not suffer from float division (1.1 / 11 * 100 = 10.000000000000002)', () => {
      expect(judge(11, 1.1, 0, rule)).toBe('not_required');
      expect(judge(0.7, 0.07, 0, rule)).toBe('not_required');
    });
    it('is inclusive on the minus side', () => {
      expect(judge(30, -1.5, 0, rule)).toBe('not_required');
      expect(judge(30, -1.5001, 0, rule)).toBe('to_approve');
    });
    it('treats a variance on an expected 0 as infinite percent', () => {
      expect(judge(0, 0.0001, 0, rule)).toBe('to_approve');
      expect(judge(0, 5, 0, { percent: { plus: null, minus: 0 } })).toBe('not_required');
      expect(judge(0, -5, 0, { percent: { plus: null, minus: 0 } })).toBe('to_approve');
    });
  });

  describe('value dimension', () => {
    const rule: ToleranceRule = { value: { plus: 50, minus: 25.5 } };
    it('is inclusive on both sides, the side chosen by the quantity variance', () => {
      expect(judge(10, 1, 50, rule)).toBe('not_required');
      expect(judge(10, 1, 50.0001, rule)).toBe('to_approve');
      expect(judge(10, -1, -25.5, rule)).toBe('not_required');
      expect(judge(10, -1, -25.5001, rule)).toBe('to_approve');
    });
    it('rounds the value to 4 decimals before comparing', () => {
      expect(judge(10, 1, 50.00004, rule)).toBe('not_required');
      expect(judge(10, 1, 50.00005, rule)).toBe('to_approve');
    });
  });

  it('treats a null side as unlimited and leaves the other side checked', () => {
    const rule: ToleranceRule = { quantity: { plus: null, minus: 1 } };
    expect(judge(10, 1_000_000, 0, rule)).toBe('not_required');
    expect(judge(10, -1.0001, 0, rule)).toBe('to_approve');
  });

  it('requires the variance to be inside every configured dimension', () => {
    const rule: ToleranceRule = { quantity: { plus: 5, minus: 5 }, percent: { plus: 10, minus: 10 }, value: { plus: 100, minus: 100 } };
    expect(judge(30, 3, 99, rule)).toBe('not_required');
    expect(judge(20, 3, 99, rule)).toBe('to_approve'); // 15 %
    expect(judge(30, 3, 100.0001, rule)).toBe('to_approve');
    expect(judge(100, 5.0001, 10, rule)).toBe('to_approve');
  });

  it('does not check an absent dimension', () => {
    expect(judge(1, 1000, 999_999, { quantity: { plus: 1000, minus: 0 } })).toBe('not_required');
  });
});

describe('ruleForItem', () => {
  const policy: TolerancePolicy = {
    default: { quantity: { plus: 5, minus: 5 }, value: { plus: 100, minus: 100 } },
    items: { 'ITEM-1': { percent: { plus: 1, minus: 1 } } },
  };

  it('returns the document default for an item without override', () => {
    expect(ruleForItem(policy, 'ITEM-2')).toBe(policy.default);
    expect(ruleForItem({ default: {} }, 'ITEM-1')).toEqual({});
  });

  it('replaces (does not merge) the default with the item override', () => {
    const rule = ruleForItem(policy, 'ITEM-1');
    expect(rule).toEqual({ percent: { plus: 1, minus: 1 } });
    // 4 of 100 is within the default quantity limit, but the override only knows 1 %.
    expect(judge(100, 4, 1, rule)).toBe('to_approve');
    expect(judge(100, 4, 1, ruleForItem(policy, 'ITEM-2'))).toBe('not_required');
  });

  it('does not resolve item codes through Object.prototype', () => {
    expect(ruleForItem(policy, 'constructor')).toBe(policy.default);
    expect(ruleForItem(policy, '__proto__')).toBe(policy.default);
  });
});

describe('validateTolerancePolicy', () => {
  it('accepts valid policies', () => {
    expect(validateTolerancePolicy({ default: {} })).toEqual([]);
    expect(
      validateTolerancePolicy({
        default: { quantity: { plus: 1.5, minus: null }, percent: { plus: 10.25, minus: 0 }, value: { plus: 0.0001, minus: 20 } },
        items: { A: { percent: { plus: null, minus: null } } },
      }),
    ).toEqual([]);
  });

  it('rejects non-objects and a missing default', () => {
    expect(validateTolerancePolicy(null)).toEqual(['policy must be an object']);
    expect(validateTolerancePolicy([])).toEqual(['policy must be an object']);
    expect(validateTolerancePolicy({})).toEqual(['policy.default is required']);
  });

  it('lists every problem with its path', () => {
    expect(
      validateTolerancePolicy({
        default: { quantity: { plus: -1, minus: '2' }, amount: {} },
        items: { B: { value: { plus: Number.NaN, minus: 1, extra: 1 } }, '': {}, C: { percent: 5 } },
        other: true,
      }),
    ).toEqual([
      'policy: unknown key "other" (allowed: default, items)',
      'default: unknown key "amount" (allowed: quantity, percent, value)',
      'default.quantity.plus must be a finite number >= 0 or null (got -1)',
      'default.quantity.minus must be a finite number >= 0 or null (got "2")',
      'items["B"].value: unknown key "extra" (allowed: plus, minus)',
      'items["B"].value.plus must be a finite number >= 0 or null (got NaN)',
      'items: item code must not be empty',
      'items["C"].percent must be an object with plus and minus',
    ]);
  });

  it('rejects a missing side, infinity and sub-storage precision on quantity/value', () => {
    expect(
      validateTolerancePolicy({
        default: { quantity: { plus: 1 }, value: { plus: Infinity, minus: 0.00001 }, percent: { plus: 0.00001, minus: 0 } },
        items: [],
      }),
    ).toEqual([
      'default.quantity.minus must be a finite number >= 0 or null (got undefined)',
      'default.value.plus must be a finite number >= 0 or null (got Infinity)',
      'default.value.minus has more than 4 decimals (got 0.00001)',
      'items must be an object keyed by item code',
    ]);
  });
});
