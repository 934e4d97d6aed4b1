/** blake2b.ts against hashlib.blake2b (digest_size=32 and 64) and node's blake2b512. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Blake2b, blake2b256 } from '../../../src/formats/pypi/blake2b.ts';

const SEQ = Buffer.from(Array.from({ length: 1280 }, (_, i) => i % 256));

test('BLAKE2b-256 matches Python hashlib.blake2b(digest_size=32)', () => {
  assert.equal(
    blake2b256(Buffer.alloc(0)),
    '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8',
  );
  assert.equal(
    blake2b256(Buffer.from('abc')),
    'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319',
  );
  assert.equal(blake2b256(SEQ), '82628cbfc9689e234b0923a531f4578fe2e7138a03e2f81ed6cde97517336650');
});

test('64-byte output equals node:crypto blake2b512 at block boundaries, in any chunking', () => {
  for (const len of [0, 1, 127, 128, 129, 255, 256, 257, 4096, 70_001]) {
    const data = randomBytes(len);
    const expected = createHash('blake2b512').update(data).digest('hex');
    assert.equal(new Blake2b(64).update(data).digest(), expected, `length ${len}`);
    const chunked = new Blake2b(64);
    for (let i = 0; i < len; i += 61) chunked.update(data.subarray(i, i + 61));
    assert.equal(chunked.digest(), expected, `length ${len}, 61-byte chunks`);
  }
});

test('bad output lengths and a second digest() are refused', () => {
  assert.throws(() => new Blake2b(0), RangeError);
  assert.throws(() => new Blake2b(65), RangeError);
  const h = new Blake2b(32);
  h.digest();
  assert.throws(() => h.digest());
  assert.throws(() => h.update(Buffer.from('x')));
});
