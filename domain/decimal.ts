/**
 * Exact decimal arithmetic on bigint coefficients (value = coef × 10^exp).
 *
 * Why: binary floats cannot hold most decimal fractions, so a float comparison
 * flips right at a business boundary (30 * 0.1 !== 3 in some orders of operations,
 * 1.005 * 1e4 === 10049.999999999998). A number is read through its shortest
 * round-trip string — the decimal a person typed or JSON carried — so 0.1 is
 * exactly 1 × 10^-1, and sums, products and comparisons are exact. Results are
 * rounded once, half away from zero, to the storage precision.
 *
 * Pure: no I/O, no clock, no randomness (imported by Temporal workflow code).
 */

/** Quantities (storage and inventory unit) and money values are stored with 4 decimals. */
export const QTY_DECIMALS = 4;
export const MONEY_DECIMALS = 4;

export interface Decimal {
  readonly coef: bigint;
  readonly exp: number;
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

export function dec(x: number): Decimal {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new RangeError(`expected a finite number, got ${String(x)}`);
  }
  // String() of a finite number is always [-]digits[.digits][e(+|-)digits].
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (m === null) throw new RangeError(`cannot read ${String(x)} as a decimal`);
  const frac = m[3] ?? '';
  const magnitude = BigInt((m[2] ?? '0') + frac);
  return { coef: m[1] === '-' ? -magnitude : magnitude, exp: Number(m[4] ?? 0) - frac.length };
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const exp = Math.min(a.exp, b.exp);
  return [a.coef * pow10(a.exp - exp), b.coef * pow10(b.exp - exp), exp];
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, exp] = align(a, b);
  return { coef: x + y, exp };
}

export function sub(a: Decimal, b: Decimal): Decimal {
  const [x, y, exp] = align(a, b);
  return { coef: x - y, exp };
}

export function mul(a: Decimal, b: Decimal): Decimal {
  return { coef: a.coef * b.coef, exp: a.exp + b.exp };
}

export function cmp(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function sign(a: Decimal): -1 | 0 | 1 {
  return a.coef < 0n ? -1 : a.coef > 0n ? 1 : 0;
}

export function abs(a: Decimal): Decimal {
  return a.coef < 0n ? { coef: -a.coef, exp: a.exp } : a;
}

/** Rounds half away from zero to `places` decimals. */
export function round(a: Decimal, places: number): Decimal {
  const drop = -places - a.exp;
  if (drop <= 0) return a;
  const d = pow10(drop);
  const magnitude = a.coef < 0n ? -a.coef : a.coef;
  const q = magnitude / d + ((magnitude % d) * 2n >= d ? 1n : 0n);
  return { coef: a.coef < 0n ? -q : q, exp: -places };
}

/** Goes through a decimal string so the result is the double nearest the exact value (never -0). */
export function toNumber(a: Decimal): number {
  return Number(`${a.coef}e${a.exp}`);
}

export function roundTo(x: number, places: number): number {
  return toNumber(round(dec(x), places));
}

/** Decimal places a number needs (its shortest representation; 1.5 -> 1, 100 -> 0). */
export function decimalPlaces(x: number): number {
  return Math.max(0, -dec(x).exp);
}
