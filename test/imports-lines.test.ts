import { describe, expect, it } from 'vitest';
import { parseLine, parseLines } from '../api/routes/imports';
import { readRecordBatches } from '../store/streaming/records';

/** How one line's text becomes a row, or a problem in words (no database). */

const rec = (fields: Record<string, unknown>, line = 2) => ({ line, fields });
const stock = { warehouse: 'W1', location: 'A-01', item: 'P1' };

async function* chunks(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

describe('import lines', () => {
  it('reads CSV blockings as reason=quantity;reason=quantity', () => {
    expect(parseLine('stock', rec({ ...stock, quantity: '5', blocked: 'damaged=2; quality=1.5' }))).toEqual({
      line: 2,
      row: { ...stock, lot: '', serial: '', handlingUnit: '', owner: '', quantity: 5, blocked: { damaged: 2, quality: 1.5 } },
    });
  });

  it('reads JSON blockings as an object of quantities by reason', () => {
    const parsed = parseLine('stock', rec({ ...stock, quantity: 5, blocked: { damaged: 2 } }));
    expect(parsed).toMatchObject({ row: { quantity: 5, blocked: { damaged: 2 } } });
  });

  it('refuses a blocking written without a quantity, a reason given twice, and a negative blocked quantity', () => {
    expect(parseLine('stock', rec({ ...stock, quantity: '5', blocked: 'damaged' }))).toEqual({ line: 2, problem: 'blocked: write blockings as reason=quantity;reason=quantity' });
    expect(parseLine('stock', rec({ ...stock, quantity: '5', blocked: 'damaged=1;damaged=2' }))).toEqual({ line: 2, problem: 'blocked: reason damaged is given twice' });
    expect(parseLine('stock', rec({ ...stock, quantity: 5, blocked: { damaged: -1 } }))).toEqual({ line: 2, problem: 'blocked: damaged: must be 0 or more' });
  });

  it('refuses quantity text that is not a plain decimal, or that has more than 4 decimals', () => {
    for (const q of ['-1', '1e3', 'ten', '1,5', '']) {
      expect(parseLine('stock', rec({ ...stock, quantity: q })), q).toHaveProperty('problem');
    }
    // More digits than a double holds would otherwise round silently to 1.
    expect(parseLine('stock', rec({ ...stock, quantity: '1.00000000000000001' }))).toEqual({ line: 2, problem: 'quantity: at most 4 decimals' });
    expect(parseLine('stock', rec({ ...stock, quantity: '2.50000' }))).toMatchObject({ row: { quantity: 2.5 } });
  });

  it('names a missing field and an unknown one', () => {
    expect(parseLine('zones', rec({ warehouse: 'W1' }))).toEqual({ line: 2, problem: 'code: required' });
    expect(parseLine('zones', rec({ warehouse: 'W1', code: 'A', colour: 'red' }))).toEqual({ line: 2, problem: 'unknown field colour' });
  });

  it('refuses control characters and lone surrogates in codes and labels', () => {
    expect(parseLine('zones', rec({ warehouse: 'W1', code: 'A\u0000' }))).toMatchObject({ problem: expect.stringContaining('control characters') });
    expect(parseLine('stock', rec({ ...stock, lot: 'L\uD800', quantity: 1 }))).toMatchObject({ problem: expect.stringContaining('lone surrogate') });
  });

  it('reads item flags as true/false and numbers with their precision', () => {
    const base = { code: 'I', storageUnit: 'PCS', inventoryUnit: 'PCS' };
    expect(parseLine('items', rec({ ...base, conversionFactor: '0.000001', standardCost: '0', lotTracked: 'TRUE' }))).toMatchObject({
      row: { conversionFactor: 0.000001, standardCost: 0, lotTracked: true, serialTracked: false, description: '' },
    });
    expect(parseLine('items', rec({ ...base, conversionFactor: '1', standardCost: '1', serialTracked: 'yes' }))).toEqual({ line: 2, problem: 'serialTracked: true or false' });
    expect(parseLine('items', rec({ ...base, conversionFactor: '0.0000001', standardCost: '1' }))).toEqual({ line: 2, problem: 'conversionFactor: at most 6 decimals' });
  });

  it('reads unit decimals from 0 to 4', () => {
    expect(parseLine('units', rec({ code: 'U', decimals: '4' }))).toEqual({ line: 2, row: { code: 'U', decimals: 4 } });
    expect(parseLine('units', rec({ code: 'U', decimals: 5 }))).toEqual({ line: 2, problem: 'decimals: a whole number from 0 to 4' });
  });

  it('reports the line a reader stops at, after the lines before it', async () => {
    const lines = [];
    for await (const batch of parseLines('zones', readRecordBatches(chunks('warehouse,code\nW1,A\nW1,"B"x\nW1,C\n'), 'csv'))) lines.push(...batch);
    expect(lines).toEqual([
      { line: 2, row: { warehouse: 'W1', code: 'A' } },
      { line: 3, problem: 'text after a closing quote (the body was read up to this line)' },
    ]);
  });

  it('reports text that is not UTF-8 as a bad line', async () => {
    async function* bad(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('{"warehouse":"W1","code":"A"}\n');
      yield new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a]);
    }
    const lines = [];
    for await (const batch of parseLines('zones', readRecordBatches(bad(), 'jsonl'))) lines.push(...batch);
    expect(lines[lines.length - 1]).toMatchObject({ line: 2, problem: expect.stringContaining('not valid UTF-8') });
  });
});
