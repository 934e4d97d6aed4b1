/** PEP 503/691 rendering and Accept negotiation (src/formats/pypi/simple-index.ts). */
import assert from 'node:assert/strict';
import { etagMatches } from '../../../src/core/http-conditional.ts';
import { test } from 'node:test';
import type { DistFile, ProjectPage } from '../../../src/formats/pypi/model.ts';
import {
  negotiateSimple,
  PageRenderCache,
  releaseVersions,
  renderPage,
  renderProjectHtml,
  renderProjectJson,
  renderProjectListHtml,
  renderProjectListJson,
  SIMPLE_HTML_V1,
  SIMPLE_JSON_V1,
  TEXT_HTML,
} from '../../../src/formats/pypi/simple-index.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

function file(filename: string, version: string, extra: Partial<DistFile> = {}): DistFile {
  return {
    filename,
    version,
    sha256: A,
    size: 10,
    requiresPython: undefined,
    yanked: false,
    uploadTime: undefined,
    coreMetadata: undefined,
    ...extra,
  };
}

const page: ProjectPage = {
  name: 'demo-pkg',
  files: [
    file('demo_pkg-1.0.0-py3-none-any.whl', '1.0.0', {
      sha256: B,
      requiresPython: '>=3.8,<4',
      coreMetadata: { sha256: C },
      uploadTime: '2026-01-02T03:04:05Z',
      size: 1234,
    }),
    file('demo_pkg-1.0.tar.gz', '1.0', { yanked: 'broken "build" <oops>' }),
    file('demo_pkg-0.9.tar.gz', '0.9', { yanked: '' }),
    file('demo_pkg-1.0rc1.tar.gz', '1.0rc1', { coreMetadata: { sha256: undefined } }),
    file('demo_pkg-2.0.post0.tar.gz', '2.0-post0', { size: undefined }),
  ],
};

test('HTML: PEP 503 document with PEP 629 meta, hashes and every data- attribute, escaped', () => {
  const html = renderProjectHtml(page);
  assert.match(html, /^<!DOCTYPE html>\n/);
  assert.match(html, /<meta name="pypi:repository-version" content="1\.1">/);
  assert.match(html, /<title>Links for demo-pkg<\/title>/);
  assert.ok(
    html.includes(
      `<a href="demo_pkg-1.0.0-py3-none-any.whl#sha256=${B}" data-requires-python="&gt;=3.8,&lt;4" data-core-metadata="sha256=${C}" data-dist-info-metadata="sha256=${C}">demo_pkg-1.0.0-py3-none-any.whl</a>`,
    ),
    html,
  );
  assert.ok(
    html.includes(
      `<a href="demo_pkg-1.0.tar.gz#sha256=${A}" data-yanked="broken &quot;build&quot; &lt;oops&gt;">demo_pkg-1.0.tar.gz</a>`,
    ),
  );
  assert.ok(html.includes(`<a href="demo_pkg-0.9.tar.gz#sha256=${A}" data-yanked="">`));
  assert.ok(html.includes('data-core-metadata="true" data-dist-info-metadata="true"'));
  assert.ok(!html.includes('<oops>'));
});

test('files are ordered by PEP 440 precedence, then filename', () => {
  const html = renderProjectHtml(page);
  const order = [...html.matchAll(/>(demo_pkg-[^<]+)<\/a>/g)].map((m) => m[1]);
  assert.deepEqual(order, [
    'demo_pkg-0.9.tar.gz',
    'demo_pkg-1.0rc1.tar.gz',
    'demo_pkg-1.0.0-py3-none-any.whl',
    'demo_pkg-1.0.tar.gz',
    'demo_pkg-2.0.post0.tar.gz',
  ]);
});

test('JSON: PEP 691 v1.1 with yanked, core-metadata, size, upload-time and PEP 700 versions', () => {
  const doc = JSON.parse(renderProjectJson(page)) as {
    meta: Record<string, string>;
    name: string;
    files: Record<string, unknown>[];
    versions: string[];
  };
  assert.deepEqual(doc.meta, { 'api-version': '1.1' });
  assert.equal(doc.name, 'demo-pkg');
  const wheel = doc.files.find((f) => f['filename'] === 'demo_pkg-1.0.0-py3-none-any.whl');
  assert.deepEqual(wheel, {
    filename: 'demo_pkg-1.0.0-py3-none-any.whl',
    url: 'demo_pkg-1.0.0-py3-none-any.whl',
    hashes: { sha256: B },
    'requires-python': '>=3.8,<4',
    yanked: false,
    'core-metadata': { sha256: C },
    size: 1234,
    'upload-time': '2026-01-02T03:04:05Z',
  });
  const byName = (n: string) => doc.files.find((f) => f['filename'] === n) ?? {};
  assert.equal(byName('demo_pkg-1.0.tar.gz')['yanked'], 'broken "build" <oops>');
  assert.equal(byName('demo_pkg-0.9.tar.gz')['yanked'], true);
  assert.equal(byName('demo_pkg-1.0rc1.tar.gz')['core-metadata'], true);
  assert.equal(byName('demo_pkg-0.9.tar.gz')['core-metadata'], false);
  // PEP 714: never the old JSON key (pip 23.0 crashes on its dict value).
  assert.ok(doc.files.every((f) => !('dist-info-metadata' in f)));
  assert.ok(!('size' in byName('demo_pkg-2.0.post0.tar.gz')));
  // 1.0 and 1.0.0 are one release; 2.0-post0 is normalised.
  assert.deepEqual(doc.versions, ['0.9', '1.0rc1', '1.0.0', '2.0.post0']);
});

