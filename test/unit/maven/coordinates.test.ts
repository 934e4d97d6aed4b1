/** Maven layout paths (coordinates.ts) and POM facts (hosted.ts parsePomFacts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import {
  dirRole,
  fileCoordinate,
  parseMavenPath,
  pluginPrefix,
  timestampedVersion,
} from '../../../src/formats/maven/coordinates.ts';
import { parsePomFacts, pomVersions } from '../../../src/formats/maven/hosted.ts';

const coord = (path: string) => fileCoordinate(path.split('/'), path);

describe('maven layout paths', () => {
  test('release, classifier, multi-dot extension and signature files', () => {
    assert.deepEqual(coord('org/example/demo/1.0/demo-1.0.jar'), {
      groupId: 'org.example',
      artifactId: 'demo',
      version: '1.0',
      filename: 'demo-1.0.jar',
      classifier: '',
      extension: 'jar',
      snapshot: undefined,
      path: 'org/example/demo/1.0/demo-1.0.jar',
    });
    const sources = coord('org/example/demo/1.0/demo-1.0-sources.jar');
    assert.equal(sources?.classifier, 'sources');
    assert.equal(coord('org/example/demo/1.0/demo-1.0-bin.tar.gz')?.extension, 'tar.gz');
    assert.equal(coord('org/example/demo/1.0/demo-1.0.jar.asc')?.extension, 'jar.asc');
  });

  test('snapshot directories: timestamped builds and the non-unique name', () => {
    const build = coord('org/example/demo/1.0-SNAPSHOT/demo-1.0-20261130.101010-3-tests.jar');
    assert.ok(build);
    assert.deepEqual(build.snapshot, { timestamp: '20261130.101010', buildNumber: 3 });
    assert.equal(build.classifier, 'tests');
    const plain = coord('org/example/demo/1.0-SNAPSHOT/demo-1.0-SNAPSHOT.pom');
    assert.ok(plain);
    assert.equal(plain.snapshot, undefined);
    assert.equal(plain.extension, 'pom');
    assert.equal(timestampedVersion('1.0-SNAPSHOT', '20261130.101010', 3), '1.0-20261130.101010-3');
  });

  test('snapshot build stamps name a real time and a build number from 1', () => {
    for (const stamp of [
      '20261399.101010-3',
      '20261300.101010-3',
      '20261131.241010-3',
      '20261130.106010-3',
      '20261130.101060-3',
      '20261130.101010-0',
    ]) {
      assert.equal(coord(`org/example/demo/1.0-SNAPSHOT/demo-1.0-${stamp}.jar`), undefined, stamp);
    }
    assert.ok(coord('org/example/demo/1.0-SNAPSHOT/demo-1.0-20261231.235959-1.jar'));
  });

  test('not coordinates: wrong artifactId or version in the name, too short, no extension', () => {
    for (const path of [
      'org/example/demo/1.0/other-1.0.jar',
      'org/example/demo/1.0/demo-2.0.jar',
      'demo/1.0/demo-1.0.jar',
      'org/example/demo/1.0/demo-1.0',
      'org/example/demo/1.0/demo-1.0-.jar',
      'org/example/demo/1.0/demo-1.0.jar.',
      'org/example/demo/1.0/demo-1.0-20261130.101010-3.jar',
    ]) {
      assert.equal(coord(path), undefined, path);
    }
  });

  test('checksum and metadata paths', () => {
    const sum = parseMavenPath('/org/example/demo/1.0/demo-1.0.jar.sha256');
    if (sum.kind !== 'checksum') assert.fail(`not a checksum: ${sum.kind}`);
    assert.equal(sum.algorithm, 'sha256');
    assert.equal(sum.target.kind, 'file');
    const md = parseMavenPath('/org/example/demo/maven-metadata.xml.md5');
    if (md.kind !== 'checksum') assert.fail(`not a checksum: ${md.kind}`);
    assert.deepEqual(md.target, {
      kind: 'metadata',
      path: 'org/example/demo/maven-metadata.xml',
      dir: 'org/example/demo',
    });
    const dir = parseMavenPath('/org/example/demo/1.0/');
    assert.deepEqual(dir, {
      kind: 'dir',
      path: 'org/example/demo/1.0',
      segments: ['org', 'example', 'demo', '1.0'],
    });
    assert.equal(parseMavenPath('').kind, 'root');
  });

  test('traversal, encoded separators, NUL, odd characters and long paths are 400', () => {
    for (const raw of [
      '/org/../etc/passwd',
      '/org/%2e%2e/x',
      '/org/%2E/x',
      '/org/a%2Fb/x',
      '/org/a%5Cb/x',
      '/org/a%00/x',
      '/org//x',
      '/org/a b/x',
      '/org/%ZZ/x',
      '/org/<x>/y',
      `/${'a/'.repeat(70)}x`,
      `/${'a'.repeat(300)}`,
      'no-leading-slash',
    ]) {
      assert.throws(
        () => parseMavenPath(raw),
        (err: unknown) => err instanceof RegistryError && err.status === 400,
        raw,
      );
    }
  });

  test('a plain path (no percent-encoding) parses as its percent-encoded spelling does', () => {
    // parseMavenPath skips decoding for plain paths: both spellings must give the same answer,
    // and the checks a plain segment can still fail must fail with the same message.
    const encode = (raw: string) =>
      raw
        .split('/')
        .map((s) => s.replace(/[.a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`))
        .join('/');
    for (const raw of [
      '/org/example/demo/1.0/demo-1.0.jar',
      '/org/example/demo/1.0/demo-1.0.jar.sha1',
      '/org/example/demo/1.0-SNAPSHOT/demo-1.0-20261206.103000-2-sources.jar',
      '/org/example/demo/maven-metadata.xml.md5',
      '/org/example/demo/',
      '/org/example/demo/1.0/demo+x~y!z_w',
    ]) {
      assert.deepEqual(parseMavenPath(raw), parseMavenPath(encode(raw)), raw);
    }
    const message = (raw: string) => {
      try {
        parseMavenPath(raw);
      } catch (err) {
        return err instanceof RegistryError ? `${err.status} ${err.message}` : String(err);
      }
      return 'accepted';
    };
    for (const [plain, encoded] of [
      ['/org/./x', '/org/%2e/x'],
      ['/org/../x', '/org/%2e%2e/x'],
      ['/org//x', '/org//%78'],
      [`/org/${'a'.repeat(256)}/x`, `/org/${'%61'.repeat(256)}/x`],
    ] as const) {
      assert.match(message(plain), /^400 /, plain);
      assert.equal(message(plain), message(encoded), plain);
    }
  });

  test('dirRole: what a DELETE path is to a file held under it', () => {
    const held = 'org/example/demo/1.0/demo-1.0.jar';
    const role = (path: string) => dirRole(path.split('/'), held);
    assert.equal(role('org'), 'group');
    assert.equal(role('org/example'), 'group');
    assert.equal(role('org/example/demo'), 'artifact');
    assert.equal(role('org/example/demo/1.0'), 'version');
    assert.equal(role(held), 'file');
    assert.equal(role('org/other'), undefined);
    assert.equal(role(`${held}/x`), undefined);
    assert.equal(dirRole(['archetype-catalog.xml'], 'archetype-catalog.xml'), undefined);
  });

  test('plugin prefixes as Maven derives them', () => {
    assert.equal(pluginPrefix('foo-maven-plugin'), 'foo');
    assert.equal(pluginPrefix('maven-foo-plugin'), 'foo');
    assert.equal(pluginPrefix('foo-plugin'), 'foo-plugin');
  });
});

describe('POM facts', () => {
  test('packaging, plugin prefix (configured or derived) and name', () => {
    assert.deepEqual(parsePomFacts('<project><artifactId>a</artifactId></project>', 'a'), {
      packaging: 'jar',
      prefix: undefined,
      name: undefined,
    });
    assert.deepEqual(
      parsePomFacts(
        '<project><packaging>maven-plugin</packaging><name>X</name></project>',
        'x-maven-plugin',
      ),
      { packaging: 'maven-plugin', prefix: 'x', name: 'X' },
    );
  });

  test('the deployed coordinate may be inherited or a property reference', () => {
    for (const text of [
      '<project><parent><groupId>org.example</groupId></parent><artifactId>a</artifactId></project>',
      '<project><groupId>${g}</groupId><artifactId>a</artifactId></project>',
    ]) {
      assert.equal(parsePomFacts(text, 'a', 'org.example').packaging, 'jar', text);
    }
  });

  test('the version (own, else inherited from the parent) must be the version directory', () => {
    const release = pomVersions(coord('org/example/a/1.0/a-1.0.pom') ?? assert.fail());
    const build = pomVersions(
      coord('org/example/a/1.0-SNAPSHOT/a-1.0-20261203.101010-1.pom') ?? assert.fail(),
    );
    assert.deepEqual(build, ['1.0-SNAPSHOT', '1.0-20261203.101010-1']);
    const parent = (v: string) =>
      `<parent><groupId>org.example</groupId><artifactId>p</artifactId><version>${v}</version></parent>`;
    const ok: [string, readonly string[]][] = [
      ['<project><artifactId>a</artifactId><version>1.0</version></project>', release],
      [`<project>${parent('1.0')}<artifactId>a</artifactId></project>`, release],
      // Its own version wins over the parent's.
      [
        `<project>${parent('7')}<artifactId>a</artifactId><version>1.0</version></project>`,
        release,
      ],
      [`<project><artifactId>a</artifactId><version> 1.0 </version></project>`, release],
      // A snapshot build's POM says the snapshot version (mvn, Gradle), or the build's own.
      ['<project><artifactId>a</artifactId><version>1.0-SNAPSHOT</version></project>', build],
      [`<project>${parent('1.0-SNAPSHOT')}<artifactId>a</artifactId></project>`, build],
      [
        '<project><artifactId>a</artifactId><version>1.0-20261203.101010-1</version></project>',
        build,
      ],
      // No version at all: not compared (as a missing groupId is not).
      ['<project><artifactId>a</artifactId></project>', release],
      // A property elsewhere (a dependency's version) is Maven's to resolve.
      [
        '<project><artifactId>a</artifactId><version>1.0</version><dependencies><dependency><groupId>x</groupId><artifactId>y</artifactId><version>${project.version}</version></dependency></dependencies></project>',
        release,
      ],
    ];
    for (const [text, versions] of ok) {
      assert.equal(parsePomFacts(text, 'a', 'org.example', versions).packaging, 'jar', text);
    }
    const refused: [string, readonly string[], RegExp][] = [
      [
        '<project><artifactId>a</artifactId><version>2.0</version></project>',
        release,
        /^POM declares version "2\.0" but is deployed at version "1\.0"$/,
      ],
      [
        `<project>${parent('2.0')}<artifactId>a</artifactId></project>`,
        release,
        /^POM inherits version "2\.0" from its <parent> but is deployed at version "1\.0"$/,
      ],
      [
        '<project><artifactId>a</artifactId><version>1.0-SNAPSHOT</version></project>',
        release,
        /declares version "1\.0-SNAPSHOT" but is deployed at version "1\.0"/,
      ],
      [
        '<project><artifactId>a</artifactId><version>7.0</version></project>',
        build,
        /declares version "7\.0" but is deployed at version "1\.0-SNAPSHOT"/,
      ],
      // Another build's version is another build.
      [
        '<project><artifactId>a</artifactId><version>1.0-20261203.101010-2</version></project>',
        build,
        /deployed at version "1\.0-SNAPSHOT"/,
      ],
      [
        '<project><artifactId>a</artifactId><version>1.0</version><version>2.0</version></project>',
        release,
        /<version> more than once/,
      ],
      // An unresolved property is refused as such, also when its default would match.
      [
        '<project><artifactId>a</artifactId><version>${revision}</version><properties><revision>1.0</revision></properties></project>',
        release,
        /unresolved property/,
      ],
      [
        '<project><artifactId>a</artifactId><version>${project.version}</version></project>',
        release,
        /unresolved property/,
      ],
    ];
    for (const [text, versions, message] of refused) {
      assert.throws(
        () => parsePomFacts(text, 'a', 'org.example', versions),
        (err: unknown) =>
          err instanceof RegistryError && err.status === 400 && message.test(err.message),
        text,
      );
    }
  });

  test('DOCTYPE, entities, malformed or too deep XML and other coordinates are refused', () => {
    for (const text of [
      '<!DOCTYPE project [<!ENTITY x "y">]><project>&x;</project>',
      '<project><packaging>jar</project>',
      '<notaproject/>',
      // Deeper than the parser's nesting limit: a 400, not the parser's exception (a 500).
      `<project>${'<a>'.repeat(150)}${'</a>'.repeat(150)}</project>`,
      // Coordinates that disagree with the deployed path.
      '<project><artifactId>other</artifactId></project>',
      '<project><groupId>org.other</groupId><artifactId>a</artifactId></project>',
      '<project><parent><groupId>org.other</groupId></parent><artifactId>a</artifactId></project>',
    ]) {
      assert.throws(
        () => parsePomFacts(text, 'a', 'org.example'),
        (err: unknown) => err instanceof RegistryError && err.status === 400,
        text,
      );
    }
  });
});
