/**
 * Property tests for the Go parsers of untrusted input: GOPROXY request paths (case-encoded
 * `!x`, percent-encoding), module paths, versions and their order, upstream `.info` bodies,
 * uploaded go.mod text and `sumdb` config entries. Paths either parse to checked, traversal-free
 * module paths and versions or fail with a GoPathError (the routes' 400); the `check*` and
 * `parse*` functions documented as answering undefined/a reason never throw.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import semver from 'semver';
import { parseSumdbEntry } from '../../../src/formats/go/config.ts';
import {
  checkFilePath,
  checkImportPath,
  checkModuleVersion,
  checkPath,
  checkPathMajor,
  checkVersion,
  compareSemver,
  escapePath,
  escapeVersion,
  isValidSemver,
  sortVersions,
  splitPathVersion,
} from '../../../src/formats/go/module.ts';
import { GoPathError, parseGoPath, type GoRoute } from '../../../src/formats/go/paths.ts';
import { parseInfo } from '../../../src/formats/go/proxy.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { checkModuleZip, parseModulePath } from '../../../src/formats/go/zip.ts';
import { cpuNow } from '../../helpers/properties.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** Characters that make paths interesting: separators, dots, escapes, case, look-alikes. */
const pathChar = fc.constantFrom(
  ...'aAzZ09-_.~/\\%!@+# v'.split(''),
  '@v/',
  '@latest',
  '.info',
  '.mod',
  '.zip',
  'list',
  'sumdb/',
  'lookup/',
  'tile/',
  'v1.0.0',
  'example.com/',
  '%2e',
  '%2E',
  '%2f',
  '%5C',
  '%00',
  '%21',
  '%41',
  '%c0%ae',
  '%e2%80%ae',
  '%ff',
  '\u0000',
  '\uff0e',
  '\u212a',
  'é',
  '..',
  '!a',
  '!!',
);
const pathLike = fc.string({ unit: pathChar, maxLength: 30 });
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  pathLike,
);

/** Valid module paths, upper-case letters included (those are what `!x` encodes). */
const modulePath = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}\.[a-z]{2,5}$/),
    fc.array(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._~-]{0,8}[A-Za-z0-9_]$/), {
      maxLength: 3,
    }),
    fc.option(fc.integer({ min: 2, max: 12 })),
  )
  .map(([host, elems, major]) =>
    [host, ...elems, ...(major === null ? [] : [`v${major}`])].join('/'),
  )
  .filter((path) => checkPath(path) === undefined);

const num = fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,4}$/));
const preId = fc.oneof(num, fc.stringMatching(/^[0-9]*[A-Za-z-][0-9A-Za-z-]{0,5}$/));
const prerelease = fc
  .option(fc.array(preId, { minLength: 1, maxLength: 3 }))
  .map((ids) => (ids === null ? '' : `-${ids.join('.')}`));
/** A canonical version whose major is `major`. */
const versionOf = (major: string) =>
  fc.tuple(num, num, prerelease).map(([minor, patch, pre]) => `v${major}.${minor}.${patch}${pre}`);
const canonicalVersion = num.chain(versionOf);

/** A module path and a version it may have (major matching its suffix). */
const moduleVersion = modulePath.chain((path) => {
  const { pathMajor } = splitPathVersion(path);
  const major = pathMajor === '' ? fc.constantFrom('0', '1') : fc.constant(pathMajor.slice(2));
  return major.chain(versionOf).map((version) => ({ path, version }));
});

/** A valid proxy URL with one piece inserted or replaced somewhere. */
const nearValid = fc
  .tuple(
    moduleVersion,
    fc.constantFrom('info', 'mod', 'zip', 'list', 'latest', 'lookup'),
    pathChar,
    fc.nat(200),
    fc.nat(3),
  )
  .map(([{ path, version }, kind, piece, at, drop]) => {
    const m = escapePath(path);
    const v = escapeVersion(version);
    const url =
      kind === 'list'
        ? `/${m}/@v/list`
        : kind === 'latest'
          ? `/${m}/@latest`
          : kind === 'lookup'
            ? `/sumdb/sum.golang.org/lookup/${m}@${v}`
            : `/${m}/@v/${v}.${kind}`;
    const i = at % (url.length + 1);
    return url.slice(0, i) + piece + url.slice(i + drop);
  });

