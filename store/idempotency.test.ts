import { describe, expect, it } from 'vitest';
import { requestHash } from './idempotency';

/**
 * Request hashes are stored and compared on every retry, including retries
 * that cross an upgrade: these values were produced by the first
 * implementation and must never change.
 */
describe('requestHash', () => {
  it('hashes a submission as every earlier version did', () => {
    const entries = [
      { location: 'Z01-A-001-1', item: 'ITEM-000001', lot: '', serial: 'S\u00e9"1', handlingUnit: '', owner: '', quantity: 12.5, blocked: { QC: 1, DAM: 0.5 } },
      { item: 'B', location: 'A', quantity: 0, blocked: undefined, arr: [1, undefined, null] },
    ];
    expect(requestHash(entries)).toBe('602623a6fba0dfc69e576ba77e3b27f681ec1eae8cf39266994c4a101b58dbeb');
  });

  it('ignores the order of keys', () => {
    expect(requestHash({ b: 1, a: [true, 'x'], Z: null })).toBe(requestHash({ Z: null, a: [true, 'x'], b: 1 }));
  });

  it('hashes a request body as every earlier version did', () => {
    expect(requestHash({ b: 1, a: [true, 'x'], Z: null })).toBe('933ecfba1ee4dc4de4d0aba373b665a4af72641a04e77282e8ce63d48a07c383');
  });
});
