/**
 * The Warehouse JSON API of proxied projects (proxied-json.ts): core metadata parsing, releases
 * grouped by PEP 440 equality, the latest release, yanked releases, fields left null; and the
 * gzip acceptance of simple-index.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DistFile } from '../../../src/formats/pypi/model.ts';
import { parseCoreMetadata, proxiedJson } from '../../../src/formats/pypi/proxied-json.ts';
import { acceptsGzip } from '../../../src/formats/pypi/simple-index.ts';

function file(filename: string, version: string, extra: Partial<DistFile> = {}): DistFile {
  return {
    filename,
    version,
    sha256: 'a'.repeat(64),
    size: 10,
    requiresPython: '>=3.8',
    yanked: false,
    uploadTime: '2026-01-02T03:04:05Z',
    coreMetadata: filename.endsWith('.whl') ? { sha256: undefined } : undefined,
    ...extra,
  };
}

const METADATA = [
  'Metadata-Version: 2.1',
  'Name: Demo_Pkg',
  'Version: 2.0',
  'Summary: a demo',
  'Classifier: A :: B',
  'Classifier: C :: D',
  'Requires-Dist: idna>=3',
  'Project-URL: Home, https://example.invalid/home',
  'License: MIT',
  '        continued',
  '',
  'The long description.',
  '',
].join('\n');

test('parseCoreMetadata: text and list fields, folded lines, the body as description', () => {
  const meta = parseCoreMetadata(Buffer.from(METADATA));
  assert.equal(meta['name'], 'Demo_Pkg');
  assert.equal(meta['summary'], 'a demo');
  assert.deepEqual(meta['classifiers'], ['A :: B', 'C :: D']);
  assert.deepEqual(meta['requires_dist'], ['idna>=3']);
  assert.equal(meta['license'], 'MIT continued');
  assert.equal(meta['description'], 'The long description.');
});

test('proxiedJson: latest final non-yanked release, releases by PEP 440, nulls for unknowns', async () => {
  const page = {
    name: 'demo-pkg',
    files: [
      file('demo_pkg-1.0.tar.gz', '1.0'),
      file('demo_pkg-1.0.0-py3-none-any.whl', '1.0.0'),
      file('demo_pkg-2.0-py3-none-any.whl', '2.0'),
      file('demo_pkg-3.0-py3-none-any.whl', '3.0', { yanked: 'broken' }),
      file('demo_pkg-4.0rc1-py3-none-any.whl', '4.0rc1'),
    ],
  };
  const asked: string[] = [];
  const doc = (await proxiedJson(
    page,
    undefined,
    (p, f) => `http://nora.invalid/simple/${p}/${f}`,
    (filename) => {
      asked.push(filename);
      return Promise.resolve(Buffer.from(METADATA));
    },
  )) as {
    info: Record<string, unknown>;
    releases: Record<string, { filename: string; yanked: boolean; md5_digest: unknown }[]>;
    urls: { filename: string; url: string; packagetype: string; upload_time: string }[];
    last_serial: number;
  };
  assert.deepEqual(asked, ['demo_pkg-2.0-py3-none-any.whl']);
  assert.equal(doc.info['version'], '2.0');
  assert.equal(doc.info['name'], 'Demo_Pkg');
  assert.equal(doc.info['summary'], 'a demo');
  assert.deepEqual(doc.info['project_urls'], { Home: 'https://example.invalid/home' });
  assert.deepEqual(Object.keys(doc.releases), ['1.0', '2.0', '3.0', '4.0rc1']);
  assert.equal(doc.releases['1.0']?.length, 2, '1.0 and 1.0.0 are one release');
  assert.equal(doc.releases['3.0']?.[0]?.yanked, true);
  assert.equal(doc.releases['2.0']?.[0]?.md5_digest, null);
  assert.equal(
    doc.urls[0]!.url,
    'http://nora.invalid/simple/demo-pkg/demo_pkg-2.0-py3-none-any.whl',
  );
  assert.equal(doc.urls[0]!.packagetype, 'bdist_wheel');
  assert.equal(doc.urls[0]!.upload_time, '2026-01-02T03:04:05');
  assert.equal(doc.last_serial, 0);

  const yanked = (await proxiedJson(
    page,
    '3',
    () => '',
    () => Promise.resolve(undefined),
  )) as {
    info: Record<string, unknown>;
    releases?: unknown;
  };
  assert.equal(yanked.info['version'], '3.0');
  assert.equal(yanked.info['yanked'], true);
  assert.equal(yanked.info['yanked_reason'], 'broken');
  assert.equal(yanked.info['requires_python'], '>=3.8', 'from the page without metadata');
  assert.equal(yanked.releases, undefined);
  assert.equal(
    await proxiedJson(
      page,
      '9.9',
      () => '',
      () => Promise.resolve(undefined),
    ),
    undefined,
  );
  // A metadata read that fails leaves the document without the metadata fields.
  const failing = (await proxiedJson(
    page,
    '2.0',
    () => '',
    () => Promise.reject(new Error('upstream down')),
  )) as { info: Record<string, unknown> };
  assert.equal(failing.info['summary'], '');
  assert.equal(failing.info['name'], 'demo-pkg');
});

test('acceptsGzip: gzip, x-gzip or * with q > 0', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip('gzip, deflate'), true);
  assert.equal(acceptsGzip('x-gzip'), true);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('br, *;q=0.1'), true);
  assert.equal(acceptsGzip('*;q=1, gzip;q=0'), false);
  assert.equal(acceptsGzip(['br', 'gzip']), true);
});
