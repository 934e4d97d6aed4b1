/**
 * Property tests for the PyPI parsers of untrusted input (DESIGN.md §9): request paths, distribution
 * filenames, project names, versions, upstream project pages (HTML and PEP 691 JSON), core
 * metadata files and the NORA_PYPI_PROXIES list. Each either answers or fails with a RegistryError
 * of the documented class (4xx for a client's input, 502 for an upstream's), never with anything
 * else (a TypeError reaching the HTTP layer is a 500); what they hand on is safe to use as a path
 * segment; valid forms round-trip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRegistryError } from '../../../src/core/errors.ts';
import { parsePypiUpstreamList } from '../../../src/formats/pypi/config.ts';
import {
  checkDistFilename,
  isSafeFilename,
  parseDistFilename,
} from '../../../src/formats/pypi/filenames.ts';
import {
  checkProjectName,
  isValidProjectName,
  normalizeProjectName,
} from '../../../src/formats/pypi/names.ts';
import { parseCoreMetadata } from '../../../src/formats/pypi/proxied-json.ts';
import {
  parseJsonPath,
  parseSimplePath,
  type PypiRoute,
} from '../../../src/formats/pypi/routes.ts';
import {
  acceptsGzip,
  negotiateSimple,
  SERVED_TYPES,
} from '../../../src/formats/pypi/simple-index.ts';
import { metadataHeaders } from '../../../src/formats/pypi/upload.ts';
import { parseUpstreamPage } from '../../../src/formats/pypi/upstream-page.ts';
import { parseVersion } from '../../../src/formats/pypi/versions.ts';
import {
  cpuNow,
  onlyRegistryErrors,
  onlyRegistryErrorsAsync,
  upstreamEntries,
} from '../../helpers/properties.ts';

/** A file name that may become a storage key or a URL path segment. */
function assertSafeSegment(name: string): void {
  assert.ok(name.length > 0);
  assert.ok(!/[/\\\0]/.test(name), `separator or NUL in ${JSON.stringify(name)}`);
  assert.ok(name !== '.' && name !== '..', `traversal segment ${JSON.stringify(name)}`);
}

function assertNormalisedProject(project: string): void {
  assert.ok(isValidProjectName(project), `invalid project ${JSON.stringify(project)}`);
  assert.equal(normalizeProjectName(project), project);
}

/** Every project a route names is valid and normalised; every filename is one safe segment. */
function assertSafeRoute(route: PypiRoute): void {
  if ('project' in route) assertNormalisedProject(route.project);
  if ('filename' in route) {
    assertSafeSegment(route.filename);
    assert.ok(isSafeFilename(route.filename));
  }
  if (route.kind === 'redirect') {
    // Relative to the mount prefix: never protocol-relative (`//host`), never a bare host.
    assert.ok(route.location.startsWith('/') && !route.location.startsWith('//'), route.location);
  }
}

// ---------------------------------------------------------------------------------------------
// Generators

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const alnum = fc.constantFrom(...ALNUM.split(''));
/** A valid PEP 508 name from the given inner separators. */
function nameArb(separators: string): fc.Arbitrary<string> {
  const inner = fc.constantFrom(...ALNUM.split(''), ...separators.split(''));
  return fc
    .tuple(alnum, fc.array(inner, { maxLength: 20 }), alnum, fc.boolean())
    .map(([a, mid, z, single]) => (single ? a : `${a}${mid.join('')}${z}`));
}
const projectName = nameArb('-_.');
/** Wheel names never contain `-` (the binary distribution format spec escapes it to `_`). */
const wheelName = nameArb('_.');

