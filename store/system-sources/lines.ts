import { createHash } from 'node:crypto';
import { decimalPlaces } from '../../domain/decimal';
import { MAX_COUNTED_QUANTITY } from '../../domain/quantity-bounds';
import { RecordSyntaxError, type NumberedRecord } from '../streaming/records';

/**
 * What the streamed uploads of external systems (levels, interface messages,
 * movements) share: reading a record's fields with a problem per bad field,
 * the list of bad lines a refusal carries (the first 1,000 and the total),
 * and the hash of a body computed as it streams by.
 */

/** Bad lines a refusal names; the total says how many there were in all. */
export const MAX_REPORTED_LINES = 1_000;

export interface LineProblem {
  line: number;
  problem: string;
}

/** Bad lines in line order: the first MAX_REPORTED_LINES kept, every one counted. */
export class LineProblems {
  readonly first: LineProblem[] = [];
  total = 0;

  add(line: number, problem: string): void {
    this.total++;
    if (this.first.length < MAX_REPORTED_LINES) this.first.push({ line, problem });
  }

  /**
   * These problems and those a set-based check found (in line order, at most
   * MAX_REPORTED_LINES of `total`), as one list in line order. A line never
   * has both: a line with a problem of its own is not stored, so SQL never sees it.
   */
  merged(fromSql: LineProblem[], sqlTotal: number): { lines: LineProblem[]; total: number } {
    const lines = [...this.first, ...fromSql].sort((a, b) => a.line - b.line).slice(0, MAX_REPORTED_LINES);
    return { lines, total: this.total + sqlTotal };
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DECIMAL = /^[+-]?\d{1,20}(\.\d{1,20})?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The fields of one record, read one by one; each bad field adds a problem
 * in words the sender can act on (never echoing a value that may hold
 * control characters). CSV gives text; JSON lines may give numbers.
 */
export class FieldReader {
  readonly problems: string[] = [];

  constructor(private readonly fields: Record<string, unknown>) {}

  private raw(name: string): unknown {
    const v = this.fields[name];
    return v === null || v === undefined || v === '' ? undefined : v;
  }

  /** A code (item, warehouse, status ...): 1 to `max` characters, no control characters; '' when optional and absent. */
  code(name: string, opts: { optional?: boolean; max?: number } = {}): string {
    const max = opts.max ?? 100;
    const v = this.raw(name);
    if (v === undefined) {
      if (!opts.optional) this.problems.push(`${name} is missing`);
      return '';
    }
    if (typeof v !== 'string') {
      this.problems.push(`${name} must be text`);
      return '';
    }
    const s = v.trim();
    if (s === '' && !opts.optional) this.problems.push(`${name} is missing`);
    else if (s.length > max) this.problems.push(`${name} is longer than ${max} characters`);
    else if (CONTROL.test(s) || LONE_SURROGATE.test(s)) this.problems.push(`${name} holds control characters or is not valid Unicode`);
    else return s;
    return '';
  }

  /**
   * A quantity as exact decimal text for PostgreSQL: at most 4 decimals, at
   * most MAX_COUNTED_QUANTITY in size; `signed` allows negative numbers.
   */
  quantity(name: string, opts: { signed: boolean }): string {
    const v = this.raw(name);
    if (v === undefined) {
      this.problems.push(`${name} is missing`);
      return '0';
    }
    let text: string;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        this.problems.push(`${name} must be a number`);
        return '0';
      }
      if (decimalPlaces(v) > 4) {
        this.problems.push(`${name} has more than 4 decimals`);
        return '0';
      }
      text = String(v);
    } else if (typeof v === 'string' && DECIMAL.test(v.trim())) {
      text = v.trim();
      if ((text.split('.')[1] ?? '').length > 4) {
        this.problems.push(`${name} has more than 4 decimals`);
        return '0';
      }
    } else {
      this.problems.push(`${name} must be a number`);
      return '0';
    }
    const n = Number(text);
    if (!opts.signed && n < 0) this.problems.push(`${name} must not be negative`);
    else if (Math.abs(n) > MAX_COUNTED_QUANTITY) this.problems.push(`${name} must be at most ${MAX_COUNTED_QUANTITY} in size`);
    else return text;
    return '0';
  }

