/**
 * Property tests for the raw repository's parsers of untrusted input: request paths (percent-
 * encoded once, whatever the client sends) and If-Match / If-None-Match values. A path either
 * parses to plain segments (no empty, `.` or `..` segment, no separator, control, NUL or
 * bidirectional character, bounded) or is a 400; paths built from safe segments round-trip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRegistryError } from '../../../src/core/errors.ts';
import {
  ancestors,
  contentTypeOf,
  decodeSegment,
  encodePath,
  MAX_DEPTH,
  MAX_PATH_LENGTH,
  MAX_SEGMENT_BYTES,
  parseRawPath,
  splitPath,
} from '../../../src/formats/raw/paths.ts';
import { parseEtags } from '../../../src/formats/raw/service.ts';
import { cpuNow, onlyRegistryErrors } from '../../helpers/properties.ts';

const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff/\\]/;

/** A stored path must be plain segments: the store's keys and listings rely on it. */
function assertSafePath(path: string, from: string): void {
  const where = `from ${JSON.stringify(from)}`;
  assert.ok(path.length <= MAX_PATH_LENGTH, where);
  assert.ok(!path.startsWith('/') && !path.endsWith('/'), where);
  const segments = path.split('/');
  assert.ok(segments.length <= MAX_DEPTH, where);
  for (const s of segments) {
    assert.ok(s !== '' && s !== '.' && s !== '..' && s.trim() !== '', where);
    assert.ok(!UNSAFE.test(s), where);
    assert.ok(Buffer.byteLength(s) <= MAX_SEGMENT_BYTES, where);
  }
}

/** Pieces of hostile paths: traversal in every spelling, separators, overlong UTF-8, look-alikes. */
const piece = fc.constantFrom(
  ...'aZ09-_.~ /\\%'.split(''),
  '..',
  '%2e',
  '%2E',
  '%2e%2e',
  '.%2e',
  '%2f',
  '%2F',
  '%5c',
  '%00',
  '%0a',
  '%7f',
  '%c2%85',
  '%c0%ae',
  '%c0%af',
  '%e0%80%ae',
  '%c0%2e',
  '%ef%bc%8e',
  '%e2%80%ae',
  '%e2%80%8b',
  '%ef%bb%bf',
  '%20',
  '%e3%80%80',
  '%25',
  '%252e',
  '%',
  '%g0',
  '\u0000',
  '\uff0e',
  '\u2024',
  '\u202e',
  'é',
  '-',
);
const hostile = fc.string({ unit: piece, maxLength: 40 });
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  hostile,
);

test('parseRawPath: arbitrary paths are safe plain segments or a 400', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        anyText.map((t) => `/${t}`),
        anyText,
        fc.array(hostile, { maxLength: 6 }).map((s) => `/${s.join('/')}`),
        fc.array(hostile, { maxLength: 6 }).map((s) => `/${s.join('/')}/`),
      ),
      (rest) => {
        onlyRegistryErrors(() => {
          const parsed = parseRawPath(rest);
          if (parsed.kind === 'file' || parsed.kind === 'dir') assertSafePath(parsed.path, rest);
          if (parsed.kind === 'api') assert.ok(rest.startsWith('/-/') || rest === '/-');
        });
      },
    ),
    { numRuns: 5000 },
  );
});

/** Segments a user may name files with: any printable text, unicode included. */
const safeSegment = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom(...'aZ09-_.~ %#?&+=é'.split('')),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 12,
  })
  .filter((s) => {
    try {
      return decodeSegment(encodeURIComponent(s)) === s;
    } catch {
      return false;
    }
  });

test('paths built from safe segments round-trip, as files and as folders', () => {
  fc.assert(
    fc.property(
      fc.array(safeSegment, { minLength: 1, maxLength: 8 }).filter((s) => s[0] !== '-'),
      (segments) => {
        const path = segments.join('/');
        assert.deepEqual(parseRawPath(`/${encodePath(path)}`), { kind: 'file', path });
        assert.deepEqual(parseRawPath(`/${encodePath(path)}/`), { kind: 'dir', path });
        const { parent, name } = splitPath(path);
        assert.equal(name, segments.at(-1));
        assert.equal(parent, segments.slice(0, -1).join('/'));
        assert.deepEqual(
          ancestors(path),
          segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/')),
        );
      },
    ),
    { numRuns: 1000 },
  );
  // A first segment of `-` is NORA's api namespace, encoded or not it is never a file.
  assert.deepEqual(parseRawPath('/-/reindex'), { kind: 'api', name: 'reindex' });
});