/** PEP 440 versions in normalised form (no `-`), so they sit in filenames unambiguously. */
const versionArb = fc
  .tuple(
    fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    fc.array(fc.nat(30), { minLength: 1, maxLength: 4 }),
    fc.option(fc.tuple(fc.constantFrom('a', 'b', 'rc'), fc.nat(9)), { nil: undefined }),
    fc.option(fc.nat(9), { nil: undefined }),
    fc.option(fc.nat(9), { nil: undefined }),
  )
  .map(([epoch, release, pre, post, dev]) => {
    let v = `${epoch === undefined ? '' : `${epoch}!`}${release.join('.')}`;
    if (pre !== undefined) v += `${pre[0]}${pre[1]}`;
    if (post !== undefined) v += `.post${post}`;
    if (dev !== undefined) v += `.dev${dev}`;
    return v;
  });
const tag = fc.stringMatching(/^[a-z0-9_.]{1,12}$/);
const buildTag = fc.stringMatching(/^[0-9][a-z0-9_]{0,5}$/);

/** Strings biased towards what these parsers split on. */
const pathish = fc.string({
  unit: fc.constantFrom(
    '/',
    '%',
    '2',
    'f',
    'F',
    '5',
    'c',
    '0',
    '.',
    '-',
    '_',
    'a',
    'B',
    'json',
    '\\',
  ),
  maxLength: 60,
});
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  pathish,
);

// ---------------------------------------------------------------------------------------------
// Routes

test('parseSimplePath/parseJsonPath: any path gives a safe route or a 4xx RegistryError', () => {
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'PUT');
  fc.assert(
    fc.property(anyText, method, (text, m) => {
      for (const parse of [parseSimplePath, parseJsonPath]) {
        for (const rest of [`/${text}`, text]) {
          onlyRegistryErrors(() => {
            assertSafeRoute(parse(rest, m));
          });
        }
      }
    }),
    { numRuns: 1500 },
  );
});

test('simple paths built from valid pieces, one piece mutated, stay safe', () => {
  const piece = fc.oneof(
    projectName,
    fc.constantFrom('..', '.', '%2e%2e', '%2F', '%5c', '%00', '%', '%zz', '', 'x.metadata'),
    fc.string({ maxLength: 10 }),
  );
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 4 }), fc.boolean(), (parts, slash) => {
      const rest = `/${parts.join('/')}${slash ? '/' : ''}`;
      onlyRegistryErrors(() => {
        assertSafeRoute(parseSimplePath(rest, 'GET'));
      });
      onlyRegistryErrors(() => {
        assertSafeRoute(parseJsonPath(rest, 'GET'));
      });
    }),
    { numRuns: 1000 },
  );
});

test('simple paths round-trip: a normalised project page and its files', () => {
  fc.assert(
    fc.property(projectName, wheelName, versionArb, (name, file, version) => {
      const project = normalizeProjectName(name);
      assert.deepEqual(parseSimplePath(`/${project}/`, 'GET'), { kind: 'page', project });
      const filename = `${file}-${version}.tar.gz`;
      assert.deepEqual(parseSimplePath(`/${project}/${encodeURIComponent(filename)}`, 'GET'), {
        kind: 'file',
        project,
        filename,
      });
      assert.deepEqual(parseSimplePath(`/${project}/${filename}.metadata`, 'GET'), {
        kind: 'metadata',
        project,
        filename,
      });
      const page = parseSimplePath(`/${name}/`, 'GET');
      assert.deepEqual(
        page,
        name === project
          ? { kind: 'page', project }
          : { kind: 'redirect', location: `/${project}/` },
      );
      assert.deepEqual(parseJsonPath(`/${project}/${encodeURIComponent(version)}/json`, 'GET'), {
        kind: 'json',
        project,
        version,
      });
    }),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------------------------
// Filenames

test('isSafeFilename is total and never admits separators, NUL or traversal', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      if (isSafeFilename(text)) {
        assertSafeSegment(text);
        assert.ok(Buffer.byteLength(text) <= 255);
      }
    }),
    { numRuns: 1000 },
  );
});

