/**
 * BLAKE2b (RFC 7693) with a chosen digest length, for PyPI's `blake2_256_digest` (BLAKE2b with
 * `digest_size=32`, unkeyed). node:crypto only offers the fixed 64-byte `blake2b512`, whose
 * output is a different function (the digest length is part of the parameter block), so this is
 * the plain algorithm over 32-bit word pairs. Streaming: `update` any number of times, then
 * `digest` once.
 */
/* eslint-disable @typescript-eslint/no-non-null-assertion -- typed-array indices here are in
   range by construction, and a `?? 0` per word access in the compression loop costs speed. */
import { endianness } from 'node:os';

const IV32 = new Int32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];
/** Word-pair offsets (×2) for 12 rounds (rounds 10 and 11 repeat 0 and 1). */
const SIGMA2 = new Uint8Array(
  Array.from({ length: 12 }, (_, r) => (SIGMA[r % 10] ?? []).map((i) => i * 2)).flat(),
);

const BLOCK = 128;
const LITTLE_ENDIAN = endianness() === 'LE';

/** An incremental BLAKE2b hash of `outputLength` bytes (1..64), unkeyed. */
export class Blake2b {
  readonly #outputLength: number;
  readonly #h = new Int32Array(16);
  readonly #v = new Int32Array(32);
  readonly #block = new Uint8Array(BLOCK);
  /** The block as message words; a view, so no copy on little-endian hosts. */
  readonly #m = LITTLE_ENDIAN ? new Int32Array(this.#block.buffer) : new Int32Array(32);
  #used = 0;
  /** Bytes compressed so far (exact up to 2^53). */
  #counter = 0;
  #done = false;

  constructor(outputLength = 32) {
    if (!Number.isInteger(outputLength) || outputLength < 1 || outputLength > 64) {
      throw new RangeError('BLAKE2b output length must be 1..64 bytes');
    }
    this.#outputLength = outputLength;
    this.#h.set(IV32);
    this.#h[0] = (this.#h[0] ?? 0) ^ 0x01010000 ^ outputLength;
  }

