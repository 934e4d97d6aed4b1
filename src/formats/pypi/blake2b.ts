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
    const h = this.#h;
    const m = this.#m;
    if (!LITTLE_ENDIAN) {
      const b = Buffer.from(this.#block.buffer);
      for (let i = 0; i < 32; i++) m[i] = b.readInt32LE(4 * i);
    }
    // The sixteen 64-bit working words as 32 int32 locals (lo, hi): the rounds touch no memory.
    let v0 = h[0]!;
    let v1 = h[1]!;
    let v2 = h[2]!;
    let v3 = h[3]!;
    let v4 = h[4]!;
    let v5 = h[5]!;
    let v6 = h[6]!;
    let v7 = h[7]!;
    let v8 = h[8]!;
    let v9 = h[9]!;
    let v10 = h[10]!;
    let v11 = h[11]!;
    let v12 = h[12]!;
    let v13 = h[13]!;
    let v14 = h[14]!;
    let v15 = h[15]!;
    let v16 = IV32[0]!;
    let v17 = IV32[1]!;
    let v18 = IV32[2]!;
    let v19 = IV32[3]!;
    let v20 = IV32[4]!;
    let v21 = IV32[5]!;
    let v22 = IV32[6]!;
    let v23 = IV32[7]!;
    let v24 = IV32[8]! ^ this.#counter;
    let v25 = IV32[9]! ^ Math.floor(this.#counter / 0x100000000);
    let v26 = IV32[10]!;
    let v27 = IV32[11]!;
    let v28 = last ? ~IV32[12]! : IV32[12]!;
    let v29 = last ? ~IV32[13]! : IV32[13]!;
    let v30 = IV32[14]!;
    let v31 = IV32[15]!;
    let t: number, xl: number, xh: number, xi: number, yi: number;
    for (let s = 0; s < 192; s += 16) {
      // G on words 0, 4, 8, 12
      xi = SIGMA2[s + 0]!;
      yi = SIGMA2[s + 1]!;
      t = (v0 + v8) | 0;
      v1 = (v1 + v9 + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      t = (v0 + m[xi]!) | 0;
      v1 = (v1 + m[xi + 1]! + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      t = v24 ^ v0;
      v24 = v25 ^ v1;
      v25 = t;
      t = (v16 + v24) | 0;
      v17 = (v17 + v25 + (t >>> 0 < v16 >>> 0 ? 1 : 0)) | 0;
      v16 = t;
      xl = v8 ^ v16;
      xh = v9 ^ v17;
      v8 = (xl >>> 24) | (xh << 8);
      v9 = (xh >>> 24) | (xl << 8);
      t = (v0 + v8) | 0;
      v1 = (v1 + v9 + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      t = (v0 + m[yi]!) | 0;
      v1 = (v1 + m[yi + 1]! + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      xl = v24 ^ v0;
      xh = v25 ^ v1;
      v24 = (xl >>> 16) | (xh << 16);
      v25 = (xh >>> 16) | (xl << 16);
      t = (v16 + v24) | 0;
      v17 = (v17 + v25 + (t >>> 0 < v16 >>> 0 ? 1 : 0)) | 0;
      v16 = t;
      xl = v8 ^ v16;
      xh = v9 ^ v17;
      v8 = (xh >>> 31) | (xl << 1);
      v9 = (xl >>> 31) | (xh << 1);
      // G on words 1, 5, 9, 13
      xi = SIGMA2[s + 2]!;
      yi = SIGMA2[s + 3]!;
      t = (v2 + v10) | 0;
      v3 = (v3 + v11 + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      t = (v2 + m[xi]!) | 0;
      v3 = (v3 + m[xi + 1]! + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      t = v26 ^ v2;
      v26 = v27 ^ v3;
      v27 = t;
      t = (v18 + v26) | 0;
      v19 = (v19 + v27 + (t >>> 0 < v18 >>> 0 ? 1 : 0)) | 0;
      v18 = t;
      xl = v10 ^ v18;
      xh = v11 ^ v19;
      v10 = (xl >>> 24) | (xh << 8);
      v11 = (xh >>> 24) | (xl << 8);
      t = (v2 + v10) | 0;
      v3 = (v3 + v11 + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      t = (v2 + m[yi]!) | 0;
      v3 = (v3 + m[yi + 1]! + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      xl = v26 ^ v2;
      xh = v27 ^ v3;
      v26 = (xl >>> 16) | (xh << 16);
      v27 = (xh >>> 16) | (xl << 16);
      t = (v18 + v26) | 0;
      v19 = (v19 + v27 + (t >>> 0 < v18 >>> 0 ? 1 : 0)) | 0;
      v18 = t;
      xl = v10 ^ v18;
      xh = v11 ^ v19;
      v10 = (xh >>> 31) | (xl << 1);
      v11 = (xl >>> 31) | (xh << 1);
      // G on words 2, 6, 10, 14
      xi = SIGMA2[s + 4]!;
      yi = SIGMA2[s + 5]!;
      t = (v4 + v12) | 0;
      v5 = (v5 + v13 + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      t = (v4 + m[xi]!) | 0;
      v5 = (v5 + m[xi + 1]! + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      t = v28 ^ v4;
      v28 = v29 ^ v5;
      v29 = t;
      t = (v20 + v28) | 0;
      v21 = (v21 + v29 + (t >>> 0 < v20 >>> 0 ? 1 : 0)) | 0;
      v20 = t;
      xl = v12 ^ v20;
      xh = v13 ^ v21;
      v12 = (xl >>> 24) | (xh << 8);
      v13 = (xh >>> 24) | (xl << 8);
      t = (v4 + v12) | 0;
      v5 = (v5 + v13 + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      t = (v4 + m[yi]!) | 0;
      v5 = (v5 + m[yi + 1]! + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      xl = v28 ^ v4;
      xh = v29 ^ v5;
      v28 = (xl >>> 16) | (xh << 16);
      v29 = (xh >>> 16) | (xl << 16);
      t = (v20 + v28) | 0;
      v21 = (v21 + v29 + (t >>> 0 < v20 >>> 0 ? 1 : 0)) | 0;
      v20 = t;
      xl = v12 ^ v20;
      xh = v13 ^ v21;
      v12 = (xh >>> 31) | (xl << 1);
      v13 = (xl >>> 31) | (xh << 1);
      // G on words 3, 7, 11, 15
      xi = SIGMA2[s + 6]!;
      yi = SIGMA2[s + 7]!;
      t = (v6 + v14) | 0;
      v7 = (v7 + v15 + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      t = (v6 + m[xi]!) | 0;
      v7 = (v7 + m[xi + 1]! + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      t = v30 ^ v6;
      v30 = v31 ^ v7;
      v31 = t;
      t = (v22 + v30) | 0;
      v23 = (v23 + v31 + (t >>> 0 < v22 >>> 0 ? 1 : 0)) | 0;
      v22 = t;
      xl = v14 ^ v22;
      xh = v15 ^ v23;
      v14 = (xl >>> 24) | (xh << 8);
      v15 = (xh >>> 24) | (xl << 8);
      t = (v6 + v14) | 0;
      v7 = (v7 + v15 + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      t = (v6 + m[yi]!) | 0;
      v7 = (v7 + m[yi + 1]! + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      xl = v30 ^ v6;
      xh = v31 ^ v7;
      v30 = (xl >>> 16) | (xh << 16);
      v31 = (xh >>> 16) | (xl << 16);
      t = (v22 + v30) | 0;
      v23 = (v23 + v31 + (t >>> 0 < v22 >>> 0 ? 1 : 0)) | 0;
      v22 = t;
      xl = v14 ^ v22;
      xh = v15 ^ v23;
      v14 = (xh >>> 31) | (xl << 1);
      v15 = (xl >>> 31) | (xh << 1);
      // G on words 0, 5, 10, 15
      xi = SIGMA2[s + 8]!;
      yi = SIGMA2[s + 9]!;
      t = (v0 + v10) | 0;
      v1 = (v1 + v11 + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      t = (v0 + m[xi]!) | 0;
      v1 = (v1 + m[xi + 1]! + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      t = v30 ^ v0;
      v30 = v31 ^ v1;
      v31 = t;
      t = (v20 + v30) | 0;
      v21 = (v21 + v31 + (t >>> 0 < v20 >>> 0 ? 1 : 0)) | 0;
      v20 = t;
      xl = v10 ^ v20;
      xh = v11 ^ v21;
      v10 = (xl >>> 24) | (xh << 8);
      v11 = (xh >>> 24) | (xl << 8);
      t = (v0 + v10) | 0;
      v1 = (v1 + v11 + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      t = (v0 + m[yi]!) | 0;
      v1 = (v1 + m[yi + 1]! + (t >>> 0 < v0 >>> 0 ? 1 : 0)) | 0;
      v0 = t;
      xl = v30 ^ v0;
      xh = v31 ^ v1;
      v30 = (xl >>> 16) | (xh << 16);
      v31 = (xh >>> 16) | (xl << 16);
      t = (v20 + v30) | 0;
      v21 = (v21 + v31 + (t >>> 0 < v20 >>> 0 ? 1 : 0)) | 0;
      v20 = t;
      xl = v10 ^ v20;
      xh = v11 ^ v21;
      v10 = (xh >>> 31) | (xl << 1);
      v11 = (xl >>> 31) | (xh << 1);
      // G on words 1, 6, 11, 12
      xi = SIGMA2[s + 10]!;
      yi = SIGMA2[s + 11]!;
      t = (v2 + v12) | 0;
      v3 = (v3 + v13 + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      t = (v2 + m[xi]!) | 0;
      v3 = (v3 + m[xi + 1]! + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      t = v24 ^ v2;
      v24 = v25 ^ v3;
      v25 = t;
      t = (v22 + v24) | 0;
      v23 = (v23 + v25 + (t >>> 0 < v22 >>> 0 ? 1 : 0)) | 0;
      v22 = t;
      xl = v12 ^ v22;
      xh = v13 ^ v23;
      v12 = (xl >>> 24) | (xh << 8);
      v13 = (xh >>> 24) | (xl << 8);
      t = (v2 + v12) | 0;
      v3 = (v3 + v13 + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      t = (v2 + m[yi]!) | 0;
      v3 = (v3 + m[yi + 1]! + (t >>> 0 < v2 >>> 0 ? 1 : 0)) | 0;
      v2 = t;
      xl = v24 ^ v2;
      xh = v25 ^ v3;
      v24 = (xl >>> 16) | (xh << 16);
      v25 = (xh >>> 16) | (xl << 16);
      t = (v22 + v24) | 0;
      v23 = (v23 + v25 + (t >>> 0 < v22 >>> 0 ? 1 : 0)) | 0;
      v22 = t;
      xl = v12 ^ v22;
      xh = v13 ^ v23;
      v12 = (xh >>> 31) | (xl << 1);
      v13 = (xl >>> 31) | (xh << 1);
      // G on words 2, 7, 8, 13
      xi = SIGMA2[s + 12]!;
      yi = SIGMA2[s + 13]!;
      t = (v4 + v14) | 0;
      v5 = (v5 + v15 + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      t = (v4 + m[xi]!) | 0;
      v5 = (v5 + m[xi + 1]! + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      t = v26 ^ v4;
      v26 = v27 ^ v5;
      v27 = t;
      t = (v16 + v26) | 0;
      v17 = (v17 + v27 + (t >>> 0 < v16 >>> 0 ? 1 : 0)) | 0;
      v16 = t;
      xl = v14 ^ v16;
      xh = v15 ^ v17;
      v14 = (xl >>> 24) | (xh << 8);
      v15 = (xh >>> 24) | (xl << 8);
      t = (v4 + v14) | 0;
      v5 = (v5 + v15 + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      t = (v4 + m[yi]!) | 0;
      v5 = (v5 + m[yi + 1]! + (t >>> 0 < v4 >>> 0 ? 1 : 0)) | 0;
      v4 = t;
      xl = v26 ^ v4;
      xh = v27 ^ v5;
      v26 = (xl >>> 16) | (xh << 16);
      v27 = (xh >>> 16) | (xl << 16);
      t = (v16 + v26) | 0;
      v17 = (v17 + v27 + (t >>> 0 < v16 >>> 0 ? 1 : 0)) | 0;
      v16 = t;
      xl = v14 ^ v16;
      xh = v15 ^ v17;
      v14 = (xh >>> 31) | (xl << 1);
      v15 = (xl >>> 31) | (xh << 1);
      // G on words 3, 4, 9, 14
      xi = SIGMA2[s + 14]!;
      yi = SIGMA2[s + 15]!;
      t = (v6 + v8) | 0;
      v7 = (v7 + v9 + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      t = (v6 + m[xi]!) | 0;
      v7 = (v7 + m[xi + 1]! + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      t = v28 ^ v6;
      v28 = v29 ^ v7;
      v29 = t;
      t = (v18 + v28) | 0;
      v19 = (v19 + v29 + (t >>> 0 < v18 >>> 0 ? 1 : 0)) | 0;
      v18 = t;
      xl = v8 ^ v18;
      xh = v9 ^ v19;
      v8 = (xl >>> 24) | (xh << 8);
      v9 = (xh >>> 24) | (xl << 8);
      t = (v6 + v8) | 0;
      v7 = (v7 + v9 + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      t = (v6 + m[yi]!) | 0;
      v7 = (v7 + m[yi + 1]! + (t >>> 0 < v6 >>> 0 ? 1 : 0)) | 0;
      v6 = t;
      xl = v28 ^ v6;
      xh = v29 ^ v7;
      v28 = (xl >>> 16) | (xh << 16);
      v29 = (xh >>> 16) | (xl << 16);
      t = (v18 + v28) | 0;
      v19 = (v19 + v29 + (t >>> 0 < v18 >>> 0 ? 1 : 0)) | 0;
      v18 = t;
      xl = v8 ^ v18;
      xh = v9 ^ v19;
      v8 = (xh >>> 31) | (xl << 1);
      v9 = (xl >>> 31) | (xh << 1);
    }
    h[0] = h[0]! ^ v0 ^ v16;
    h[1] = h[1]! ^ v1 ^ v17;
    h[2] = h[2]! ^ v2 ^ v18;
    h[3] = h[3]! ^ v3 ^ v19;
    h[4] = h[4]! ^ v4 ^ v20;
    h[5] = h[5]! ^ v5 ^ v21;
    h[6] = h[6]! ^ v6 ^ v22;
    h[7] = h[7]! ^ v7 ^ v23;
    h[8] = h[8]! ^ v8 ^ v24;
    h[9] = h[9]! ^ v9 ^ v25;
    h[10] = h[10]! ^ v10 ^ v26;
    h[11] = h[11]! ^ v11 ^ v27;
    h[12] = h[12]! ^ v12 ^ v28;
    h[13] = h[13]! ^ v13 ^ v29;
    h[14] = h[14]! ^ v14 ^ v30;
    h[15] = h[15]! ^ v15 ^ v31;
  }
}

/** BLAKE2b-256 of `data` as hex (PyPI's `blake2_256_digest`). */
export function blake2b256(data: Uint8Array): string {
  return new Blake2b(32).update(data).digest();
}