test('decodeSegment: every spelling of `.`, `..` and a separator is refused', () => {
  const dotLike = fc.constantFrom('.', '%2e', '%2E');
  fc.assert(
    fc.property(
      fc.array(dotLike, { minLength: 1, maxLength: 2 }),
      fc.constantFrom('%2f', '%2F', '%5c', '%5C', '%00'),
      (dots, separator) => {
        assert.throws(() => decodeSegment(dots.join('')), isRegistryError);
        assert.throws(() => decodeSegment(`a${separator}b`), isRegistryError);
        assert.throws(() => parseRawPath(`/x/${dots.join('')}/y`), isRegistryError);
      },
    ),
  );
  // Overlong UTF-8 for `.` and `/` is malformed, never decoded to them.
  for (const s of ['%c0%ae', '%c0%ae%c0%ae', '%e0%80%ae', '%c0%af', '%f0%80%80%ae']) {
    assert.throws(() => decodeSegment(s), isRegistryError);
  }
  fc.assert(
    fc.property(anyText, (segment) => {
      onlyRegistryErrors(() => {
        const decoded = decodeSegment(segment);
        assertSafePath(decoded, segment);
      });
    }),
    { numRuns: 3000 },
  );
});

test('splitPath is total and splits at the last slash', () => {
  fc.assert(
    fc.property(anyText, (path) => {
      const { parent, name } = splitPath(path);
      assert.ok(!name.includes('/'));
      assert.equal(parent === '' && !path.includes('/') ? name : `${parent}/${name}`, path);
    }),
    { numRuns: 2000 },
  );
});

test('parseEtags: arbitrary header values give tags or a 400; lists round-trip', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc.string({ unit: fc.constantFrom(...'"W/ ,*a'.split('')), maxLength: 20 }),
      ),
      fc.constantFrom<'weak' | 'strong'>('weak', 'strong'),
      (value, comparison) => {
        onlyRegistryErrors(() => {
          for (const tag of parseEtags(value, comparison)) assert.ok(!tag.includes('"'));
        });
      },
    ),
    { numRuns: 3000 },
  );
  const tag = fc.stringMatching(/^[!#-~]{0,20}$/);
  fc.assert(
    fc.property(fc.array(fc.tuple(tag, fc.boolean()), { minLength: 1, maxLength: 5 }), (tags) => {
      const header = tags.map(([t, weak]) => `${weak ? 'W/' : ''}"${t}"`).join(' ,  ');
      assert.deepEqual(
        parseEtags(header, 'weak'),
        tags.map(([t]) => t),
      );
      assert.deepEqual(
        parseEtags(header, 'strong'),
        tags.filter(([, weak]) => !weak).map(([t]) => t),
      );
    }),
    { numRuns: 1000 },
  );
  assert.deepEqual(parseEtags(' * '), ['*']);
  // Regression (the shrunk counterexample of the round-trip above): an opaque tag may hold a
  // `,` (RFC 9110 §8.8.3); the list was split at every comma, so `","` was a 400.
  assert.deepEqual(parseEtags('","'), [',']);
  assert.deepEqual(parseEtags('"a,b", W/"c"', 'strong'), ['a,b']);
  assert.throws(() => parseEtags('"a", "b'), isRegistryError);
  assert.throws(() => parseEtags('"a",,"b"'), isRegistryError);
});

test('adversarial sizes are refused or parsed quickly', () => {
  const mb = 1024 * 1024;
  const started = cpuNow();
  for (const rest of [
    `/${'a/'.repeat(mb / 2)}`,
    `/${'%2e%2e/'.repeat(mb / 7)}`,
    `/${'a'.repeat(mb)}`,
    `/${'%e2%80%ae'.repeat(mb / 9)}`,
    `/${'%'.repeat(mb)}`,
    `/-/${'x/'.repeat(mb / 2)}`,
  ]) {
    onlyRegistryErrors(() => parseRawPath(rest));
  }
  onlyRegistryErrors(() => parseEtags(`"a",${' '.repeat(mb)}x`));
  onlyRegistryErrors(() =>
    parseEtags(
      Array(mb / 4)
        .fill('"a"')
        .join(','),
    ),
  );
  const ms = cpuNow() - started;
  // ~0.5 s alone here; a quadratic step would take minutes. Room for a loaded CI machine.
  assert.ok(ms < 5000, `${ms} ms`);
});

test('contentTypeOf is total and always a media type string', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc
          .tuple(
            fc.string({ maxLength: 10 }),
            fc.oneof(
              fc.constantFrom(
                'constructor',
                '__proto__',
                'toString',
                'valueOf',
                'json',
                'HTML',
                '',
              ),
              fc.string({ maxLength: 8 }),
            ),
          )
          .map(([name, ext]) => `${name}.${ext}`),
      ),
      (path) => {
        const type = contentTypeOf(path);
        assert.equal(typeof type, 'string');
        assert.match(type, /^[a-z]+\/[a-z0-9.+-]+(?:; charset=utf-8)?$/, `${path} → ${type}`);
      },
    ),
    { numRuns: 1000 },
  );
});

test('regression: a file named x.constructor or x.__proto__ is application/octet-stream', () => {
  // Found by the property above: the extension table's inherited members were answered as the
  // Content-Type (a function, an object).
  for (const path of ['a/x.constructor', 'x.__proto__', 'x.hasOwnProperty', 'x.CONSTRUCTOR']) {
    assert.equal(contentTypeOf(path), 'application/octet-stream', path);
  }
});
