import { describe, expect, it } from 'vitest';
import { MAX_RECORD_CHARS, readRecords, RecordSyntaxError, type RecordFormat } from './records';

async function* chunks(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function all(text: string, format: RecordFormat, size = 3) {
  const out = [];
  for await (const r of readRecords(chunks(text, size), format)) out.push(r);
  return out;
}

describe('records from a streamed body', () => {
  it('reads CSV with quoted commas, quotes, line breaks and multi-byte text split across chunks', async () => {
    const csv = 'item,location,note\r\nP1,A-01,"a, b"\nBOX,"A-""02""","two\nlines"\nÉTÉ,Z-01,ü\n';
    expect(await all(csv, 'csv')).toEqual([
      { line: 2, fields: { item: 'P1', location: 'A-01', note: 'a, b' } },
      { line: 3, fields: { item: 'BOX', location: 'A-"02"', note: 'two\nlines' } },
      { line: 5, fields: { item: 'ÉTÉ', location: 'Z-01', note: 'ü' } },
    ]);
  });

  it('reads a line the same whether its fields are quoted or not', async () => {
    const plain = await all('a,b,c\nx,,z\n,y,\n', 'csv', 1024);
    const quoted = await all('a,b,c\n"x","","z"\n"","y",""\n', 'csv', 1024);
    expect(plain).toEqual([
      { line: 2, fields: { a: 'x', b: '', c: 'z' } },
      { line: 3, fields: { a: '', b: 'y', c: '' } },
    ]);
    expect(quoted).toEqual(plain);
  });

  it('keeps a field named __proto__ as a field', async () => {
    const [record] = await all('__proto__,b\nx,y\n', 'csv', 1024);
    expect(Object.keys(record!.fields)).toEqual(['__proto__', 'b']);
  });

  it('names the line of a CSV record with too few fields', async () => {
    await expect(all('a,b\n1,2\n3\n', 'csv')).rejects.toThrow(new RecordSyntaxError(3, '1 fields where the header names 2'));
  });

  it('refuses a CSV whose quoted field is never closed', async () => {
    await expect(all('a,b\n1,"2\n', 'csv')).rejects.toThrow(/never closed/);
  });

  it('reads JSON lines, skipping blank lines and keeping line numbers', async () => {
    expect(await all('{"item":"P1","quantity":2}\n\n{"item":"BOX","quantity":1.5}\n', 'jsonl')).toEqual([
      { line: 1, fields: { item: 'P1', quantity: 2 } },
      { line: 3, fields: { item: 'BOX', quantity: 1.5 } },
    ]);
  });

  it('names the line that is not a JSON object', async () => {
    await expect(all('{"a":1}\n[1,2]\n', 'jsonl')).rejects.toThrow(new RecordSyntaxError(2, 'not a JSON object'));
  });

  it('stops at a line longer than the record limit, naming it', async () => {
    const long = 'x'.repeat(MAX_RECORD_CHARS + 10);
    await expect(all(`{"a":1}\n${long}`, 'jsonl', 64 * 1024)).rejects.toThrow(new RecordSyntaxError(2, `a record longer than ${MAX_RECORD_CHARS} characters`));
  });

  it('stops at a quoted CSV field that spans lines past the record limit, naming the line it starts on', async () => {
    const lines = Array.from({ length: 40 }, () => 'y'.repeat(MAX_RECORD_CHARS / 32)).join('\n');
    await expect(all(`a,b\n1,2\n3,"${lines}"\n`, 'csv', 64 * 1024)).rejects.toThrow(new RecordSyntaxError(3, `a record longer than ${MAX_RECORD_CHARS} characters`));
  });

  it('refuses bytes that are not UTF-8', async () => {
    async function* bad(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array([0x61, 0x0a, 0xff, 0x0a]);
    }
    const out = async () => {
      for await (const r of readRecords(bad(), 'csv')) void r;
    };
    await expect(out()).rejects.toThrow();
  });
});
