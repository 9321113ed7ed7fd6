/**
 * Variance = counted − expected, in storage unit, in inventory unit and in money.
 *
 * Arithmetic is exact decimal (./decimal) and each result is rounded once, half away
 * from zero, to 4 decimals: float products such as 1 × 0.00015 would otherwise round
 * to 0.0001 instead of 0.0002, and Math.round(-0.5) rounds towards +∞. The money value
 * is computed from the exact (unrounded) inventory quantity so it is rounded only once.
 */
import { add, dec, mul, round, sign, sub, toNumber, MONEY_DECIMALS, QTY_DECIMALS } from './decimal';
import type { Decimal } from './decimal';

export type Direction = 'IN' | 'OUT' | 'NONE';

export interface Variance {
  /** Storage unit, 4 decimals. */
  quantity: number;
  /** Inventory unit, 4 decimals. */
  inventoryQuantity: number;
  /** Inventory quantity × standard cost, 4 decimals. */
  value: number;
  direction: Direction;
}

function factor(conversionFactor: number): Decimal {
  // A zero or negative factor would silently erase or flip the variance.
  if (!(conversionFactor > 0) || !Number.isFinite(conversionFactor)) {
    throw new RangeError(`conversionFactor must be a finite number > 0 (got ${conversionFactor})`);
  }
  return dec(conversionFactor);
}

/** conversionFactor = inventory units per storage unit. */
export function toInventoryUnit(storageQuantity: number, conversionFactor: number): number {
  return toNumber(round(mul(dec(storageQuantity), factor(conversionFactor)), QTY_DECIMALS));
}

/** Standard cost is per inventory unit. */
export function computeVariance(input: {
  expected: number;
  counted: number;
  conversionFactor: number;
  standardCost: number;
}): Variance {
  const quantity = round(sub(dec(input.counted), dec(input.expected)), QTY_DECIMALS);
  const inventory = mul(quantity, factor(input.conversionFactor));
  const direction = sign(quantity);
  return {
    quantity: toNumber(quantity),
    inventoryQuantity: toNumber(round(inventory, QTY_DECIMALS)),
    value: toNumber(round(mul(inventory, dec(input.standardCost)), MONEY_DECIMALS)),
    direction: direction > 0 ? 'IN' : direction < 0 ? 'OUT' : 'NONE',
  };
}

/**
 * Frozen book quantity: the expected quantity of a row is the snapshot quantity plus the
 * net movements on that stock position between the snapshot and the moment it was counted,
 * so stock moving during the count is not reported as a variance.
 */
export function expectedAtCount(snapshotQuantity: number, movementsSinceSnapshot: number): number {
  return toNumber(round(add(dec(snapshotQuantity), dec(movementsSinceSnapshot)), QTY_DECIMALS));
}