test('parseDistFilename is total; checkDistFilename throws only 400; results are safe', () => {
  const near = fc
    .tuple(projectName, versionArb, fc.constantFrom('.tar.gz', '.zip', '.whl', '-py3-none-any.whl'))
    .chain(([n, v, ext]) =>
      fc
        .tuple(fc.nat(n.length + v.length + 1), fc.constantFrom('/', '\\', '\0', '..', '-', ''))
        .map(([at, bad]) => {
          const whole = `${n}-${v}${ext}`;
          return `${whole.slice(0, at)}${bad}${whole.slice(at)}`;
        }),
    );
  fc.assert(
    fc.property(fc.oneof(anyText, near), fc.option(fc.oneof(projectName, anyText)), (name, p) => {
      const project = p ?? undefined;
      const parsed = parseDistFilename(name, project);
      if (parsed !== undefined) {
        assert.equal(parsed.filename, name);
        assertSafeSegment(parsed.filename);
        assertNormalisedProject(parsed.project);
        assert.ok(parseVersion(parsed.version) !== undefined);
        // `project` only settles where an sdist's name ends (a wheel's name has no `-`).
        if (project !== undefined && parsed.kind === 'sdist') {
          assert.equal(parsed.project, normalizeProjectName(project));
        }
      }
      onlyRegistryErrors(() => checkDistFilename(name, project), [400]);
    }),
    { numRuns: 1500 },
  );
});

test('wheel filenames built from valid parts parse back to those parts', () => {
  fc.assert(
    fc.property(
      wheelName,
      versionArb,
      fc.option(buildTag, { nil: undefined }),
      tag,
      tag,
      tag,
      (name, version, build, py, abi, platform) => {
        const filename = `${name}-${version}${build === undefined ? '' : `-${build}`}-${py}-${abi}-${platform}.whl`;
        const parsed = parseDistFilename(filename);
        assert.ok(parsed, filename);
        assert.equal(parsed.kind, 'wheel');
        assert.equal(parsed.project, normalizeProjectName(name));
        assert.equal(parsed.version, version);
        assert.deepEqual(parsed.parsed, parseVersion(version));
      },
    ),
    { numRuns: 500 },
  );
});

