import { describe, expect, it } from 'vitest';
import { computeVariance, expectedAtCount, toInventoryUnit } from './variance';

describe('computeVariance', () => {
  it('computes a positive variance (IN) in storage unit, inventory unit and money', () => {
    expect(computeVariance({ expected: 10, counted: 12.5, conversionFactor: 12, standardCost: 1.25 })).toEqual({
      quantity: 2.5,
      inventoryQuantity: 30,
      value: 37.5,
      direction: 'IN',
    });
  });

  it('computes a negative variance (OUT) with a negative value', () => {
    expect(computeVariance({ expected: 10, counted: 7, conversionFactor: 0.5, standardCost: 3.3333 })).toEqual({
      quantity: -3,
      inventoryQuantity: -1.5,
      value: -5,
      direction: 'OUT',
    });
  });

  it('returns NONE and plain zeros (no -0) when counted equals expected', () => {
    const v = computeVariance({ expected: 4.2, counted: 4.2, conversionFactor: 3, standardCost: 9 });
    expect(v).toEqual({ quantity: 0, inventoryQuantity: 0, value: 0, direction: 'NONE' });
    expect(Object.is(v.value, 0)).toBe(true);
    expect(Object.is(v.quantity, 0)).toBe(true);
  });

  it('is free of float subtraction noise', () => {
    // 0.3 - 0.1 = 0.19999999999999998 in floats
    expect(computeVariance({ expected: 0.1, counted: 0.3, conversionFactor: 1, standardCost: 3 })).toEqual({
      quantity: 0.2,
      inventoryQuantity: 0.2,
      value: 0.6,
      direction: 'IN',
    });
  });

  it('rounds the value half away from zero on both sides', () => {
    // Math.round(1 * 0.00015 * 1e4) is 1 (float 1.4999...), the exact half rounds up to 2.
    expect(computeVariance({ expected: 0, counted: 1, conversionFactor: 1, standardCost: 0.00015 }).value).toBe(0.0002);
    // Math.round(-0.5) is -0: half must go away from zero.
    expect(computeVariance({ expected: 1, counted: 0, conversionFactor: 1, standardCost: 0.00005 }).value).toBe(-0.0001);
    expect(computeVariance({ expected: 0, counted: 1, conversionFactor: 1, standardCost: 0.00004 }).value).toBe(0);
  });

  it('rounds the value once, from the unrounded inventory quantity', () => {
    // 0.0001 box × 0.5 = 0.00005 pcs (reported 0.0001) × 1000 = 0.05, not 0.1
    const v = computeVariance({ expected: 0, counted: 0.0001, conversionFactor: 0.5, standardCost: 1000 });
    expect(v.inventoryQuantity).toBe(0.0001);
    expect(v.value).toBe(0.05);
  });

  it('rounds quantities beyond 4 decimals', () => {
    expect(computeVariance({ expected: 1, counted: 1.00005, conversionFactor: 1, standardCost: 0 }).quantity).toBe(0.0001);
    expect(computeVariance({ expected: 1.00004, counted: 1, conversionFactor: 1, standardCost: 0 }).direction).toBe('NONE');
  });

  it('rejects a non-positive or non-finite conversion factor and non-finite inputs', () => {
    expect(() => computeVariance({ expected: 1, counted: 2, conversionFactor: 0, standardCost: 1 })).toThrow(RangeError);
    expect(() => computeVariance({ expected: 1, counted: 2, conversionFactor: -2, standardCost: 1 })).toThrow(RangeError);
    expect(() => computeVariance({ expected: 1, counted: Number.NaN, conversionFactor: 1, standardCost: 1 })).toThrow(RangeError);
    expect(() => computeVariance({ expected: 1, counted: 2, conversionFactor: 1, standardCost: Infinity })).toThrow(RangeError);
  });
});

describe('toInventoryUnit', () => {
  it('multiplies by the conversion factor exactly and rounds to 4 decimals', () => {
    expect(toInventoryUnit(3, 0.1)).toBe(0.3); // 0.30000000000000004 in floats
    expect(toInventoryUnit(-2.5, 12)).toBe(-30);
    expect(toInventoryUnit(1, 0.33335)).toBe(0.3334);
    expect(toInventoryUnit(-1, 0.33335)).toBe(-0.3334);
  });

  it('rejects a non-positive conversion factor', () => {
    expect(() => toInventoryUnit(1, 0)).toThrow(RangeError);
    expect(() => toInventoryUnit(1, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('expectedAtCount', () => {
  it('adds net movements since the snapshot to the frozen book quantity', () => {
    expect(expectedAtCount(100, -12.5)).toBe(87.5);
    expect(expectedAtCount(0.1, 0.2)).toBe(0.3); // 0.30000000000000004 in floats
    expect(expectedAtCount(5, 0)).toBe(5);
    expect(expectedAtCount(1.00004, 0.00001)).toBe(1.0001);
  });
});
