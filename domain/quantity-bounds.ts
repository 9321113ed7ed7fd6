import { decimalPlaces } from './decimal';

/**
 * What a counted quantity may be, so that no count can overflow the stock
 * records. Quantities are numeric(18,4) (< 10^14), inventory quantities
 * numeric(18,6) (< 10^12), values numeric(18,4). A count stays an order of
 * magnitude below each limit after conversion to the inventory unit and
 * multiplication by standard cost, leaving room for the variance against the
 * expected quantity. The submission check in SQL uses these same constants.
 */
export const MAX_COUNTED_QUANTITY = 1e10;
export const MAX_INVENTORY_QUANTITY = 1e11;
export const MAX_VALUE = 1e13;
/** The finest step any unit allows: the scale of the quantity columns. */
export const MAX_DECIMALS = 4;

export interface UnitRules {
  /** Decimals the item's storage unit allows (0 for pieces, boxes ...). */
  decimals: number;
  serialTracked: boolean;
}

/** Why `quantity` cannot be counted for an item with these rules, or undefined. */
export function quantityProblem(quantity: number, unit: string, rules: UnitRules): string | undefined {
  if (!Number.isFinite(quantity) || quantity < 0) return 'a quantity must be a number of 0 or more';
  if (rules.serialTracked && quantity !== 0 && quantity !== 1) return 'a serial-tracked item is counted 0 or 1';
  if (decimalPlaces(quantity) > rules.decimals) {
    return rules.decimals === 0 ? `${unit} is counted in whole numbers` : `${unit} allows at most ${rules.decimals} decimals`;
  }
  if (quantity > MAX_COUNTED_QUANTITY) return `a quantity above ${MAX_COUNTED_QUANTITY} cannot be counted`;
  return undefined;
}
