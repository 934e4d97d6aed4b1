/**
 * Property tests for the npm parsers of untrusted input: URL paths, publish bodies, upstream
 * packuments and search queries either succeed or fail with a RegistryError (a 4xx/502), never
 * with anything else; names and versions round-trip through their URL forms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { tarHeader } from '../../integration/pypi/fixtures.ts';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { isRegistryError } from '../../../src/core/errors.ts';
import {
  checkName,
  checkNewPackageName,
  checkPublishName,
  compareVersions,
  findEqualVersion,
  highestVersion,
  isValidName,
  isValidTag,
  isValidVersion,
  namePath,
  newPackageNameProblems,
  precedenceKey,
  tarballFilename,
} from '../../../src/formats/npm/names.ts';
import type { PackageView, VersionView } from '../../../src/formats/npm/packument.ts';
import { renderPackument } from '../../../src/formats/npm/packument.ts';
import { parseNpmPath } from '../../../src/formats/npm/paths.ts';
import { parseUpstream } from '../../../src/formats/npm/proxy.ts';
import { analyzeUpdate, ingestPublish, parseBody } from '../../../src/formats/npm/publish.ts';
import {
  parsePerson,
  parseSearchQuery,
  searchMeta,
  searchPackages,
} from '../../../src/formats/npm/search.ts';
import { mergeViews } from '../../../src/formats/npm/service.ts';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { cpuNow, onlyRegistryErrors as onlyStatuses, semver2 } from '../../helpers/properties.ts';

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

// ---------------------------------------------------------------------------------------------
// Versions: SemVer 2.0.0 precedence, at any size

/** SemVer §11 precedence, spelled independently (BigInt: numeric identifiers of any size). */
function semverOrder(a: string, b: string): number {
  const split = (v: string) => {
    const core = v.split('+')[0] ?? '';
    const dash = core.indexOf('-');
    const main = (dash === -1 ? core : core.slice(0, dash)).split('.').map(BigInt);
    return { main, pre: dash === -1 ? [] : core.slice(dash + 1).split('.') };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.main[i] ?? 0n) - (y.main[i] ?? 0n);
    if (d !== 0n) return d < 0n ? -1 : 1;
  }
  if (x.pre.length === 0 || y.pre.length === 0) return Math.sign(y.pre.length - x.pre.length);
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined || q === undefined) return p === undefined ? -1 : 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) {
      const d = BigInt(p) - BigInt(q);
      if (d !== 0n) return d < 0n ? -1 : 1;
    } else if (pn !== qn) return pn ? -1 : 1;
    else if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

const bigNumeric = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
  fc.constantFrom('9007199254740991', '9007199254740992', '9007199254740993', '0', '1'),
);
/** Versions whose prerelease may carry numbers past 2^53 (nanosecond build stamps). */
const bigPrerelease = fc
  .tuple(
    fc.constantFrom('1.0.0', '0.0.1', '2.3.4'),
    fc.array(fc.oneof(bigNumeric, fc.constantFrom('alpha', 'rc', 'x-1')), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([main, pre]) => `${main}-${pre.join('.')}`);

test('compareVersions is SemVer 2.0.0 precedence on valid versions, and a total order', () => {
  const version = fc.oneof(
    semver2.map((v) => v.text),
    bigPrerelease,
  );
  fc.assert(
    fc.property(version, version, version, (a, b, c) => {
      assert.ok(isValidVersion(a), a);
      assert.equal(Math.sign(compareVersions(a, b)), semverOrder(a, b), `${a} vs ${b}`);
      // Equal exactly within one precedence class (build metadata ignored).
      assert.equal(compareVersions(a, b) === 0, precedenceKey(a) === precedenceKey(b));
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) {
        assert.ok(compareVersions(a, c) <= 0);
      }
      assert.equal(
        findEqualVersion(a, [b, c]) !== undefined,
        [b, c].some((v) => compareVersions(a, v) === 0),
      );
    }),
    { numRuns: 1500 },
  );
});

test('regression: prerelease numbers past 2^53 are ordered, not equal', () => {
  // Found by the precedence property: semver compares them as JS numbers, so these two
  // (distinct versions by precedenceKey) compared equal and "highest" was a coin toss.
  const a = '1.0.0-9007199254740992';
  const b = '1.0.0-9007199254740993';
  assert.equal(compareVersions(a, b), -1);
  assert.equal(compareVersions(b, a), 1);
  assert.equal(highestVersion([b, a]), b);
  assert.equal(highestVersion([a, b]), b);
  assert.equal(compareVersions('1.0.0-1733130000000000001', '1.0.0-1733130000000000000'), 1);
});

