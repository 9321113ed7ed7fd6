import { describe, expect, it } from 'vitest';
import { judgeDifference, needsJudgement, type DifferenceFigures } from './system-outcome';
import type { ToleranceRule } from './tolerance';

const exact: ToleranceRule = { quantity: { plus: 0, minus: 0 } };
const plusMinusOne: ToleranceRule = { quantity: { plus: 1, minus: 1 } };

const figures = (f: Partial<DifferenceFigures>): DifferenceFigures => ({
  quantityA: 10,
  quantityB: 10,
  conversionFactor: 1,
  standardCost: 1,
  mappingProblem: null,
  messages: { count: 0, net: 0 },
  window: { count: 0, magnitude: 0 },
  ...f,
});

describe('judgeDifference', () => {
  it('matches equal quantities, with no root cause', () => {
    expect(judgeDifference(figures({}), exact)).toEqual({ difference: 0, value: 0, direction: 'NONE', outcome: 'match', rootCause: null });
  });

  it('matches a difference within the item tolerance', () => {
    expect(judgeDifference(figures({ quantityB: 11 }), plusMinusOne).outcome).toBe('match');
    expect(judgeDifference(figures({ quantityB: 9 }), plusMinusOne).outcome).toBe('match');
  });

  it('judges tolerance with quantity A as the expected quantity (percent)', () => {
    const tenPercent: ToleranceRule = { percent: { plus: 10, minus: 10 } };
    expect(judgeDifference(figures({ quantityA: 10, quantityB: 11 }), tenPercent).outcome).toBe('match');
    expect(judgeDifference(figures({ quantityA: 11, quantityB: 10 }), tenPercent).outcome).toBe('match');
    expect(judgeDifference(figures({ quantityA: 10, quantityB: 12 }), tenPercent).outcome).toBe('exception');
  });

  it('gives difference B − A, its direction and its value (× conversion × standard cost, 4 decimals)', () => {
    const j = judgeDifference(figures({ quantityA: 5, quantityB: 3, conversionFactor: 12, standardCost: 2.5 }), exact);
    expect(j).toMatchObject({ difference: -2, value: -60, direction: 'OUT' });
    expect(judgeDifference(figures({ quantityA: 0, quantityB: 1, conversionFactor: 1 / 3, standardCost: 1 }), exact).value).toBe(0.3333);
  });

  it('makes a difference an exception, root cause unknown, when nothing explains it', () => {
    expect(judgeDifference(figures({ quantityB: 13 }), plusMinusOne)).toMatchObject({ outcome: 'exception', rootCause: 'unknown', difference: 3 });
  });

  it('explains a difference by outstanding messages whose net effect equals it', () => {
    const j = judgeDifference(figures({ quantityB: 15, messages: { count: 1, net: 5 } }), exact);
    expect(j).toMatchObject({ outcome: 'explainable', rootCause: 'unprocessed_message', difference: 5 });
  });

  it('explains by messages only within tolerance of the residual', () => {
    expect(judgeDifference(figures({ quantityB: 16, messages: { count: 1, net: 5 } }), plusMinusOne).rootCause).toBe('unprocessed_message');
    expect(judgeDifference(figures({ quantityB: 17, messages: { count: 1, net: 5 } }), plusMinusOne).rootCause).toBe('unknown');
  });

  it('does not explain by messages pointing the other way', () => {
    expect(judgeDifference(figures({ quantityB: 15, messages: { count: 1, net: -5 } }), exact).rootCause).toBe('unknown');
  });

  it('explains a difference by movements in the window whose magnitudes cover it', () => {
    expect(judgeDifference(figures({ quantityB: 7, window: { count: 1, magnitude: 3 } }), exact)).toMatchObject({
      outcome: 'explainable',
      rootCause: 'timing',
    });
    expect(judgeDifference(figures({ quantityB: 7, window: { count: 2, magnitude: 2.9999 } }), exact).rootCause).toBe('unknown');
  });

  it('prefers message evidence over timing when both cover', () => {
    const both = figures({ quantityB: 15, messages: { count: 1, net: 5 }, window: { count: 1, magnitude: 5 } });
    expect(judgeDifference(both, exact).rootCause).toBe('unprocessed_message');
  });

  it('falls back to timing when the messages do not cover the difference', () => {
    const f = figures({ quantityB: 15, messages: { count: 1, net: 2 }, window: { count: 1, magnitude: 5 } });
    expect(judgeDifference(f, exact).rootCause).toBe('timing');
  });

  it('makes a key with a mapping problem an exception even when its quantities agree', () => {
    expect(judgeDifference(figures({ mappingProblem: 'status_mapping' }), plusMinusOne)).toMatchObject({
      outcome: 'exception',
      rootCause: 'status_mapping',
    });
    expect(judgeDifference(figures({ quantityB: 15, mappingProblem: 'unit_conversion', messages: { count: 1, net: 5 } }), exact).rootCause).toBe(
      'unit_conversion',
    );
  });

  it('judges float noise as the 4-decimal difference that is stored', () => {
    expect(judgeDifference(figures({ quantityA: 0.1 + 0.2, quantityB: 0.3 }), exact).outcome).toBe('match');
    expect(judgeDifference(figures({ quantityA: 0, quantityB: 0.3, messages: { count: 2, net: 0.1 + 0.2 } }), exact).rootCause).toBe(
      'unprocessed_message',
    );
  });
});

describe('needsJudgement (the SQL pre-filter)', () => {
  const rules: ToleranceRule[] = [exact, plusMinusOne, {}, { value: { plus: 0, minus: 0 } }, { percent: { plus: 0, minus: 0 } }];

  it('skips only keys that judgeDifference matches under every rule', () => {
    for (const [a, b] of [[10, 10], [0, 0], [0.3333, 0.3333]] as const) {
      expect(needsJudgement(a, b, null)).toBe(false);
      for (const rule of rules) expect(judgeDifference(figures({ quantityA: a, quantityB: b }), rule).outcome).toBe('match');
    }
  });

  it('judges every key whose quantities differ or that has a mapping problem', () => {
    expect(needsJudgement(10, 10.0001, null)).toBe(true);
    expect(needsJudgement(10, 10, 'status_mapping')).toBe(true);
    expect(needsJudgement(10, 10, 'unit_conversion')).toBe(true);
  });
});
