/**
 * maven-metadata.xml: byte-stable rendering at the three levels, safe parsing of upstream XML
 * (malformed and hostile documents refused with a 400-class error, never expanded), round trips,
 * real documents from the local Maven repository, and the group merge.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isRegistryError } from '../../../src/core/errors.ts';
import {
  EMPTY_METADATA,
  MAX_METADATA_BYTES,
  mergeMetadata,
  parseMetadata,
  renderMetadata,
  renderMetadataWithChecksums,
} from '../../../src/formats/maven/metadata.ts';
import type { MavenMetadata } from '../../../src/formats/maven/model.ts';

const artifact: MavenMetadata = {
  ...EMPTY_METADATA,
  groupId: 'org.example',
  artifactId: 'demo',
  versions: ['1.0-alpha-1', '1.0', '1.9', '1.10', '2.0-SNAPSHOT'],
  latest: '2.0-SNAPSHOT',
  release: '1.10',
  lastUpdated: '20261130101010',
};

const snapshotLevel: MavenMetadata = {
  ...EMPTY_METADATA,
  groupId: 'org.example',
  artifactId: 'demo',
  version: '2.0-SNAPSHOT',
  lastUpdated: '20261130101011',
  snapshot: { timestamp: '20261130.101010', buildNumber: 3 },
  snapshotVersions: [
    {
      classifier: undefined,
      extension: 'jar',
      value: '2.0-20261130.101010-3',
      updated: '20261130101010',
    },
    {
      classifier: undefined,
      extension: 'pom',
      value: '2.0-20261130.101010-3',
      updated: '20261130101010',
    },
    {
      classifier: 'sources',
      extension: 'jar',
      value: '2.0-20261130.101010-3',
      updated: '20261130101010',
    },
  ],
};

const groupLevel: MavenMetadata = {
  ...EMPTY_METADATA,
  plugins: [
    { name: 'Demo Maven Plugin', prefix: 'demo', artifactId: 'demo-maven-plugin' },
    { name: undefined, prefix: 'other', artifactId: 'other-maven-plugin' },
  ],
};

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isRegistryError(err), `a RegistryError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.match(err.message, pattern);
    return true;
  });
}

test('artifact-level rendering is exactly what Maven writes, and byte-stable', () => {
  const xml = renderMetadata(artifact).toString('utf8');
  assert.equal(
    xml,
    `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>org.example</groupId>
  <artifactId>demo</artifactId>
  <versioning>
    <latest>2.0-SNAPSHOT</latest>
    <release>1.10</release>
    <versions>
      <version>1.0-alpha-1</version>
      <version>1.0</version>
      <version>1.9</version>
      <version>1.10</version>
      <version>2.0-SNAPSHOT</version>
    </versions>
    <lastUpdated>20261130101010</lastUpdated>
  </versioning>
</metadata>
`,
  );
  assert.ok(renderMetadata(artifact).equals(renderMetadata({ ...artifact })));
  const withSums = renderMetadataWithChecksums(artifact);
  assert.match(withSums.checksums.sha1, /^[0-9a-f]{40}$/);
  assert.match(withSums.checksums.md5, /^[0-9a-f]{32}$/);
  assert.match(withSums.checksums.sha256, /^[0-9a-f]{64}$/);
  assert.match(withSums.checksums.sha512, /^[0-9a-f]{128}$/);
  assert.equal(renderMetadataWithChecksums(artifact).checksums.sha1, withSums.checksums.sha1);
});

test('snapshot-version and group levels render and parse back to the same data', () => {
  const snapXml = renderMetadata(snapshotLevel).toString('utf8');
  assert.match(snapXml, /<metadata modelVersion="1.1.0">/);
  assert.match(
    snapXml,
    /<snapshot>\n {6}<timestamp>20261130.101010<\/timestamp>\n {6}<buildNumber>3<\/buildNumber>/,
  );
  assert.match(snapXml, /<classifier>sources<\/classifier>\n {8}<extension>jar<\/extension>/);
  assert.deepEqual(parseMetadata(snapXml), snapshotLevel);
  const groupXml = renderMetadata(groupLevel).toString('utf8');
  assert.match(
    groupXml,
    /<plugins>\n {4}<plugin>\n {6}<name>Demo Maven Plugin<\/name>\n {6}<prefix>demo<\/prefix>/,
  );
  assert.doesNotMatch(groupXml, /<versioning>/);
  assert.deepEqual(parseMetadata(groupXml), groupLevel);
  assert.deepEqual(parseMetadata(renderMetadata(artifact)), artifact);
});

test('values are escaped when rendered and decoded when parsed (predefined entities only)', () => {
  const odd = { ...groupLevel, plugins: [{ name: 'A & B <x> "q"', prefix: 'p', artifactId: 'a' }] };
  const xml = renderMetadata(odd).toString('utf8');
  assert.match(xml, /<name>A &amp; B &lt;x&gt; &quot;q&quot;<\/name>/);
  assert.deepEqual(parseMetadata(xml), odd);
  const refs = parseMetadata(
    '<metadata><plugins><plugin><name>&#65;&#x42;&unknown;</name><prefix>p</prefix><artifactId>a</artifactId></plugin></plugins></metadata>',
  );
  assert.equal(refs.plugins[0]?.name, 'AB&unknown;');
});

test('upstream documents: single values, odd whitespace, bad values dropped, not trusted', () => {
  const parsed = parseMetadata(`<?xml version="1.0"?>
<!-- a comment -->
<metadata xmlns="http://maven.apache.org/METADATA/1.1.0">
  <groupId> org.example </groupId><artifactId>demo</artifactId>
  <versioning>
    <latest>1.0</latest>
    <versions><version>1.0</version><version>bad version</version><version>a/../b</version>
      <version></version><version>1.0</version><version><![CDATA[2.0]]></version></versions>
    <lastUpdated>yesterday</lastUpdated>
    <snapshot><timestamp>nope</timestamp><buildNumber>1</buildNumber></snapshot>
  </versioning>
  <unknown><deep>ignored</deep></unknown>
</metadata>`);
  assert.equal(parsed.groupId, 'org.example');
  assert.deepEqual(parsed.versions, ['1.0', '2.0']);
  assert.equal(parsed.lastUpdated, undefined);
  assert.equal(parsed.snapshot, undefined);
  const one = parseMetadata(
    '<metadata><versioning><versions><version>3</version></versions></versioning></metadata>',
  );
  assert.deepEqual(one.versions, ['3']);
});

test('malformed XML and a wrong root are refused with 400', () => {
  refused(() => parseMetadata('<metadata><versioning></metadata>'), /mismatched/);
  refused(() => parseMetadata('<metadata></metadata><metadata></metadata>'), /root/);
  refused(() => parseMetadata('<metadata><versioning>'), /unclosed/);
  refused(() => parseMetadata('not xml at all'), /root element|not well-formed/);
  refused(() => parseMetadata('<html><body>404</body></html>'), /root element/);
  refused(() => parseMetadata('<metadata><a'), /unterminated|not well-formed/);
  refused(() => parseMetadata(''), /root element|not well-formed/);
});

test('hostile XML: DTDs and entities refused, never expanded; deep and huge refused', () => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<metadata><groupId>&lol9;</groupId></metadata>`;
  refused(() => parseMetadata(laughs), /DOCTYPE/);
  const xxe = `<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><metadata><groupId>&x;</groupId></metadata>`;
  refused(() => parseMetadata(xxe), /DOCTYPE/);
  refused(() => parseMetadata('<!doctype metadata><metadata/>'), /DOCTYPE/);
  // An undeclared entity reference is kept as text, not resolved.
  assert.equal(parseMetadata('<metadata><groupId>&x;</groupId></metadata>').groupId, '&x;');
  const deep = `<metadata>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</metadata>`;
  refused(() => parseMetadata(deep), /nesting/);
  const huge = Buffer.alloc(MAX_METADATA_BYTES + 1, 0x20);
  refused(() => parseMetadata(huge), /larger than/);
  const many = `<metadata>${'<x/>'.repeat(400_000)}</metadata>`;
  refused(() => parseMetadata(many), /elements/);
});

test('a large real-sized document parses fast and bounded', () => {
  const versions = Array.from({ length: 20_000 }, (_, i) => `${Math.floor(i / 100)}.${i % 100}`);
  const xml = renderMetadata({ ...artifact, versions });
  const started = performance.now();
  const parsed = parseMetadata(xml);
  assert.equal(parsed.versions.length, 20_000);
  // fast-xml-parser takes ~35 µs an element (~0.7 s here); the bound only catches runaway work.
  assert.ok(performance.now() - started < 10_000, 'parsed within 10 s');
});

test('real maven-metadata files of the local Maven repository parse', (t) => {
  const root = path.join(os.homedir(), '.m2', 'repository');
  const files: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (files.length >= 200 || depth > 12) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const child = path.join(dir, name);
      if (/^maven-metadata.*\.xml$/.test(name)) files.push(child);
      else if (!name.includes('.') || depth < 3) {
        try {
          if (statSync(child).isDirectory()) walk(child, depth + 1);
        } catch {
          // vanished
        }
      }
    }
  };
  walk(root, 0);
  if (files.length === 0) {
    t.skip('no maven-metadata*.xml in ~/.m2/repository');
    return;
  }
  for (const file of files) {
    const body = readFileSync(file);
    const parsed = parseMetadata(body);
    // Round trip: our rendering parses back to the same data.
    assert.deepEqual(parseMetadata(renderMetadata(parsed)), parsed, file);
  }
});

test('merge: union in Maven order, newest latest/release/lastUpdated, newest snapshot', () => {
  const a: MavenMetadata = {
    ...EMPTY_METADATA,
    groupId: 'org.example',
    artifactId: 'demo',
    versions: ['1.0', '1.9', '1.10'],
    latest: '1.10',
    release: '1.10',
    lastUpdated: '20261101000000',
  };
  const b: MavenMetadata = {
    ...EMPTY_METADATA,
    groupId: 'org.example',
    artifactId: 'demo',
    versions: ['1.2', '1.10', '2.0-rc1', '2.0-SNAPSHOT', '1'],
    latest: '2.0-SNAPSHOT',
    release: '2.0-rc1',
    lastUpdated: '20261201000000',
  };
  const merged = mergeMetadata([a, b]);
  assert.ok(merged);
  assert.deepEqual(merged.versions, ['1', '1.0', '1.2', '1.9', '1.10', '2.0-rc1', '2.0-SNAPSHOT']);
  assert.equal(merged.latest, '2.0-SNAPSHOT');
  assert.equal(merged.release, '2.0-rc1');
  assert.equal(merged.lastUpdated, '20261201000000');
  assert.ok(renderMetadata(merged).equals(renderMetadata(mergeMetadata([a, b]) ?? EMPTY_METADATA)));
  assert.equal(mergeMetadata([]), undefined);
  assert.deepEqual(mergeMetadata([a])?.versions, a.versions);
});

test('merge: snapshotVersions keep the newest per classifier+extension; plugins by prefix', () => {
  const older: MavenMetadata = {
    ...snapshotLevel,
    snapshot: { timestamp: '20261129.090000', buildNumber: 2 },
    snapshotVersions: [
      {
        classifier: undefined,
        extension: 'jar',
        value: '2.0-20261129.090000-2',
        updated: '20261129090000',
      },
      {
        classifier: 'javadoc',
        extension: 'jar',
        value: '2.0-20261129.090000-2',
        updated: '20261129090000',
      },
    ],
  };
  const merged = mergeMetadata([older, snapshotLevel]);
  assert.ok(merged);
  assert.deepEqual(merged.snapshot, { timestamp: '20261130.101010', buildNumber: 3 });
  assert.deepEqual(
    merged.snapshotVersions.map((s) => `${s.classifier ?? ''}:${s.extension}=${s.value}`),
    [
      ':jar=2.0-20261130.101010-3',
      'javadoc:jar=2.0-20261129.090000-2',
      ':pom=2.0-20261130.101010-3',
      'sources:jar=2.0-20261130.101010-3',
    ],
  );
  const plugins = mergeMetadata([
    groupLevel,
    {
      ...EMPTY_METADATA,
      plugins: [
        { name: 'x', prefix: 'demo', artifactId: 'impostor' },
        { name: 'n', prefix: 'new', artifactId: 'new-plugin' },
      ],
    },
  ]);
  assert.deepEqual(
    plugins?.plugins.map((p) => `${p.prefix}=${p.artifactId}`),
    ['demo=demo-maven-plugin', 'other=other-maven-plugin', 'new=new-plugin'],
  );
});
