import { createHmac } from 'node:crypto';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { canonicalJson, decisionMessage, decodeKey, signDecision, verifyDecision } from './decision-signature';
import type { DecisionSignature } from './decision-signature';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const MINUTE = 60_000;

const baseArgs = () => ({
  user: 'alice',
  role: 'manager' as const,
  rowIds: [3, 1, 2],
  filter: { itemCodes: ['A-1', 'B-2'], approval: 'to_approve', minAbsVariance: 1.5 },
  request: { key: 'idem-1', operation: 'approveRows', requestHash: 'abc' },
});

interface SignOptions {
  key?: Uint8Array;
  issuedAt?: number;
  update?: string;
  workflowId?: string;
}

/** A decision as the API sends it: args with their signature. */
function signed<A extends object = ReturnType<typeof baseArgs>>(args: A = baseArgs() as A, opts: SignOptions = {}) {
  const workflowId = opts.workflowId ?? 'reconciliation-42';
  const update = opts.update ?? 'approveRows';
  const signature = signDecision(opts.key ?? KEY, { workflowId, update, args, issuedAt: opts.issuedAt ?? NOW });
  return { workflowId, update, args: { ...args, signature } };
}

/** What the workflow receives: the args after Temporal's JSON payload round trip. */
const overTheWire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('canonicalJson', () => {
  it('sorts object keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: 2 } })).toBe('{"a":{"c":2,"d":[1,{"y":1,"z":0}]},"b":1}');
  });

  it('drops undefined object members but writes undefined and holes in arrays as null, like JSON.stringify', () => {
    const value = { a: undefined, b: [undefined, , 1] };
    expect(canonicalJson(value)).toBe('{"b":[null,null,1]}');
    expect(canonicalJson(value)).toBe(JSON.stringify(value));
  });

  it('writes numbers and strings as JSON.stringify does, including -0, exponents and escapes', () => {
    const value = [0, -0, 1e21, 1.5e-7, 0.1 + 0.2, 'quote " backslash \\ newline \n', 'lone \ud800 surrogate', '😀'];
    expect(canonicalJson(value)).toBe(JSON.stringify(value));
  });

  it('gives the same text before and after a JSON round trip', () => {
    const value = { z: [1, 'two', null, true, { b: false, a: 'é' }], a: { n: -12.25 } };
    expect(canonicalJson(overTheWire(value))).toBe(canonicalJson(value));
  });

  it('accepts null-prototype objects and plain objects from another realm (the workflow sandbox)', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    const foreign: unknown = vm.runInNewContext('({ b: 1, a: 2 })');
    expect(canonicalJson(bare)).toBe('{"a":2,"b":1}');
    expect(canonicalJson(foreign)).toBe('{"a":2,"b":1}');
  });

  it('throws on non-finite numbers', () => {
    for (const n of [NaN, Infinity, -Infinity]) expect(() => canonicalJson({ n }), String(n)).toThrow(/number/);
  });

  it('throws on functions, symbols and bigints, wherever they are', () => {
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/);
    expect(() => canonicalJson([Symbol('s')])).toThrow(/symbol/);
    expect(() => canonicalJson({ a: { b: 1n } })).toThrow(/bigint/);
  });

  it('throws on undefined at the top level', () => {
    expect(() => canonicalJson(undefined)).toThrow(/undefined/);
  });

  it('throws on class instances such as Date and Map, which JSON would change', () => {
    expect(() => canonicalJson({ at: new Date(0) })).toThrow(/Date/);
    expect(() => canonicalJson(new Map())).toThrow(/Map/);
  });

  it('throws on a circular structure', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/circular/);
  });

  it('accepts the same object twice when it is not circular', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});

