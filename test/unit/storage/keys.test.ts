import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { blobKey, digestFromBlobKey, validateKey } from '../../../src/storage/keys.ts';
import { digestOf, formatDigest } from '../../../src/core/digest.ts';

test('no accepted key ever resolves outside the storage root', () => {
  const root = path.resolve('/srv/nora-root');
  const alphabet = fc.constantFrom(
    'a',
    'Z',
    '0',
    '.',
    '..',
    '/',
    '\\',
    '\0',
    '%2e',
    '-',
    '_',
    '@',
    ' ',
    '~',
  );
  fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 30 }).map((parts) => parts.join('')),
      (candidate) => {
        let accepted: string;
        try {
          accepted = validateKey(candidate);
        } catch {
          return;
        }
        const full = path.resolve(root, accepted);
        assert.ok(
          full.startsWith(root + path.sep),
          `${JSON.stringify(candidate)} escaped to ${full}`,
        );
        assert.ok(!accepted.includes('\0'));
      },
    ),
    { numRuns: 5000 },
  );
});

test('blob keys round-trip to digests', () => {
  const digest = digestOf('abc');
  const key = blobKey(digest);
  assert.equal(key, `blobs/sha256/${digest.hex.slice(0, 2)}/${digest.hex}`);
  assert.equal(digestFromBlobKey(key), formatDigest(digest));
  assert.equal(digestFromBlobKey('blobs/sha256/zz/nothex'), undefined);
});

test('blob-shaped keys: the one-pattern path accepts only what the segment checks accept', () => {
  const hex = 'ab'.repeat(32);
  assert.equal(validateKey(`blobs/sha256/ab/${hex}`), `blobs/sha256/ab/${hex}`);
  assert.equal(validateKey(`blobs/sha512/ab/${hex}${hex}`), `blobs/sha512/ab/${hex}${hex}`);
  // Near misses fall through to the segment checks, which still refuse what is unsafe.
  for (const bad of [`blobs/sha256/ab/..`, `blobs/sha256/../${hex}`, `blobs/sha256/ab/${hex}/`]) {
    assert.throws(() => validateKey(bad), /invalid storage key/);
  }
  assert.equal(validateKey(`blobs/sha256/AB/${hex}`), `blobs/sha256/AB/${hex}`);
});