test('sdist filenames round-trip, with or without the upload name', () => {
  fc.assert(
    fc.property(
      projectName,
      versionArb,
      fc.constantFrom('.tar.gz', '.zip'),
      (name, version, ext) => {
        const filename = `${name}-${version}${ext}`;
        const withName = parseDistFilename(filename, name);
        assert.ok(withName, filename);
        assert.equal(withName.kind, 'sdist');
        assert.equal(withName.project, normalizeProjectName(name));
        assert.equal(withName.version, version);
        // The upload name may be spelled differently from the file's (`My_Pkg` for `my-pkg`).
        assert.equal(parseDistFilename(filename, normalizeProjectName(name))?.version, version);
        const guessed = parseDistFilename(filename);
        assert.ok(guessed, filename);
        // Without a name the version starts after the last `-` (our versions have none).
        assert.equal(guessed.version, version);
        assert.equal(guessed.project, normalizeProjectName(name));
      },
    ),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------------------------------------
// Names and versions

/** PEP 503's rule spelled independently: `re.sub(r"[-_.]+", "-", name).lower()`. */
function pep503(name: string): string {
  let out = '';
  let inRun = false;
  for (const c of name) {
    if (c === '-' || c === '_' || c === '.') {
      if (!inRun) out += '-';
      inRun = true;
    } else {
      out += c.toLowerCase();
      inRun = false;
    }
  }
  return out;
}

test('normalizeProjectName is PEP 503, idempotent, and keeps valid names valid', () => {
  fc.assert(
    fc.property(fc.oneof(projectName, anyText), (name) => {
      const normalised = normalizeProjectName(name);
      assert.equal(normalised, pep503(name));
      assert.equal(normalizeProjectName(normalised), normalised);
      if (isValidProjectName(name)) {
        assertNormalisedProject(normalised);
        assert.equal(checkProjectName(name), normalised);
      } else {
        onlyRegistryErrors(() => checkProjectName(name), [400]);
        assert.throws(() => checkProjectName(name));
      }
    }),
    { numRuns: 1500 },
  );
});

test('generated names are valid; valid names are one safe ASCII segment', () => {
  fc.assert(
    fc.property(projectName, (name) => {
      assert.ok(isValidProjectName(name), name);
      assertSafeSegment(name);
      assert.ok(/^[\x21-\x7e]+$/.test(name));
    }),
  );
});

test('parseVersion is total; normalised forms are fixed points with the same key', () => {
  const nearVersion = fc
    .tuple(versionArb, fc.nat(20), fc.constantFrom('-', '+', '!', '..', ' ', 'x', '\0', '+a.', ''))
    .map(([v, at, bad]) => `${v.slice(0, at)}${bad}${v.slice(at)}`);
  fc.assert(
    fc.property(fc.oneof(anyText, versionArb, nearVersion), (text) => {
      const parsed = parseVersion(text);
      if (parsed === undefined) return;
      assert.ok(text.length <= 128);
      const again = parseVersion(parsed.normalized);
      assert.ok(again, parsed.normalized);
      assert.equal(again.normalized, parsed.normalized);
      assert.equal(again.key, parsed.key);
      assert.equal(again.local, parsed.local);
    }),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(versionArb, fc.integer({ min: 1, max: 3 }), (version, zeros) => {
      // Zero padding of the release segment (PEP 440 "Version matching"): one release.
      const padded = version.replace(/^((?:\d+!)?\d+(?:\.\d+)*)/, `$1${'.0'.repeat(zeros)}`);
      assert.equal(parseVersion(padded)?.key, parseVersion(version)?.key);
    }),
  );
});

test('parseVersion bounds its work on huge input', () => {
  const start = cpuNow();
  for (const text of ['1'.repeat(1 << 20), `${'1.'.repeat(1 << 19)}1`, 'a'.repeat(1 << 20)]) {
    assert.equal(parseVersion(text), undefined);
  }
  assert.ok(cpuNow() - start < 2000);
});

// ---------------------------------------------------------------------------------------------
// Upstream project pages

const PAGE_URL = 'https://upstream.invalid/simple/demo/';
const HEX = /^[0-9a-f]{64}$/;
const contentTypes = fc.constantFrom(
  undefined,
  'text/html',
  'text/html; charset=utf-8',
  'application/vnd.pypi.simple.v1+json',
  'application/json',
  'application/vnd.pypi.simple.v1+html',
  'application/octet-stream',
);

async function checkPage(
  body: Buffer,
  contentType: string | undefined,
  project = 'demo',
): Promise<void> {
  await onlyRegistryErrorsAsync(async () => {
    const page = await parseUpstreamPage(body, contentType, PAGE_URL, project);
    const seen = new Set<string>();
    for (const file of page.files) {
      assertSafeSegment(file.filename);
      assert.ok(!seen.has(file.filename), `duplicate ${file.filename}`);
      seen.add(file.filename);
      assert.equal(parseDistFilename(file.filename, project)?.project, project);
      const url = new URL(file.url);
      assert.ok(url.protocol === 'http:' || url.protocol === 'https:', file.url);
      assert.equal(url.hash, '');
      if (file.sha256 !== undefined) assert.match(file.sha256, HEX);
      if (file.coreMetadata?.sha256 !== undefined) assert.match(file.coreMetadata.sha256, HEX);
      if (file.size !== undefined) assert.ok(Number.isSafeInteger(file.size) && file.size >= 0);
      if (file.uploadTime !== undefined) assert.ok(!Number.isNaN(Date.parse(file.uploadTime)));
    }
  }, [502]);
}

test('upstream pages: arbitrary bytes give safe files or a 502', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        anyText.map((t) => Buffer.from(t)),
        fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
      ),
      contentTypes,
      async (body, type) => {
        await checkPage(body, type);
      },
    ),
    { numRuns: 1000 },
  );
});

