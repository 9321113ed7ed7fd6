/**
 * Signed manager decisions.
 *
 * Decisions reach the reconciliation workflow as Temporal Updates sent by the
 * API, but anyone who can reach the Temporal frontend could send one directly,
 * with any user and role in it. So the API signs each decision with a key only
 * it and the worker hold, and the workflow's update validator refuses a decision
 * whose signature is missing, forged or stale before it enters history.
 *
 * The MAC covers the workflow id and update name as well as the arguments, so
 * a signed "approveRows" cannot be replayed as "deleteRows" or against another
 * reconciliation; and issuedAt, so a captured decision is only good for a few
 * minutes. Within that window the same decision can be sent again: the
 * Idempotency-Key (args.request) and update ids are what stop it applying twice.
 *
 * Everything here is pure (it runs in the workflow sandbox): no clock, the
 * caller passes `now`.
 */
import { equalBytes, fromHex, hmacSha256, toHex, utf8 } from './sha256';

export interface DecisionSignature {
  /** Epoch milliseconds at which the API signed the decision. */
  issuedAt: number;
  /** HMAC-SHA256 of decisionMessage(...), lower-case hex. */
  mac: string;
}

export interface DecisionToSign {
  workflowId: string;
  /** The update's name, e.g. 'approveRows'. */
  update: string;
  /** The update's argument object; a `signature` member in it is ignored. */
  args: unknown;
  issuedAt: number;
}

export type DecisionToVerify = Omit<DecisionToSign, 'issuedAt'>;

export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;

/** Below 32 bytes a key is weaker than the 256-bit MAC it produces. */
const MIN_KEY_BYTES = 32;

/**
 * Deterministic JSON, so the API and the workflow compute the MAC over the same
 * text however each side happened to build the object: object keys sorted
 * (by UTF-16 code units, as Array.prototype.sort does), `undefined` object
 * members dropped, arrays in order, numbers and strings as JSON.stringify
 * writes them.
 *
 * It signs what the workflow will see after the JSON payload round trip, so
 * values that JSON would silently change or drop (NaN, Infinity, functions,
 * symbols, Dates, Maps, class instances...) throw instead of being signed in
 * a form the workflow would never receive. Undefined and holes inside arrays
 * become null, as JSON.stringify makes them.
 */
export function canonicalJson(value: unknown): string {
  return write(value, []);
}