test('isValidVersion: accepted versions are canonical and bounded; others never throw', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 30 }),
        semver2.map((v) => v.text),
        semver2.map((v) => `v${v.text}`),
        semver2.map((v) => ` ${v.text}`),
        fc.constantFrom('1.0.0-01', '01.0.0', '1.0', '9007199254740992.0.0', '1.0.0+', '1.0.0-'),
      ),
      (text) => {
        if (!isValidVersion(text)) return;
        assert.ok(text.length <= 256);
        assert.match(text, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/);
        assert.ok(!/(^|\.)0\d/.test(text.split(/[-+]/)[0] ?? ''), text);
      },
    ),
    { numRuns: 1000 },
  );
});

test('dist-tags: valid tags are never versions and never inherited object members by accident', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,10}$/),
        semver2.map((v) => v.text),
        fc.constantFrom('__proto__', 'constructor', 'toString', 'latest', 'v1.0.0', '1.0.0'),
      ),
      (tag) => {
        if (!isValidTag(tag)) return;
        assert.ok(!isValidVersion(tag));
        assert.match(tag, /^[A-Za-z][A-Za-z0-9._-]{0,127}$/);
      },
    ),
    { numRuns: 1000 },
  );
});

// ---------------------------------------------------------------------------------------------
// Names and URL forms

test('publish and new-package name checks: only 400s, and a new name is a publishable name', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        nameArb,
        fc.string({ maxLength: 30 }),
        nameArb.map((n) => n.toUpperCase()),
      ),
      (name) => {
        onlyStatuses(() => checkPublishName(name), [400]);
        onlyStatuses(() => checkNewPackageName(name), [400]);
        if (newPackageNameProblems(name).length === 0) {
          assert.equal(checkPublishName(name), name);
          assert.ok(isValidName(name));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('a name npm accepts for a new package passes every NORA name check (trial 18 authx F4)', () => {
  // validate-npm-package-name refuses a leading "_" or "." of the whole name only: the CLI
  // sends `@corp/_under`, which the route check used to refuse.
  for (const name of ['@corp/_under', '@corp/-x', '@_corp/x', '@.corp/x', '@a!b/x', 'x_', 'a.b']) {
    assert.deepEqual(newPackageNameProblems(name), [], name);
    assert.ok(isValidName(name), name);
    assert.equal(checkPublishName(name), name);
    assert.deepEqual(parseNpmPath(`/${namePath(name)}`), {
      kind: 'packument',
      name,
      rev: undefined,
    });
  }
  // npm's alphabet, scoped or not: whatever npm takes as new, every NORA check takes.
  const npmChar = fc.constantFrom(..."ab09._-~!'()*@/".split(''));
  fc.assert(
    fc.property(fc.string({ unit: npmChar, maxLength: 12 }), (name) => {
      if (newPackageNameProblems(name).length > 0) return;
      assert.ok(isValidName(name), name);
      assert.equal(checkPublishName(name), name);
    }),
    { numRuns: 3000 },
  );
  // The refusals' rule texts agree: the route check does not call "~" allowed, which a new
  // package's name may not hold.
  for (const name of ['_under', '.x', '@corp/.x']) {
    const err = (() => {
      try {
        checkName(name);
      } catch (error) {
        return error instanceof Error ? error.message : '';
      }
      return 'accepted';
    })();
    assert.match(
      err,
      /cannot start with "\." or "_", the part after the scope not with "\."/,
      name,
    );
    assert.doesNotMatch(err, /"~", optional/, name);
  }
  assert.match(newPackageNameProblems('@corp/a~b').join(), /special characters/);
});

test('dist-tag, version and tarball routes round-trip in every spelling of a scoped name', () => {
  const spec = fc.oneof(
    semver2.map((v) => v.text),
    fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,10}$/),
  );
  fc.assert(
    fc.property(nameArb, spec, fc.constantFrom('%2f', '%2F', '/'), (name, tagOrVersion, slash) => {
      const spelled = name.replace('/', slash);
      const rev = '3-abc';
      assert.deepEqual(parseNpmPath(`/${spelled}/${encodeURIComponent(tagOrVersion)}`), {
        kind: 'version',
        name,
        spec: tagOrVersion,
      });
      assert.deepEqual(parseNpmPath(`/-/package/${spelled}/dist-tags/${tagOrVersion}`), {
        kind: 'dist-tags',
        name,
        tag: tagOrVersion,
      });
      assert.deepEqual(parseNpmPath(`/-/package/${spelled}/dist-tags`), {
        kind: 'dist-tags',
        name,
        tag: undefined,
      });
      const filename = tarballFilename(name, '1.0.0');
      assert.deepEqual(parseNpmPath(`/${spelled}/-/${filename}/-rev/${rev}`), {
        kind: 'tarball',
        name,
        filename,
        rev,
      });
      assert.deepEqual(parseNpmPath(`/${spelled}/-rev/${rev}`), { kind: 'packument', name, rev });
    }),
    { numRuns: 500 },
  );
});

