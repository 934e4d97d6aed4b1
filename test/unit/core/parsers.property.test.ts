/**
 * Property tests for the shared HTTP header parsers (Range, If-None-Match, If-Modified-Since),
 * digests and storage keys: total on any header string, round-trips of what we write, and no key
 * that leaves the storage root whatever the input.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatDigest, parseDigest, tryParseDigest } from '../../../src/core/digest.ts';
import { etagMatches, notModified, splitEntityTags } from '../../../src/core/http-conditional.ts';
import { contentRangeHeader, parseRange } from '../../../src/core/http-range.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { checkRequestPath, MAX_URL_LENGTH, requestIdFrom } from '../../../src/http/hooks.ts';
import {
  blobKey,
  digestFromBlobKey,
  MAX_KEY_LENGTH,
  validateKey,
  validatePrefix,
} from '../../../src/storage/keys.ts';
import { cpuNow, onlyRegistryErrors } from '../../helpers/properties.ts';

/** Any code points, lone surrogates included (fc's `binary` unit is slow to build). */
const anyCodePoints = (maxLength: number) =>
  fc
    .array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength })
    .map((points) => String.fromCodePoint(...points));

const sizeArb = fc.oneof(fc.nat(1000), fc.constant(0), fc.maxSafeNat());
const rangeish = fc.string({
  unit: fc.constantFrom('bytes', '=', '-', ',', ' ', '0', '1', '9', '5', 'B', '\t', 'x', '+'),
  maxLength: 12,
});

// ---------------------------------------------------------------------------------------------
// Range

test('parseRange is total; a range it returns lies inside the representation', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), rangeish), sizeArb, (header, size) => {
      const result = parseRange(header, size);
      if (result.kind === 'range') {
        const { start, end } = result.range;
        assert.ok(Number.isSafeInteger(start) && Number.isSafeInteger(end));
        assert.ok(start >= 0 && start <= end && end < size, `${header} ${size}`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('parseRange reads back what contentRangeHeader writes, and the RFC 9110 forms', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.nat(), fc.nat(), (size, a, b) => {
      const start = a % size;
      const end = start + (b % (size - start));
      const range = { start, end };
      assert.deepEqual(parseRange(`bytes=${start}-${end}`, size), { kind: 'range', range });
      const written = contentRangeHeader(range, size);
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(written);
      assert.ok(match);
      assert.deepEqual([Number(match[1]), Number(match[2]), Number(match[3])], [start, end, size]);
      // Open-ended, suffix, and a last position past the end (clamped).
      assert.deepEqual(parseRange(`bytes=${start}-`, size), {
        kind: 'range',
        range: { start, end: size - 1 },
      });
      const suffix = (b % (2 * size)) + 1;
      assert.deepEqual(parseRange(`bytes=-${suffix}`, size), {
        kind: 'range',
        range: { start: Math.max(0, size - suffix), end: size - 1 },
      });
      assert.deepEqual(parseRange(`bytes=${start}-${size + b}`, size), {
        kind: 'range',
        range: { start, end: size - 1 },
      });
      assert.deepEqual(parseRange(`bytes=${size + a}-`, size), { kind: 'unsatisfiable' });
    }),
    { numRuns: 1000 },
  );
});

test('parseRange bounds its work on huge headers', () => {
  const start = cpuNow();
  for (const header of [
    `bytes=${'1'.repeat(1 << 20)}-`,
    `bytes=-${'9'.repeat(1 << 20)}`,
    `bytes=${'0-1,'.repeat(100_000)}`,
    `${' '.repeat(1 << 20)}bytes=0-1`,
    `bytes=${'1'.repeat(1 << 19)}-${'1'.repeat(1 << 19)}x`,
  ]) {
    const result = parseRange(header, 100);
    assert.ok(result.kind !== 'range' || result.range.end < 100);
  }
  assert.ok(cpuNow() - start < 1000);
});

// ---------------------------------------------------------------------------------------------
// Conditional requests