const hrefArb = fc.oneof(
  fc.constantFrom(
    'demo-1.0.tar.gz',
    '../../demo-1.0.tar.gz',
    '/files/demo-1.0-py3-none-any.whl#sha256=' + 'A'.repeat(64),
    'demo-1.0.tar.gz#sha256=zz&md5=1',
    'https://cdn.invalid/x/y/demo-2.0.zip?x=1#sha256=' + 'b'.repeat(64),
    'javascript:alert(1)',
    'file:///etc/passwd',
    '//evil.invalid/demo-1.0.tar.gz',
    'demo-1.0.tar.gz%2F..%2F',
    'demo%2F..%2F..%2Fx-1.0.tar.gz',
    '..%5cdemo-1.0.tar.gz',
    'demo-1.0.tar.gz%00',
    '%E0%A4%A',
    'http://[::1',
    '',
  ),
  fc
    .tuple(fc.constantFrom('demo', 'Demo', 'DEMO_', 'other', 'de.mo'), versionArb)
    .map(([n, v]) => `${n}-${v}.tar.gz`),
  fc.string({ maxLength: 40 }),
);
const attrValue = fc.oneof(
  fc.constantFrom('', 'true', '&gt;=3.8', 'sha256=' + 'c'.repeat(64), 'md5=abc', '"', "'", '&#0;'),
  fc.string({ maxLength: 20 }),
);

test('upstream HTML pages with odd anchors and attributes give safe files', async () => {
  const anchor = fc
    .tuple(
      hrefArb,
      fc.dictionary(
        fc.constantFrom(
          'data-yanked',
          'data-requires-python',
          'data-core-metadata',
          'data-dist-info-metadata',
          'HREF',
          'x',
        ),
        attrValue,
        { maxKeys: 3 },
      ),
      fc.constantFrom('"', "'", ''),
    )
    .map(([href, attrs, q]) => {
      const rest = Object.entries(attrs)
        .map(([k, v]) => `${k}=${q}${v}${q}`)
        .join(' ');
      return `<a href=${q}${href}${q} ${rest}>${href}</a>`;
    });
  const noise = fc.constantFrom(
    '<br>',
    '<a>',
    '</a>',
    '<!-- <a href="x-1.0.tar.gz"> -->',
    '<a href',
    '<',
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(anchor, noise), { maxLength: 8 }),
      contentTypes,
      async (parts, type) => {
        await checkPage(Buffer.from(`<html><body>${parts.join('\n')}</body></html>`), type);
      },
    ),
    { numRuns: 500 },
  );
});

test('upstream PEP 691 JSON pages with odd entries give safe files', async () => {
  const entry = fc.record(
    {
      url: fc.oneof(hrefArb, fc.jsonValue({ maxDepth: 1 })),
      filename: fc.oneof(hrefArb, fc.constantFrom('..', '/etc/passwd', 'a\\b-1.0.zip')),
      hashes: fc.oneof(
        fc.record({ sha256: fc.oneof(fc.constant('D'.repeat(64)), fc.string({ maxLength: 70 })) }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      yanked: fc.oneof(fc.boolean(), fc.string({ maxLength: 10 }), fc.integer()),
      'requires-python': fc.oneof(fc.string({ maxLength: 10 }), fc.integer()),
      'core-metadata': fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 2 })),
      size: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60), fc.string()),
      'upload-time': fc.oneof(
        fc.constantFrom(
          '2026-01-01T00:00:00Z',
          '+275760-09-13T00:00:00.001Z',
          '-000001-01-01',
          '0',
        ),
        fc.string({ maxLength: 30 }),
        fc.integer(),
      ),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(entry, fc.jsonValue({ maxDepth: 1 })), { maxLength: 6 }),
      fc.constantFrom('application/vnd.pypi.simple.v1+json', undefined),
      async (files, type) => {
        await checkPage(Buffer.from(JSON.stringify({ meta: {}, files })), type);
      },
    ),
    { numRuns: 500 },
  );
});

