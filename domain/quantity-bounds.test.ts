import { describe, expect, it } from 'vitest';
import { MAX_COUNTED_QUANTITY, quantityProblem } from './quantity-bounds';

const pieces = { decimals: 0, serialTracked: false };
const kilograms = { decimals: 3, serialTracked: false };
const serial = { decimals: 0, serialTracked: true };

describe('countable quantities', () => {
  it('takes whole pieces and refuses 2.5 of them', () => {
    expect(quantityProblem(3, 'PCS', pieces)).toBeUndefined();
    expect(quantityProblem(2.5, 'PCS', pieces)).toBe('PCS is counted in whole numbers');
  });

  it('takes up to the decimals the unit allows', () => {
    expect(quantityProblem(1.234, 'KG', kilograms)).toBeUndefined();
    expect(quantityProblem(1.2345, 'KG', kilograms)).toBe('KG allows at most 3 decimals');
  });

  it('counts a serial-tracked item 0 or 1 only', () => {
    expect(quantityProblem(1, 'PCS', serial)).toBeUndefined();
    expect(quantityProblem(0, 'PCS', serial)).toBeUndefined();
    expect(quantityProblem(0.5, 'PCS', serial)).toBe('a serial-tracked item is counted 0 or 1');
    expect(quantityProblem(2, 'PCS', serial)).toBe('a serial-tracked item is counted 0 or 1');
  });

  it('refuses negative, non-finite and oversized quantities', () => {
    expect(quantityProblem(-1, 'PCS', pieces)).toBe('a quantity must be a number of 0 or more');
    expect(quantityProblem(Number.NaN, 'PCS', pieces)).toBe('a quantity must be a number of 0 or more');
    expect(quantityProblem(MAX_COUNTED_QUANTITY * 10, 'PCS', pieces)).toBe(`a quantity above ${MAX_COUNTED_QUANTITY} cannot be counted`);
  });
});
