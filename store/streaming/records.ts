/**
 * Records read from a request body as it arrives, never the whole body at
 * once: CSV (RFC 4180, a header line naming the fields) or JSON lines (one
 * object per line). Each record comes with its line number, so a bad line is
 * reported where the sender can find it. A field is text, or, in JSON lines,
 * whatever JSON value the sender gave.
 */
export type RecordFormat = 'csv' | 'jsonl';

export interface NumberedRecord {
  line: number;
  fields: Record<string, unknown>;
}

export class RecordSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** The format a Content-Type names, or undefined for one this reader does not take. */
export function formatOf(contentType: string | undefined): RecordFormat | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/csv') return 'csv';
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/json-lines') return 'jsonl';
  return undefined;
}

/**
 * The records of a body in the batches they arrive in (about one network
 * chunk each), so a reader pays one await per chunk instead of one per
 * record. A reader that stops on a bad record first hands on the good
 * records before it in the same chunk.
 */
export async function* readRecordBatches(body: AsyncIterable<Uint8Array>, format: RecordFormat): AsyncGenerator<NumberedRecord[]> {
  const reader = format === 'jsonl' ? new JsonLinesReader() : new CsvReader();
  for await (const lines of lineBatches(body)) {
    const batch: NumberedRecord[] = [];
    try {
      for (const text of lines) {
        const record = reader.read(text);
        if (record) batch.push(record);
      }
    } catch (e) {
      if (batch.length > 0) yield batch;
      throw e;
    }
    if (batch.length > 0) yield batch;
  }
  reader.end();
}

/** The records of a body one by one. */
export async function* readRecords(body: AsyncIterable<Uint8Array>, format: RecordFormat): AsyncGenerator<NumberedRecord> {
  for await (const batch of readRecordBatches(body, format)) yield* batch;
}

/**
 * The longest record a sender may send, in characters: one line, or a CSV
 * record whose quoted fields span lines. Past it the reading stops, so one
 * endless line or field cannot fill the server's memory.
 */
export const MAX_RECORD_CHARS = 1 << 20;

/** The complete lines of each chunk, without their line ends. */
async function* lineBatches(body: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  let lines = 0;
  for await (const chunk of body) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const batch: string[] = [];
    let from = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', from)) >= 0) {
      batch.push(withoutCr(text.slice(from, nl)));
      from = nl + 1;
    }
    rest = text.slice(from);
    lines += batch.length;
    if (batch.length > 0) yield batch;
    if (rest.length > MAX_RECORD_CHARS) throw tooLong(lines + 1);
  }
  rest += decoder.decode();
  if (rest.length > 0) yield [withoutCr(rest)];
}

const withoutCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

interface LineReader {
  /** The record a line completes, if any. */
  read(text: string): NumberedRecord | undefined;
  /** Called after the last line: throws if the body ended in the middle of a record. */
  end(): void;
}

class JsonLinesReader implements LineReader {
  private line = 0;

  read(text: string): NumberedRecord | undefined {
    this.line++;
    if (text.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new RecordSyntaxError(this.line, 'not a JSON object');
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new RecordSyntaxError(this.line, 'not a JSON object');
    return { line: this.line, fields: value as Record<string, unknown> };
  }

  end(): void {}
}

/**
 * CSV: fields separated by commas, quoted with double quotes when they hold
 * a comma, a quote (doubled) or a line break; a quoted field may span lines,
 * and the record keeps the number of the line it starts on.
 */
class CsvReader implements LineReader {
  private header: string[] | undefined;
  /** A header naming __proto__: assigning it would set the record's prototype, so such records are built from entries. */
  private protoField = false;
  private line = 0;
  private start = 0;
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  private inQuotes = false;
  private length = 0;

  read(text: string): NumberedRecord | undefined {
    this.line++;
    if (!this.inQuotes) {
      this.start = this.line;
      this.fields = [];
      this.field = '';
      this.quoted = false;
      this.length = 0;
      if (text === '') return undefined;
    } else {
      this.field += '\n';
    }
    this.length += text.length + 1;
    if (this.length > MAX_RECORD_CHARS) throw tooLong(this.start);
    // Most lines quote nothing: split them at once instead of character by character.
    if (!this.inQuotes && !text.includes('"')) this.fields = text.split(',');
    else if (!this.scan(text)) return undefined;
    return this.record();
  }

  end(): void {
    if (this.inQuotes) throw new RecordSyntaxError(this.start, 'a quoted field is never closed');
    if (!this.header) throw new RecordSyntaxError(1, 'the file is empty: a CSV starts with a header line');
  }

  /** Reads a line with quotes into the record's fields; false while a quoted field continues on the next line. */
  private scan(text: string): boolean {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.inQuotes) {
        if (ch === '"' && text[i + 1] === '"') {
          this.field += '"';
          i++;
        } else if (ch === '"') {
          this.inQuotes = false;
        } else {
          this.field += ch;
        }
      } else if (ch === '"') {
        if (this.field !== '' || this.quoted) throw new RecordSyntaxError(this.line, 'a quote inside an unquoted field');
        this.inQuotes = true;
        this.quoted = true;
      } else if (ch === ',') {
        this.fields.push(this.field);
        this.field = '';
        this.quoted = false;
      } else {
        if (this.quoted) throw new RecordSyntaxError(this.line, 'text after a closing quote');
        this.field += ch;
      }
    }
    if (this.inQuotes) return false;
    this.fields.push(this.field);
    return true;
  }

  private record(): NumberedRecord | undefined {
    const fields = this.fields;
    if (!this.header) {
      this.header = fields.map((f) => f.trim());
      this.protoField = this.header.includes('__proto__');
      if (this.header.some((h) => h === '') || new Set(this.header).size !== this.header.length) {
        throw new RecordSyntaxError(this.start, 'the header names each field once');
      }
      return undefined;
    }
    const header = this.header;
    if (fields.length !== header.length) throw new RecordSyntaxError(this.start, `${fields.length} fields where the header names ${header.length}`);
    if (this.protoField) return { line: this.start, fields: Object.fromEntries(header.map((h, i) => [h, fields[i]])) };
    const record: Record<string, unknown> = {};
    for (let i = 0; i < header.length; i++) record[header[i]!] = fields[i];
    return { line: this.start, fields: record };
  }
}

function tooLong(line: number): RecordSyntaxError {
  return new RecordSyntaxError(line, `a record longer than ${MAX_RECORD_CHARS} characters`);
}
