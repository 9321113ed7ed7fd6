/**
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) in plain TypeScript.
 *
 * Why not node:crypto or WebCrypto: decision signatures are verified in the
 * workflow's update validator, which runs in Temporal's deterministic sandbox
 * where neither exists (and WebCrypto is async, which a validator cannot be).
 * Speed is secondary: a decision is a few hundred bytes.
 *
 * All word arithmetic is on 32-bit integers: `| 0` wraps additions modulo 2^32
 * and `>>> 0` reads a word back as unsigned before it is written out.
 */

/** First 32 bits of the fractional parts of the cube roots of the first 64 primes (FIPS 180-4 §4.2.2). */
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** First 32 bits of the fractional parts of the square roots of the first 8 primes (FIPS 180-4 §5.3.3). */
const INITIAL_HASH = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const BLOCK_BYTES = 64;

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

/**
 * Folds one 64-byte block of `data`, starting at `offset`, into the hash state `h`.
 * `w` is the caller's message-schedule scratch space, reused across blocks.
 */
function compress(h: Int32Array, w: Int32Array, data: Uint8Array, offset: number): void {
  // noUncheckedIndexedAccess types every typed-array read as possibly undefined;
  // all indices below are in range by construction, hence the `!`.
  for (let t = 0; t < 16; t++) {
    const i = offset + t * 4;
    w[t] = (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const w15 = w[t - 15]!;
    const w2 = w[t - 2]!;
    const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
    w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
  }

  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let t = 0; t < 64; t++) {
    const bigSigma1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const choose = (e & f) ^ (~e & g);
    const t1 = (hh + bigSigma1 + choose + K[t]! + w[t]!) | 0;
    const bigSigma0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const majority = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (bigSigma0 + majority) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  const h = Int32Array.from(INITIAL_HASH);
  const w = new Int32Array(64);
  const length = bytes.length;

  // Whole blocks are hashed straight from the input, so a large message is never copied.
  const wholeBlocksEnd = length - (length % BLOCK_BYTES);
  for (let offset = 0; offset < wholeBlocksEnd; offset += BLOCK_BYTES) compress(h, w, bytes, offset);

  // Padding (§5.1.1): the leftover bytes, a 1 bit, zeros, then the message length
  // in bits as a 64-bit big-endian integer. That needs 9 bytes after the leftover,
  // so the tail is one block, or two when the leftover is longer than 55 bytes.
  const leftover = length - wholeBlocksEnd;
  const tail = new Uint8Array(leftover + 9 <= BLOCK_BYTES ? BLOCK_BYTES : 2 * BLOCK_BYTES);
  tail.set(bytes.subarray(wholeBlocksEnd));
  tail[leftover] = 0x80;
  // length * 8 can exceed 2^32, and JS bit operators only see 32 bits: split with
  // arithmetic instead. High word = floor(length * 8 / 2^32) = floor(length / 2^29).
  const bitsHigh = Math.floor(length / 0x20000000);
  const bitsLow = (length * 8) >>> 0;
  writeWord(tail, tail.length - 8, bitsHigh);
  writeWord(tail, tail.length - 4, bitsLow);
  for (let offset = 0; offset < tail.length; offset += BLOCK_BYTES) compress(h, w, tail, offset);

  const digest = new Uint8Array(32);
  for (let i = 0; i < 8; i++) writeWord(digest, i * 4, h[i]!);
  return digest;
}

function writeWord(out: Uint8Array, offset: number, word: number): void {
  out[offset] = word >>> 24;
  out[offset + 1] = word >>> 16;
  out[offset + 2] = word >>> 8;
  out[offset + 3] = word;
}

/** HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)), K' being the key padded (or first hashed) to one block. */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  const blockKey = new Uint8Array(BLOCK_BYTES);
  blockKey.set(key.length > BLOCK_BYTES ? sha256(key) : key);

  const inner = new Uint8Array(BLOCK_BYTES + message.length);
  const outer = new Uint8Array(BLOCK_BYTES + 32);
  for (let i = 0; i < BLOCK_BYTES; i++) {
    inner[i] = blockKey[i]! ^ 0x36;
    outer[i] = blockKey[i]! ^ 0x5c;
  }
  inner.set(message, BLOCK_BYTES);
  outer.set(sha256(inner), BLOCK_BYTES);
  return sha256(outer);
}

/**
 * UTF-8 encoding of a JS (UTF-16) string, as TextEncoder does it: a surrogate
 * pair becomes one 4-byte code point, and a lone surrogate, which has no UTF-8
 * form, becomes U+FFFD.
 */
export function utf8(s: string): Uint8Array {
  // At most 3 bytes per UTF-16 unit: BMP characters take 1–3 bytes for one unit,
  // astral ones 4 bytes for two units.
  const out = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        cp = 0xfffd;
      }
    }
    if (cp < 0x80) {
      out[n++] = cp;
    } else if (cp < 0x800) {
      out[n++] = 0xc0 | (cp >> 6);
      out[n++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      out[n++] = 0xe0 | (cp >> 12);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    } else {
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 0x3f);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    }
  }
  return out.slice(0, n);
}

const HEX_DIGITS = '0123456789abcdef';

/** Lower-case hex. */
export function toHex(b: Uint8Array): string {
  let hex = '';
  for (const byte of b) hex += HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 0x0f]!;
  return hex;
}

/** Either case; throws on an odd length or a non-hex character rather than guessing. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new Error('A hex string must have an even number of characters.');
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new Error('A hex string may contain only the characters 0-9, a-f and A-F.');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Compares without an early exit, so the time taken does not reveal how many
 * leading bytes of a forged MAC were right. Lengths are not secret (a MAC's
 * length is public), so a length mismatch may return at once.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
