import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { decimalPlaces } from '../domain/decimal';
import { LineTooLong } from '../store/imports/body';
import { formatOf, RecordSyntaxError, type NumberedRecord, type RecordFormat } from '../store/streaming/records';
import { Problem } from './problem';
import { code, label } from './text';

/**
 * The fields of bodies sent as lines (CSV with a header line, or JSON lines):
 * stock and master-data loads (routes/imports.ts) and files of count entries
 * (routes/entry-files.ts). A field comes as CSV text or as the JSON value,
 * and is read the same from either. Each line is checked on its own and
 * answered by number with what is wrong with it.
 */

/** A number as JSON gives it, or as CSV text (digits, an optional fraction; no sign, no exponent). */
const DECIMAL_TEXT = /^\d+(?:\.\d+)?$/;

function fractionDigits(text: string): number {
  return (text.split('.')[1] ?? '').replace(/0+$/, '').length;
}

/** A non-negative decimal number with at most `decimals` decimals (and above 0 when `positive`), up to `max`. */
export function decimal(opts: { decimals: number; max?: number; positive?: boolean }) {
  return z.unknown().transform((v, ctx) => {
    let n: number;
    if (typeof v === 'number') {
      n = v;
    } else if (typeof v === 'string' && DECIMAL_TEXT.test(v.trim())) {
      if (fractionDigits(v.trim()) > opts.decimals) {
        ctx.addIssue({ code: 'custom', message: `at most ${opts.decimals} decimals` });
        return z.NEVER;
      }
      n = Number(v.trim());
    } else {
      ctx.addIssue({ code: 'custom', message: v === undefined || v === '' || v === null ? 'required' : 'a number such as 12 or 2.5 (no sign, no exponent)' });
      return z.NEVER;
    }
    const problem = !Number.isFinite(n) || n < 0 ? 'must be 0 or more'
      : opts.positive && n === 0 ? 'must be above 0'
      : opts.max !== undefined && n > opts.max ? `at most ${opts.max}`
      : decimalPlaces(n) > opts.decimals ? `at most ${opts.decimals} decimals`
      : undefined;
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return n;
  });
}

/**
 * A field that may be left out: absent comes in as null. (An object schema
 * takes a missing key only for optional or preprocessed fields.)
 */
export const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === undefined ? null : v), schema);

/** An optional attribute (lot, serial, handling unit, owner, description): absent, null and empty are ''. */
export const optionalLabel = (max = 100) => z.preprocess((v) => v ?? '', label(max));

export const quantity = decimal({ decimals: 4 });
const REASON = code(50);

/**
 * Blocked quantities per reason: in JSON lines an object `{"damaged": 2}`, in
 * CSV the text `damaged=2;quality=1` (a reason holds neither `=` nor `;`).
 * Absent or empty: no blockings.
 */
const blockedQuantities = z.unknown().transform((v, ctx) => {
  if (v === undefined || v === null || v === '') return {};
  let entries: Array<[string, unknown]>;
  if (typeof v === 'string') {
    entries = [];
    for (const part of v.split(';')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) {
        ctx.addIssue({ code: 'custom', message: 'write blockings as reason=quantity;reason=quantity' });
        return z.NEVER;
      }
      entries.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  } else if (typeof v === 'object' && !Array.isArray(v)) {
    entries = Object.entries(v as Record<string, unknown>);
  } else {
    ctx.addIssue({ code: 'custom', message: 'an object of blocked quantities by reason, such as {"damaged": 2}' });
    return z.NEVER;
  }
  const out = new Map<string, number>();
  for (const [reason, q] of entries) {
    if (!REASON.safeParse(reason).success || reason !== reason.trim()) {
      ctx.addIssue({ code: 'custom', message: 'a blocking reason must be 1 to 50 characters, without control characters (such as NUL) or lone surrogates' });
      return z.NEVER;
    }
    if (out.has(reason)) {
      ctx.addIssue({ code: 'custom', message: `reason ${reason} is given twice` });
      return z.NEVER;
    }
    const parsed = quantity.safeParse(q);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: `${reason}: ${parsed.error.issues[0]?.message ?? 'not a quantity'}` });
      return z.NEVER;
    }
    out.set(reason, parsed.data);
  }
  return Object.fromEntries(out);
});
export const blocked = optional(blockedQuantities);

