import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { equalBytes, fromHex, hmacSha256, sha256, toHex, utf8 } from './sha256';

const ascii = (s: string) => utf8(s);
const hexOf = (b: Uint8Array) => toHex(b);

/** A seeded generator (mulberry32), so a failing property case can be reproduced. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(next: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** Strings mixing ASCII, 2- and 3-byte characters, astral pairs and lone surrogates of both kinds. */
function randomString(next: () => number, length: number): string {
  const pieces = [
    () => String.fromCharCode(0x20 + Math.floor(next() * 0x5f)),
    () => String.fromCharCode(0x80 + Math.floor(next() * 0x780)),
    () => String.fromCharCode(0x800 + Math.floor(next() * (0xd800 - 0x800))),
    () => String.fromCharCode(0xe000 + Math.floor(next() * 0x2000)),
    () => String.fromCodePoint(0x10000 + Math.floor(next() * 0x100000)),
    () => String.fromCharCode(0xd800 + Math.floor(next() * 0x400)),
    () => String.fromCharCode(0xdc00 + Math.floor(next() * 0x400)),
    () => ['\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\u{10000}', '\u{10ffff}'][Math.floor(next() * 8)]!,
  ];
  let s = '';
  for (let i = 0; i < length; i++) s += pieces[Math.floor(next() * pieces.length)]!();
  return s;
}