function write(value: unknown, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes lone surrogates (\udxxx), so the text is always well-formed.
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`canonicalJson cannot encode the number ${value}.`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      // undefined at the top level or in an array, function, symbol, bigint.
      throw new Error(`canonicalJson cannot encode a value of type ${typeof value}.`);
  }
  if (value === null) return 'null';
  if (ancestors.includes(value)) throw new Error('canonicalJson cannot encode a circular structure.');
  ancestors.push(value);
  let text: string;
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      items.push(item === undefined ? 'null' : write(item, ancestors));
    }
    text = `[${items.join(',')}]`;
  } else if (isPlainObject(value)) {
    const members: string[] = [];
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${write(member, ancestors)}`);
    }
    text = `{${members.join(',')}}`;
  } else {
    throw new Error(`canonicalJson cannot encode an instance of ${value.constructor?.name ?? 'an unknown class'}.`);
  }
  ancestors.pop();
  return text;
}

/**
 * A plain object from any realm: the workflow sandbox is a separate V8 context,
 * so its objects have a different Object.prototype from the API's.
 */
function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function withoutSignature(args: unknown): unknown {
  if (typeof args !== 'object' || args === null || Array.isArray(args) || !Object.hasOwn(args, 'signature')) return args;
  // fromEntries defines own properties, so even a "__proto__" member stays plain data.
  return Object.fromEntries(Object.entries(args).filter(([key]) => key !== 'signature'));
}

/** The exact text that is signed. `v` versions the format, so it can change without old MACs matching new text. */
export function decisionMessage(d: DecisionToSign): string {
  return canonicalJson({ v: 1, workflowId: d.workflowId, update: d.update, args: withoutSignature(d.args), issuedAt: d.issuedAt });
}

function requireKeyLength(key: Uint8Array): void {
  if (key.length < MIN_KEY_BYTES) throw new Error(`The decision signing key must be at least ${MIN_KEY_BYTES} bytes.`);
}

function mac(key: Uint8Array, d: DecisionToSign): Uint8Array {
  return hmacSha256(key, utf8(decisionMessage(d)));
}

/** Throws if the key is shorter than 32 bytes or args hold a value canonicalJson refuses. */
export function signDecision(key: Uint8Array, d: DecisionToSign): DecisionSignature {
  requireKeyLength(key);
  return { issuedAt: d.issuedAt, mac: toHex(mac(key, d)) };
}

/**
 * Undefined when `d.args.signature` is a MAC of this decision under `key`,
 * issued within ±maxSkewMs of `now`; otherwise the reason it is refused.
 * The args come off the wire, so nothing in them makes this throw; only a
 * key shorter than 32 bytes (a configuration error) does.
 */
export function verifyDecision(
  key: Uint8Array,
  d: DecisionToVerify,
  now: number,
  maxSkewMs: number = DEFAULT_MAX_SKEW_MS,
): string | undefined {
  requireKeyLength(key);
  const signature: unknown =
    typeof d.args === 'object' && d.args !== null && Object.hasOwn(d.args, 'signature')
      ? (d.args as { signature: unknown }).signature
      : undefined;
  if (signature === undefined || signature === null) return 'the decision is not signed';
  if (!isSignatureShaped(signature)) return 'the signature is malformed';

  let expected: Uint8Array;
  try {
    expected = mac(key, { ...d, issuedAt: signature.issuedAt });
  } catch {
    // Args the API could not have signed (canonicalJson refused them).
    return 'the signature does not match';
  }
  if (!equalBytes(expected, fromHex(signature.mac))) return 'the signature does not match';

  // Checked after the MAC, so only a genuine decision is told it is merely late.
  if (signature.issuedAt < now - maxSkewMs) return 'the signature has expired';
  if (signature.issuedAt > now + maxSkewMs) return 'the signature is dated in the future';
  return undefined;
}

function isSignatureShaped(value: unknown): value is DecisionSignature {
  if (typeof value !== 'object' || value === null) return false;
  const { issuedAt, mac } = value as Record<string, unknown>;
  return Number.isFinite(issuedAt) && typeof mac === 'string' && /^[0-9a-f]{64}$/.test(mac);
}

/**
 * Reads the shared signing key from configuration text: 64 or more hex
 * characters, or base64url (unpadded or padded) of 32 or more bytes.
 * Surrounding whitespace (a trailing newline from a key file) is ignored.
 * Text made only of hex digits is always read as hex.
 */
export function decodeKey(text: string): Uint8Array {
  const trimmed = text.trim();
  const problem = 'The decision signing key must be at least 64 hex characters or base64url text of at least 32 bytes';
  // All-hex text is read as hex even when it would also be valid base64url: a
  // short hex key must be refused, not silently accepted as a longer base64url key.
  // (A random base64url key of 32+ bytes is all hex digits with odds below 1e-19.)
  if (/^[0-9a-fA-F]+$/.test(trimmed)) {
    if (trimmed.length % 2 !== 0) throw new Error(`${problem}; it looks like hex but has an odd number of characters.`);
    if (trimmed.length < 2 * MIN_KEY_BYTES) throw new Error(`${problem}; it is hex of only ${trimmed.length / 2} bytes.`);
    return fromHex(trimmed);
  }
  const bytes = fromBase64Url(trimmed);
  if (bytes === undefined) throw new Error(`${problem}; it is neither hex nor valid base64url.`);
  if (bytes.length < MIN_KEY_BYTES) throw new Error(`${problem}; it decodes to only ${bytes.length} bytes.`);
  return bytes;
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** RFC 4648 §5; undefined unless the text is canonical base64url (unused trailing bits zero). */
function fromBase64Url(text: string): Uint8Array | undefined {
  const unpadded = text.replace(/={1,2}$/, '');
  if (unpadded !== text && text.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9_-]*$/.test(unpadded) || unpadded.length % 4 === 1) return undefined;

  const out = new Uint8Array(Math.floor((unpadded.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (const char of unpadded) {
    buffer = ((buffer << 6) | BASE64URL_ALPHABET.indexOf(char)) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = buffer >> bits;
    }
  }
  // Leftover bits must be zero, so each key has exactly one spelling.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
