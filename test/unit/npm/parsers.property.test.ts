/**
 * Property tests for the npm parsers of untrusted input: URL paths, publish bodies, upstream
 * packuments and search queries either succeed or fail with a RegistryError (a 4xx/502), never
 * with anything else; names and versions round-trip through their URL forms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareVersions, isValidName, namePath } from '../../../src/formats/npm/names.ts';
import { parseNpmPath } from '../../../src/formats/npm/paths.ts';
import { parseUpstream } from '../../../src/formats/npm/proxy.ts';
import { analyzeUpdate, parseBody } from '../../../src/formats/npm/publish.ts';
import { parseSearchQuery } from '../../../src/formats/npm/search.ts';
import { onlyRegistryErrors as onlyStatuses } from '../../helpers/properties.ts';

/** npm parsers refuse the client's input (4xx) or an upstream's (502). */
const onlyRegistryErrors = (fn: () => unknown): void => {
  onlyStatuses(fn, { min: 400, max: 599 });
};

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._~-]{0,20}$/);
const nameArb = fc.oneof(
  segment,
  fc.tuple(segment, segment).map(([s, n]) => `@${s}/${n}`),
);

test('parseNpmPath never throws anything but a RegistryError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      onlyRegistryErrors(() => parseNpmPath(`/${text}`));
    }),
    { numRuns: 2000 },
  );
});

test('packument paths round-trip for valid names, in both scoped forms', () => {
  fc.assert(
    fc.property(nameArb, (name) => {
      assert.ok(isValidName(name));
      const plain = parseNpmPath(`/${namePath(name)}`);
      assert.deepEqual(plain, { kind: 'packument', name, rev: undefined });
      const encoded = parseNpmPath(`/${name.replace('/', '%2f')}`);
      assert.deepEqual(encoded, { kind: 'packument', name, rev: undefined });
      const tarball = parseNpmPath(`/${namePath(name)}/-/x-1.0.0.tgz`);
      assert.deepEqual(tarball, { kind: 'tarball', name, filename: 'x-1.0.0.tgz', rev: undefined });
    }),
  );
});

test('publish/update bodies: arbitrary JSON only ever yields RegistryErrors', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      onlyRegistryErrors(() => {
        const body = parseBody(Buffer.from(JSON.stringify(value)));
        analyzeUpdate('pkg', body, ['1.0.0'], true);
      });
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), (text) => {
      onlyRegistryErrors(() => parseBody(Buffer.from(text)));
    }),
  );
});

test('upstream packuments: arbitrary JSON is rejected as 502 or reduced to valid versions', () => {
  fc.assert(
    fc.property(
      fc.record({
        name: fc.constantFrom('pkg', 'other', undefined),
        versions: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 })),
        'dist-tags': fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })),
      }),
      (doc) => {
        onlyRegistryErrors(() => {
          const parsed = parseUpstream(
            'pkg',
            Buffer.from(JSON.stringify(doc)),
            'http://127.0.0.1/',
          );
          for (const v of parsed.view.versions) assert.ok(parsed.tarballs.has(v.filename));
          for (const version of Object.values(parsed.view.tags)) {
            assert.ok(parsed.view.versions.some((v) => v.version === version));
          }
        });
      },
    ),
    { numRuns: 500 },
  );
});

test('search query parameters: only RegistryErrors', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.string(), (text, size, from) => {
      onlyRegistryErrors(() => parseSearchQuery(new URLSearchParams({ text, size, from })));
    }),
  );
});

test('compareVersions is a total order consistent with semver basics', () => {
  const version = fc
    .tuple(
      fc.nat(20),
      fc.nat(20),
      fc.nat(20),
      fc.option(fc.constantFrom('alpha', 'beta.1', 'rc.2', '0')),
    )
    .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre === null ? '' : `-${pre}`}`);
  fc.assert(
    fc.property(version, version, version, (a, b, c) => {
      assert.equal(Math.sign(compareVersions(a, b)), -Math.sign(compareVersions(b, a)));
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0)
        assert.ok(compareVersions(a, c) <= 0);
    }),
  );
  assert.ok(compareVersions('1.0.0-alpha', '1.0.0') < 0);
  assert.ok(compareVersions('1.0.0-alpha.1', '1.0.0-alpha.beta') < 0);
  assert.ok(compareVersions('1.10.0', '1.9.0') > 0);
});