test('parseNpmPath: names it yields are valid, whatever the spelling (dots, %2e, backslashes)', () => {
  const piece = fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2E',
    '%2f',
    '%5c',
    '\\',
    '%00',
    '@',
    '@x',
    'a',
    '-',
    '_a',
    '%40',
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof(piece, fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 5 }),
      (parts) => {
        onlyRegistryErrors(() => {
          const route = parseNpmPath(`/${parts.join('/')}`);
          if ('name' in route) {
            assert.ok(isValidName(route.name), route.name);
            assert.ok(!route.name.includes('..') || !route.name.split('/').includes('..'));
          }
        });
      },
    ),
    { numRuns: 1500 },
  );
});

// ---------------------------------------------------------------------------------------------
// Packument merge (groups) and rendering

function versionView(version: string): VersionView {
  return {
    version,
    manifest: { name: 'pkg', version },
    filename: tarballFilename('pkg', version),
    integrity: undefined,
    shasum: 'a'.repeat(40),
    time: undefined,
    deprecated: undefined,
  };
}

const tagName = fc.oneof(
  fc.constantFrom('latest', 'next', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'),
  fc.stringMatching(/^[a-z]{1,5}$/),
);
// One version per precedence class within a view (the hosted store refuses a second one).
const viewArb = fc
  .uniqueArray(semver2, { minLength: 1, maxLength: 5, selector: (v) => v.key })
  .map((list) => list.map((v) => v.text))
  .chain((versions) =>
    fc
      .dictionary(tagName, fc.constantFrom(...versions), { maxKeys: 4 })
      .map((tags): PackageView => ({
        name: 'pkg',
        rev: '1-0',
        tags,
        // Sorted, as hostedView and parseUpstream hand them over.
        versions: [...versions].sort(semverOrder).map(versionView),
        created: undefined,
        modified: undefined,
        meta: {},
      })),
  );

test('mergeViews: one version per precedence class, every tag of every view, first view wins', () => {
  fc.assert(
    fc.property(fc.array(viewArb, { minLength: 1, maxLength: 3 }), (views) => {
      const merged = mergeViews(views);
      const served = merged.versions.map((v) => v.version);
      const keys = served.map((v) => precedenceKey(v));
      assert.equal(new Set(keys).size, keys.length, 'two versions of one precedence class');
      for (let i = 1; i < served.length; i++) {
        assert.ok(compareVersions(served[i - 1] ?? '', served[i] ?? '') < 0);
      }
      for (const [tag, version] of Object.entries(merged.tags)) {
        assert.ok(served.includes(version), `${tag} → ${version}`);
      }
      for (const view of views) {
        for (const tag of Object.keys(view.tags)) assert.ok(Object.hasOwn(merged.tags, tag), tag);
      }
      for (const [tag, version] of Object.entries(views[0]?.tags ?? {})) {
        assert.equal(merged.tags[tag], version);
      }
      const doc = renderPackument(merged, 'full', 'http://127.0.0.1/npm');
      assert.deepEqual(Object.keys(doc['versions'] as object).sort(), [...served].sort());
    }),
    { numRuns: 500 },
  );
});

test('regression: a dist-tag of a later view named like an Object member is merged', () => {
  // Found by the merge property: `tags[tag] === undefined` read the inherited
  // `constructor`/`toString`, so a group dropped those (valid) tags of its second member.
  const first = fc.sample(viewArb, { numRuns: 1, seed: 1 })[0];
  assert.ok(first);
  const a: PackageView = { ...first, tags: {}, versions: [versionView('1.0.0')] };
  const b: PackageView = {
    ...first,
    tags: { constructor: '2.0.0', toString: '2.0.0' },
    versions: [versionView('2.0.0')],
  };
  assert.deepEqual(mergeViews([a, b]).tags, { constructor: '2.0.0', toString: '2.0.0' });
});

// ---------------------------------------------------------------------------------------------
// Publish bodies

/** A BlobStore stand-in: hashes in memory, checks `expected` as the real one does. */
function memoryBlobs(): BlobStore {
  const stored = new Map<string, Buffer>();
  return {
    async ingest(body: Readable, options: { expected?: { algorithm: string; hex: string } } = {}) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
      const bytes = Buffer.concat(chunks);
      const hash = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
      const algorithm = options.expected?.algorithm ?? 'sha256';
      if (options.expected && hash(algorithm) !== options.expected.hex) {
        const { RegistryError } = await import('../../../src/core/errors.ts');
        throw new RegistryError('DIGEST_INVALID', 'digest mismatch');
      }
      stored.set(hash(algorithm), bytes);
      return {
        digest: { algorithm, hex: hash(algorithm) },
        size: bytes.length,
        hashes: { sha512: hash('sha512'), sha1: hash('sha1'), [algorithm]: hash(algorithm) },
        created: true,
      };
    },
    open(digest: { hex: string }) {
      return Promise.resolve(Readable.from([stored.get(digest.hex) ?? Buffer.alloc(0)]));
    },
  } as unknown as BlobStore;
}

