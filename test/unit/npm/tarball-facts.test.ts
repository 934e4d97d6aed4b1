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
import { makeTarball } from '../../integration/npm/fixtures.ts';

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
