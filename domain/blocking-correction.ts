/**
 * What a count implies for blockings it did not report: blocked stock cannot
 * exceed the stock that is there (seed 000: a blocking is corrected before
 * the stock is decreased). When less was counted than was blocked, the
 * blockings are kept in reason order (by code unit) until the counted
 * quantity is used up; later reasons are cut. store/rows/populate.ts applies
 * the same rule in SQL; a test holds the two together.
 */
export interface Blocked {
  reason: string;
  quantity: number;
}

export function impliedBlockings(counted: number, blocked: Blocked[]): Array<Blocked & { implied: boolean }> {
  const total = blocked.reduce((sum, b) => sum + b.quantity, 0);
  const implied = counted < total;
  let left = Math.max(0, counted);
  return [...blocked]
    .sort((a, b) => (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
    .map((b) => {
      const kept = implied ? Math.min(b.quantity, left) : b.quantity;
      left -= kept;
      return { reason: b.reason, quantity: kept, implied };
    });
}