/** The request body of a route that takes lines, for the OpenAPI document: `record` names what one line holds. */
export function linesBody(record: string) {
  return {
    required: true,
    content: {
      'text/csv': { schema: z.unknown().openapi({ description: `A header line naming the fields, then one line per ${record} (RFC 4180)` }) },
      'application/x-ndjson': { schema: z.unknown().openapi({ description: `One JSON object per ${record}` }) },
    },
  };
}

/** How a body of lines is written, by its Content-Type: CSV or JSON lines; any other type is refused with 415. */
export function lineFormatOf(c: Context): RecordFormat {
  const format = formatOf(c.req.header('content-type'));
  if (!format) {
    throw new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'send text/csv (a header line naming the fields, then one line each) or application/x-ndjson (one JSON object per line)');
  }
  return format;
}

/** A header naming a request (Import-Id, Submission-Id): 1 to 200 visible ASCII characters, as Idempotency-Key. */
const REQUEST_NAME = /^[\x21-\x7e]{1,200}$/;

/** A request name as sent in its header, trimmed, or undefined when it is missing or not 1 to 200 visible ASCII characters. */
export function requestName(value: string | undefined): string | undefined {
  const id = value?.trim();
  return id !== undefined && REQUEST_NAME.test(id) ? id : undefined;
}

/** A line read: its row, or what is wrong with it. */
export type ParsedRecord<T> = { line: number; row: T } | { line: number; problem: string };

const MAX_PROBLEM_CHARS = 300;

/** One record checked against the fields of its line: the row, or what is wrong with it in words. */
export function parseRecord<T>(schema: z.ZodType<T>, record: NumberedRecord): ParsedRecord<T> {
  const parsed = schema.safeParse(record.fields);
  if (parsed.success) return { line: record.line, row: parsed.data };
  const problem = parsed.error.issues
    .slice(0, 3)
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
      const field = String(issue.path[0] ?? '');
      const missing = record.fields[field] === undefined && issue.code === 'invalid_type';
      return `${field}: ${missing ? 'required' : issue.message}`;
    })
    .join('; ');
  return { line: record.line, problem: problem.length > MAX_PROBLEM_CHARS ? `${problem.slice(0, MAX_PROBLEM_CHARS)}...` : problem };
}

/**
 * The lines of a body, checked one by one, in the batches the reader gives. A
 * line the reader cannot read at all (a malformed CSV line, a JSON line that
 * is not an object, text that is not UTF-8, a line over 1 MiB) ends the
 * reading: it is the last line reported.
 */
export async function* parseRecords<T>(schema: z.ZodType<T>, records: AsyncIterable<NumberedRecord[]>): AsyncGenerator<Array<ParsedRecord<T>>> {
  let last = 0;
  try {
    for await (const batch of records) {
      last = batch[batch.length - 1]!.line;
      yield batch.map((record) => parseRecord(schema, record));
    }
  } catch (e) {
    const stop = ' (the body was read up to this line)';
    if (e instanceof RecordSyntaxError) yield [{ line: e.line, problem: e.message.replace(/^line \d+: /, '') + stop }];
    else if (e instanceof LineTooLong) yield [{ line: e.line, problem: e.message + stop }];
    else if (isNotUtf8(e)) yield [{ line: last + 1, problem: 'the text is not valid UTF-8 (at or after this line; the body was read up to here)' }];
    else throw e;
  }
}

function isNotUtf8(e: unknown): boolean {
  return e instanceof TypeError && (e as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA';
}
