/**
 * The upstream project page parser (src/formats/pypi/upstream-page.ts): PEP 691 JSON and PEP 503
 * HTML, attribute decoding, hash sources, metadata forms, what is dropped, and its bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isRegistryError } from '../../../src/core/errors.ts';
import {
  MAX_UPSTREAM_PAGE_FILES,
  parseUpstreamPage,
} from '../../../src/formats/pypi/upstream-page.ts';

const PAGE = 'https://index.example/simple/demo-pkg/';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('upstream project page parser', () => {
  test('PEP 503 HTML: hashes, entities, yanked, metadata forms, relative and absolute URLs', () => {
    const html = `<!DOCTYPE html><html><body>
      <a href="../../packages/demo_pkg-1.0-py3-none-any.whl#sha256=${A.toUpperCase()}" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="sha256=${B}">demo_pkg-1.0-py3-none-any.whl</a>
      <A HREF="https://files.example/x/Demo.Pkg-2.0.tar.gz#md5=0123&amp;sha256=${B}" data-yanked="bad &quot;build&quot;" data-core-metadata="true">x</A>
      <a href="demo_pkg-3.0-py3-none-any.whl" data-yanked="" data-core-metadata="md5=abcd">no hash</a>
      <a href="demo_pkg-4.0-py3-none-any.whl#sha256=${A}" data-core-metadata="false">bad metadata value</a>
    </body></html>`;
    const { files } = parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
    assert.equal(files.length, 4);
    const [one, two, three, four] = files;
    assert.equal(one!.url, 'https://index.example/packages/demo_pkg-1.0-py3-none-any.whl');
    assert.equal(one!.sha256, A);
    assert.equal(one!.version, '1.0');
    assert.equal(one!.requiresPython, '>=3.8,<4');
    assert.deepEqual(one!.coreMetadata, { sha256: B });
    assert.equal(one!.yanked, false);
    assert.equal(two!.filename, 'Demo.Pkg-2.0.tar.gz');
    assert.equal(two!.sha256, B);
    assert.equal(two!.yanked, 'bad "build"');
    assert.deepEqual(two!.coreMetadata, { sha256: undefined });
    assert.equal(three!.url, 'https://index.example/simple/demo-pkg/demo_pkg-3.0-py3-none-any.whl');
    assert.equal(three!.sha256, undefined, 'kept without a hash');
    assert.equal(three!.yanked, '');
    assert.deepEqual(three!.coreMetadata, { sha256: undefined });
    assert.equal(four!.coreMetadata, undefined);
  });

  test('drops unsafe, foreign, unparseable and duplicate files', () => {
    const links = [
      `../x/..%2Fevil-1.0.tar.gz#sha256=${A}`,
      `../x/demo_pkg%2F..-1.0.tar.gz#sha256=${A}`,
      `../x/demo_pkg-1.0%00.tar.gz#sha256=${A}`,
      `../x/other-1.0.tar.gz#sha256=${A}`,
      `../x/demo_pkg-1.0.egg#sha256=${A}`,
      `../x/demo_pkg-not.a.version.tar.gz#sha256=${A}`,
      `ftp://files.example/demo_pkg-1.0.tar.gz#sha256=${A}`,
      `javascript:alert(1)`,
      `../`,
      `../x/demo_pkg-1.0.tar.gz#sha256=${A}`,
      `../y/demo_pkg-1.0.tar.gz#sha256=${B}`,
    ];
    const html = links.map((href) => `<a href="${href}">x</a>`).join('\n');
    const { files } = parseUpstreamPage(Buffer.from(html), 'text/html', PAGE, 'demo-pkg');
    assert.deepEqual(
      files.map((f) => [f.filename, f.sha256]),
      [['demo_pkg-1.0.tar.gz', A]],
    );
  });

  test('PEP 691 JSON: hashes, yanked forms, core-metadata forms, size, upload-time', () => {
    const doc = {
      meta: { 'api-version': '1.1' },
      name: 'demo-pkg',
      files: [
        {
          filename: 'demo_pkg-1.0-py3-none-any.whl',
          url: 'https://cdn.example/p/q/demo_pkg-1.0-py3-none-any.whl?token=1',
          hashes: { sha256: A.toUpperCase(), md5: '00' },
          'requires-python': '>=3.8',
          yanked: true,
          'core-metadata': { sha256: B },
          size: 1234,
          'upload-time': '2024-01-02T03:04:05.678901Z',
        },
        {
          filename: 'demo_pkg-2.0.tar.gz',
          url: '../../files/demo_pkg-2.0.tar.gz',
          hashes: {},
          yanked: 'reason',
          'dist-info-metadata': true,
          size: -1,
          'upload-time': 'yesterday',
        },
        { filename: 'demo_pkg-3.0.tar.gz', url: 42 },
        'not an object',
      ],
    };
    const { files } = parseUpstreamPage(
      Buffer.from(JSON.stringify(doc)),
      'application/vnd.pypi.simple.v1+json',
      PAGE,
      'demo-pkg',
    );
    assert.equal(files.length, 2);
    const [one, two] = files;
    assert.equal(one!.url, 'https://cdn.example/p/q/demo_pkg-1.0-py3-none-any.whl?token=1');
    assert.equal(one!.sha256, A);
    assert.equal(one!.yanked, '');
    assert.deepEqual(one!.coreMetadata, { sha256: B });
    assert.equal(one!.size, 1234);
    assert.equal(one!.uploadTime, '2024-01-02T03:04:05.678Z');
    assert.equal(two!.url, 'https://index.example/files/demo_pkg-2.0.tar.gz');
    assert.equal(two!.sha256, undefined);
    assert.equal(two!.yanked, 'reason');
    assert.deepEqual(two!.coreMetadata, { sha256: undefined });
    assert.equal(two!.size, undefined);
    assert.equal(two!.uploadTime, undefined);
  });

  test('content type decides; sniffed when it names neither', () => {
    const json = JSON.stringify({
      files: [{ filename: 'demo_pkg-1.0.tar.gz', url: 'demo_pkg-1.0.tar.gz' }],
    });
    assert.equal(parseUpstreamPage(Buffer.from(json), undefined, PAGE, 'demo-pkg').files.length, 1);
    assert.equal(
      parseUpstreamPage(Buffer.from(json), 'application/octet-stream', PAGE, 'demo-pkg').files
        .length,
      1,
    );
    const html = '<a href="demo_pkg-1.0.tar.gz">x</a>';
    assert.equal(parseUpstreamPage(Buffer.from(html), undefined, PAGE, 'demo-pkg').files.length, 1);
  });

  test('malformed or oversized pages are upstream failures', () => {
    const failsAs502 = (body: string, type: string) => {
      assert.throws(
        () => parseUpstreamPage(Buffer.from(body), type, PAGE, 'demo-pkg'),
        (err: unknown) => isRegistryError(err) && err.status === 502,
      );
    };
    failsAs502('{"files": 3}', 'application/vnd.pypi.simple.v1+json');
    failsAs502('[1,2]', 'application/vnd.pypi.simple.v1+json');
    failsAs502('<html>', 'application/vnd.pypi.simple.v1+json');
    const many = { files: Array.from({ length: MAX_UPSTREAM_PAGE_FILES + 1 }, () => ({})) };
    failsAs502(JSON.stringify(many), 'application/vnd.pypi.simple.v1+json');
    failsAs502('<a href="x">x</a>'.repeat(MAX_UPSTREAM_PAGE_FILES + 1), 'text/html');
  });
});