const publishName = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,12}$/),
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,6}$/),
      fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/),
    )
    .map(([s, n]) => `@${s}/${n}`),
);

const publishArb = fc
  .tuple(
    publishName,
    fc.uniqueArray(
      semver2.map((v) => v.text),
      { minLength: 1, maxLength: 3 },
    ),
    fc.uint8Array({ minLength: 0, maxLength: 64 }),
    fc.boolean(),
  )
  .chain(([name, versions, seed, scopedKey]) =>
    fc
      .dictionary(
        fc.oneof(
          fc.constantFrom('latest', 'next', 'constructor'),
          fc.stringMatching(/^[a-z]{1,4}$/),
        ),
        fc.constantFrom(...versions),
        { maxKeys: 3 },
      )
      .map((tags) => {
        const versionDocs: Record<string, unknown> = {};
        const attachments: Record<string, unknown> = {};
        versions.forEach((version, i) => {
          const tgz = gzipSync(
            tarOf(Buffer.concat([Buffer.from(seed), Buffer.from([i])]), name, version),
          );
          const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
          const shasum = createHash('sha1').update(tgz).digest('hex');
          versionDocs[version] = { name, version, dist: { integrity, shasum } };
          const key = scopedKey ? `${name}-${version}.tgz` : tarballFilename(name, version);
          attachments[key] = { data: tgz.toString('base64'), length: tgz.length };
        });
        return {
          name,
          body: {
            _id: name,
            name,
            'dist-tags': tags,
            versions: versionDocs,
            _attachments: attachments,
          },
        };
      }),
  );

test('a valid publish body yields exactly its versions, tarball names and dist-tags', async () => {
  await fc.assert(
    fc.asyncProperty(publishArb, async ({ name, body }) => {
      const input = await ingestPublish(memoryBlobs(), name, body, undefined);
      const versions = Object.keys(body['versions']);
      assert.deepEqual(
        input.versions.map((v) => v.version),
        versions,
      );
      for (const v of input.versions) {
        assert.equal(v.filename, tarballFilename(name, v.version));
        const dist = (body['versions'] as Record<string, { dist: { integrity: string } }>)[
          v.version
        ]?.dist;
        assert.equal(v.integrity, dist?.integrity);
        assert.equal(v.manifest['_id'], `${name}@${v.version}`);
      }
      assert.deepEqual(input.tags, { ...(body['dist-tags'] as object) });
    }),
    { numRuns: 100 },
  );
});

