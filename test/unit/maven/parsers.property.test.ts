/**
 * Property tests for the Maven parsers of untrusted input (DESIGN.md §9): repository paths,
 * versions, POMs, uploaded and upstream checksum files, maven-metadata.xml (parse, render, merge),
 * metadata times and the NORA_MAVEN_PROXIES list. Each either answers or fails with a
 * RegistryError 400, never with anything else (a TypeError reaching the HTTP layer is a 500); a
 * parsed path never leaves the repository; valid forms round-trip.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRegistryError } from '../../../src/core/errors.ts';
import { parseMavenUpstreamList } from '../../../src/formats/maven/config.ts';
import {
  filePath,
  isValidVersion,
  type MavenPath,
  parseMavenPath,
  timestampedVersion,
} from '../../../src/formats/maven/coordinates.ts';
import {
  checksumHex,
  metadataTimestamp,
  parsePomFacts,
} from '../../../src/formats/maven/hosted.ts';
import {
  EMPTY_METADATA,
  mergeMetadata,
  parseMetadata,
  renderMetadataWithChecksums,
} from '../../../src/formats/maven/metadata.ts';
import {
  CHECKSUM_NAMES,
  type ChecksumName,
  type MavenMetadata,
} from '../../../src/formats/maven/model.ts';
import { parseChecksumFile } from '../../../src/formats/maven/proxy.ts';
import { parseMetadataTime } from '../../../src/formats/maven/service.ts';
import { compareMavenVersions } from '../../../src/formats/maven/version.ts';
import { cpuNow, onlyRegistryErrors, upstreamEntries } from '../../helpers/properties.ts';

function assertInsideRepository(path: string): void {
  if (path === '') return;
  for (const segment of path.split('/')) {
    assert.ok(segment !== '' && segment !== '.' && segment !== '..', `bad segment in ${path}`);
    assert.ok(!/[\\\0]/.test(segment), `separator or NUL in ${JSON.stringify(path)}`);
    assert.match(segment, /^[A-Za-z0-9_.+~!-]+$/);
  }
}

function assertSafePath(parsed: MavenPath): void {
  if (parsed.kind === 'root') return;
  assertInsideRepository(parsed.path);
  if (parsed.kind === 'metadata') assertInsideRepository(parsed.dir);
  if (parsed.kind === 'checksum') {
    assertSafePath(parsed.target);
    assert.ok(parsed.path.startsWith(parsed.target.path));
  }
  if (parsed.kind === 'file' && parsed.coordinate !== undefined) {
    const c = parsed.coordinate;
    assert.equal(c.path, parsed.path);
    assert.equal(c.filename, parsed.path.split('/').at(-1));
    assert.ok(isValidVersion(c.version));
    assert.ok(!c.classifier.includes('/') && !c.extension.includes('/'));
  }
}

// ---------------------------------------------------------------------------------------------
// Generators

const idPart = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/);
const groupId = fc.array(idPart, { minLength: 1, maxLength: 4 }).map((p) => p.join('.'));
const artifactId = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/).filter((a) => !a.endsWith('.'));
/** Release versions (not snapshots): what `mvn deploy` writes in a directory name. */
const releaseVersion = fc
  .tuple(
    fc.array(fc.nat(30), { minLength: 1, maxLength: 4 }),
    fc.option(fc.constantFrom('-alpha-1', '-beta', '-RC2', '.Final', '+build.5', '-jre'), {
      nil: undefined,
    }),
  )
  .map(([nums, q]) => `${nums.join('.')}${q ?? ''}`);
const classifier = fc.option(fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), { nil: '' });
const extension = fc.constantFrom('jar', 'pom', 'war', 'tar.gz', 'jar.asc', 'module', 'zip');
const stamp = fc
  .tuple(
    fc.integer({ min: 2000, max: 2099 }),
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 28 }),
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
  )
  .map((parts) => parts.map((n, i) => String(n).padStart(i === 0 ? 4 : 2, '0')).join(''));