test('upstream pages: adversarial sizes and nesting finish quickly', async () => {
  const deep = 100_000;
  const cases: [string, string | undefined][] = [
    [`{"files":${'['.repeat(deep)}${']'.repeat(deep)}}`, 'application/json'],
    [`{"files":[${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}]}`, 'application/json'],
    ['['.repeat(deep), 'application/json'],
    [`${'<div>'.repeat(20_000)}<a href="demo-1.0.tar.gz">x</a>`, 'text/html'],
    [`<a href="${'a'.repeat(1 << 20)}">`, 'text/html'],
    [`<a ${'x="1" '.repeat(50_000)}href="demo-1.0.tar.gz">`, 'text/html'],
    ['<a href="demo-1.0.tar.gz">'.repeat(5_000), 'text/html'],
    [' '.repeat(1 << 20), undefined],
  ];
  for (const [body, type] of cases) {
    const start = cpuNow();
    await checkPage(Buffer.from(body), type);
    assert.ok(cpuNow() - start < 2000, `${body.slice(0, 30)}… took too long`);
  }
  // More files than the bound: refused as an upstream failure, not parsed on.
  const many = Buffer.from(`<a href="demo-1.0.tar.gz">\n`.repeat(100_001));
  await assert.rejects(parseUpstreamPage(many, 'text/html', PAGE_URL, 'demo'), (err: unknown) => {
    return isRegistryError(err) && err.status === 502;
  });
});

// ---------------------------------------------------------------------------------------------
// Core metadata, upstream lists

const KNOWN_META_KEYS = new Set([
  'metadata_version',
  'name',
  'summary',
  'description',
  'description_content_type',
  'author',
  'author_email',
  'maintainer',
  'maintainer_email',
  'license',
  'license_expression',
  'keywords',
  'home_page',
  'download_url',
  'requires_python',
  'classifiers',
  'requires_dist',
  'provides_dist',
  'obsoletes_dist',
  'requires_external',
  'project_urls',
  'provides_extra',
  'dynamic',
  'platform',
  'supported_platform',
  'license_file',
]);

function checkCoreMetadata(bytes: Buffer): void {
  const meta = parseCoreMetadata(bytes);
  for (const [key, value] of Object.entries(meta)) {
    assert.ok(KNOWN_META_KEYS.has(key), `unexpected key ${JSON.stringify(key)}`);
    assert.ok(
      typeof value === 'string' ||
        (Array.isArray(value) && value.every((v) => typeof v === 'string')),
    );
  }
  assert.equal(Object.getPrototypeOf(meta), Object.prototype);
}

test('parseCoreMetadata is total on arbitrary bytes and yields only known keys', () => {
  const header = fc.oneof(
    fc.constantFrom(
      'Name',
      'Version',
      'Summary',
      'Classifier',
      'Requires-Dist',
      'Description',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '',
    ),
    fc.string({ maxLength: 12 }),
  );
  const line = fc.oneof(
    fc.tuple(header, fc.string({ maxLength: 20 })).map(([h, v]) => `${h}: ${v}`),
    fc.string({ maxLength: 20 }).map((v) => `        |${v}`),
    fc.string({ maxLength: 20 }).map((v) => `\t${v}`),
    fc.constant(''),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        fc.array(line, { maxLength: 10 }).map((l) => Buffer.from(l.join('\r\n'))),
        fc.array(line, { maxLength: 10 }).map((l) => Buffer.from(l.join('\n'))),
      ),
      (bytes) => {
        checkCoreMetadata(bytes);
      },
    ),
    { numRuns: 1000 },
  );
});

test('regression: core metadata headers named like Object.prototype members are ignored', () => {
  // Found by the property above: `__proto__:` and `constructor:` looked up in the header tables
  // found Object.prototype members, so the JSON API document grew keys "[object Object]" and
  // "function Object() { [native code] }".
  const meta = parseCoreMetadata(Buffer.from('__proto__: x\nconstructor: y\nName: demo\n'));
  assert.deepEqual(meta, { name: 'demo' });
  checkCoreMetadata(Buffer.from('__proto__: x\nconstructor: y\n'));
});