test('a publish body with one part broken is a 400, never anything else', async () => {
  /** [field, key ('*': the first one), key inside it] and the value put there. */
  type Breakage = readonly [readonly string[], unknown];
  const breakages: Breakage[] = [
    [['name'], 'other'],
    [['_id'], 42],
    [['versions'], []],
    [['versions'], {}],
    [['versions', '*'], 'x'],
    [['versions', '*', 'name'], 'other'],
    [['versions', '*', 'version'], '9.9.9'],
    [['versions', '*', 'dist'], { integrity: 'sha512-AAAA' }],
    [['versions', '*', 'dist'], { integrity: `sha512-${'A'.repeat(88)}` }],
    [['versions', '*', 'dist'], { shasum: 'b'.repeat(40) }],
    [['_attachments'], 'x'],
    [['_attachments', '*'], { data: '!!!!' }],
    [['_attachments', '*'], { data: 'AAA=' }],
    [['_attachments', '*'], { data: 'H4sI', length: 999 }],
    [['_attachments', '*', 'length'], -1],
    [['dist-tags'], []],
    [['dist-tags', '__proto__'], '1.0.0'],
    [['dist-tags', 'constructor'], 'nope'],
    [['dist-tags', '1.0.0'], '1.0.0'],
    [['versions', '__proto__'], {}],
    [['_attachments', '__proto__'], {}],
    [['_attachments', '../../x.tgz'], { data: 'H4sI' }],
  ];
  await fc.assert(
    fc.asyncProperty(
      publishArb,
      fc.constantFrom(...breakages),
      async ({ name, body }, [at, value]) => {
        const copy = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
        let target: Record<string, unknown> = copy;
        for (const [i, part] of at.entries()) {
          const key = part === '*' ? (Object.keys(target)[0] ?? '') : part;
          if (i === at.length - 1) {
            // defineProperty: `__proto__` becomes an own key, as JSON.parse makes it.
            Object.defineProperty(target, key, {
              value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else {
            target = target[key] as Record<string, unknown>;
          }
        }
        const text = Buffer.from(JSON.stringify(copy));
        try {
          await ingestPublish(memoryBlobs(), name, parseBody(text), undefined);
        } catch (err) {
          assert.ok(isRegistryError(err), `unexpected ${String(err)}`);
          assert.equal(err.status, 400, err.message);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('regression: a package whose (valid) name holds `..` can be published', async () => {
  // Found by the publish property: `a..b` passes npm's name rules and checkPublishName, but its
  // attachment `a..b-1.0.0.tgz` was refused as "invalid attachment name".
  for (const name of ['a..b', '@s/x..y', '0..']) {
    const tgz = gzipSync(tarOf(Buffer.from(name), name, '1.0.0'));
    const body = {
      name,
      versions: {
        '1.0.0': {
          name,
          version: '1.0.0',
          dist: { integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}` },
        },
      },
      _attachments: { [tarballFilename(name, '1.0.0')]: { data: tgz.toString('base64') } },
    };
    const input = await ingestPublish(memoryBlobs(), name, body, undefined);
    assert.equal(input.versions[0]?.filename, tarballFilename(name, '1.0.0'));
  }
});

// ---------------------------------------------------------------------------------------------
// Search: people strings, queries, results

/** The person-string RegExp parsePerson replaced, kept as the reference on short inputs. */
function personByRegExp(value: string): { name: string; email?: string; url?: string } {
  const match = /^([^<(]*?)\s*(?:<([^>]*)>)?\s*(?:\(([^)]*)\))?\s*$/.exec(value);
  return {
    name: (match?.[1] ?? value).trim(),
    ...(match?.[2] === undefined ? {} : { email: match[2] }),
    ...(match?.[3] === undefined ? {} : { url: match[3] }),
  };
}

const personText = fc.oneof(
  fc.string({
    unit: fc.constantFrom('a', 'B', ' ', '\t', '\n', '<', '>', '(', ')', '@', '.', '\u00a0'),
    maxLength: 24,
  }),
  fc
    .tuple(
      fc.string({ maxLength: 8 }),
      fc.option(fc.string({ maxLength: 8 })),
      fc.option(fc.string({ maxLength: 8 })),
    )
    .map(([n, e, u]) => `${n}${e === null ? '' : ` <${e}>`}${u === null ? '' : ` (${u})`}`),
);

test('parsePerson reads "Name <email> (url)" exactly as the RegExp it replaced', () => {
  fc.assert(
    fc.property(personText, (text) => {
      assert.deepEqual(parsePerson(text), personByRegExp(text), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});

test('regression: person strings are parsed in linear time (search results, upstream packuments)', () => {
  // Found by timing: `a`, 500 spaces and `<` took 11 s in the RegExp (cubic backtracking); an
  // author string like that in one packument stalled every search that listed it.
  const start = cpuNow();
  for (const text of [
    `a${' '.repeat(100_000)}<`,
    `a${' '.repeat(100_000)}(`,
    `a <b>${' '.repeat(100_000)}(`,
    '<'.repeat(100_000),
    ' ('.repeat(50_000),
  ]) {
    parsePerson(text);
    const view: PackageView = {
      name: 'pkg',
      rev: '1-0',
      tags: {},
      versions: [],
      created: undefined,
      modified: undefined,
      meta: { author: text, maintainers: [text, text] },
    };
    searchMeta(view);
    searchPackages(
      [
        {
          repo: 'npm',
          name: 'pkg',
          description: '',
          keywords: '',
          latest: '1.0.0',
          modifiedAt: 0,
          meta: { author: text },
        },
      ],
      { text: '', size: 20, from: 0 },
    );
  }
  assert.ok(cpuNow() - start < 1000);
});

const rowArb = fc.record({
  repo: fc.constant('npm'),
  name: nameArb,
  description: fc.string({ maxLength: 20 }),
  keywords: fc.array(fc.stringMatching(/^[a-z]{1,5}$/), { maxLength: 3 }).map((k) => k.join(' ')),
  latest: fc.constant('1.0.0'),
  modifiedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  meta: fc.oneof(
    fc.constant({}),
    fc.record(
      {
        author: fc.oneof(personText, fc.jsonValue({ maxDepth: 1 })),
        maintainers: fc.oneof(
          fc.array(fc.oneof(personText, fc.record({ name: fc.string({ maxLength: 5 }) }))),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        publisher: fc.jsonValue({ maxDepth: 1 }),
        date: fc.oneof(fc.string({ maxLength: 10 }), fc.constant('2026-01-01T00:00:00.000Z')),
        homepage: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    ),
  ),
});
const queryText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom('keywords:', 'scope:', 'author:', 'maintainer:', 'is:', '__proto__:', ':'),
        fc.stringMatching(/^[a-z@,]{0,5}$/),
      ),
      { maxLength: 5 },
    )
    .map((p) => p.join(' ')),
);

test('searchPackages is total: pages are bounded, results match every word, dates are valid', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(rowArb, { maxLength: 8, selector: (r) => r.name }),
      queryText,
      fc.integer({ min: 1, max: 5 }),
      fc.nat(6),
      (rows, text, size, from) => {
        const result = searchPackages(rows, { text, size, from });
        assert.ok(result.objects.length <= size);
        assert.ok(result.total >= result.objects.length);
        assert.ok(from + result.objects.length <= Math.max(result.total, from));
        for (const object of result.objects as {
          package: { name: string; date: string };
          score: { final: number };
        }[]) {
          assert.ok(rows.some((r) => r.name === object.package.name));
          assert.ok(!Number.isNaN(Date.parse(object.package.date)), object.package.date);
          assert.ok(object.score.final >= 0 && object.score.final <= 1);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('parseSearchQuery round-trips size and from; bounds them', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 1024 }),
      fc.integer({ min: 1, max: 250 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      (text, size, from) => {
        assert.deepEqual(
          parseSearchQuery(new URLSearchParams({ text, size: String(size), from: String(from) })),
          { text, size, from },
        );
      },
    ),
    { numRuns: 300 },
  );
  for (const bad of [
    { size: '0' },
    { size: '251' },
    { size: '-1' },
    { from: '1e3' },
    { from: '0x10' },
    { size: ' 5' },
    { text: 'x'.repeat(1025) },
  ]) {
    assert.throws(
      () => parseSearchQuery(new URLSearchParams(bad)),
      (err: unknown) => isRegistryError(err) && err.status === 400,
    );
  }
});

/** A one-file ustar archive (`package/data`): publish refuses an attachment that is no tarball. */
/** A tar of `package/data` (`content`) and the `package/package.json` naming `name@version`. */
function tarOf(content: Buffer, name: string, version: string): Buffer {
  const entry = (path: string, data: Buffer) => [
    tarHeader(path, data.length),
    data,
    Buffer.alloc((512 - (data.length % 512)) % 512),
  ];
  return Buffer.concat([
    ...entry('package/package.json', Buffer.from(JSON.stringify({ name, version }))),
    ...entry('package/data', content),
    Buffer.alloc(1024),
  ]);
}

test('parseNpmPath: a path it cannot place is a 404 naming it (a doubled slash said so)', () => {
  const message = (rest: string): string => {
    try {
      parseNpmPath(rest);
    } catch (err) {
      return (err as Error).message;
    }
    return 'parsed';
  };
  assert.equal(
    message('//is-odd'),
    'not found: //is-odd (an empty path segment: a doubled slash?)',
  );
  assert.equal(message('/'), 'not found: /');
  assert.equal(message(''), 'not found: /');
  assert.equal(message('/-/nothing/here'), 'not found: /-/nothing/here');
  assert.equal(message('/is-odd/-/a/b/c'), 'not found: /is-odd/-/a/b/c');
});
