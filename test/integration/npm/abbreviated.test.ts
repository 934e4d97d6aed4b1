/**
 * Issue 11 §4: the abbreviated packument (`Accept: application/vnd.npm.install-v1+json`) carries
 * every field npm's own abbreviated form carries, including those the registry derives from the
 * tarball at publish (`_hasShrinkwrap`, `hasInstallScript` from binding.gyp, `dist.fileCount`,
 * `dist.unpackedSize`) and from the scripts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NpmHttp } from './client.ts';
import { npmServerPerSuite } from './suite.ts';
import { integrityOf, makeTarball } from './fixtures.ts';

type Abbreviated = {
  name: string;
  modified: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, Record<string, unknown> & { dist: Record<string, unknown> }>;
};

function body(
  name: string,
  version: string,
  manifest: Record<string, unknown>,
  files: Record<string, string>,
) {
  const full = { name, version, ...manifest };
  const tarball = makeTarball({ 'package.json': JSON.stringify(full), ...files });
  const { integrity, shasum } = integrityOf(tarball);
  return {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: { [version]: { ...full, _id: `${name}@${version}`, dist: { integrity, shasum } } },
    _attachments: {
      [`${name}-${version}.tgz`]: {
        content_type: 'application/octet-stream',
        data: tarball.toString('base64'),
        length: tarball.length,
      },
    },
  };
}

const INSTALL_FIELDS = {
  dependencies: { a: '^1.0.0' },
  optionalDependencies: { b: '^2.0.0' },
  devDependencies: { c: '^3.0.0' },
  bundleDependencies: ['a'],
  peerDependencies: { d: '>=4' },
  peerDependenciesMeta: { d: { optional: true } },
  acceptDependencies: { a: '>=0.9' },
  bin: { tool: 'bin/tool.js' },
  directories: { lib: 'lib' },
  engines: { node: '>=18' },
  cpu: ['x64'],
  os: ['linux'],
  libc: ['glibc'],
  funding: { type: 'individual', url: 'https://example.test/fund' },
};

describe('npm abbreviated packument', () => {
  let npm: NpmHttp;
  npmServerPerSuite((_server, client) => {
    npm = client;
  });

  test('copies every install field and derives _hasShrinkwrap, hasInstallScript, fileCount, unpackedSize', async () => {
    const reply = await npm.request(
      'PUT',
      '/native-thing',
      body(
        'native-thing',
        '1.0.0',
        {
          ...INSTALL_FIELDS,
          description: 'not in the abbreviated form',
          readme: 'nor this',
          main: 'index.js',
          scripts: { test: 'node test.js' },
        },
        { 'npm-shrinkwrap.json': '{"lockfileVersion":3}', 'binding.gyp': '{}', 'index.js': '42' },
      ),
    );
    assert.equal(reply.status, 201, reply.text);
    const doc = (await npm.packument('native-thing', true)).json<Abbreviated>();
    assert.equal(doc.name, 'native-thing');
    assert.ok(!Number.isNaN(Date.parse(doc.modified)));
    assert.deepEqual(doc['dist-tags'], { latest: '1.0.0' });
    const v = doc.versions['1.0.0']!;
    for (const [field, value] of Object.entries(INSTALL_FIELDS))
      assert.deepEqual(v[field], value, field);
    assert.equal(v['name'], 'native-thing');
    assert.equal(v['version'], '1.0.0');
    assert.equal(v['_hasShrinkwrap'], true, 'the tarball ships npm-shrinkwrap.json');
    assert.equal(v['hasInstallScript'], true, 'binding.gyp without install → node-gyp rebuild');
    for (const field of ['description', 'readme', 'main', 'scripts'])
      assert.equal(v[field], undefined, `${field} is not in the abbreviated form`);
    assert.equal(v.dist['fileCount'], 4);
    assert.equal(typeof v.dist['unpackedSize'], 'number');
    assert.ok((v.dist['unpackedSize'] as number) > 30);
    assert.match(String(v.dist['integrity']), /^sha512-/);
    assert.match(String(v.dist['shasum']), /^[0-9a-f]{40}$/);
    assert.match(String(v.dist['tarball']), /\/npm\/native-thing\/-\/native-thing-1\.0\.0\.tgz$/);
    // The full form has the derived fields too, and keeps the rest.
    const full = (await npm.packument('native-thing')).json<Abbreviated>();
    assert.equal(full.versions['1.0.0']!['_hasShrinkwrap'], true);
    assert.equal(full.versions['1.0.0']!['description'], 'not in the abbreviated form');
  });

  test('a plain package: _hasShrinkwrap false, no hasInstallScript; a postinstall script sets it', async () => {
    const plain = body('plain-thing', '1.0.0', {}, { 'index.js': '1' });
    assert.equal((await npm.request('PUT', '/plain-thing', plain)).status, 201);
    let v = (await npm.packument('plain-thing', true)).json<Abbreviated>().versions['1.0.0']!;
    assert.equal(v['_hasShrinkwrap'], false);
    assert.equal(v['hasInstallScript'], undefined);
    const scripted = body('scripted-thing', '1.0.0', { scripts: { postinstall: 'node x' } }, {});
    assert.equal((await npm.request('PUT', '/scripted-thing', scripted)).status, 201);
    v = (await npm.packument('scripted-thing', true)).json<Abbreviated>().versions['1.0.0']!;
    assert.equal(v['hasInstallScript'], true);
  });

  test('a client cannot claim a shrinkwrap the tarball does not have', async () => {
    const lying = body('lying-thing', '1.0.0', { _hasShrinkwrap: true }, {});
    assert.equal((await npm.request('PUT', '/lying-thing', lying)).status, 201);
    const v = (await npm.packument('lying-thing', true)).json<Abbreviated>().versions['1.0.0']!;
    assert.equal(v['_hasShrinkwrap'], false);
  });
});
