import { describe, expect, it } from 'vitest';
import { ALLOWED_IN, DECISIONS, isTerminal, RECONCILIATION_STATUSES, statusRefusal } from './reconciliation-status';

describe('reconciliation status rules', () => {
  it('allows a cancel in every status that is not final', () => {
    for (const s of RECONCILIATION_STATUSES) expect([s, statusRefusal('cancel', s) === undefined]).toEqual([s, !isTerminal(s)]);
  });

  it('refuses every decision once released or cancelled, saying so', () => {
    for (const s of ['released', 'cancelled'] as const) {
      for (const d of DECISIONS) expect(statusRefusal(d, s)).toBe(`the reconciliation is ${s} and takes no more decisions`);
    }
  });

  it('leaves every non-final status some decision, so none can wedge', () => {
    for (const s of RECONCILIATION_STATUSES.filter((x) => !isTerminal(x))) {
      expect(DECISIONS.filter((d) => ALLOWED_IN[d].includes(s)).length, s).toBeGreaterThan(0);
    }
  });

  it('names the statuses a refused decision would fit', () => {
    expect(statusRefusal('approveRows', 'counting')).toBe('not allowed while the reconciliation is counting (allowed: review)');
  });
});