  update(data: Uint8Array): this {
    if (this.#done) throw new Error('BLAKE2b digest already computed');
    let offset = 0;
    while (offset < data.length) {
      // The last block is compressed by digest() with the final flag, so a full buffer waits
      // until more input arrives.
      if (this.#used === BLOCK) {
        this.#counter += BLOCK;
        this.#compress(false);
        this.#used = 0;
      }
      const n = Math.min(BLOCK - this.#used, data.length - offset);
      this.#block.set(data.subarray(offset, offset + n), this.#used);
      this.#used += n;
      offset += n;
    }
    return this;
  }

  /** The digest as lowercase hex. */
  digest(): string {
    if (this.#done) throw new Error('BLAKE2b digest already computed');
    this.#done = true;
    this.#counter += this.#used;
    this.#block.fill(0, this.#used);
    this.#compress(true);
    const out = Buffer.alloc(this.#outputLength);
    for (let i = 0; i < this.#outputLength; i++) {
      out[i] = ((this.#h[i >> 2] ?? 0) >>> (8 * (i & 3))) & 0xff;
    }
    return out.toString('hex');
  }

  #compress(last: boolean): void {
    const v = this.#v;
    const m = this.#m;
    const h = this.#h;
    v.set(h, 0);
    v.set(IV32, 16);
    v[24] = (v[24] ?? 0) ^ this.#counter;
    v[25] = (v[25] ?? 0) ^ Math.floor(this.#counter / 0x100000000);
    if (last) {
      v[28] = ~(v[28] ?? 0);
      v[29] = ~(v[29] ?? 0);
    }
    if (!LITTLE_ENDIAN) {
      const b = Buffer.from(this.#block.buffer);
      for (let i = 0; i < 32; i++) m[i] = b.readInt32LE(4 * i);
    }
    for (let r = 0; r < 12; r++) {
      const s = r * 16;
      g(v, m, 0, 8, 16, 24, SIGMA2[s]!, SIGMA2[s + 1]!);
      g(v, m, 2, 10, 18, 26, SIGMA2[s + 2]!, SIGMA2[s + 3]!);
      g(v, m, 4, 12, 20, 28, SIGMA2[s + 4]!, SIGMA2[s + 5]!);
      g(v, m, 6, 14, 22, 30, SIGMA2[s + 6]!, SIGMA2[s + 7]!);
      g(v, m, 0, 10, 20, 30, SIGMA2[s + 8]!, SIGMA2[s + 9]!);
      g(v, m, 2, 12, 22, 24, SIGMA2[s + 10]!, SIGMA2[s + 11]!);
      g(v, m, 4, 14, 16, 26, SIGMA2[s + 12]!, SIGMA2[s + 13]!);
      g(v, m, 6, 8, 18, 28, SIGMA2[s + 14]!, SIGMA2[s + 15]!);
    }
    for (let i = 0; i < 16; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 16]!;
  }
}

/**
 * The G mixing function (RFC 7693 §3.1) with rotations 32, 24, 16, 63, on lo/hi word pairs held
 * in locals (each 64-bit add carries from the low word).
 */
function g(
  v: Int32Array,
  m: Int32Array,
  a: number,
  b: number,
  c: number,
  d: number,
  ix: number,
  iy: number,
): void {
  let al = v[a]!;
  let ah = v[a + 1]!;
  let bl = v[b]!;
  let bh = v[b + 1]!;
  let cl = v[c]!;
  let ch = v[c + 1]!;
  let dl = v[d]!;
  let dh = v[d + 1]!;
  // a += b + x
  let t = (al + bl) | 0;
  ah = (ah + bh + (t >>> 0 < al >>> 0 ? 1 : 0)) | 0;
  al = t;
  t = (al + m[ix]!) | 0;
  ah = (ah + m[ix + 1]! + (t >>> 0 < al >>> 0 ? 1 : 0)) | 0;
  al = t;
  // d = (d ^ a) >>> 32
  let xl = dl ^ al;
  let xh = dh ^ ah;
  dl = xh;
  dh = xl;
  // c += d
  t = (cl + dl) | 0;
  ch = (ch + dh + (t >>> 0 < cl >>> 0 ? 1 : 0)) | 0;
  cl = t;
  // b = (b ^ c) >>> 24
  xl = bl ^ cl;
  xh = bh ^ ch;
  bl = (xl >>> 24) | (xh << 8) | 0;
  bh = (xh >>> 24) | (xl << 8) | 0;
  // a += b + y
  t = (al + bl) | 0;
  ah = (ah + bh + (t >>> 0 < al >>> 0 ? 1 : 0)) | 0;
  al = t;
  t = (al + m[iy]!) | 0;
  ah = (ah + m[iy + 1]! + (t >>> 0 < al >>> 0 ? 1 : 0)) | 0;
  al = t;
  // d = (d ^ a) >>> 16
  xl = dl ^ al;
  xh = dh ^ ah;
  dl = (xl >>> 16) | (xh << 16) | 0;
  dh = (xh >>> 16) | (xl << 16) | 0;
  // c += d
  t = (cl + dl) | 0;
  ch = (ch + dh + (t >>> 0 < cl >>> 0 ? 1 : 0)) | 0;
  cl = t;
  // b = (b ^ c) >>> 63
  xl = bl ^ cl;
  xh = bh ^ ch;
  bl = (xh >>> 31) | (xl << 1) | 0;
  bh = (xl >>> 31) | (xh << 1) | 0;
  v[a] = al;
  v[a + 1] = ah;
  v[b] = bl;
  v[b + 1] = bh;
  v[c] = cl;
  v[c + 1] = ch;
  v[d] = dl;
  v[d + 1] = dh;
}

/** BLAKE2b-256 of `data` as hex (PyPI's `blake2_256_digest`). */
export function blake2b256(data: Uint8Array): string {
  return new Blake2b(32).update(data).digest();
}
