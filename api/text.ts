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

/*
 * The same rules as JSON Schema patterns, for the OpenAPI document: a
 * character class of the refused controls, and of what String.trim()
 * removes. Spelled as \u escapes, so ECMAScript and Python read them alike.
 * (Lone surrogates are refused too, but a pattern cannot say so portably:
 * a JSON string that holds one is not valid Unicode to begin with.)
 */
const CONTROL_CLASS = '\\u0000-\\u001f\\u007f-\\u009f';
const CONTROL_BUT_LINE_BREAKS_CLASS = '\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f';
const TRIMMED_CLASS = ' \\t\\n\\r\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/** Nothing refused. */
const free = (refused: string) => `^[^${refused}]*$`;
/** Nothing refused, and something left after trimming. */
const notBlank = (refused: string) => `^[^${refused}]*[^${refused}${TRIMMED_CLASS}][^${refused}]*$`;

/**
 * Lengths in characters (code points), as PostgreSQL's varchar and JSON
 * Schema's maxLength count them; String.length would count an emoji twice.
 * Checked before trimming, so the bound is the one the document states.
 */
function characters(max: number) {
  // Code points never outnumber UTF-16 units: only a long string is split to count them (every field of every line passes here).
  return z.string().refine((s) => s.length <= max || [...s].length <= max, `at most ${max} characters`);
}

/** Text without the control characters `control` names, and valid Unicode. */
function safe(text: z.ZodString, control: RegExp) {
  return text
    .refine((s) => !control.test(s), 'control characters (such as NUL) are not allowed')
    .refine((s) => !LONE_SURROGATE.test(s), 'the text is not valid Unicode (lone surrogate)');
}

/** Identifies master data (warehouse, zone, location, item, device, reason): 1 to `max` characters, no control characters. */
export function code(max = 100) {
  // Checked before trimming: trim() would silently strip a control character (a vertical tab, a form feed) at either end.
  return safe(characters(max), CONTROL).trim().refine((s) => s.length > 0, 'must not be blank').openapi({
    minLength: 1,
    maxLength: max,
    pattern: notBlank(CONTROL_CLASS),
  });
}

/** An optional attribute of a stock position (lot, serial, handling unit, owner): up to `max` characters, no control characters. */
export function label(max = 100) {
  return safe(characters(max), CONTROL).openapi({ maxLength: max, pattern: free(CONTROL_CLASS) });
}

/** Free text a person writes (a reason): 1 to `max` characters; tabs and line breaks allowed, other control characters not. */
export function freeText(max = 500) {
  return safe(characters(max), CONTROL_BUT_LINE_BREAKS).trim().refine((s) => s.length > 0, 'must not be blank').openapi({
    minLength: 1,
    maxLength: max,
    pattern: notBlank(CONTROL_BUT_LINE_BREAKS_CLASS),
  });
}

/** A comma-separated list of codes in a query string: short enough that the URL stays within the server's header limit. */
export function codeList() {
  return safe(characters(1_000), CONTROL).openapi({ maxLength: 1_000, pattern: free(CONTROL_CLASS) });
}

/** A code as a record key: as code(), and without spaces around it (a key is not trimmed). */
const KEY_PATTERN = `^[^${CONTROL_CLASS}${TRIMMED_CLASS}]([^${CONTROL_CLASS}]*[^${CONTROL_CLASS}${TRIMMED_CLASS}])?$`;

/**
 * A record whose keys are codes (blocking reasons, item codes). Zod's own
 * key check says only "Invalid key in record" and echoes the key; this says
 * what a key must be, without repeating the offending text.
 */
export function keyedByCode<V extends z.ZodTypeAny>(values: V, what: string, max = 100) {
  const key = code(max);
  return z
    .record(z.string(), values)
    .superRefine((record, ctx) => {
      if (Object.keys(record).some((k) => !key.safeParse(k).success || k !== k.trim())) {
        ctx.addIssue({ code: 'custom', message: `${what} must be 1 to ${max} characters, without control characters (such as NUL) or lone surrogates` });
      }
    })
    // propertyNames is JSON Schema (OpenAPI 3.1), which the metadata type of this library does not list.
    .openapi({ propertyNames: { type: 'string', minLength: 1, maxLength: max, pattern: KEY_PATTERN } } as object);
}