test('parseCoreMetadata bounds its work on huge input', () => {
  const start = cpuNow();
  checkCoreMetadata(Buffer.from(`Description: x\n${'        |y\n'.repeat(20_000)}`));
  checkCoreMetadata(Buffer.from(`Classifier: x\n`.repeat(100_000)));
  checkCoreMetadata(Buffer.from('a'.repeat(1 << 20)));
  assert.ok(cpuNow() - start < 2000);
});

test('parsePypiUpstreamList is total and yields {url, auth?} entries', () => {
  const listish = fc.string({
    unit: fc.constantFrom(',', '|', ' ', 'http://h/', 'u:p', 'none', 'NONE', 'a', ':'),
    maxLength: 20,
  });
  fc.assert(
    fc.property(fc.oneof(anyText, listish), (value) => {
      if (value.trim().startsWith('[')) return void upstreamEntries(parsePypiUpstreamList, value);
      const entries = upstreamEntries(parsePypiUpstreamList, value);
      for (const entry of entries) {
        assert.ok(typeof entry === 'object' && entry !== null);
        const keys = Object.keys(entry);
        assert.ok(keys.includes('url'));
        assert.ok(keys.every((k) => k === 'url' || k === 'auth'));
        for (const v of Object.values(entry)) assert.equal(typeof v, 'string');
      }
    }),
    { numRuns: 1000 },
  );
});

test('negotiateSimple/acceptsGzip are total on any Accept header', () => {
  const range = fc.oneof(
    fc.constantFrom(
      'application/vnd.pypi.simple.v1+json',
      'application/vnd.pypi.simple.latest+html',
      'text/html',
      'text/*',
      '*/*',
      'application/*',
      'gzip',
      'x-gzip',
      '*',
      'constructor',
      '__proto__',
    ),
    fc.string({ maxLength: 12 }),
  );
  const q = fc.oneof(
    fc.constantFrom(
      '',
      ';q=0',
      ';q=1',
      ';q=0.5',
      ';Q=0.001',
      ';q=1.0001',
      ';q=-1',
      ';q=NaN',
      ';q=',
    ),
    fc.string({ maxLength: 8 }).map((v) => `;q=${v}`),
  );
  const header = fc.oneof(
    fc
      .array(
        fc.tuple(range, q).map(([r, p]) => `${r}${p}`),
        { maxLength: 6 },
      )
      .map((l) => l.join(', ')),
    anyText,
  );
  fc.assert(
    fc.property(header, fc.option(header, { nil: undefined }), (accept, format) => {
      const type = negotiateSimple(accept, format);
      if (type !== undefined) assert.ok(SERVED_TYPES.includes(type), type);
      assert.equal(typeof acceptsGzip(accept), 'boolean');
      assert.equal(typeof acceptsGzip([accept, format ?? '']), 'boolean');
    }),
    { numRuns: 1000 },
  );
  const start = cpuNow();
  negotiateSimple(`${'text/html;q=0.1,'.repeat(100_000)}x`);
  acceptsGzip(`${'gzip;q=0,'.repeat(100_000)}x`);
  assert.ok(cpuNow() - start < 2000);
});

test('metadataHeaders (an uploaded wheel METADATA) is total; names are lowercased', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        fc
          .array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })), {
            maxLength: 8,
          })
          .map((l) => Buffer.from(l.map(([k, v]) => `${k}: ${v}`).join('\n'))),
      ),
      (bytes) => {
        for (const [key, value] of metadataHeaders(bytes)) {
          assert.equal(key, key.toLowerCase());
          assert.equal(key, key.trim());
          assert.equal(typeof value, 'string');
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('parseSimplePath: an empty project segment (a doubled slash) is named in the 404', () => {
  assert.deepEqual(parseSimplePath('//trial-race/', 'GET'), {
    kind: 'not-found',
    message: 'not found: //trial-race/ (an empty path segment: a doubled slash?)',
  });
});
