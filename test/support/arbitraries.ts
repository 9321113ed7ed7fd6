import fc from 'fast-check';

/**
 * Generators of input the API must refuse (or, for text that is odd but
 * valid, must carry without harm), for the property tests. Every generator
 * here yields a value that no field of the API accepts where it is put,
 * unless its name says it is valid.
 */

/** Text a code or label field must refuse: it carries a NUL, a control character or a lone surrogate somewhere. */
export const badText: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ maxLength: 20 }),
    fc.constantFrom(
      '\u0000', '\u0001', '\u0007', '\u0008', '\u000b', '\u000c', '\u001b', '\u001f', '\u007f', '\u0085', '\u009f',
      '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uDC00\uD800',
    ),
    fc.string({ maxLength: 20 }),
  )
  .map(([before, bad, after]) => before + bad + after)
  // Halves of a surrogate pair around the bad one would make it a valid pair again.
  .filter((s) => /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s));

/** Far over every text bound the API has (the largest is a few thousand characters): 1 MiB of one character. */
export const hugeText: fc.Arbitrary<string> = fc.constantFrom('x', 'é', '\u202e', '7').map((c) => c.repeat(1 << 20));

/**
 * Valid Unicode that is still odd: right-to-left overrides and marks,
 * combining marks on nothing, zero-width characters, non-BMP emoji, digits
 * (a number as a string). Accepted as text; harmless wherever it is refused.
 */
export const oddValidText: fc.Arbitrary<string> = fc
  .array(
    fc.constantFrom('\u202e', '\u200f', '\u061c', '\u0301', '\u0336', '\u200b', '\ufeff', '\u{1F600}', 'א', 'ع', '12', '-1', '1e309', 'NaN', ' ', 'x'),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => `p${parts.join('')}`);

/** A value of the wrong type or range for any JSON number the API takes (all are non-negative and bounded). */
export const badNumber: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  '1', '0', '1e3', -1, -0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER * 4, true, null, [], {}, [1], { value: 1 },
);

/** A value of the wrong type for any JSON string the API takes, or text it must refuse. */
export const badString: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: badText },
  { weight: 1, arbitrary: hugeText },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(1, 0, -1, true, false, null, [], {}, ['x'], { text: 'x' }) },
);

/** Numbers that JSON can spell but a double cannot hold exactly or at all (written into raw bodies as they are). */
export const rawBadNumber: fc.Arbitrary<string> = fc.constantFrom('1e400', '-1e400', '-0.0000000001', '123456789012345678901234567890', '1.00000001', '-1');

/** Path segments that are no id of anything: nonsense, out of range, of the wrong kind; percent-encoded as they go into a URL. */
export const strangeSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    // Numeric ids are read leniently (' 7', '0x7' and '7e0' are 7), so the spellings here name no existing id either way.
    '0', '-1', '1.5', '1e9', '9007199254740993', '99999999999999999999999', 'NaN', 'Infinity', '0x7FFFFFFF', ' 99999', 'null', 'true',
    '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-4fff-bfff-ffffffffffff', 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
    '..', '%2e%2e', '%2F', '%00', '%ED%A0%80', '%C0%AF', 'x'.repeat(300),
  ),
  badText.map(encodeURIComponentLenient),
  fc.uuid({ version: 4 }),
);

/** Percent-encodes text, a lone surrogate as the (invalid) UTF-8 bytes a client could still send for it. */
export function encodeURIComponentLenient(s: string): string {
  const hex = (b: number) => `%${b.toString(16).toUpperCase()}`;
  return s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S]/g, (c) => {
    const unit = c.charCodeAt(0);
    if (c.length === 1 && unit >= 0xd800 && unit <= 0xdfff) return hex(0xed) + hex(0x80 | ((unit >> 6) & 0x3f)) + hex(0x80 | (unit & 0x3f));
    return encodeURIComponent(c);
  });
}

/** Where a value sits in a JSON document: keys and indexes from the root. */
export type JsonPath = Array<string | number>;

/** Every leaf (string, number, boolean) of a JSON value, with its path. */
export function leavesOf(value: unknown, path: JsonPath = []): Array<{ path: JsonPath; value: string | number | boolean }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => leavesOf(v, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leavesOf(v, [...path, k]));
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [{ path, value }];
  return [];
}

/** A copy of `value` with the value at `path` replaced. */
export function replaceAt(value: unknown, path: JsonPath, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replaceAt(v, rest, replacement) : v));
  const object = value as Record<string, unknown>;
  return { ...object, [head!]: replaceAt(object[head as string], rest, replacement) };
}

/** A value nested `depth` levels deep, as JSON text (arrays or objects), built without recursion. */
export function deeplyNested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}