const pathish = fc.string({
  unit: fc.constantFrom(
    '/',
    '%',
    '2',
    'e',
    'E',
    'f',
    '5',
    'c',
    '0',
    '.',
    '-',
    'a',
    'SNAPSHOT',
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
// Paths and versions

test('parseMavenPath: any path is a path inside the repository or a 400', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      for (const raw of [`/${text}`, text])
        onlyRegistryErrors(() => {
          assertSafePath(parseMavenPath(raw));
        });
    }),
    { numRuns: 2000 },
  );
});

test('parseMavenPath: valid paths with one segment mutated are refused or stay inside', () => {
  const mutation = fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2E.',
    '%2f',
    '%5c',
    '%00',
    '',
    '%',
    '%zz',
    'a b',
    '..%2f..',
    '~',
    '%C0%AE%C0%AE',
  );
  fc.assert(
    fc.property(
      groupId,
      artifactId,
      releaseVersion,
      extension,
      fc.nat(10),
      mutation,
      (g, a, v, ext, at, bad) => {
        const segments = filePath(g, a, v, v, '', ext).split('/');
        segments.splice(at % (segments.length + 1), 0, bad);
        onlyRegistryErrors(() => {
          assertSafePath(parseMavenPath(`/${segments.join('/')}`));
        });
      },
    ),
    { numRuns: 1000 },
  );
});

test('file paths built from valid coordinates parse back to those coordinates', () => {
  fc.assert(
    fc.property(groupId, artifactId, releaseVersion, classifier, extension, (g, a, v, c, ext) => {
      const path = filePath(g, a, v, v, c, ext);
      const parsed = parseMavenPath(`/${path}`);
      assert.equal(parsed.kind, 'file');
      assert.deepEqual(parsed.coordinate, {
        groupId: g,
        artifactId: a,
        version: v,
        filename: path.split('/').at(-1),
        classifier: c,
        extension: ext,
        snapshot: undefined,
        path,
      });
      // Percent-encoding every character changes nothing (each segment is decoded once).
      const encoded = path
        .split('/')
        .map((s) => Buffer.from(s).toString('hex').replace(/../g, '%$&'))
        .join('/');
      assert.deepEqual(parseMavenPath(`/${encoded}`), parsed);
      for (const alg of CHECKSUM_NAMES) {
        const sum = parseMavenPath(`/${path}.${alg}`);
        assert.deepEqual(sum, {
          kind: 'checksum',
          path: `${path}.${alg}`,
          algorithm: alg,
          target: parsed,
        });
      }
      const dir = path.split('/').slice(0, -2).join('/');
      assert.deepEqual(parseMavenPath(`/${dir}/maven-metadata.xml`), {
        kind: 'metadata',
        path: `${dir}/maven-metadata.xml`,
        dir,
      });
    }),
    { numRuns: 500 },
  );
});

test('timestamped snapshot files parse back to their build', () => {
  fc.assert(
    fc.property(
      groupId,
      artifactId,
      releaseVersion,
      stamp,
      fc.integer({ min: 1, max: 999 }),
      classifier,
      extension,
      (g, a, base, time, build, c, ext) => {
        const version = `${base}-SNAPSHOT`;
        const timestamp = `${time.slice(0, 8)}.${time.slice(8)}`;
        const fileVersion = timestampedVersion(version, timestamp, build);
        const path = filePath(g, a, version, fileVersion, c, ext);
        const parsed = parseMavenPath(`/${path}`);
        assert.equal(parsed.kind, 'file');
        assert.ok(parsed.coordinate, path);
        assert.equal(parsed.coordinate.version, version);
        assert.deepEqual(parsed.coordinate.snapshot, { timestamp, buildNumber: build });
        assert.equal(parsed.coordinate.classifier, c);
        assert.equal(parsed.coordinate.extension, ext);
      },
    ),
    { numRuns: 300 },
  );
});