/** Every string a route carries that names something: checked, no traversal, no separators. */
function assertSafeRoute(route: GoRoute, rest: string): void {
  const where = `from ${JSON.stringify(rest)}`;
  if (route.kind === 'sumdb') {
    assert.match(route.name, /^[A-Za-z0-9][A-Za-z0-9.-]*(?::\d+)?$/, where);
    assert.ok(!route.path.startsWith('/'), where);
    assert.ok(!route.path.split('/').some((s) => s === '..' || s === '.'), where);
    if (route.module !== undefined) assert.equal(checkPath(route.module), undefined, where);
    return;
  }
  assert.equal(checkPath(route.module), undefined, where);
  for (const s of route.module.split('/')) assert.ok(s !== '' && s !== '.' && s !== '..', where);
  if ('version' in route) {
    assert.ok(route.version !== '' && route.version !== '.' && route.version !== '..', where);
    assert.ok(!/[/\\\0]/.test(route.version), where);
    if (route.canonical) assert.equal(checkModuleVersion(route.module, route.version), undefined);
  }
}

function parseOrPathError(rest: string): GoRoute | undefined {
  try {
    return parseGoPath(rest);
  } catch (err) {
    assert.ok(err instanceof GoPathError, `unexpected ${String(err)} for ${JSON.stringify(rest)}`);
    return undefined;
  }
}

test('parseGoPath: arbitrary paths parse to safe routes or fail with a GoPathError', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc.tuple(pathLike, pathLike).map(([m, v]) => `/${m}/@v/${v}`),
        fc.tuple(modulePath, pathLike).map(([m, v]) => `/${escapePath(m)}/@v/${v}`),
        fc.tuple(pathLike, pathLike).map(([m, v]) => `/sumdb/${m}/lookup/${v}`),
        pathLike.map((p) => `/sumdb/sum.golang.org/${p}`),
        nearValid,
      ),
      (text) => {
        const rest = text.startsWith('/') ? text : `/${text}`;
        const route = parseOrPathError(rest);
        if (route !== undefined) assertSafeRoute(route, rest);
      },
    ),
    { numRuns: 3000 },
  );
});

test('parseGoPath: case-encoded module paths and versions round-trip (also percent-encoded)', () => {
  fc.assert(
    fc.property(
      moduleVersion,
      fc.constantFrom('info', 'mod', 'zip'),
      fc.infiniteStream(fc.boolean()),
      ({ path, version }, ext, coins) => {
        const coin = coins[Symbol.iterator]();
        const escaped = escapePath(path);
        assert.ok(!/[A-Z]/.test(escaped));
        assert.deepEqual(parseGoPath(`/${escaped}/@v/list`), { kind: 'list', module: path });
        assert.deepEqual(parseGoPath(`/${escaped}/@latest`), { kind: 'latest', module: path });
        const file = `/${escaped}/@v/${escapeVersion(version)}.${ext}`;
        const expected = { kind: ext, module: path, version, canonical: true };
        assert.deepEqual(parseGoPath(file), expected);
        // A client may percent-encode any character, `!` included: the same route.
        const encoded = file.replace(/[a-z!.~-]/g, (c) =>
          coin.next().value === true ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c,
        );
        assert.deepEqual(parseGoPath(encoded), expected);
        assert.deepEqual(
          parseGoPath(`/sumdb/sum.golang.org/lookup/${escaped}@${escapeVersion(version)}`),
          {
            kind: 'sumdb',
            name: 'sum.golang.org',
            path: `lookup/${escaped}@${escapeVersion(version)}`,
            module: path,
          },
        );
      },
    ),
    { numRuns: 500 },
  );
});

test('parseGoPath: an upper-case letter or a bad `!` in a module path is refused', () => {
  fc.assert(
    fc.property(
      modulePath.filter((p) => /[A-Z]/.test(p)),
      fc.constantFrom('list', 'v1.0.0.info'),
      (path, file) => {
        // Raw upper case (not case-encoded): `go` never sends it; it would alias another module.
        assert.throws(() => parseGoPath(`/${path}/@v/${file}`), GoPathError);
        assert.throws(() => parseGoPath(`/${escapePath(path)}!/@v/${file}`), GoPathError);
        assert.throws(() => parseGoPath(`/${escapePath(path)}/!!x/@v/${file}`), GoPathError);
      },
    ),
    { numRuns: 200 },
  );
});