test('PEP 700 versions: equivalent spellings listed once, PEP 440 order', () => {
  const files = [
    file('x-1.0.0.post0.tar.gz', '1.0.0.post0'),
    file('x-1.0.0-post0.zip', '1.0.0-post0'),
    file('x-10.0.tar.gz', '10.0'),
    file('x-9.0.tar.gz', '9.0'),
    file('x-1!0.1.tar.gz', '1!0.1'),
  ];
  assert.deepEqual(releaseVersions(files), ['1.0.0.post0', '9.0', '10.0', '1!0.1']);
});

test('links are relative and percent-encoded where URLs need it', () => {
  const odd = renderProjectHtml({
    name: 'x',
    files: [file('x-1.0+local.tar.gz', '1.0+local')],
  });
  assert.ok(odd.includes(`href="x-1.0%2Blocal.tar.gz#sha256=${A}"`), odd);
});

test('project list: HTML anchors to <name>/ and JSON projects, sorted', () => {
  const html = renderProjectListHtml(['zeta', 'alpha']);
  assert.match(html, /<meta name="pypi:repository-version" content="1\.1">/);
  assert.ok(html.indexOf('<a href="alpha/">alpha</a>') < html.indexOf('<a href="zeta/">zeta</a>'));
  assert.deepEqual(JSON.parse(renderProjectListJson(['zeta', 'alpha'])), {
    meta: { 'api-version': '1.1' },
    projects: [{ name: 'alpha' }, { name: 'zeta' }],
  });
});

test('negotiation: defaults, q-values, wildcards, aliases, q=0 and 406', () => {
  assert.equal(negotiateSimple(undefined), TEXT_HTML);
  assert.equal(negotiateSimple(''), TEXT_HTML);
  assert.equal(negotiateSimple('*/*'), TEXT_HTML);
  assert.equal(negotiateSimple('text/html'), TEXT_HTML);
  assert.equal(negotiateSimple(SIMPLE_JSON_V1), SIMPLE_JSON_V1);
  assert.equal(negotiateSimple(SIMPLE_HTML_V1), SIMPLE_HTML_V1);
  // pip's header.
  assert.equal(
    negotiateSimple(
      'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01',
    ),
    SIMPLE_JSON_V1,
  );
  assert.equal(
    negotiateSimple('application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.5'),
    TEXT_HTML,
  );
  assert.equal(negotiateSimple('application/vnd.pypi.simple.latest+json'), SIMPLE_JSON_V1);
  assert.equal(negotiateSimple('application/vnd.pypi.simple.latest+html'), SIMPLE_HTML_V1);
  assert.equal(negotiateSimple('application/*'), SIMPLE_HTML_V1);
  assert.equal(negotiateSimple('text/*, application/vnd.pypi.simple.v1+json'), SIMPLE_JSON_V1);
  // q=0 refuses, even under a wildcard that would allow it.
  assert.equal(negotiateSimple('text/html;q=0, */*'), SIMPLE_HTML_V1);
  assert.equal(
    negotiateSimple('text/html;q=0, application/vnd.pypi.simple.v1+html;q=0, */*;q=0.1'),
    SIMPLE_JSON_V1,
  );
  // Nothing acceptable: 406.
  assert.equal(negotiateSimple('application/json'), undefined);
  assert.equal(negotiateSimple('application/vnd.pypi.simple.v2+json'), undefined);
  assert.equal(negotiateSimple('*/*;q=0'), undefined);
  assert.equal(negotiateSimple('text/html;q=bogus'), undefined);
  // ?format= overrides the header.
  assert.equal(negotiateSimple('text/html', SIMPLE_JSON_V1), SIMPLE_JSON_V1);
  assert.equal(negotiateSimple(SIMPLE_JSON_V1, 'application/xml'), undefined);
});

test('renderPage: content type per chosen type, ETag of the bytes, If-None-Match forms', () => {
  const html = renderPage(TEXT_HTML, { project: page });
  assert.equal(html.contentType, 'text/html; charset=utf-8');
  const v1 = renderPage(SIMPLE_HTML_V1, { project: page });
  assert.equal(v1.contentType, SIMPLE_HTML_V1);
  assert.equal(v1.etag, html.etag);
  const json = renderPage(SIMPLE_JSON_V1, { project: page });
  assert.equal(json.contentType, SIMPLE_JSON_V1);
  assert.notEqual(json.etag, html.etag);
  assert.ok(etagMatches(html.etag, html.etag));
  assert.ok(etagMatches(`W/${html.etag}`, html.etag));
  assert.ok(etagMatches(`"x", ${html.etag}`, html.etag));
  assert.ok(etagMatches('*', html.etag));
  assert.ok(!etagMatches('"other"', html.etag));
  assert.ok(!etagMatches(undefined, html.etag));
});

test('PageRenderCache: reuses a render while the content is the same, never once it changed', () => {
  const cache = new PageRenderCache();
  const first = cache.render('repo/demo-pkg', TEXT_HTML, { project: page });
  assert.equal(cache.render('repo/demo-pkg', TEXT_HTML, { project: { ...page } }), first);
  const json = cache.render('repo/demo-pkg', SIMPLE_JSON_V1, { project: page });
  assert.equal(json.contentType, SIMPLE_JSON_V1);
  const yanked: ProjectPage = {
    ...page,
    files: page.files.map((f, i) => (i === 0 ? { ...f, yanked: 'now' } : f)),
  };
  const changed = cache.render('repo/demo-pkg', TEXT_HTML, { project: yanked });
  assert.notEqual(changed.etag, first.etag);
  assert.ok(changed.body.toString().includes('data-yanked="now"'));
  assert.deepEqual(
    cache.render('repo/', TEXT_HTML, { projects: ['a'] }).body,
    renderPage(TEXT_HTML, { projects: ['a'] }).body,
  );
});
