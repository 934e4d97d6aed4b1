/**
 * The PyPI HTTP side through a listening server: the simple index (PEP 503/691 negotiation,
 * redirects, ETags, HEAD), files (Range, ETag), PEP 658 metadata, the default group over an
 * in-memory hosted member and the real proxy source in front of a static upstream (merge, the
 * dependency-confusion guard, a failing member), uploads and the management API routed to the
 * write member, auth (401 + Basic challenge, `__token__`), and `[pypi] enabled = false`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { FORMATS } from '../../../src/formats/index.ts';
import type { FormatModule } from '../../../src/formats/format.ts';
import { createPypiFormat } from '../../../src/formats/pypi/index.ts';
import { PypiProxy } from '../../../src/formats/pypi/proxy.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { FakeHosted, sha256, StaticUpstream } from './index-fixtures.ts';

const JSON_V1 = 'application/vnd.pypi.simple.v1+json';
const WHEEL = 'private_pkg-1.0.0-py3-none-any.whl';

function formatsWith(hosted: FakeHosted): FormatModule[] {
  const pypi = createPypiFormat({
    backends: (context) => {
      hosted.onChange = () => {
        context.writes.bump();
      };
      return { hosted, proxy: new PypiProxy(context), operations: hosted };
    },
  });
  return FORMATS.map((f) => (f.format === 'pypi' ? pypi : f));
}

function form(fields: Record<string, string>, filename: string, content: string) {
  const b = 'nora-test-boundary';
  let body = '';
  for (const [name, value] of Object.entries(fields)) {
    body += `--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  body += `--${b}\r\nContent-Disposition: form-data; name="content"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n--${b}--\r\n`;
  return { body, headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
}

describe('pypi simple index, group and routes', () => {
  let upstream: StaticUpstream;
  let hosted: FakeHosted;
  let server: TestServer;

  before(async () => {
    upstream = await new StaticUpstream().start();
    upstream.add('public-pkg', 'public_pkg-2.0.tar.gz', 'public bytes');
    upstream.add('public-pkg', 'public_pkg-1.0.tar.gz', 'old public bytes');
    // The same name as a hosted project: dependency confusion, must never be served.
    upstream.add('private-pkg', 'private_pkg-99.0.tar.gz', 'evil bytes');
    hosted = new FakeHosted();
    hosted.add('pypi-hosted', 'private-pkg', WHEEL, '1.0.0', 'wheel bytes');
    hosted.add('pypi-hosted', 'private-pkg', 'private_pkg-1.0.tar.gz', '1.0', 'sdist', {
      yanked: 'bad <build>',
    });
    server = await startTestServer({
      formats: formatsWith(hosted),
      config: {
        pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0 },
        repositories: [
          { name: 'py-named', format: 'pypi', kind: 'group', members: ['pypi-hosted'] },
          {
            name: 'py-proxy',
            format: 'pypi',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/simple/` }],
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('project page: HTML by default, escaped, relative links, PEP 629/592/658 attributes', async () => {
    const res = await fetch(`${server.url}/simple/private-pkg/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('vary'), 'Accept, Accept-Encoding');
    const html = await res.text();
    assert.match(html, /<meta name="pypi:repository-version" content="1\.1">/);
    assert.ok(html.includes(`href="${WHEEL}#sha256=${sha256('wheel bytes')}"`), html);
    assert.ok(html.includes('data-requires-python="&gt;=3.8"'));
    assert.ok(html.includes('data-yanked="bad &lt;build&gt;"'));
    assert.ok(html.includes('data-core-metadata="sha256='));
    assert.ok(html.includes('data-dist-info-metadata="sha256='));
    // The guard: the upstream's file of the same name is not listed.
    assert.ok(!html.includes('99.0'), html);
  });

  test('project page: PEP 691 JSON by Accept (pip header), ?format=, 406 when nothing fits', async () => {
    const pipAccept = `${JSON_V1}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01`;
    const res = await fetch(`${server.url}/simple/private-pkg/`, {
      headers: { accept: pipAccept },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), JSON_V1);
    const doc = (await res.json()) as {
      name: string;
      files: { filename: string; yanked: unknown; url: string }[];
      versions: string[];
      meta: object;
    };
    assert.deepEqual(doc.meta, { 'api-version': '1.1' });
    assert.equal(doc.name, 'private-pkg');
    assert.deepEqual(doc.versions, ['1.0.0']);
    assert.deepEqual(
      doc.files.map((f) => [f.filename, f.url, f.yanked]),
      [
        [WHEEL, WHEEL, false],
        ['private_pkg-1.0.tar.gz', 'private_pkg-1.0.tar.gz', 'bad <build>'],
      ],
    );
    const byQuery = await fetch(
      `${server.url}/simple/private-pkg/?format=${encodeURIComponent(JSON_V1)}`,
    );
    assert.equal(byQuery.headers.get('content-type'), JSON_V1);
    await byQuery.arrayBuffer();
    const v1html = await fetch(`${server.url}/simple/private-pkg/`, {
      headers: { accept: 'application/vnd.pypi.simple.v1+html' },
    });
    assert.equal(v1html.headers.get('content-type'), 'application/vnd.pypi.simple.v1+html');
    await v1html.arrayBuffer();
    const refused = await fetch(`${server.url}/simple/private-pkg/`, {
      headers: { accept: 'application/json, text/html;q=0' },
    });
    assert.equal(refused.status, 406);
    assert.equal(refused.headers.get('vary'), 'Accept');
    assert.match(refused.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await refused.text(), /application\/vnd\.pypi\.simple\.v1\+json/);
  });

  test('pages gzip-coded when accepted (once per page version), identity otherwise', async () => {
    for (let i = 0; i < 40; i += 1) {
      hosted.add('pypi-hosted', 'big-pkg', `big_pkg-1.${i}.tar.gz`, `1.${i}`, `bytes ${i}`);
    }
    const get = (accept: string, encoding?: string, ifNoneMatch?: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
        (resolve, reject) => {
          const req = http.get(
            `${server.url}/simple/big-pkg/`,
            {
              headers: {
                accept,
                ...(encoding === undefined ? {} : { 'accept-encoding': encoding }),
                ...(ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch }),
              },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => {
                chunks.push(c);
              });
              res.on('end', () => {
                resolve({
                  status: res.statusCode ?? 0,
                  headers: res.headers,
                  body: Buffer.concat(chunks),
                });
              });
            },
          );
          req.on('error', reject);
        },
      );
    for (const accept of [JSON_V1, 'text/html']) {
      const plain = await get(accept);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.headers.vary, 'Accept, Accept-Encoding');
      assert.ok(plain.body.length >= 1024, 'large enough to be compressed');
      const gz = await get(accept, 'gzip, deflate');
      assert.equal(gz.status, 200);
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(gz.headers.vary, 'Accept, Accept-Encoding');
      assert.equal(gz.headers['content-type'], plain.headers['content-type']);
      assert.equal(Number(gz.headers['content-length']), gz.body.length);
      assert.deepEqual(gunzipSync(gz.body), plain.body);
      assert.notEqual(gz.headers.etag, plain.headers.etag, 'one ETag per coding');
      // The same compressed bytes while the page is unchanged.
      assert.deepEqual((await get(accept, 'gzip')).body, gz.body);
      assert.equal((await get(accept, 'gzip', gz.headers.etag)).status, 304);
      assert.equal((await get(accept, 'gzip', plain.headers.etag)).status, 304);
      assert.equal(
        (await get(accept, 'gzip;q=0, identity')).headers['content-encoding'],
        undefined,
      );
      assert.equal((await get(accept, 'br;q=1, *;q=0.5')).headers['content-encoding'], 'gzip');
    }
    // A changed page is compressed anew.
    const before = gunzipSync((await get(JSON_V1, 'gzip')).body).toString();
    hosted.add('pypi-hosted', 'big-pkg', 'big_pkg-2.0.tar.gz', '2.0', 'new');
    const after = gunzipSync((await get(JSON_V1, 'gzip')).body).toString();
    assert.ok(!before.includes('big_pkg-2.0.tar.gz') && after.includes('big_pkg-2.0.tar.gz'));
    // Small pages are sent as they are.
    const small = await get('text/html', 'gzip');
    assert.equal(small.status, 200);
  });

  test('ETag + 304, HEAD answers the same headers without a body', async () => {
    const first = await fetch(`${server.url}/simple/private-pkg/`);
    const etag = first.headers.get('etag') ?? '';
    const body = await first.text();
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await fetch(`${server.url}/simple/private-pkg/`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);
    const head = await fetch(`${server.url}/simple/private-pkg/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), etag);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(await head.text(), '');
  });

  test('non-normalised names and a missing slash redirect (301, query kept)', async () => {
    const cases: [string, string][] = [
      ['/simple/Private.Pkg/', '/simple/private-pkg/'],
      ['/simple/private__pkg/', '/simple/private-pkg/'],
      ['/simple/Private_Pkg/?a=1', '/simple/private-pkg/?a=1'],
      ['/simple/private-pkg', '/simple/private-pkg/'],
      ['/simple', '/simple/'],
      [`/simple/PRIVATE-pkg/${WHEEL}`, `/simple/private-pkg/${WHEEL}`],
      ['/repository/py-named/simple/Private_Pkg', '/repository/py-named/simple/private-pkg/'],
    ];
    for (const [from, to] of cases) {
      const res = await fetch(`${server.url}${from}`, { redirect: 'manual' });
      assert.equal(res.status, 301, from);
      assert.equal(res.headers.get('location'), to, from);
      await res.arrayBuffer();
    }
  });

  test('files: bytes, ETag = sha256, immutable, Range, HEAD; metadata (PEP 658)', async () => {
    const url = `${server.url}/simple/private-pkg/${WHEEL}`;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'wheel bytes');
    assert.equal(res.headers.get('etag'), `"${sha256('wheel bytes')}"`);
    assert.match(res.headers.get('cache-control') ?? '', /immutable/);
    const part = await fetch(url, { headers: { range: 'bytes=6-10' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 6-10/11');
    assert.equal(await part.text(), 'bytes');
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '11');
    assert.equal(await head.text(), '');
    const notModified = await fetch(url, {
      headers: { 'if-none-match': `"${sha256('wheel bytes')}"` },
    });
    assert.equal(notModified.status, 304);
    const meta = await fetch(`${url}.metadata`);
    assert.equal(meta.status, 200);
    assert.match(await meta.text(), /^Metadata-Version: 2\.1\nName: private-pkg/);
    const missing = await fetch(`${server.url}/simple/private-pkg/private_pkg-1.0.tar.gz.metadata`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^text\/plain/);
    await missing.arrayBuffer();
  });

  test('group: proxied project through the group, relative links, files fetched upstream', async () => {
    const res = await fetch(`${server.url}/simple/public-pkg/`, { headers: { accept: JSON_V1 } });
    assert.equal(res.status, 200);
    const doc = (await res.json()) as {
      files: { filename: string; url: string }[];
      versions: string[];
    };
    assert.deepEqual(
      doc.files.map((f) => f.url),
      ['public_pkg-1.0.tar.gz', 'public_pkg-2.0.tar.gz'],
    );
    assert.deepEqual(doc.versions, ['1.0', '2.0']);
    const file = await fetch(`${server.url}/simple/public-pkg/public_pkg-2.0.tar.gz`);
    assert.equal(file.status, 200);
    assert.equal(await file.text(), 'public bytes');
    const list = await fetch(`${server.url}/simple/`, { headers: { accept: JSON_V1 } });
    const names = ((await list.json()) as { projects: { name: string }[] }).projects.map(
      (p) => p.name,
    );
    assert.ok(names.includes('private-pkg') && names.includes('public-pkg'), names.join());
  });

  test("guard: a hosted project's file is never taken from the upstream, and the 404 says so", async () => {
    const res = await fetch(`${server.url}/simple/private-pkg/private_pkg-99.0.tar.gz`);
    assert.equal(res.status, 404);
    // The group's 404 names the guard that kept its proxy out (never the upstream's host).
    const text = await res.text();
    assert.match(
      text,
      /private_pkg-99\.0\.tar\.gz \(private-pkg is hosted in pypi-hosted, so group pypi does not ask its proxy for it: protect_hosted_names\)/,
    );
    assert.doesNotMatch(text, /127\.0\.0\.1/);
    // A project nobody hosts: a plain 404, no guard in it.
    const plain = await fetch(`${server.url}/simple/public-pkg/public_pkg-9.9.tar.gz`);
    assert.equal(plain.status, 404);
    assert.doesNotMatch(await plain.text(), /protect_hosted_names/);
    assert.ok(
      !upstream.requests.some((u) => u.includes('private_pkg-99.0')),
      upstream.requests.join(),
    );
  });

  test('not found: unknown project 404 text/plain; bad filename 400', async () => {
    const res = await fetch(`${server.url}/simple/no-such-project/`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /no-such-project/);
    const bad = await fetch(`${server.url}/simple/private-pkg/a%5Cb.whl`);
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });

  test('upload: multipart streamed to the hosted write member; duplicate is 400 with reason', async () => {
    const { body, headers } = form(
      { ':action': 'file_upload', name: 'New_Pkg', version: '0.1' },
      'new_pkg-0.1.tar.gz',
      'new sdist',
    );
    const res = await fetch(`${server.url}/simple/`, { method: 'POST', body, headers });
    assert.equal(res.status, 200, await res.text());
    assert.equal(hosted.uploads.at(-1)?.repo, 'pypi-hosted');
    assert.match(hosted.uploads.at(-1)?.contentType ?? '', /^multipart\/form-data/);
    const page = await fetch(`${server.url}/simple/new-pkg/`);
    assert.match(await page.text(), /new_pkg-0\.1\.tar\.gz#sha256=/);
    const again = await fetch(`${server.url}/simple/legacy/`, { method: 'POST', body, headers });
    assert.equal(again.status, 400);
    assert.equal(again.statusText, 'File already exists: new_pkg-0.1.tar.gz');
    assert.match(await again.text(), /File already exists/);
    // Named group: to its write member (the first hosted member), at the repository root.
    const named = form({ name: 'other', version: '1.0' }, 'other-1.0.tar.gz', 'x');
    const viaNamed = await fetch(`${server.url}/repository/py-named/`, {
      method: 'POST',
      ...named,
    });
    assert.equal(viaNamed.status, 200, await viaNamed.text());
    assert.equal(hosted.uploads.at(-1)?.repo, 'pypi-hosted');
    // A proxy refuses writes.
    const toProxy = await fetch(`${server.url}/repository/py-proxy/`, { method: 'POST', ...named });
    assert.equal(toProxy.status, 405);
    assert.match(await toProxy.text(), /read-only proxy/);
  });

  test('management: yank with a reason, unyank, delete (JSON API prefix)', async () => {
    const yank = await fetch(`${server.url}/pypi/private-pkg/1.0.0/yank`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'security' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(yank.status, 200, await yank.text());
    assert.deepEqual(hosted.yanks.at(-1), {
      repo: 'pypi-hosted',
      project: 'private-pkg',
      version: '1.0.0',
      yanked: 'security',
    });
    const page = await (await fetch(`${server.url}/simple/private-pkg/`)).text();
    assert.ok(page.includes('data-yanked="security"'), page);
    const unyank = await fetch(`${server.url}/pypi/Private_Pkg/1.0.0/unyank`, { method: 'POST' });
    assert.equal(unyank.status, 200);
    assert.equal(hosted.yanks.at(-1)?.yanked, false);
    const del = await fetch(`${server.url}/pypi/new-pkg/0.1/new_pkg-0.1.tar.gz`, {
      method: 'DELETE',
    });
    assert.equal(del.status, 200);
    const gone = await fetch(`${server.url}/simple/new-pkg/new_pkg-0.1.tar.gz`);
    assert.equal(gone.status, 404);
    await gone.arrayBuffer();
    const bad = await fetch(`${server.url}/pypi/private-pkg/1.0.0/yank`, {
      method: 'POST',
      body: '{nope',
    });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });

  test('wrong methods: 405 with Allow', async () => {
    const res = await fetch(`${server.url}/simple/private-pkg/`, { method: 'PUT', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    await res.arrayBuffer();
    // The project list's URL is also the upload URL: its Allow names POST.
    const list = await fetch(`${server.url}/simple/`, { method: 'PUT', body: 'x' });
    assert.equal(list.status, 405);
    assert.equal(list.headers.get('allow'), 'GET, POST, HEAD');
    await list.arrayBuffer();
    // A wrong method on a named repository's upload URL: 405 naming POST, not a 404.
    const upload = await fetch(`${server.url}/repository/pypi-hosted/`, {
      method: 'PUT',
      body: 'x',
    });
    assert.equal(upload.status, 405);
    assert.equal(upload.headers.get('allow'), 'POST');
    await upload.arrayBuffer();
  });
});

describe('pypi group: failing upstream, protect_hosted_names = false', () => {
  test('a failing proxy member is "not here"; 404 names it only when nobody has the project', async () => {
    const upstream = await new StaticUpstream().start();
    const deadUrl = upstream.url;
    await upstream.close();
    const hosted = new FakeHosted();
    hosted.add('pypi-hosted', 'mine', 'mine-1.0.tar.gz', '1.0', 'm');
    await using server = await startTestServer({
      formats: formatsWith(hosted),
      config: { pypi: { proxy: `${deadUrl}/simple/`, metadata_ttl: 0, proxy_timeout: 5 } },
    });
    const ok = await fetch(`${server.url}/simple/mine/`);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /mine-1\.0\.tar\.gz/);
    const missing = await fetch(`${server.url}/simple/theirs/`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /upstream .* unreachable/);
    // Addressed alone, the proxy reports its failure (5xx).
    const alone = await fetch(`${server.url}/repository/pypi-proxy/simple/theirs/`);
    assert.ok(alone.status >= 502 && alone.status <= 504, String(alone.status));
    await alone.arrayBuffer();
  });

  test('a proxied file that fails its page hash never reaches a client whole, and is not kept', async () => {
    const upstream = await new StaticUpstream().start();
    upstream.add('liar', 'liar-1.0.tar.gz', 'the bytes the page names');
    upstream.add('liar', 'liar-2.0.tar.gz', 'x'.repeat(3 * 1024 * 1024));
    upstream.corrupt('liar-1.0.tar.gz', Buffer.alloc(24, 'z')); // the same length, other bytes
    upstream.corrupt('liar-2.0.tar.gz', Buffer.alloc(3 * 1024 * 1024, 'y'));
    try {
      await using server = await startTestServer({
        config: { pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0 } },
      });
      await (await fetch(`${server.url}/simple/liar/`)).arrayBuffer();
      // Small: held until verified, so the answer is the error (plain text, no file headers).
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${server.url}/simple/liar/liar-1.0.tar.gz`);
        assert.equal(res.status, 502);
        assert.match(await res.text(), /does not match its digest/);
        assert.equal(res.headers.get('etag'), null);
        assert.equal(res.headers.get('cache-control'), null);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      }
      // Large: streamed, so the failure cuts the answer short of its length.
      const res = await fetch(`${server.url}/simple/liar/liar-2.0.tar.gz`);
      const whole = await res.arrayBuffer().then(
        () => true,
        () => false,
      );
      assert.ok(res.status === 502 || !whole, `status ${res.status}, whole ${whole}`);
      const fetched = upstream.requests.filter((url) => url === '/files/liar-1.0.tar.gz');
      assert.equal(fetched.length, 2, 'nothing kept: every request goes upstream again');
    } finally {
      await upstream.close();
    }
  });

  test('protect_hosted_names = false: hosted and upstream files merged, hosted first per filename', async () => {
    const upstream = await new StaticUpstream().start();
    upstream.add('dual', 'dual-2.0.tar.gz', 'up 2');
    upstream.add('dual', 'dual-1.0.tar.gz', 'upstream copy');
    const hosted = new FakeHosted();
    hosted.add('pypi-hosted', 'dual', 'dual-1.0.tar.gz', '1.0', 'hosted copy');
    try {
      await using server = await startTestServer({
        formats: formatsWith(hosted),
        config: {
          pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0, protect_hosted_names: false },
        },
      });
      const doc = (await (
        await fetch(`${server.url}/simple/dual/`, { headers: { accept: JSON_V1 } })
      ).json()) as { files: { filename: string; hashes: { sha256: string } }[] };
      assert.deepEqual(
        doc.files.map((f) => [f.filename, f.hashes.sha256]),
        [
          ['dual-1.0.tar.gz', sha256('hosted copy')],
          ['dual-2.0.tar.gz', sha256('up 2')],
        ],
      );
      assert.equal(
        await (await fetch(`${server.url}/simple/dual/dual-1.0.tar.gz`)).text(),
        'hosted copy',
      );
      assert.equal(await (await fetch(`${server.url}/simple/dual/dual-2.0.tar.gz`)).text(), 'up 2');
    } finally {
      await upstream.close();
    }
  });
});

describe('pypi auth and enabled = false', () => {
  test('auth on, anonymous read off: 401 with a Basic challenge; __token__ + nra_ token reads', async () => {
    const hosted = new FakeHosted();
    hosted.add('pypi-hosted', 'mine', 'mine-1.0.tar.gz', '1.0', 'm');
    await using server = await startTestServer({
      formats: formatsWith(hosted),
      config: { pypi: { proxy: '' }, auth: { enabled: true, anonymous_read: false } },
    });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    const token = await tokens.create('alice', { role: 'write' });
    const anonymous = await fetch(`${server.url}/simple/mine/`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="nora"');
    assert.match(anonymous.headers.get('content-type') ?? '', /^text\/plain/);
    await anonymous.arrayBuffer();
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const wrong = await fetch(`${server.url}/simple/mine/`, {
      headers: { authorization: basic('alice', 'nope') },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('www-authenticate'), 'Basic realm="nora"');
    await wrong.arrayBuffer();
    for (const authorization of [basic('__token__', token.secret), basic('alice', 'alice-pw-1')]) {
      const res = await fetch(`${server.url}/simple/mine/`, { headers: { authorization } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const { body, headers } = form({ name: 'mine', version: '2.0' }, 'mine-2.0.tar.gz', 'two');
    const refused = await fetch(`${server.url}/simple/`, { method: 'POST', body, headers });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Basic realm="nora"');
    await refused.arrayBuffer();
    const upload = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      body,
      headers: { ...headers, authorization: basic('__token__', token.secret) },
    });
    assert.equal(upload.status, 200, await upload.text());
  });

  test('[pypi] enabled = false: the mounts answer a clear "disabled" 404', async () => {
    await using server = await startTestServer({
      config: {
        pypi: { enabled: false },
        repositories: [{ name: 'py', format: 'pypi', kind: 'hosted' }],
      },
    });
    for (const path of ['/simple/', '/simple/x/', '/repository/py/simple/']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404);
      assert.match(await res.text(), /pypi registry is disabled/);
    }
  });
});