test('parseMavenPath bounds its work on huge paths', () => {
  const start = cpuNow();
  for (const raw of [
    `/${'a'.repeat(1 << 20)}`,
    `/${'a/'.repeat(100_000)}`,
    `/${'%2e'.repeat(300_000)}`,
    `/${'a/'.repeat(60)}${'b'.repeat(200)}.jar${'.sha1'.repeat(100)}`,
  ]) {
    onlyRegistryErrors(() => {
      assertSafePath(parseMavenPath(raw));
    });
  }
  assert.ok(cpuNow() - start < 2000);
});

test('isValidVersion is total; valid versions are one safe path segment', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, releaseVersion), (text) => {
      if (!isValidVersion(text)) return;
      assertInsideRepository(text);
      assert.ok(text.length <= 128);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(releaseVersion, (v) => {
      assert.ok(isValidVersion(v), v);
      assert.ok(isValidVersion(`${v}-SNAPSHOT`));
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// POMs

function pom(inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">${inner}</project>`;
}

function checkPom(text: string, artifact = 'demo', group?: string): void {
  onlyRegistryErrors(() => {
    const facts = parsePomFacts(text, artifact, group);
    assert.equal(typeof facts.packaging, 'string');
    assert.ok(facts.packaging.length > 0);
    if (facts.name !== undefined) assert.ok(facts.name.length <= 512);
    if (facts.packaging === 'maven-plugin') assert.equal(typeof facts.prefix, 'string');
    else assert.equal(facts.prefix, undefined);
  });
}

const xmlName = fc.constantFrom(
  'project',
  'packaging',
  'artifactId',
  'groupId',
  'parent',
  'build',
  'plugins',
  'plugin',
  'configuration',
  'goalPrefix',
  'name',
  '__proto__',
  'constructor',
  'toString',
  'x:y',
  '1bad',
);
/** XML-ish trees: elements from the POM's vocabulary, odd names and text with entities. */
const xmlTree: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.constantFrom(
        'maven-plugin',
        'maven-plugin-plugin',
        'demo',
        '&lt;',
        '&amp;',
        '&#x41;',
        '&#0;',
        '&#xD800;',
        '&xxe;',
        '&lol9;',
        '${project.artifactId}',
        ']]>',
        '<![CDATA[<a>]]>',
        '<!-- -->',
        '<?pi x?>',
        '<',
        '&',
      ),
      fc.string({ maxLength: 10 }),
    ),
    fc
      .tuple(
        xmlName,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.constantFrom('', ' a="1"', " a='<'"),
      )
      .map(([name, kids, attr]) => `<${name}${attr}>${kids.join('')}</${name}>`),
  ),
})).node;

test('parsePomFacts: XML-ish text gives facts or a 400', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, xmlTree, xmlTree.map(pom)), (text) => {
      checkPom(text);
    }),
    { numRuns: 1000 },
  );
});

test('parsePomFacts: entity tricks are refused, never expanded', () => {
  const doctypes = [
    '<!DOCTYPE project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!doctype project>',
    '<!DOCTYPE project [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
    '<!ENTITY x "y">',
  ];
  fc.assert(
    fc.property(fc.constantFrom(...doctypes), fc.boolean(), (doctype, inside) => {
      const text = inside
        ? pom(`${doctype}<packaging>&xxe;</packaging>`)
        : `${doctype}\n${pom('<name>&lol2;</name><packaging>jar</packaging>')}`;
      assert.throws(
        () => parsePomFacts(text, 'demo'),
        (err: unknown) => isRegistryError(err) && err.status === 400,
      );
    }),
    { numRuns: 50 },
  );
  // Undeclared entities and character references are left as text, not resolved.
  const facts = parsePomFacts(
    pom('<name>&xxe;&#65;</name><packaging>maven-plugin</packaging>'),
    'demo',
  );
  assert.ok(!facts.name?.includes('root:'));
});