test('path and version checks are total and consistent', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, modulePath, canonicalVersion), (text) => {
      for (const check of [checkPath, checkImportPath, checkFilePath, checkVersion]) {
        const reason = check(text);
        assert.ok(reason === undefined || (typeof reason === 'string' && reason !== ''));
      }
      if (checkPath(text) === undefined) {
        assert.equal(checkImportPath(text), undefined, 'a module path is an import path');
        assert.ok(/^[a-z0-9][a-z0-9.-]*\.[a-z0-9.-]*(\/|$)/.test(text) || text.includes('.'));
      }
      if (checkFilePath(text) === undefined) {
        assert.ok(!text.startsWith('/') && !text.includes('\\') && !text.includes('\0'));
        assert.ok(!text.split('/').some((s) => s === '' || s === '.' || s === '..'));
      }
      const split = splitPathVersion(text);
      if (split.ok) assert.equal(split.prefix + split.pathMajor, text);
      if (checkVersion(text) === undefined) assert.ok(isValidSemver(text));
      const major = checkPathMajor(text, split.pathMajor);
      assert.ok(major === undefined || typeof major === 'string');
      assert.ok(typeof checkModuleVersion(text, 'v1.0.0') !== 'object');
      assert.ok(typeof checkModuleVersion('example.com/m', text) !== 'object');
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(moduleVersion, ({ path, version }) => {
      assert.equal(checkModuleVersion(path, version), undefined);
    }),
    { numRuns: 300 },
  );
});

test('checkPathMajor and splitPathVersion follow the major version suffix rules', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 0, max: 12 }),
      fc.boolean(),
      (pathMajor, major, incompatible) => {
        const v = `v${major}.1.2${incompatible ? '+incompatible' : ''}`;
        // `/vN` (N ≥ 2) takes exactly vN; no suffix takes v0, v1 and +incompatible.
        const suffix = pathMajor >= 2 ? `/v${pathMajor}` : '';
        const ok = suffix === '' ? major <= 1 || incompatible : major === pathMajor;
        assert.equal(checkPathMajor(v, suffix) === undefined, ok, `${v} ${suffix}`);
        const split = splitPathVersion(`example.com/m${suffix}`);
        assert.deepEqual(split, { prefix: 'example.com/m', pathMajor: suffix, ok: true });
        // gopkg.in: `.vN` (N ≥ 0) takes vN; .v1 also takes v0.0.0 pseudo-versions.
        const gopkg = splitPathVersion(`gopkg.in/yaml.v${pathMajor}`);
        assert.deepEqual(gopkg, { prefix: 'gopkg.in/yaml', pathMajor: `.v${pathMajor}`, ok: true });
        assert.equal(
          checkPathMajor(`v${major}.1.2`, `.v${pathMajor}`) === undefined,
          major === pathMajor,
        );
      },
    ),
    { numRuns: 500 },
  );
  assert.equal(splitPathVersion('example.com/m/v1').ok, false);
  assert.equal(splitPathVersion('example.com/m/v0').ok, false);
  assert.equal(splitPathVersion('example.com/m/v2.0').ok, false);
  assert.equal(splitPathVersion('gopkg.in/yaml').ok, false);
  assert.equal(checkPathMajor('v0.0.0-20191109021931-daa7c04131f5', '.v1'), undefined);
});

test('compareSemver agrees with SemVer precedence; sortVersions is a total order', () => {
  const version = fc.oneof(
    canonicalVersion,
    canonicalVersion.map((v) => `${v}+incompatible`),
    fc.constantFrom('v1', 'v1.2', 'v1.2.3+build', 'master', '', 'v01.0.0', 'v1.0.0-'),
  );
  fc.assert(
    fc.property(version, version, version, (a, b, c) => {
      assert.equal(compareSemver(a, b), 0 - compareSemver(b, a) || 0);
      if (compareSemver(a, b) <= 0 && compareSemver(b, c) <= 0) {
        assert.ok(compareSemver(a, c) <= 0, `${a} ${b} ${c}`);
      }
      if (checkVersion(a) === undefined && checkVersion(b) === undefined) {
        const oracle = semver.compare(a.slice(1), b.slice(1));
        assert.equal(compareSemver(a, b), oracle, `${a} vs ${b}`);
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.array(version, { maxLength: 12 }), fc.infiniteStream(fc.nat()), (list, r) => {
      const sorted = sortVersions(list);
      assert.deepEqual([...sorted].sort(), [...list].sort(), 'a permutation');
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(compareSemver(sorted[i - 1] ?? '', sorted[i] ?? '') <= 0);
      }
      const shuffled = [...list];
      const it = r[Symbol.iterator]();
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (it.next().value ?? 0) % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j] ?? '', shuffled[i] ?? ''];
      }
      assert.deepEqual(sortVersions(shuffled), sorted, 'independent of the input order');
    }),
    { numRuns: 500 },
  );
});

