import { describe, expect, it } from 'vitest';
import { planPostings, postingKey } from './posting-order';
import type { PostingStep } from './posting-order';

describe('planPostings', () => {
  it('decrease while blocked: blocking corrections first, then the OUT transaction', () => {
    expect(
      planPostings({
        difference: -5,
        blockings: [
          { reason: 'quality', expected: 0, counted: 1 },
          { reason: 'damaged', expected: 8, counted: 3 },
          { reason: 'pending_putaway', expected: 2, counted: 2 },
        ],
      }),
    ).toEqual<PostingStep[]>([
      { kind: 'blocking_correction', reason: 'damaged', from: 8, to: 3 },
      { kind: 'blocking_correction', reason: 'quality', from: 0, to: 1 },
      { kind: 'transaction', taskType: 'Count', direction: 'OUT', quantity: 5 },
    ]);
  });

  it('increase then block: IN transaction first, then the blocking corrections', () => {
    expect(
      planPostings({
        difference: 4.25,
        blockings: [
          { reason: 'quality', expected: 1, counted: 5.25 },
          { reason: 'damaged', expected: 0, counted: 2 },
        ],
      }),
    ).toEqual<PostingStep[]>([
      { kind: 'transaction', taskType: 'Count', direction: 'IN', quantity: 4.25 },
      { kind: 'blocking_correction', reason: 'damaged', from: 0, to: 2 },
      { kind: 'blocking_correction', reason: 'quality', from: 1, to: 5.25 },
    ]);
  });

  it('zero difference: only the blocking corrections, decreases before increases', () => {
    expect(
      planPostings({
        difference: 0,
        blockings: [
          { reason: 'a_quality', expected: 0, counted: 3 },
          { reason: 'z_damaged', expected: 3, counted: 0 },
        ],
      }),
    ).toEqual<PostingStep[]>([
      { kind: 'blocking_correction', reason: 'z_damaged', from: 3, to: 0 },
      { kind: 'blocking_correction', reason: 'a_quality', from: 0, to: 3 },
    ]);
  });

  it('orders reasons by code unit, not by locale', () => {
    const steps = planPostings({
      difference: 0,
      blockings: [
        { reason: 'b', expected: 0, counted: 1 },
        { reason: 'B', expected: 0, counted: 1 },
        { reason: 'a', expected: 0, counted: 1 },
      ],
    });
    expect(steps.map((s) => (s.kind === 'blocking_correction' ? s.reason : s.kind))).toEqual(['B', 'a', 'b']);
  });

  it('returns no steps when nothing changes', () => {
    expect(planPostings({ difference: 0, blockings: [] })).toEqual([]);
    expect(planPostings({ difference: 0, blockings: [{ reason: 'damaged', expected: 2, counted: 2 }] })).toEqual([]);
    // Below storage precision is no change.
    expect(planPostings({ difference: 0.00004, blockings: [{ reason: 'damaged', expected: 0.3, counted: 0.1 + 0.2 }] })).toEqual([]);
  });

  it('emits a single transaction when no blocking changes', () => {
    expect(planPostings({ difference: -0.0001, blockings: [] })).toEqual<PostingStep[]>([
      { kind: 'transaction', taskType: 'Count', direction: 'OUT', quantity: 0.0001 },
    ]);
  });

  it('rejects negative blocked quantities, non-finite numbers and duplicate reasons', () => {
    expect(() => planPostings({ difference: 1, blockings: [{ reason: 'x', expected: -1, counted: 0 }] })).toThrow(RangeError);
    expect(() => planPostings({ difference: 1, blockings: [{ reason: 'x', expected: 0, counted: -0.0001 }] })).toThrow(RangeError);
    expect(() => planPostings({ difference: Number.NaN, blockings: [] })).toThrow(RangeError);
    expect(() => planPostings({ difference: Infinity, blockings: [] })).toThrow(RangeError);
    expect(() => planPostings({ difference: 0, blockings: [{ reason: 'x', expected: 0, counted: Infinity }] })).toThrow(RangeError);
    expect(() =>
      planPostings({
        difference: 0,
        blockings: [
          { reason: 'x', expected: 0, counted: 1 },
          { reason: 'x', expected: 1, counted: 0 },
        ],
      }),
    ).toThrow(RangeError);
  });
});

describe('postingKey', () => {
  const steps = planPostings({
    difference: -2,
    blockings: [
      { reason: 'quality', expected: 1, counted: 0 },
      { reason: 'damaged', expected: 2, counted: 0 },
    ],
  });

  it('is deterministic and readable', () => {
    expect(steps.map((s, i) => postingKey('rec-1', 42, i, s))).toEqual([
      'rec-1:42:0:blocking_correction:damaged',
      'rec-1:42:1:blocking_correction:quality',
      'rec-1:42:2:transaction',
    ]);
    const again = planPostings({
      difference: -2,
      blockings: [
        { reason: 'damaged', expected: 2, counted: 0 },
        { reason: 'quality', expected: 1, counted: 0 },
      ],
    });
    expect(again.map((s, i) => postingKey('rec-1', '42', i, s))).toEqual(steps.map((s, i) => postingKey('rec-1', 42, i, s)));
  });

  it('is unique across steps, rows and reconciliations', () => {
    const keys = ['rec-1', 'rec-2'].flatMap((rec) => [1, 2].flatMap((row) => steps.map((s, i) => postingKey(rec, row, i, s))));
    expect(new Set(keys).size).toBe(12);
  });

  it('cannot be forged by a separator inside an id or reason', () => {
    const step: PostingStep = { kind: 'transaction', taskType: 'Count', direction: 'IN', quantity: 1 };
    expect(postingKey('a:1', 2, 0, step)).toBe('a%3A1:2:0:transaction');
    expect(postingKey('a:1', 2, 0, step)).not.toBe(postingKey('a', '1:2', 0, step));
    expect(postingKey('r', 1, 0, { kind: 'blocking_correction', reason: 'x:y', from: 1, to: 0 })).toBe('r:1:0:blocking_correction:x%3Ay');
  });

  it('rejects an invalid step index', () => {
    const step: PostingStep = { kind: 'transaction', taskType: 'Count', direction: 'IN', quantity: 1 };
    expect(() => postingKey('r', 1, -1, step)).toThrow(RangeError);
    expect(() => postingKey('r', 1, 0.5, step)).toThrow(RangeError);
  });
});