test('parsePomFacts: valid POMs give their packaging and prefix; a wrong coordinate is a 400', () => {
  fc.assert(
    fc.property(
      groupId,
      artifactId,
      fc.constantFrom('jar', 'pom', 'war', 'maven-plugin', 'bundle'),
      fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), { nil: undefined }),
      fc.boolean(),
      (g, a, packaging, goalPrefix, viaParent) => {
        const group = viaParent
          ? `<parent><groupId>${g}</groupId></parent>`
          : `<groupId>${g}</groupId>`;
        const plugin =
          goalPrefix === undefined
            ? ''
            : `<build><plugins><plugin><artifactId>maven-plugin-plugin</artifactId><configuration><goalPrefix>${goalPrefix}</goalPrefix></configuration></plugin></plugins></build>`;
        const text = pom(
          `<modelVersion>4.0.0</modelVersion>${group}<artifactId>${a}</artifactId><version>1.0</version><packaging>${packaging}</packaging>${plugin}`,
        );
        const facts = parsePomFacts(text, a, g);
        assert.equal(facts.packaging, packaging);
        if (packaging === 'maven-plugin') assert.equal(typeof facts.prefix, 'string');
        if (packaging === 'maven-plugin' && goalPrefix !== undefined) {
          assert.equal(facts.prefix, goalPrefix);
        }
        assert.throws(
          () => parsePomFacts(text, `${a}x`, g),
          (err: unknown) => isRegistryError(err) && err.status === 400,
        );
        assert.throws(
          () => parsePomFacts(text, a, `${g}.x`),
          (err: unknown) => isRegistryError(err) && err.status === 400,
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('parsePomFacts bounds its work on deep nesting and huge input', () => {
  const cases = [
    pom(`${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}`),
    pom('<a>'.repeat(100_000)),
    pom(`<name>${'x'.repeat(1 << 18)}</name>`),
    pom('<plugin/>'.repeat(50_000)),
    pom(
      `<build><plugins>${'<plugin><artifactId>maven-plugin-plugin</artifactId></plugin>'.repeat(10_000)}</plugins></build><packaging>maven-plugin</packaging>`,
    ),
    `<project ${'a="1" '.repeat(50_000)}></project>`,
    '<'.repeat(1 << 20),
  ];
  for (const text of cases) {
    const start = cpuNow();
    checkPom(text);
    // 5 s of CPU: 0.1–1.2 s each here; a quadratic parser would take minutes.
    assert.ok(cpuNow() - start < 5000, `${text.slice(60, 100)}… took too long`);
  }
});

// ---------------------------------------------------------------------------------------------
// Checksum files

const HEX_LENGTH: Readonly<Record<ChecksumName, number>> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};
const algorithm = fc.constantFrom(...CHECKSUM_NAMES);
const digestOf = (alg: ChecksumName) =>
  fc
    .uint8Array({ minLength: 1, maxLength: 16 })
    .map((b) => createHash(alg).update(b).digest('hex'));

test('checksumHex/parseChecksumFile are total and give lowercase hex of the right length', () => {
  fc.assert(
    fc.property(algorithm, anyText, (alg, text) => {
      for (const hex of [checksumHex(alg, text), parseChecksumFile(text, alg)]) {
        if (hex === undefined) continue;
        assert.equal(hex.length, HEX_LENGTH[alg]);
        assert.match(hex, /^[0-9a-f]+$/);
      }
    }),
    { numRuns: 1000 },
  );
});

test('checksum files in the forms tools write give their digest back', () => {
  fc.assert(
    fc.property(
      algorithm.chain((alg) => fc.tuple(fc.constant(alg), digestOf(alg))),
      fc.boolean(),
      fc.constantFrom('', '\n', '\r\n', '  '),
      ([alg, hex], upper, end) => {
        const sent = upper ? hex.toUpperCase() : hex;
        for (const text of [
          `${sent}${end}`,
          `${sent}  demo-1.0.jar${end}`,
          `${sent} *demo-1.0.jar${end}`,
        ]) {
          assert.equal(checksumHex(alg, text), hex);
          assert.equal(parseChecksumFile(text, alg), hex);
        }
        assert.equal(
          parseChecksumFile(`${alg.toUpperCase()}(demo-1.0.jar)= ${sent}${end}`, alg),
          hex,
        );
        // One hex digit short or long is not the digest.
        assert.equal(checksumHex(alg, sent.slice(1)), undefined);
        assert.equal(checksumHex(alg, `${sent}0`), undefined);
        assert.equal(parseChecksumFile(`${sent}0`, alg), undefined);
      },
    ),
    { numRuns: 300 },
  );
  const start = cpuNow();
  assert.equal(parseChecksumFile('a'.repeat(1 << 20), 'sha1'), undefined);
  assert.equal(parseChecksumFile(`${'a'.repeat(39)} `.repeat(25_000), 'sha1'), undefined);
  assert.equal(checksumHex('sha1', ' '.repeat(1 << 20)), undefined);
  assert.ok(cpuNow() - start < 2000);
});

// ---------------------------------------------------------------------------------------------
// maven-metadata.xml

/** A value Maven writes: no whitespace, separators, quotes or angle brackets (see TOKEN). */
const token = fc.oneof(
  releaseVersion,
  fc.stringMatching(/^[A-Za-z0-9._+&;~!-]{1,20}$/),
  fc.constantFrom('1.0&amp;', 'é1', '日本', '1.0&lt;', '&#65;'),
);
const stamp14 = stamp;
const metadataArb: fc.Arbitrary<MavenMetadata> = fc
  .record({
    groupId: fc.option(token, { nil: undefined }),
    artifactId: fc.option(token, { nil: undefined }),
    version: fc.option(token, { nil: undefined }),
    versions: fc.uniqueArray(token, { maxLength: 8 }),
    latest: fc.option(token, { nil: undefined }),
    release: fc.option(token, { nil: undefined }),
    lastUpdated: fc.option(stamp14, { nil: undefined }),
    snapshot: fc.option(
      fc.record({
        timestamp: stamp14.map((s) => `${s.slice(0, 8)}.${s.slice(8)}`),
        buildNumber: fc.integer({ min: 0, max: 999_999_999 }),
      }),
      { nil: undefined },
    ),
    snapshotVersions: fc.array(
      fc.record({
        classifier: fc.option(token, { nil: undefined }),
        extension: token,
        value: token,
        updated: stamp14,
      }),
      { maxLength: 3 },
    ),
    plugins: fc.array(
      fc.record({
        name: fc.option(
          fc.stringMatching(/^[A-Za-z0-9<>&"'](?:[A-Za-z0-9<>&"' ]{0,20}[A-Za-z0-9<>&"'])?$/),
          {
            nil: undefined,
          },
        ),
        prefix: token,
        artifactId: token,
      }),
      { maxLength: 3 },
    ),
  })
  // fc.record's objects have no prototype; parsed documents are plain objects.
  .map((m) => structuredClone(m));

test('maven-metadata.xml round-trips: render then parse gives the same document', () => {
  fc.assert(
    fc.property(metadataArb, (metadata) => {
      const { body, checksums } = renderMetadataWithChecksums(metadata);
      for (const alg of CHECKSUM_NAMES) {
        assert.equal(checksums[alg], createHash(alg).update(body).digest('hex'));
      }
      assert.deepEqual(parseMetadata(body), metadata);
      assert.deepEqual(parseMetadata(body.toString('utf8')), metadata);
    }),
    { numRuns: 200 },
  );
});

test('mergeMetadata: the union of versions in Maven order, idempotent, and it round-trips', () => {
  fc.assert(
    fc.property(fc.array(metadataArb, { minLength: 1, maxLength: 4 }), (documents) => {
      const merged = mergeMetadata(documents);
      assert.ok(merged);
      assert.deepEqual(new Set(merged.versions), new Set(documents.flatMap((d) => d.versions)));
      assert.equal(new Set(merged.versions).size, merged.versions.length);
      for (let i = 1; i < merged.versions.length; i++) {
        assert.ok(
          compareMavenVersions(merged.versions[i - 1] ?? '', merged.versions[i] ?? '') <= 0,
        );
      }
      for (const key of ['latest', 'release'] as const) {
        const values = documents.map((d) => d[key]).filter((v) => v !== undefined);
        assert.equal(merged[key] === undefined, values.length === 0);
        for (const v of values) assert.ok(compareMavenVersions(merged[key] ?? '', v) >= 0);
      }
      assert.deepEqual(mergeMetadata([merged]), merged);
      assert.deepEqual(mergeMetadata([...documents, ...documents]), merged);
      // What a group serves is what a client parses back.
      assert.deepEqual(parseMetadata(renderMetadataWithChecksums(merged).body), merged);
    }),
    { numRuns: 150 },
  );
  assert.equal(mergeMetadata([]), undefined);
});

test('parseMetadata: arbitrary and XML-ish input gives validated values or a 400', () => {
  const metadataish = xmlTree.map((t) => `<metadata>${t}</metadata>`);
  const valid = metadataArb.map((m) => renderMetadataWithChecksums(m).body.toString('utf8'));
  const mutated = fc
    .tuple(
      valid,
      fc.nat(2000),
      fc.constantFrom('<', '>', '&', '</a>', '<!DOCTYPE x>', '<?', '<!--', ''),
    )
    .map(([xml, at, bad]) => `${xml.slice(0, at % xml.length)}${bad}${xml.slice(at % xml.length)}`);
  const tokenRe = /^[^\s/\\<>"'\p{Cc}]{1,512}$/u;
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        metadataish,
        mutated,
      ),
      (input) => {
        onlyRegistryErrors(() => {
          const m = parseMetadata(input);
          for (const v of [
            m.groupId,
            m.artifactId,
            m.version,
            m.latest,
            m.release,
            ...m.versions,
          ]) {
            if (v !== undefined) assert.match(v, tokenRe);
          }
          assert.equal(new Set(m.versions).size, m.versions.length);
          if (m.lastUpdated !== undefined) assert.match(m.lastUpdated, /^\d{14}$/);
          if (m.snapshot !== undefined) {
            assert.match(m.snapshot.timestamp, /^\d{8}\.\d{6}$/);
            assert.ok(Number.isSafeInteger(m.snapshot.buildNumber));
          }
          for (const p of m.plugins) if (p.name !== undefined) assert.ok(p.name.length <= 512);
        });
      },
    ),
    { numRuns: 1000 },
  );
});