test('parseInfo: arbitrary bodies never throw; a Version is a non-empty string', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
        fc
          .record(
            { Version: fc.oneof(canonicalVersion, fc.jsonValue()), Time: fc.jsonValue() },
            { requiredKeys: [] },
          )
          .map((v) => Buffer.from(JSON.stringify(v))),
      ),
      (body) => {
        const info = parseInfo(body);
        if (info !== undefined) {
          assert.ok(typeof info.Version === 'string' && info.Version !== '');
          assert.ok(info.Time === undefined || typeof info.Time === 'string');
        }
      },
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(canonicalVersion, (v) => {
      const time = '2019-11-09T02:19:31Z';
      assert.deepEqual(parseInfo(Buffer.from(JSON.stringify({ Version: v, Time: time }))), {
        Version: v,
        Time: time,
      });
    }),
  );
});

test('parseModulePath: arbitrary go.mod text never throws; every spelling round-trips', () => {
  const goModChar = fc.constantFrom(
    ...'module ()"`/\\\t\r\nxa.1'.split(''),
    'module',
    '//',
    '\n)',
    'go 1.21\n',
    'require (\n',
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: goModChar, maxLength: 30 })),
      (text) => {
        const path = parseModulePath(text);
        assert.ok(path === undefined || typeof path === 'string');
      },
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      modulePath,
      fc.constantFrom(
        (p: string) => `module ${p}`,
        (p: string) => `module "${p}"`,
        (p: string) => `module \`${p}\``,
        (p: string) => `module (\n\t${p}\n)`,
        (p: string) => `module ( ${p} )`,
        (p: string) => `// module other.example/x\nmodule ${p} // the path\r\n`,
        (p: string) => `\n\n  module\t"${p}" // "quoted"\n`,
      ),
      fc.constantFrom('', '\ngo 1.21\n', '\nrequire (\n\tx.example/y v1.0.0\n)\n'),
      (path, spell, tail) => {
        assert.equal(parseModulePath(`${spell(path)}${tail}`), path);
      },
    ),
    { numRuns: 500 },
  );
});

test('parseSumdbEntry is total; what it accepts is a usable name and URL', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc
          .tuple(
            fc.option(pathLike),
            fc.constantFrom('http://', 'https://', 'ftp://', ''),
            pathLike,
          )
          .map(([name, scheme, rest]) => `${name === null ? '' : `${name}=`}${scheme}${rest}`),
      ),
      (value) => {
        const entry = parseSumdbEntry(value);
        if (entry === undefined) return;
        assert.match(entry.name, /^[a-z0-9][a-z0-9.-]*(:\d+)?$/i);
        assert.match(entry.url, /^https?:\/\//);
        assert.ok(!entry.url.endsWith('/'));
        assert.ok(URL.canParse(entry.url));
      },
    ),
    { numRuns: 2000 },
  );
  assert.deepEqual(parseSumdbEntry('https://sum.golang.org/'), {
    name: 'sum.golang.org',
    url: 'https://sum.golang.org',
  });
  assert.deepEqual(parseSumdbEntry('sum.golang.org=http://127.0.0.1:8080/sumdb/'), {
    name: 'sum.golang.org',
    url: 'http://127.0.0.1:8080/sumdb',
  });
});

test('adversarial sizes finish quickly', () => {
  const mb = 1024 * 1024;
  // CPU time, not wall time: a loaded machine (load 11–18) took 8.7 s of wall time here.
  const started = cpuNow();
  assert.throws(() => parseGoPath(`/${'a'.repeat(mb)}/@v/list`), GoPathError);
  // Long but valid (Node's header limit keeps such a URL from ever arriving): parsed, not slow.
  parseOrPathError(`/example.com/${'!a'.repeat(mb / 2)}/@v/list`);
  assert.throws(() => parseGoPath(`/${'%41'.repeat(mb / 3)}`), GoPathError);
  checkPath(`example.com/${'a/'.repeat(mb / 2)}x`);
  checkFilePath(`${'\u00e9.'.repeat(mb / 2)}x`);
  assert.equal(splitPathVersion(`example.com/v${'1'.repeat(mb)}`).ok, true);
  assert.equal(checkVersion(`v1.0.0-${'a.'.repeat(mb / 2)}a`), undefined);
  assert.equal(
    parseModulePath(`${'// c\n'.repeat(mb / 5)}module example.com/m\n`),
    'example.com/m',
  );
  assert.equal(parseModulePath(`module "${'\\"'.repeat(mb / 2)}`), undefined);
  sortVersions(Array.from({ length: 10_000 }, (_, i) => `v1.${i % 97}.${i}-rc.${i % 13}`));
  // ~0.6–1.1 s alone here; a quadratic step on these 1 MiB inputs would take minutes. The bound
  // leaves room for a loaded CI machine (2 s failed once with other tests running beside).
  const ms = cpuNow() - started;
  assert.ok(ms < 5000, `${ms} ms of CPU`);
});