const etagArb = fc
  .tuple(
    fc.boolean(),
    fc.string({ unit: fc.constantFrom('a', 'b', '0', ',', ' ', 'W', '/', '-'), maxLength: 8 }),
  )
  .map(([weak, opaque]) => `${weak ? 'W/' : ''}"${opaque}"`);

test('splitEntityTags is total and loses nothing (members joined give the header back)', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.array(etagArb, { maxLength: 5 }).map((l) => l.join(', ')),
      ),
      (header) => {
        assert.equal(splitEntityTags(header).join(','), header);
      },
    ),
    { numRuns: 1000 },
  );
});

test('etagMatches finds an entity-tag anywhere in a list, weak or strong, and nothing else', () => {
  fc.assert(
    fc.property(
      etagArb,
      fc.array(etagArb, { maxLength: 4 }),
      fc.nat(4),
      fc.boolean(),
      (etag, others, at, weakInHeader) => {
        const bare = etag.replace(/^W\//, '');
        const rest = others.filter((o) => o.replace(/^W\//, '') !== bare);
        const member = weakInHeader ? `W/${bare}` : bare;
        const list = [...rest];
        list.splice(at % (list.length + 1), 0, member);
        assert.equal(etagMatches(list.join(', '), etag), true, list.join(', '));
        assert.equal(etagMatches(list, etag), true);
        assert.equal(etagMatches(rest.join(','), etag), false, rest.join(','));
        assert.equal(etagMatches('*', etag), true);
      },
    ),
    { numRuns: 1000 },
  );
});

test('notModified is total; If-Modified-Since round-trips through the HTTP date', () => {
  fc.assert(
    fc.property(
      fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
      fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
      fc.option(etagArb, { nil: undefined }),
      fc.option(fc.oneof(fc.nat(), fc.double(), fc.constant(Number.MAX_VALUE)), { nil: undefined }),
      (inm, ims, etag, modified) => {
        assert.equal(typeof notModified(inm, ims, etag, modified), 'boolean');
      },
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 8_000_000_000 }),
      fc.integer({ min: 1, max: 10_000 }),
      (seconds, later) => {
        const date = new Date(seconds * 1000).toUTCString();
        assert.equal(notModified(undefined, date, undefined, seconds), true);
        assert.equal(notModified(undefined, date, undefined, seconds + later), false);
        // If-None-Match decides when present, whatever the date says.
        assert.equal(notModified('"other"', date, '"x"', seconds), false);
      },
    ),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------------------------------------
// Digests and storage keys

const hexArb = (n: number) => fc.stringMatching(new RegExp(`^[a-f0-9]{${n}}$`));
const digestText = fc.oneof(
  hexArb(64).map((h) => `sha256:${h}`),
  hexArb(128).map((h) => `sha512:${h}`),
);

test('digests: canonical strings round-trip; anything else is DIGEST_INVALID (400)', () => {
  fc.assert(
    fc.property(digestText, (text) => {
      assert.equal(formatDigest(parseDigest(text)), text);
      assert.equal(digestFromBlobKey(blobKey(parseDigest(text))), text);
    }),
    { numRuns: 300 },
  );
  const near = digestText.chain((d) =>
    fc
      .tuple(fc.nat(d.length), fc.constantFrom('A', ':', '/', '..', '\0', ' ', 'g', ''))
      .map(([at, bad]) => `${d.slice(0, at)}${bad}${d.slice(at + (bad === '' ? 1 : 0))}`),
  );
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 140 }), near), (text) => {
      onlyRegistryErrors(() => {
        const digest = parseDigest(text);
        assert.equal(formatDigest(digest), text);
      });
      const loose = tryParseDigest(text);
      if (loose) validateKey(blobKey(loose));
    }),
    { numRuns: 1000 },
  );
});