test('parseMetadata: entity tricks are refused; deep and huge documents finish quickly', () => {
  for (const text of [
    '<!DOCTYPE metadata [<!ENTITY a "aaaa">]><metadata><version>&a;</version></metadata>',
    '<!DOCTYPE metadata SYSTEM "http://evil.invalid/x.dtd"><metadata/>',
    '<metadata><! ENTITY x "y"></metadata>',
  ]) {
    assert.throws(
      () => parseMetadata(text),
      (err: unknown) => isRegistryError(err) && err.status === 400,
    );
  }
  // Undeclared entities are not expanded: the value is dropped or kept as text.
  assert.deepEqual(parseMetadata('<metadata><version>&a;</version></metadata>').version, '&a;');
  const versions = Array.from({ length: 100_000 }, (_, i) => `<version>1.${i}</version>`).join('');
  const cases = [
    `<metadata>${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</metadata>`,
    `<metadata>${'<a>'.repeat(100_000)}`,
    `<metadata>${'<a/>'.repeat(400_000)}</metadata>`,
    `<metadata><versioning><versions>${versions}</versions></versioning></metadata>`,
    `<metadata><version>${'&amp;'.repeat(200_000)}</version></metadata>`,
    `<metadata><!--${'-'.repeat(1 << 20)}`,
    '<'.repeat(1 << 20),
  ];
  for (const text of cases) {
    const start = cpuNow();
    onlyRegistryErrors(() => {
      const parsed = parseMetadata(text);
      if (text.includes('<versions>')) assert.equal(parsed.versions.length, 100_000);
    });
    // 5 s of CPU: 0.1–1.2 s each here; a quadratic parser would take minutes.
    assert.ok(cpuNow() - start < 5000, `${text.slice(0, 40)}… took too long`);
  }
});

