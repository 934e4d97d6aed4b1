/** tarball-facts.ts: derived publish-time fields, and bad archives never throwing. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  hasInstallScript,
  tarballFacts,
  withDerivedFields,
} from '../../../src/formats/npm/tarball-facts.ts';
import { makeTarball, tarEntries } from '../../integration/npm/fixtures.ts';

const facts = (data: Buffer) => tarballFacts(Readable.from([data]));

test('facts of an npm-pack-like tarball: files, sizes, shrinkwrap and binding.gyp at the root only', async () => {
  const plain = await facts(makeTarball({ 'package.json': '{}', 'index.js': 'x'.repeat(1000) }));
  assert.deepEqual(plain, {
    hasShrinkwrap: false,
    hasBindingGyp: false,
    fileCount: 2,
    unpackedSize: 1002,
  });
  const rich = await facts(
    makeTarball({
      'package.json': '{}',
      'npm-shrinkwrap.json': '{}',
      'binding.gyp': '{}',
      'lib/npm-shrinkwrap.json': '{}',
    }),
  );
  assert.ok(rich);
  assert.equal(rich.hasShrinkwrap, true);
  assert.equal(rich.hasBindingGyp, true);
  assert.equal(rich.fileCount, 4);
  const nested = await facts(makeTarball({ 'lib/binding.gyp': '{}', 'a/npm-shrinkwrap.json': '' }));
  assert.ok(nested);
  assert.equal(nested.hasShrinkwrap, false);
  assert.equal(nested.hasBindingGyp, false);
});

test('corrupt, truncated and non-gzip input → undefined, never a throw', async () => {
  const good = makeTarball({ 'package.json': '{}', 'index.js': 'x'.repeat(5000) });
  assert.equal(await facts(Buffer.from('not gzip at all')), undefined);
  assert.equal(await facts(good.subarray(0, good.length - 20)), undefined);
  assert.equal(await facts(gzipSync(Buffer.from('x'.repeat(700)))), undefined);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
      const result = await facts(gzipSync(Buffer.from(bytes)));
      assert.ok(result === undefined || typeof result.fileCount === 'number');
    }),
    { numRuns: 60 },
  );
});

test('hasInstallScript: install scripts, binding.gyp / gypfile without install or preinstall', () => {
  assert.equal(hasInstallScript({}), false);
  assert.equal(hasInstallScript({ scripts: { test: 'x', prepare: 'y' } }), false);
  for (const s of ['preinstall', 'install', 'postinstall'])
    assert.equal(hasInstallScript({ scripts: { [s]: 'node x.js' } }), true, s);
  assert.equal(hasInstallScript({}, true), true, 'binding.gyp → node-gyp rebuild');
  assert.equal(hasInstallScript({ gypfile: true }), true);
  assert.equal(hasInstallScript({ gypfile: false }, true), false);
  const derived = withDerivedFields(
    { name: 'a', hasInstallScript: true, _hasShrinkwrap: true, dist: { shasum: 'x' } },
    { hasShrinkwrap: false, hasBindingGyp: false, fileCount: 3, unpackedSize: 10 },
  );
  assert.equal(derived['hasInstallScript'], undefined, 'a client-sent claim is not trusted');
  assert.equal(derived['_hasShrinkwrap'], false);
  assert.deepEqual(derived['dist'], { shasum: 'x', fileCount: 3, unpackedSize: 10 });
  assert.equal(withDerivedFields({ _hasShrinkwrap: true }, undefined)['_hasShrinkwrap'], undefined);
});

test('inspectTarball: corrupt (with a reason) apart from facts; an empty archive is corrupt', async () => {
  const { inspectTarball } = await import('../../../src/formats/npm/tarball-facts.ts');
  const good = makeTarball({ 'package.json': '{}' });
  const inspect = (data: Buffer) => inspectTarball(Readable.from([data]));
  assert.equal((await inspect(good)).kind, 'facts');
  for (const bad of [
    Buffer.from('not gzip at all'),
    good.subarray(0, good.length - 20),
    gzipSync(Buffer.from('x'.repeat(700))),
    gzipSync(Buffer.alloc(1024)),
  ]) {
    const result = await inspect(bad);
    if (result.kind !== 'corrupt') assert.fail(`not refused: ${JSON.stringify(result)}`);
    assert.notEqual(result.reason, '');
  }
});

// Trial 13 F2 (manifest confusion): every root package.json is read, as npm extracts it.
test('inspectTarball reads every root package.json: other root folders, odd paths, BOM, bad ones', async () => {
  const { inspectTarball, MAX_PACKAGE_JSON_BYTES } =
    await import('../../../src/formats/npm/tarball-facts.ts');
  const found = async (entries: [string, string | Buffer][]) => {
    const result = await inspectTarball(Readable.from([gzipSync(tarEntries(entries))]));
    if (result.kind !== 'facts') assert.fail(JSON.stringify(result));
    return result.packageJsons;
  };
  const pj = (name: string, version: string) => JSON.stringify({ name, version });
  assert.deepEqual(
    await found([
      ['package/package.json', pj('a', '1.0.0')],
      ['package/lib/package.json', pj('nested', '0.0.0')],
      ['other/package.json', pj('b', '2.0.0')],
      ['x//package.json', pj('c', '3.0.0')],
      ['./y/./package.json', `\uFEFF${pj('d', '4.0.0')}`],
    ]),
    [
      { name: 'a', version: '1.0.0' },
      { name: 'b', version: '2.0.0' },
      { name: 'c', version: '3.0.0' },
      { name: 'd', version: '4.0.0' },
    ],
  );
  assert.deepEqual(await found([['package/index.js', 'x']]), []);
  assert.deepEqual(await found([['package/package.json', '{nope']]), [
    { problem: 'it is not valid JSON' },
  ]);
  assert.deepEqual(await found([['package/package.json', '[1]']]), [
    { problem: 'it is not a JSON object' },
  ]);
  assert.deepEqual(
    await found([['package/package.json', Buffer.alloc(MAX_PACKAGE_JSON_BYTES + 1, 0x20)]]),
    [{ problem: 'it is larger than 16 MiB' }],
  );
});

test('checkTarballIdentity: the name and version npm would publish from the file, else 400', async () => {
  const { checkTarballIdentity } = await import('../../../src/formats/npm/publish.ts');
  const ok = (name: string, version: string, files: { name: unknown; version: unknown }[]) => {
    checkTarballIdentity(name, version, files);
  };
  ok('a', '1.0.0', [{ name: 'a', version: '1.0.0' }]);
  // npm publishes `semver.clean` of the file's version and the trimmed name.
  ok('a', '1.0.0', [{ name: ' a ', version: 'v1.0.0' }]);
  ok('a', '1.0.0', [{ name: 'a', version: '1.0.0+build.7' }]);
  ok('a', '1.0.0+build.7', [{ name: 'a', version: '1.0.0+build.7' }]);
  ok('@s/a', '2.0.0-rc.1', [{ name: '@s/a', version: '=2.0.0-rc.1' }]);
  const refused = (
    name: string,
    version: string,
    files: Parameters<typeof checkTarballIdentity>[2],
    pattern: RegExp,
  ) => {
    assert.throws(
      () => {
        checkTarballIdentity(name, version, files);
      },
      (err: unknown) =>
        err instanceof Error &&
        (err as { status?: number }).status === 400 &&
        pattern.test(err.message),
      `${name}@${version} ${JSON.stringify(files)}`,
    );
  };
  refused('bad-c', '1.0.0', [{ name: 'totally-other', version: '9.9.9' }], /"totally-other"/);
  refused('a', '1.0.0', [{ name: 'a', version: '1.0.1' }], /version "1\.0\.1"/);
  refused('a', '1.0.0', [{ name: 'A', version: '1.0.0' }], /names "A"/);
  refused('a', '1.0.0', [{ name: 'a', version: 1 }], /version 1/);
  refused('a', '1.0.0', [{ name: undefined, version: undefined }], /names null version null/);
  refused('a', '1.0.0', [], /no package\.json at its root/);
  refused('a', '1.0.0', [{ problem: 'it is not valid JSON' }], /cannot be read: it is not valid/);
  // npm extracts every root folder into one, the last file wins: each one must agree.
  refused(
    'a',
    '1.0.0',
    [
      { name: 'a', version: '1.0.0' },
      { name: 'evil', version: '1.0.0' },
    ],
    /"evil"/,
  );
});
