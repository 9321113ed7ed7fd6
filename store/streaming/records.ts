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

export async function* readRecords(body: AsyncIterable<Uint8Array>, format: RecordFormat): AsyncGenerator<NumberedRecord> {
  if (format === 'jsonl') yield* jsonLines(body);
  else yield* csvRecords(body);
}

/**
 * The longest record a sender may send, in characters: one line, or a CSV
 * record whose quoted fields span lines. Past it the reading stops, so one
 * endless line or field cannot fill the server's memory.
 */
export const MAX_RECORD_CHARS = 1 << 20;

async function* textLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  let lines = 0;
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      lines++;
      yield rest.slice(0, nl).replace(/\r$/, '');
      rest = rest.slice(nl + 1);
    }
    if (rest.length > MAX_RECORD_CHARS) throw tooLong(lines + 1);
  }
  rest += decoder.decode();
  if (rest.length > 0) yield rest.replace(/\r$/, '');
}

async function* jsonLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<NumberedRecord> {
  let line = 0;
  for await (const text of textLines(body)) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new RecordSyntaxError(line, 'not a JSON object');
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new RecordSyntaxError(line, 'not a JSON object');
    yield { line, fields: value as Record<string, unknown> };
  }
}

/**
 * CSV: fields separated by commas, quoted with double quotes when they hold
 * a comma, a quote (doubled) or a line break; a quoted field may span lines,
 * and the record keeps the number of the line it starts on.
 */
async function* csvRecords(body: AsyncIterable<Uint8Array>): AsyncGenerator<NumberedRecord> {
  let header: string[] | undefined;
  let line = 0;
  let start = 0;
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  let length = 0;
  for await (const text of textLines(body)) {
    line++;
    if (!inQuotes) {
      start = line;
      fields = [];
      field = '';
      quoted = false;
      length = 0;
      if (text === '') continue;
    } else {
      field += '\n';
    }
    length += text.length + 1;
    if (length > MAX_RECORD_CHARS) throw tooLong(start);
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (inQuotes) {
        if (ch === '"' && text[i + 1] === '"') {
          field += '"';
          i++;
        } else if (ch === '"') {
          inQuotes = false;
        } else {
          field += ch;
        }
      } else if (ch === '"') {
        if (field !== '' || quoted) throw new RecordSyntaxError(line, 'a quote inside an unquoted field');
        inQuotes = true;
        quoted = true;
      } else if (ch === ',') {
        fields.push(field);
        field = '';
        quoted = false;
      } else {
        if (quoted) throw new RecordSyntaxError(line, 'text after a closing quote');
        field += ch;
      }
    }
    if (inQuotes) continue;
    fields.push(field);
    if (!header) {
      header = fields.map((f) => f.trim());
      if (header.some((h) => h === '') || new Set(header).size !== header.length) throw new RecordSyntaxError(start, 'the header names each field once');
      continue;
    }
    if (fields.length !== header.length) throw new RecordSyntaxError(start, `${fields.length} fields where the header names ${header.length}`);
    yield { line: start, fields: Object.fromEntries(header.map((h, i) => [h, fields[i]])) };
  }
  if (inQuotes) throw new RecordSyntaxError(start, 'a quoted field is never closed');
  if (!header) throw new RecordSyntaxError(1, 'the file is empty: a CSV starts with a header line');
}

function tooLong(line: number): RecordSyntaxError {
  return new RecordSyntaxError(line, `a record longer than ${MAX_RECORD_CHARS} characters`);
}
