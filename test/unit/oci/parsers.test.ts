/** Property tests for the OCI name / tag / digest / path parsers (untrusted input). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isRegistryError } from '../../../src/core/errors.ts';
import { parseOciPath } from '../../../src/formats/oci/paths.ts';
import { isValidName, isValidTag, parseReference } from '../../../src/formats/oci/reference.ts';
import { parseContentRange, paginate } from '../../../src/formats/oci/service.ts';

const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const separator = fc.constantFrom('.', '_', '__', '-', '--');
const component = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([s, a]) => s + a).join(''));
const validName = fc
  .array(component, { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join('/'));
const hex = (length: number) => fc.stringMatching(new RegExp(`^[a-f0-9]{${length}}$`));
const digest = fc.oneof(
  hex(64).map((h) => `sha256:${h}`),
  hex(128).map((h) => `sha512:${h}`),
);

/** Parsers may only throw RegistryErrors with a 4xx status. */
function only4xx(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isRegistryError(err), String(err));
    assert.ok(err.status >= 400 && err.status < 500, `${err.status}`);
  }
}

describe('OCI grammar', () => {
  test('generated names of any depth are valid and match the spec regex', () => {
    fc.assert(
      fc.property(validName, (name) => {
        fc.pre(name.length <= 255);
        assert.equal(isValidName(name), true);
        assert.match(name, NAME_RE);
      }),
    );
  });

  test('isValidName agrees with the spec regex on arbitrary strings', () => {
    const chars = fc.constantFrom(...'ab09._-/A%:@ '.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 40 }), (s) => {
        assert.equal(isValidName(s), NAME_RE.test(s) && s.length <= 255, s);
      }),
      { numRuns: 2000 },
    );
  });

  test('isValidTag agrees with the spec regex', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (s) => {
        assert.equal(isValidTag(s), TAG_RE.test(s));
      }),
      { numRuns: 2000 },
    );
  });

  test('parseReference: digests round-trip, tags round-trip, junk is a 4xx', () => {
    fc.assert(
      fc.property(digest, (d) => {
        assert.deepEqual(parseReference(d), { kind: 'digest', digest: d });
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(TAG_RE), (tag) => {
        assert.deepEqual(parseReference(tag), { kind: 'tag', tag });
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        only4xx(() => parseReference(s));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('OCI paths', () => {
  test('manifest, blob, upload, tags and referrers routes parse back to their parts', () => {
    fc.assert(
      fc.property(
        validName,
        digest,
        fc.stringMatching(TAG_RE),
        fc.uuid({ version: 4 }),
        (name, d, tag, uuid) => {
          fc.pre(name.length <= 255);
          assert.deepEqual(parseOciPath(`${name}/manifests/${tag}`), {
            kind: 'manifest',
            name,
            reference: { kind: 'tag', tag },
          });
          assert.deepEqual(parseOciPath(`${name}/manifests/${d}`), {
            kind: 'manifest',
            name,
            reference: { kind: 'digest', digest: d },
          });
          assert.deepEqual(parseOciPath(`${name}/blobs/${d}`), { kind: 'blob', name, digest: d });
          assert.deepEqual(parseOciPath(`${name}/blobs/uploads/`), { kind: 'uploads', name });
          assert.deepEqual(parseOciPath(`${name}/blobs/uploads/${uuid}`), {
            kind: 'upload',
            name,
            uuid,
          });
          assert.deepEqual(parseOciPath(`${name}/tags/list`), { kind: 'tags', name });
          assert.deepEqual(parseOciPath(`${name}/referrers/${d}`), {
            kind: 'referrers',
            name,
            digest: d,
          });
        },
      ),
    );
  });

  test('arbitrary paths never throw anything but a 4xx, and never yield an invalid name', () => {
    const chars = fc.constantFrom(...'ab0/.%2F:_-\\\0'.split(''));
    const segments = fc.constantFrom(
      'manifests',
      'blobs',
      'uploads',
      'tags',
      'list',
      'referrers',
      'sha256:',
      '..',
      '%2F',
      '',
    );
    const pathArb = fc.oneof(
      fc.string({ unit: chars, maxLength: 60 }),
      fc
        .array(fc.oneof(segments, fc.string({ unit: chars, maxLength: 6 })), { maxLength: 8 })
        .map((p) => p.join('/')),
    );
    fc.assert(
      fc.property(pathArb, (p) => {
        only4xx(() => {
          const route = parseOciPath(p);
          if (route && 'name' in route) {
            assert.equal(isValidName(route.name), true, p);
            assert.ok(!route.name.includes('%') && !route.name.includes('..'));
          }
        });
      }),
      { numRuns: 3000 },
    );
  });

  test('Content-Range parsing accepts start-end, and RFC 9110 bytes start-end/length', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        assert.deepEqual(parseContentRange(`${start}-${end}`), { start, end });
      }),
    );
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (a, b, extra) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const range = { start, end };
        assert.deepEqual(parseContentRange(`bytes ${start}-${end}/${end + 1 + extra}`), range);
        assert.deepEqual(parseContentRange(`bytes ${start}-${end}/*`), range);
        // A complete length the range does not fit in is malformed.
        only4xx(() => parseContentRange(`bytes ${start}-${end}/${end}`));
        assert.throws(() => parseContentRange(`bytes ${start}-${end}/${end}`));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        only4xx(() => parseContentRange(s));
      }),
    );
  });

  test('pagination visits every item once, in order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 7 }),
        (items, n) => {
          const sorted = [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          const seen: string[] = [];
          let last: string | undefined;
          for (let guard = 0; guard < 100; guard++) {
            const query = new URLSearchParams({
              n: String(n),
              ...(last === undefined ? {} : { last }),
            });
            const page = paginate(sorted, query);
            seen.push(...page.items);
            const link = page.link('/x')['link'];
            if (link === undefined) break;
            last = page.items[page.items.length - 1];
          }
          assert.deepEqual(seen, sorted);
        },
      ),
    );
  });
});