/** checkModuleZip on `bytes`: accepted, or a RegistryError 400/413 (anything else is a 500). */
async function checkZipBytes(
  dir: string,
  bytes: Buffer,
  version = 'v1.0.0',
): Promise<Awaited<ReturnType<typeof checkModuleZip>> | undefined> {
  const file = path.join(dir, 'm.zip');
  await fs.writeFile(file, bytes);
  try {
    return await checkModuleZip(file, bytes.length, 'example.com/m', version, 1 << 20);
  } catch (err) {
    assert.ok(isRegistryError(err), `unexpected ${String(err)}`);
    assert.ok([400, 413].includes(err.status), `status ${err.status}`);
    return undefined;
  }
}

test('checkModuleZip: hostile entry names are refused unless they are valid file paths', async () => {
  await using work = await tempDir('nora-go-zip-prop-');
  const content = path.join(work.path, 'content');
  await fs.writeFile(content, 'package m\n');
  const goMod = path.join(work.path, 'go.mod');
  await fs.writeFile(goMod, 'module example.com/m\n');
  const name = fc.oneof(
    pathLike,
    fc.string({ maxLength: 20 }),
    fc.constantFrom('go.mod', 'GO.MOD', 'a/go.mod', 'vendor/x/y.go', 'a/../b', './a', 'a//b', '/a'),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(name, { minLength: 1, maxLength: 5 }), async (names) => {
      const out = path.join(work.path, 'hostile.zip');
      const files = names.map((p) => ({
        path: p,
        localPath: p === 'go.mod' ? goMod : content,
        size: 10,
      }));
      const size = await writeModuleZip(out, 'example.com/m', 'v1.0.0', files);
      const checked = await checkZipBytes(work.path, await fs.readFile(out));
      if (checked === undefined) return;
      for (const p of names) {
        const clean = p.endsWith('/') ? p.slice(0, -1) : p;
        if (clean === '') continue;
        assert.equal(checkFilePath(clean), undefined, `${JSON.stringify(p)} accepted`);
        assert.ok(!/(^|\/)\.\.?(\/|$)/.test(clean) && !clean.startsWith('/'));
      }
      assert.ok(size > 0);
    }),
    { numRuns: 150 },
  );
});

test('checkModuleZip: a corrupted or truncated zip is a 400, never another error', async () => {
  await using work = await tempDir('nora-go-zip-fuzz-');
  const files: { path: string; text: string }[] = [
    { path: 'go.mod', text: 'module example.com/m\n\ngo 1.21\n' },
    { path: 'm.go', text: `package m\n\n// ${'compressible text '.repeat(50)}\n` },
    { path: 'LICENSE', text: 'MIT\n'.repeat(20) },
  ];
  const listed = [];
  for (const f of files) {
    const local = path.join(work.path, f.path);
    await fs.writeFile(local, f.text);
    listed.push({ path: f.path, localPath: local, size: f.text.length });
  }
  const out = path.join(work.path, 'valid.zip');
  await writeModuleZip(out, 'example.com/m', 'v1.0.0', listed);
  const valid = await fs.readFile(out);
  assert.ok(await checkZipBytes(work.path, valid), 'the valid zip is accepted');
  // Regression (the property's shrunk counterexample): one bit flipped inside m.go's deflate
  // data made zlib fail with "unexpected end of file" (code Z_BUF_ERROR), which went out as a
  // 500 instead of the zip's 400.
  const flipped = Buffer.from(valid);
  flipped[178] = (flipped[178] ?? 0) ^ 1;
  await fs.writeFile(path.join(work.path, 'flipped.zip'), flipped);
  await assert.rejects(
    checkModuleZip(
      path.join(work.path, 'flipped.zip'),
      flipped.length,
      'example.com/m',
      'v1.0.0',
      1 << 20,
    ),
    (err: unknown) =>
      isRegistryError(err) && err.status === 400 && /corrupt compressed data/.test(err.message),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(valid.length - 1).map((cut) => ({ cut })),
      ),
      async (mutation) => {
        const bytes = Buffer.from(valid);
        if (Array.isArray(mutation)) {
          for (const [at, xor] of mutation) bytes[at] = (bytes[at] ?? 0) ^ xor;
          await checkZipBytes(work.path, bytes);
        } else {
          await checkZipBytes(work.path, bytes.subarray(0, mutation.cut));
        }
      },
    ),
    { numRuns: 400 },
  );
});