  /** An ISO 8601 time with a time zone (2024-05-01T10:00:00Z); null when optional and absent. */
  time(name: string, opts: { optional?: boolean } = {}): string | null {
    const v = this.raw(name);
    if (v === undefined) {
      if (!opts.optional) this.problems.push(`${name} is missing`);
      return null;
    }
    if (typeof v !== 'string' || !ISO_TIME.test(v.trim()) || Number.isNaN(Date.parse(v.trim()))) {
      this.problems.push(`${name} must be an ISO 8601 time with a time zone, e.g. 2024-05-01T10:00:00Z`);
      return null;
    }
    return new Date(v.trim()).toISOString();
  }

  /** One of `values`. */
  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const v = this.raw(name);
    if (typeof v === 'string' && (values as readonly string[]).includes(v.trim())) return v.trim() as T;
    this.problems.push(v === undefined ? `${name} is missing` : `${name} must be one of ${values.join(', ')}`);
    return values[0]!;
  }
}

/** A body whose SHA-256 is computed as it streams by; `digest()` once it was read to the end. */
export function hashedBody(body: AsyncIterable<Uint8Array>): { chunks: AsyncIterable<Uint8Array>; digest: () => string } {
  const hash = createHash('sha256');
  let digest: string | undefined;
  return {
    chunks: (async function* () {
      for await (const chunk of body) {
        hash.update(chunk);
        yield chunk;
      }
    })(),
    digest: () => (digest ??= hash.digest('hex')),
  };
}

/** A record stream's problem that is the sender's (a syntax error, text that is not UTF-8), or undefined for any other failure. */
export function senderProblem(e: unknown): LineProblem | undefined {
  if (e instanceof RecordSyntaxError) return { line: e.line, problem: e.message.replace(/^line \d+: /, '') };
  if (e instanceof TypeError && (e as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
    return { line: 0, problem: 'the body is not UTF-8 text' };
  }
  return undefined;
}

/**
 * Reads every record, turns each into a line with `read` and stages the good
 * ones in batches of `batchSize`; a line's problem, and a syntax error that
 * ends the stream, go to the problems. How many records there were.
 */
export async function stageRecords<L>(
  records: AsyncIterable<NumberedRecord>,
  read: (record: NumberedRecord) => L | { problem: string },
  stage: (batch: L[]) => Promise<void>,
  opts: { problems: LineProblems; batchSize: number },
): Promise<number> {
  let lines = 0;
  let batch: L[] = [];
  const flush = async () => {
    if (batch.length > 0) await stage(batch);
    batch = [];
  };
  try {
    for await (const record of records) {
      lines++;
      const line = read(record);
      if (typeof line === 'object' && line !== null && 'problem' in line) opts.problems.add(record.line, line.problem);
      else batch.push(line);
      if (batch.length >= opts.batchSize) await flush();
    }
  } catch (e) {
    const p = senderProblem(e);
    if (!p) throw e;
    opts.problems.add(p.line, p.problem);
  }
  await flush();
  return lines;
}

/** Reads what is left of a record stream (to hash the whole body); a syntax error ends it early. */
export async function drain(records: AsyncIterable<NumberedRecord>): Promise<void> {
  try {
    const it = records[Symbol.asyncIterator]();
    // Nothing is kept: the body is read for its hash.
    while (!(await it.next()).done);
  } catch (e) {
    if (!senderProblem(e)) throw e;
  }
}

/** The body's hash: given, or computed once the body was read. */
export type HashOf = string | (() => string);
export const hashOf = (h: HashOf): string => (typeof h === 'function' ? h() : h);