describe('decisionMessage', () => {
  it('is the canonical JSON of { v: 1, workflowId, update, args, issuedAt }', () => {
    const message = decisionMessage({ workflowId: 'w', update: 'cancel', args: { user: 'u', reason: 'r' }, issuedAt: 5 });
    expect(message).toBe('{"args":{"reason":"r","user":"u"},"issuedAt":5,"update":"cancel","v":1,"workflowId":"w"}');
  });

  it('leaves out the signature member of args', () => {
    const d = { workflowId: 'w', update: 'cancel', issuedAt: 5 };
    const withSignature = decisionMessage({ ...d, args: { user: 'u', signature: { issuedAt: 5, mac: 'x' } } });
    expect(withSignature).toBe(decisionMessage({ ...d, args: { user: 'u' } }));
  });

  it('does not modify the args it is given', () => {
    const args = { user: 'u', signature: { issuedAt: 5, mac: 'x' } };
    decisionMessage({ workflowId: 'w', update: 'cancel', args, issuedAt: 5 });
    expect(args.signature).toEqual({ issuedAt: 5, mac: 'x' });
  });
});

describe('signDecision', () => {
  it('returns issuedAt and the hex HMAC-SHA256 of the decision message (checked with node:crypto)', () => {
    const d = { workflowId: 'reconciliation-42', update: 'approveRows', args: baseArgs(), issuedAt: NOW };
    const expected = createHmac('sha256', KEY).update(decisionMessage(d), 'utf8').digest('hex');
    expect(signDecision(KEY, d)).toEqual({ issuedAt: NOW, mac: expected });
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => signDecision(new Uint8Array(31), { workflowId: 'w', update: 'u', args: {}, issuedAt: NOW })).toThrow(/32 bytes/);
  });

  it('refuses args that JSON would not carry faithfully', () => {
    expect(() => signDecision(KEY, { workflowId: 'w', update: 'u', args: { n: NaN }, issuedAt: NOW })).toThrow(/number/);
  });
});