// ---------------------------------------------------------------------------------------------
// Times, upstream lists

test('parseMetadataTime is total and inverts metadataTimestamp', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, fc.stringMatching(/^\d{14}$/)), (text) => {
      const ms = parseMetadataTime(text);
      if (ms !== undefined) {
        assert.ok(Number.isFinite(ms));
        // What the routes make of it (Last-Modified) must not throw either.
        assert.equal(typeof new Date(ms).toUTCString(), 'string');
      }
    }),
    { numRuns: 1000 },
  );
  assert.equal(parseMetadataTime(undefined), undefined);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253_402_300_799 }), (seconds) => {
      const ms = seconds * 1000;
      assert.equal(parseMetadataTime(metadataTimestamp(ms)), ms);
    }),
  );
});

test('parseMavenUpstreamList is total and yields {url, auth?} entries', () => {
  const listish = fc.string({
    unit: fc.constantFrom(',', '|', ' ', 'http://h/', 'u:p', 'none', 'NONE', 'a', ':'),
    maxLength: 20,
  });
  fc.assert(
    fc.property(fc.oneof(anyText, listish), (value) => {
      if (value.trim().startsWith('[')) return void upstreamEntries(parseMavenUpstreamList, value);
      for (const entry of upstreamEntries(parseMavenUpstreamList, value)) {
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

test('EMPTY_METADATA renders and parses back to itself', () => {
  assert.deepEqual(parseMetadata(renderMetadataWithChecksums(EMPTY_METADATA).body), EMPTY_METADATA);
});

test('compareMavenVersions on upstream tokens: antisymmetric and reflexive', () => {
  const versionToken = fc.oneof(
    releaseVersion,
    fc.stringMatching(/^[0-9a-z._+-]{1,12}$/),
    fc.constantFrom('constructor', '__proto__', 'ga', 'final', 'release', 'cr', 'sp', 'SNAPSHOT'),
  );
  fc.assert(
    fc.property(versionToken, versionToken, (a, b) => {
      assert.ok(Math.sign(compareMavenVersions(a, b)) === -Math.sign(compareMavenVersions(b, a)));
      assert.equal(compareMavenVersions(a, a), 0);
    }),
    { numRuns: 1000 },
  );
});

test('regression: qualifiers named like Object.prototype members order as Maven orders them', () => {
  // Found by hunting with the properties above: the alias table lookup found Object.prototype's
  // `constructor` (and `__proto__`), so `1-constructor` compared as `1-function Object() {…}`
  // and sorted after `1-d`. Maven 3.8's ComparableVersion: 1-constructor < 1-d,
  // 1-__proto__ < 1-a_ < 1-function, 1-[ < 1-__proto__.
  assert.ok(compareMavenVersions('1-constructor', '1-d') < 0);
  assert.ok(compareMavenVersions('1-function', '1-constructor') > 0);
  assert.ok(compareMavenVersions('1-__proto__', '1-a_') < 0);
  assert.ok(compareMavenVersions('1-[', '1-__proto__') < 0);
  const merged = mergeMetadata([{ ...EMPTY_METADATA, versions: ['1-d', '1-constructor'] }]);
  assert.deepEqual(merged?.versions, ['1-constructor', '1-d']);
});

/** XML 1.0's `Char` production: what a well-formed document may contain. */
const XML_CHARS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

test('rendered maven-metadata.xml is well-formed XML 1.0 whatever its values', () => {
  const anyValue = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(
      metadataArb,
      fc.array(
        fc.record({
          name: fc.option(anyValue, { nil: undefined }),
          prefix: anyValue,
          artifactId: anyValue,
        }),
        { maxLength: 3 },
      ),
      fc.array(anyValue, { maxLength: 3 }),
      (metadata, plugins, versions) => {
        // Names come from deployed POMs, values from upstreams: anything at all.
        const odd = { ...metadata, plugins, versions: [...metadata.versions, ...versions] };
        const xml = renderMetadataWithChecksums(odd).body.toString('utf8');
        assert.match(xml, XML_CHARS);
        onlyRegistryErrors(() => parseMetadata(xml));
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (value) => {
      // Character references too: `&#1;` is not allowed in XML 1.0 either.
      let refs = '';
      for (const c of value) refs += `&#x${(c.codePointAt(0) ?? 0).toString(16)};`;
      for (const v of [value, refs]) {
        onlyRegistryErrors(() => {
          const parsed = parseMetadata(
            `<metadata><version>${v}</version><plugins><plugin><name>${v}</name><prefix>p</prefix><artifactId>a</artifactId></plugin></plugins></metadata>`,
          );
          assert.match(renderMetadataWithChecksums(parsed).body.toString('utf8'), XML_CHARS);
        });
      }
    }),
    { numRuns: 500 },
  );
});

test('regression: a control character in a plugin name no longer breaks group metadata', () => {
  // Found by the property above: an upstream's `<name>a&#1;b</name>` (or a deployed POM's raw
  // U+0001 in <name>) was kept and rendered raw into the group's merged maven-metadata.xml, which
  // the JDK's XML parser (Gradle, Ivy) then refused as a whole.
  const upstream = parseMetadata(
    '<metadata><plugins><plugin><name>a&#1;b</name><prefix>p</prefix><artifactId>a</artifactId></plugin></plugins></metadata>',
  );
  assert.deepEqual(upstream.plugins, [{ name: undefined, prefix: 'p', artifactId: 'a' }]);
  const fromPom = renderMetadataWithChecksums({
    ...EMPTY_METADATA,
    plugins: [{ name: 'a\u0001b\uFFFE', prefix: 'p', artifactId: 'a' }],
  }).body.toString('utf8');
  assert.ok(fromPom.includes('<name>a\uFFFDb\uFFFD</name>'), fromPom);
});

test('parsePomFacts: <name> is decoded as Maven reads it; a repeated coordinate is a 400', () => {
  // Found while checking the POM properties against Maven's MavenXpp3Reader: `Foo &amp; Bar` was
  // kept encoded (the group metadata then said `Foo &amp;amp; Bar`), and a repeated
  // <artifactId>/<groupId> parsed as a list, which skipped the coordinate check (Maven refuses
  // it: "Duplicated tag: 'artifactId'").
  const plugin = '<packaging>maven-plugin</packaging>';
  assert.equal(
    parsePomFacts(pom(`<name>Foo &amp; Bar &#x41;</name>${plugin}`), 'demo').name,
    'Foo & Bar A',
  );
  for (const inner of [
    '<artifactId>evil</artifactId><artifactId>demo</artifactId>',
    '<groupId>evil</groupId><groupId>org.example</groupId><artifactId>demo</artifactId>',
    '<parent><groupId>evil</groupId><groupId>org.example</groupId></parent>',
  ]) {
    assert.throws(
      () => parsePomFacts(pom(inner), 'demo', 'org.example'),
      (err: unknown) =>
        isRegistryError(err) && err.status === 400 && /more than once/.test(err.message),
    );
  }
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.constantFrom('a', ' ', '&', '<', '>', '"', "'", 'é', '日'),
        minLength: 1,
        maxLength: 20,
      }),
      (name) => {
        const escaped = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
        const facts = parsePomFacts(pom(`<name>${escaped}</name>${plugin}`), 'demo');
        assert.equal(facts.name, name.trim() === '' ? undefined : name.trim());
      },
    ),
    { numRuns: 300 },
  );
});