describe('sha256: FIPS 180-4 / NIST vectors', () => {
  it('hashes the empty message', () => {
    expect(hexOf(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes "abc" (one block)', () => {
    expect(hexOf(sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes the 448-bit message (padding spills into a second block)', () => {
    const message = ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    expect(hexOf(sha256(message))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('hashes the 896-bit message', () => {
    const message = ascii(
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
    );
    expect(hexOf(sha256(message))).toBe('cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1');
  });

  it("hashes one million 'a'", () => {
    expect(hexOf(sha256(new Uint8Array(1_000_000).fill(0x61)))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('hashes a subarray view by its own bytes, not its underlying buffer', () => {
    const buffer = ascii('xxabcxx');
    expect(hexOf(sha256(buffer.subarray(2, 5)))).toBe(hexOf(sha256(ascii('abc'))));
  });
});

describe('hmacSha256: RFC 4231 test cases', () => {
  const cases: { name: string; key: Uint8Array; data: Uint8Array; mac: string; truncateTo?: number }[] = [
    {
      name: '1: 20-byte key',
      key: new Uint8Array(20).fill(0x0b),
      data: ascii('Hi There'),
      mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    },
    {
      name: '2: key shorter than the output ("Jefe")',
      key: ascii('Jefe'),
      data: ascii('what do ya want for nothing?'),
      mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    },
    {
      name: '3: 50 bytes of 0xdd',
      key: new Uint8Array(20).fill(0xaa),
      data: new Uint8Array(50).fill(0xdd),
      mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
    },
    {
      name: '4: 25-byte counting key, 50 bytes of 0xcd',
      key: fromHex('0102030405060708090a0b0c0d0e0f10111213141516171819'),
      data: new Uint8Array(50).fill(0xcd),
      mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
    },
    {
      name: '5: output truncated to 128 bits',
      key: new Uint8Array(20).fill(0x0c),
      data: ascii('Test With Truncation'),
      mac: 'a3b6167473100ee06e0c796c2955552b',
      truncateTo: 16,
    },
    {
      name: '6: 131-byte key, longer than the block size',
      key: new Uint8Array(131).fill(0xaa),
      data: ascii('Test Using Larger Than Block-Size Key - Hash Key First'),
      mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    },
    {
      name: '7: 131-byte key and a message longer than the block size',
      key: new Uint8Array(131).fill(0xaa),
      data: ascii(
        'This is a test using a larger than block-size key and a larger than block-size data. ' +
          'The key needs to be hashed before being used by the HMAC algorithm.',
      ),
      mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    },
  ];

  for (const c of cases) {
    it(`test case ${c.name}`, () => {
      const mac = hmacSha256(c.key, c.data);
      expect(hexOf(c.truncateTo === undefined ? mac : mac.subarray(0, c.truncateTo))).toBe(c.mac);
    });
  }
});

describe('against node:crypto', () => {
  it('sha256 agrees on 300 random byte arrays of 0–300 bytes (every padding case)', () => {
    const next = random(1);
    for (let i = 0; i < 300; i++) {
      const bytes = randomBytes(next, i);
      expect(hexOf(sha256(bytes)), `length ${i}`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('hmacSha256 agrees on 300 random keys (0–200 bytes) and messages', () => {
    const next = random(2);
    for (let i = 0; i < 300; i++) {
      const key = randomBytes(next, Math.floor(next() * 201));
      const message = randomBytes(next, Math.floor(next() * 400));
      expect(hexOf(hmacSha256(key, message)), `case ${i}`).toBe(createHmac('sha256', key).update(message).digest('hex'));
    }
  });

  it('utf8 agrees with Buffer.from(s, "utf8") on 300 random strings with multi-byte, astral and lone-surrogate characters', () => {
    const next = random(3);
    for (let i = 0; i < 300; i++) {
      const s = randomString(next, Math.floor(next() * 40));
      expect(hexOf(utf8(s)), JSON.stringify(s)).toBe(Buffer.from(s, 'utf8').toString('hex'));
    }
  });

  it('sha256 of utf8(s) agrees with hashing the string itself on 300 random strings', () => {
    const next = random(4);
    for (let i = 0; i < 300; i++) {
      const s = randomString(next, Math.floor(next() * 80));
      expect(hexOf(sha256(utf8(s))), JSON.stringify(s)).toBe(createHash('sha256').update(s, 'utf8').digest('hex'));
    }
  });
});

describe('utf8', () => {
  it('encodes each UTF-8 length boundary', () => {
    expect(hexOf(utf8('\u0000\u007f'))).toBe('007f');
    expect(hexOf(utf8('\u0080\u07ff'))).toBe('c280dfbf');
    expect(hexOf(utf8('\u0800\uffff'))).toBe('e0a080efbfbf');
    expect(hexOf(utf8('\u{10000}\u{10ffff}'))).toBe('f0908080f48fbfbf');
  });

  it('encodes a surrogate pair as one 4-byte code point', () => {
    expect(hexOf(utf8('😀'))).toBe('f09f9880');
  });

  it('encodes lone surrogates (high at the end, low alone, reversed pair) as U+FFFD, like TextEncoder', () => {
    for (const s of ['a\ud83d', '\ude00b', '\ude00\ud83d', '\ud83d\ud83d\ude00']) {
      expect(hexOf(utf8(s)), JSON.stringify(s)).toBe(hexOf(new TextEncoder().encode(s)));
    }
    expect(hexOf(utf8('\ud800'))).toBe('efbfbd');
  });
});

describe('hex', () => {
  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromHex(toHex(all))).toEqual(all);
  });

  it('writes lower case and reads either case', () => {
    expect(toHex(Uint8Array.of(0xab, 0x0c))).toBe('ab0c');
    expect(fromHex('AB0c')).toEqual(Uint8Array.of(0xab, 0x0c));
  });

  it('throws on an odd length', () => {
    expect(() => fromHex('abc')).toThrow(/even/);
  });

  it('throws on a non-hex character, including signs and whitespace that parseInt would accept', () => {
    for (const bad of ['zz', '0x', '+1', '-1', ' 1', '1 ']) expect(() => fromHex(bad), bad).toThrow(/hex/);
  });
});

describe('equalBytes', () => {
  it('is true for equal contents in different arrays', () => {
    expect(equalBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('is false when any single byte differs, first or last', () => {
    expect(equalBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(0, 2, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
  });

  it('is false for different lengths, even when one is a prefix of the other', () => {
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
  });
});