describe('verifyDecision', () => {
  it('accepts a signed decision', () => {
    expect(verifyDecision(KEY, signed(), NOW)).toBeUndefined();
  });

  it('accepts a signed decision after the JSON round trip the payload converter makes', () => {
    expect(verifyDecision(KEY, overTheWire(signed()), NOW)).toBeUndefined();
  });

  it('accepts a decision whose args carry their keys in another order', () => {
    const d = signed();
    const { request, rowIds, role, user, signature } = d.args;
    const filter = { minAbsVariance: 1.5, approval: 'to_approve', itemCodes: ['A-1', 'B-2'] };
    const reordered = { signature, filter, request, rowIds, role, user };
    expect(verifyDecision(KEY, { ...d, args: reordered }, NOW)).toBeUndefined();
  });

  it('accepts non-ASCII and astral text in the args', () => {
    expect(verifyDecision(KEY, overTheWire(signed({ ...baseArgs(), reason: 'Zählung 😀 ok' })), NOW)).toBeUndefined();
  });

  it('refuses a changed user', () => {
    const d = signed();
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, user: 'mallory' } }, NOW)).toBe('the signature does not match');
  });

  it('refuses a changed role', () => {
    const d = signed();
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, role: 'senior_manager' } }, NOW)).toBe('the signature does not match');
  });

  it('refuses rowIds in another order', () => {
    const d = signed();
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, rowIds: [1, 2, 3] } }, NOW)).toBe('the signature does not match');
  });

  it('refuses a changed filter value', () => {
    const d = signed();
    const filter = { ...d.args.filter, minAbsVariance: 1.50001 };
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, filter } }, NOW)).toBe('the signature does not match');
  });

  it('refuses an added field', () => {
    const d = signed();
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, reason: 'extra' } }, NOW)).toBe('the signature does not match');
  });

  it('refuses a removed field', () => {
    const d = signed();
    const args: Record<string, unknown> = { ...d.args };
    delete args.request;
    expect(verifyDecision(KEY, { ...d, args }, NOW)).toBe('the signature does not match');
  });

  it('refuses another update name', () => {
    expect(verifyDecision(KEY, { ...signed(), update: 'deleteRows' }, NOW)).toBe('the signature does not match');
  });

  it('refuses another workflow id', () => {
    expect(verifyDecision(KEY, { ...signed(), workflowId: 'reconciliation-43' }, NOW)).toBe('the signature does not match');
  });

  it('refuses a changed issuedAt', () => {
    const d = signed();
    const signature: DecisionSignature = { ...d.args.signature, issuedAt: NOW + 1 };
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, signature } }, NOW)).toBe('the signature does not match');
  });

  it('refuses a mac changed in its last hex digit', () => {
    const d = signed();
    const mac = d.args.signature.mac;
    const flipped = mac.slice(0, -1) + (mac.endsWith('0') ? '1' : '0');
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, signature: { ...d.args.signature, mac: flipped } } }, NOW)).toBe(
      'the signature does not match',
    );
  });

  it('treats a "__proto__" member of parsed args as signed data, not as a prototype', () => {
    const args = JSON.parse('{"user":"u","__proto__":{"role":"senior_manager"}}') as Record<string, unknown>;
    const d = overTheWire(signed(args));
    expect(verifyDecision(KEY, d, NOW)).toBeUndefined();
    const tampered = JSON.parse(JSON.stringify(d).replace('senior_manager', 'manager')) as typeof d;
    expect(verifyDecision(KEY, tampered, NOW)).toBe('the signature does not match');
  });

  it('refuses a decision signed with another key', () => {
    expect(verifyDecision(KEY, signed(baseArgs(), { key: OTHER_KEY }), NOW)).toBe('the signature does not match');
  });

  it('refuses a decision without a signature', () => {
    expect(verifyDecision(KEY, { workflowId: 'reconciliation-42', update: 'approveRows', args: baseArgs() }, NOW)).toBe(
      'the decision is not signed',
    );
  });

  it('refuses a null signature and args that are not an object', () => {
    expect(verifyDecision(KEY, { workflowId: 'w', update: 'u', args: { signature: null } }, NOW)).toBe('the decision is not signed');
    expect(verifyDecision(KEY, { workflowId: 'w', update: 'u', args: undefined }, NOW)).toBe('the decision is not signed');
    expect(verifyDecision(KEY, { workflowId: 'w', update: 'u', args: 'text' }, NOW)).toBe('the decision is not signed');
  });

  it('refuses a malformed signature without throwing', () => {
    const d = signed();
    const { mac } = d.args.signature;
    const malformed = ['abc', { issuedAt: NOW }, { issuedAt: 'now', mac }, { issuedAt: NOW, mac: mac.toUpperCase() }, { issuedAt: NOW, mac: 'ab' }];
    for (const signature of malformed) {
      const reason = verifyDecision(KEY, { ...d, args: { ...d.args, signature } }, NOW);
      expect(reason, JSON.stringify(signature)).toBe('the signature is malformed');
    }
  });

  it('refuses args the API could not have signed, without throwing', () => {
    const d = signed();
    expect(verifyDecision(KEY, { ...d, args: { ...d.args, n: Infinity } }, NOW)).toBe('the signature does not match');
  });

  it('accepts a decision issued exactly maxSkewMs ago or ahead', () => {
    expect(verifyDecision(KEY, signed(baseArgs(), { issuedAt: NOW - 5 * MINUTE }), NOW)).toBeUndefined();
    expect(verifyDecision(KEY, signed(baseArgs(), { issuedAt: NOW + 5 * MINUTE }), NOW)).toBeUndefined();
  });

  it('refuses a decision issued more than maxSkewMs ago', () => {
    expect(verifyDecision(KEY, signed(baseArgs(), { issuedAt: NOW - 5 * MINUTE - 1 }), NOW)).toBe('the signature has expired');
  });

  it('refuses a decision issued more than maxSkewMs in the future', () => {
    expect(verifyDecision(KEY, signed(baseArgs(), { issuedAt: NOW + 5 * MINUTE + 1 }), NOW)).toBe('the signature is dated in the future');
  });

  it('honours a custom maxSkewMs', () => {
    const d = signed(baseArgs(), { issuedAt: NOW - 2 * MINUTE });
    expect(verifyDecision(KEY, d, NOW, MINUTE)).toBe('the signature has expired');
    expect(verifyDecision(KEY, d, NOW, 3 * MINUTE)).toBeUndefined();
  });

  it('reports a forged signature as not matching even when it is also stale', () => {
    const forged = signed(baseArgs(), { key: OTHER_KEY, issuedAt: NOW - 60 * MINUTE });
    expect(verifyDecision(KEY, forged, NOW)).toBe('the signature does not match');
  });

  it('throws on a verification key shorter than 32 bytes (a configuration error)', () => {
    expect(() => verifyDecision(new Uint8Array(16), signed(), NOW)).toThrow(/32 bytes/);
    expect(() => verifyDecision(new Uint8Array(16), { workflowId: 'w', update: 'u', args: {} }, NOW)).toThrow(/32 bytes/);
  });
});

