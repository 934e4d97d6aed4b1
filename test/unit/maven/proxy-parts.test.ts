/**
 * Small parts of the Maven proxy and group: upstream checksum files in the formats repositories
 * write, the bounded negative cache with its TTL rules, request paths, and which
 * groupId:artifactId a path belongs to (the dependency-confusion guard's key).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { artifactOfFile, artifactOfMetadataDir } from '../../../src/formats/maven/group.ts';
import { parseChecksumFile, pomPackaging, upstreamPath } from '../../../src/formats/maven/proxy.ts';
import { NegativeCache, rememberedMissText } from '../../../src/proxy/negative-cache.ts';

const SHA1 = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';

test('checksum files: bare, with a file name, BSD style, uppercase; garbage is no checksum', () => {
  assert.equal(parseChecksumFile(SHA1, 'sha1'), SHA1);
  assert.equal(parseChecksumFile(`${SHA1}\n`, 'sha1'), SHA1);
  assert.equal(parseChecksumFile(`${SHA1}  demo-1.0.jar\n`, 'sha1'), SHA1);
  assert.equal(parseChecksumFile(`${SHA1} *demo-1.0.jar`, 'sha1'), SHA1);
  assert.equal(parseChecksumFile(`SHA1(demo-1.0.jar)= ${SHA1}`, 'sha1'), SHA1);
  assert.equal(parseChecksumFile(SHA1.toUpperCase(), 'sha1'), SHA1);
  assert.equal(parseChecksumFile('<html>not found</html>', 'sha1'), undefined);
  assert.equal(parseChecksumFile(`${SHA1}ab`, 'sha1'), undefined, 'too long is not a sha1');
  assert.equal(parseChecksumFile(SHA1, 'sha256'), undefined);
  assert.equal(parseChecksumFile('ab'.repeat(32), 'sha256'), 'ab'.repeat(32));
});

test('negative cache: TTL, 0 = off, -1 = forever, bounded', () => {
  const cache = new NegativeCache(3);
  const up: readonly unknown[] = [];
  cache.add('a', 10, up, 1000);
  assert.equal(cache.has('a', up, 5000), true);
  assert.equal(cache.has('a', up, 11_001), false, 'expired');
  cache.add('off', 0, up, 1000);
  assert.equal(cache.has('off', up, 1000), false);
  cache.add('forever', -1, up, 1000);
  assert.equal(cache.has('forever', up, Number.MAX_SAFE_INTEGER), true);
  cache.add('b', 10, up, 1000);
  cache.add('c', 10, up, 1000);
  cache.add('d', 10, up, 1000);
  assert.equal(cache.size, 3);
  assert.equal(cache.has('forever', up, 1000), false, 'the oldest entry went first');
  assert.equal(cache.has('d', up, 1000), true);
});

test('negative cache: a miss holds only for the upstream list it was asked of', () => {
  const cache = new NegativeCache();
  const before = [{ url: 'http://127.0.0.1:1/' }];
  cache.add('x', -1, before, 1000);
  assert.equal(cache.has('x', before, 2000), true);
  // A reload that changed the upstreams replaced the array: the miss is gone, also for later.
  assert.equal(cache.has('x', [{ url: 'http://127.0.0.1:2/' }], 2000), false);
  assert.equal(cache.has('x', before, 2000), false);
  assert.equal(cache.size, 0);
});

test('rememberedMissText: who said it, when, for how long, which setting (maven, go, raw)', () => {
  const cache = new NegativeCache();
  const one = { name: 'go-proxy', upstreams: [{}] };
  const two = { name: 'dl', upstreams: [{}, {}] };
  const at = Date.parse('2026-12-05T12:00:01Z');
  cache.add('a', 60, one.upstreams, at);
  cache.add('b', -1, two.upstreams, at);
  assert.equal(
    rememberedMissText(cache, 'a', one, 60, 'go', '404/410', at + 5000),
    'upstream go-proxy#0 said 404/410 at 12:00:01Z (remembered for 60 s, [go] negative_cache_ttl)',
  );
  assert.equal(
    rememberedMissText(cache, 'b', two, -1, 'raw'),
    'upstreams dl#0, dl#1 said 404 (remembered until a restart, [raw] negative_cache_ttl = -1)',
  );
  // Nothing remembered, or remembering off: nothing to say.
  assert.equal(rememberedMissText(cache, 'c', one, 60, 'maven'), undefined);
  assert.equal(rememberedMissText(cache, 'a', one, 0, 'go'), undefined);
});

test('upstream request paths are percent-encoded per segment', () => {
  assert.equal(
    upstreamPath('org/example/demo/1.0/demo-1.0.jar'),
    '/org/example/demo/1.0/demo-1.0.jar',
  );
  assert.equal(upstreamPath('a/b+c/x y'), '/a/b%2Bc/x%20y');
});

test('the artifact a path or metadata directory belongs to', () => {
  assert.deepEqual(artifactOfFile('org/example/demo/1.0/demo-1.0.jar'), {
    groupId: 'org.example',
    artifactId: 'demo',
  });
  assert.equal(artifactOfFile('archetype-catalog.xml'), undefined);
  assert.deepEqual(artifactOfMetadataDir('org/example/demo'), {
    groupId: 'org.example',
    artifactId: 'demo',
  });
  assert.deepEqual(artifactOfMetadataDir('org/example/demo/1.0-SNAPSHOT'), {
    groupId: 'org.example',
    artifactId: 'demo',
  });
  assert.equal(artifactOfMetadataDir(''), undefined);
  assert.equal(artifactOfMetadataDir('org'), undefined);
});

test('the packaging of a POM, for the jar prefetch', () => {
  const of = (xml: string) => pomPackaging(Buffer.from(xml));
  assert.equal(of('<project><modelVersion>4.0.0</modelVersion></project>'), undefined);
  assert.equal(of('<project><packaging>maven-plugin</packaging></project>'), 'maven-plugin');
  assert.equal(of('<project>\n  <packaging> POM </packaging>\n</project>'), 'pom');
  assert.equal(
    of('<project><!-- <packaging>pom</packaging> --><packaging>bundle</packaging></project>'),
    'bundle',
  );
  assert.equal(
    of(
      '<project><build><plugins><plugin><configuration><packaging>war</packaging></configuration></plugin></plugins></build></project>',
    ),
    undefined,
    'a plugin configuration is not the project',
  );
});
