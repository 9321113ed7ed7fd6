import { describe, expect, it } from 'vitest';
import { impliedBlockings } from './blocking-correction';

describe('blockings a count implies', () => {
  it('keeps blockings as they are when the counted stock covers them', () => {
    expect(impliedBlockings(10, [{ reason: 'damaged', quantity: 4 }])).toEqual([{ reason: 'damaged', quantity: 4, implied: false }]);
  });

  it('cuts a blocking to the counted stock when less was counted than was blocked', () => {
    expect(impliedBlockings(3, [{ reason: 'damaged', quantity: 4 }])).toEqual([{ reason: 'damaged', quantity: 3, implied: true }]);
  });

  it('keeps earlier reasons whole and cuts later ones, in reason order', () => {
    expect(impliedBlockings(5, [{ reason: 'quality', quantity: 3 }, { reason: 'damaged', quantity: 4 }])).toEqual([
      { reason: 'damaged', quantity: 4, implied: true },
      { reason: 'quality', quantity: 1, implied: true },
    ]);
  });

  it('leaves no blocking when nothing was counted', () => {
    expect(impliedBlockings(0, [{ reason: 'damaged', quantity: 2 }])).toEqual([{ reason: 'damaged', quantity: 0, implied: true }]);
  });
});