const ROOT = '/srv/nora/data';
const keyish = fc.string({
  unit: fc.constantFrom(
    'a',
    'B',
    '0',
    '.',
    '/',
    '\\',
    '\0',
    '%2e',
    '%2f',
    '..',
    '~',
    '-',
    '_',
    ' ',
    'é',
    'e\u0301',
    '\u2024',
    '\uff0e',
    ':',
    '@',
  ),
  maxLength: 16,
});

test('validateKey: no accepted key leaves the root or names a dot segment, in any spelling', () => {
  fc.assert(
    fc.property(fc.oneof(keyish, fc.string({ maxLength: 40 }), anyCodePoints(20)), (key) => {
      onlyRegistryErrors(() => {
        const valid = validateKey(key);
        assert.ok(valid.length > 0 && valid.length <= MAX_KEY_LENGTH);
        assert.ok(!/[\\\0%]/.test(valid), valid);
        // Printable ASCII only: no spelling of `.` or `/` that a file system would fold.
        assert.ok(/^[\x21-\x7e]+$/.test(valid), valid);
        assert.equal(path.posix.normalize(valid), valid);
        assert.equal(valid.normalize('NFKC'), valid);
        const resolved = path.posix.resolve(ROOT, valid);
        assert.ok(resolved.startsWith(`${ROOT}/`), resolved);
        assert.ok(valid.split('/').every((s) => s !== '' && s !== '.' && s !== '..'));
      });
      onlyRegistryErrors(() => {
        const prefix = validatePrefix(key);
        assert.ok(path.posix.resolve(ROOT, prefix).startsWith(`${ROOT}/`));
      });
    }),
    { numRuns: 2000 },
  );
});

test('validateKey bounds its work on huge keys', () => {
  const start = cpuNow();
  for (const key of ['a'.repeat(1 << 20), `${'a/'.repeat(1 << 18)}..`, `${'a'.repeat(1000)}\0`]) {
    onlyRegistryErrors(() => validateKey(key));
  }
  assert.ok(cpuNow() - start < 500);
});

// ---------------------------------------------------------------------------------------------
// Request paths (the check every request passes before a format sees it)

/** The rule spelled out: decoded once, no NUL, no `.`/`..` segment split at `/` or `\\`. */
function pathAllowed(url: string): boolean {
  if (url.length > MAX_URL_LENGTH) return false;
  const path = url.split('?')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  return !decoded.includes('\0') && decoded.split(/[/\\]/).every((s) => s !== '.' && s !== '..');
}

const urlArb = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '..',
          '.',
          '%2e',
          '%2E%2e',
          '.%2e',
          '%2e.',
          '%252e%252e',
          '%00',
          '%',
          '%zz',
          '\\',
          '%5c..',
          'a',
          '.a',
          '..a',
          '…',
          '%E2%80%A6',
          '?',
          '?x=/../',
          '',
        ),
        fc.string({ maxLength: 5 }),
      ),
      { maxLength: 6 },
    )
    .map((parts) => `/${parts.join('/')}`),
  fc.string({ maxLength: 40 }),
);

test('checkRequestPath: the fast path answers as the full check; only 400s', () => {
  fc.assert(
    fc.property(urlArb, (url) => {
      const refused = checkRequestPath(url);
      if (refused !== undefined) {
        assert.ok(isRegistryError(refused) && refused.status === 400, String(refused));
      }
      assert.equal(refused === undefined, pathAllowed(url), url);
    }),
    { numRuns: 3000 },
  );
  const start = cpuNow();
  checkRequestPath(`/${'%2e/'.repeat(1600)}`);
  checkRequestPath(`/${'a/'.repeat(4000)}`);
  assert.ok(cpuNow() - start < 200);
});

test('requestIdFrom keeps only header-safe ids', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 140 }), fc.uuid()), (id) => {
      const kept = requestIdFrom(id);
      assert.match(kept, /^[A-Za-z0-9._:-]{1,128}$/);
      if (/^[A-Za-z0-9._:-]{1,128}$/.test(id)) assert.equal(kept, id);
    }),
  );
});
