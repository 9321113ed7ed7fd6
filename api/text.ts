import { z } from '@hono/zod-openapi';

/**
 * Text the API accepts. PostgreSQL cannot store NUL, and a lone UTF-16
 * surrogate would be stored as a replacement character, so both are refused
 * here with a clear message instead of failing (or silently changing) in the
 * database. Codes and labels take no control characters at all; free text
 * (reasons) may hold tabs and line breaks.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Text without the control characters `control` names, and valid Unicode. */
function safe(text: z.ZodString, control: RegExp) {
  return text
    .refine((s) => !control.test(s), 'control characters (such as NUL) are not allowed')
    .refine((s) => !LONE_SURROGATE.test(s), 'the text is not valid Unicode (lone surrogate)');
}

/** Identifies master data (warehouse, zone, location, item, device, reason): 1 to `max` characters, no control characters. */
export function code(max = 100) {
  return safe(z.string().trim().min(1).max(max), CONTROL);
}

/** An optional attribute of a stock position (lot, serial, handling unit, owner): up to `max` characters, no control characters. */
export function label(max = 100) {
  return safe(z.string().max(max), CONTROL);
}

/** Free text a person writes (a reason): 1 to `max` characters; tabs and line breaks allowed, other control characters not. */
export function freeText(max = 500) {
  return safe(z.string().trim().min(1).max(max), CONTROL_BUT_LINE_BREAKS);
}

/** A comma-separated list of codes in a query string. */
export function codeList() {
  return safe(z.string().max(10_000), CONTROL);
}

/**
 * A record whose keys are codes (blocking reasons, item codes). Zod's own
 * key check says only "Invalid key in record" and echoes the key; this says
 * what a key must be, without repeating the offending text.
 */
export function keyedByCode<V extends z.ZodTypeAny>(values: V, what: string, max = 100) {
  const key = code(max);
  return z.record(z.string(), values).superRefine((record, ctx) => {
    if (Object.keys(record).some((k) => !key.safeParse(k).success || k !== k.trim())) {
      ctx.addIssue({ code: 'custom', message: `${what} must be 1 to ${max} characters, without control characters (such as NUL) or lone surrogates` });
    }
  });
}