describe('decodeKey', () => {
  it('accepts 64 hex characters, in either case', () => {
    const hex = Buffer.from(KEY).toString('hex');
    expect(decodeKey(hex)).toEqual(KEY);
    expect(decodeKey(hex.toUpperCase())).toEqual(KEY);
  });

  it('accepts more than 64 hex characters', () => {
    const long = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
    expect(decodeKey(Buffer.from(long).toString('hex'))).toEqual(long);
  });

  it('accepts base64url of 32 bytes, unpadded and padded', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 250) % 256); // includes bytes that map to - and _
    const text = Buffer.from(key).toString('base64url');
    expect(text).toMatch(/[-_]/);
    expect(decodeKey(text)).toEqual(key);
    expect(decodeKey(`${text}=`)).toEqual(key);
  });

  it('decodes base64url of every length from 32 to 40 bytes as node does', () => {
    for (let length = 32; length <= 40; length++) {
      const key = Uint8Array.from({ length }, (_, i) => (i * 151 + length) % 256);
      expect(decodeKey(Buffer.from(key).toString('base64url')), `length ${length}`).toEqual(key);
    }
  });

  it('ignores surrounding whitespace such as the newline at the end of a key file', () => {
    expect(decodeKey(`${Buffer.from(KEY).toString('hex')}\n`)).toEqual(KEY);
  });

  it('refuses hex shorter than 64 characters, even though the same text is valid base64url of 46 bytes', () => {
    const hex = Buffer.from(KEY.subarray(0, 31)).toString('hex');
    expect(Buffer.from(hex, 'base64url').length).toBe(46);
    expect(() => decodeKey(hex)).toThrow(/hex of only 31 bytes/);
  });

  it('refuses base64url of fewer than 32 bytes', () => {
    expect(() => decodeKey(Buffer.from(KEY.subarray(0, 31)).toString('base64url'))).toThrow(/only 31 bytes/);
  });

  it('refuses an empty key', () => {
    expect(() => decodeKey('')).toThrow(/only 0 bytes/);
  });

  it('refuses hex of an odd length', () => {
    expect(() => decodeKey(`${Buffer.from(KEY).toString('hex')}a`)).toThrow(/odd number/);
  });

  it('refuses standard base64 (+ and /) and other foreign characters', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 250) % 256);
    expect(() => decodeKey(Buffer.from(key).toString('base64'))).toThrow(/neither hex nor valid base64url/);
    expect(() => decodeKey(`${Buffer.from(KEY).toString('base64url')}!`)).toThrow(/neither hex nor valid base64url/);
  });

  it('refuses base64url with an impossible length, misplaced padding or non-zero trailing bits', () => {
    const text = Buffer.from(KEY).toString('base64url'); // 43 characters, 2 trailing bits
    for (const bad of [`${text}AA`, `${text}==`, `=${text}`, `${text.slice(0, -1)}B`]) {
      expect(() => decodeKey(bad), bad).toThrow(/neither hex nor valid base64url/);
    }
  });

  it('throws errors that are one sentence', () => {
    for (const bad of ['short', '', `${'a'.repeat(65)}`]) {
      let message = '';
      try {
        decodeKey(bad);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, bad).toMatch(/^The decision signing key [^.]*\.$/);
    }
  });
});
