import { describe, expect, it } from 'vitest';
import { isSystemTerminal, SYSTEM_ALLOWED_IN, SYSTEM_DECISIONS, SYSTEM_STATUSES, systemStatusRefusal } from './system-status';

describe('system reconciliation status rules', () => {
  it('allows a cancel in every status that is not final', () => {
    for (const s of SYSTEM_STATUSES) expect([s, systemStatusRefusal('cancel', s) === undefined]).toEqual([s, !isSystemTerminal(s)]);
  });

  it('leaves every non-final status some decision, so none can wedge', () => {
    for (const s of SYSTEM_STATUSES.filter((x) => !isSystemTerminal(x))) {
      expect(SYSTEM_DECISIONS.filter((d) => SYSTEM_ALLOWED_IN[d].includes(s)).length, s).toBeGreaterThan(0);
    }
  });

  it('takes line decisions only in review', () => {
    expect(systemStatusRefusal('approveLines', 'requesting')).toBe('not allowed while the system reconciliation is requesting (allowed: review)');
    expect(systemStatusRefusal('processLines', 'matched')).toBe('the system reconciliation is matched and takes no more decisions');
  });
});
