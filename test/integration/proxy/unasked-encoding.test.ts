/**
 * An upstream that compresses a body it was not asked to compress (`Content-Encoding: gzip`
 * whatever the request's Accept-Encoding said: a CDN, an nginx `gzip on` for every type) must
 * not have the compressed bytes stored and served as the file: every registry format gets the
 * identity bytes, digests and sizes are checked on them (the decoding is done once, in the
 * shared upstream client). Gap found 2026-12-02 (Go proxy: `.zip`/`.mod`/`.info` stored gzipped).
 * Raw proxies are the exception (2026-12-03, hostile-upstream trial F3): they keep the body as a
 * plain download saves it (curl -O, wget), encoded or not, and send no Accept-Encoding; their
 * own test is test/integration/raw/content-encoding.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Distinct, compressible bytes (so the encoded body differs in size and content). */
function fileBytes(tag: string, size = 5_000): Buffer {
  return Buffer.from(`${tag}:`.repeat(Math.ceil(size / (tag.length + 1))).slice(0, size));
}

describe('proxies: an upstream that compresses unasked', () => {
  const files = new Map<string, { body: Buffer; type: string }>();
  const seen: { url: string; acceptEncoding: string | undefined }[] = [];
  let origin: http.Server;
  let base = '';
  let server: TestServer;

  const put = (path: string, body: Buffer | string, type = 'application/octet-stream'): void => {
    files.set(path, { body: Buffer.isBuffer(body) ? body : Buffer.from(body), type });
  };

  // Identity bytes of each file the proxies serve.
  // Real module zips (the Go proxy refuses a `.zip` that is not one for its module@version).
  let goZip: Buffer;
  const goMod = Buffer.from('module example.com/m\n\ngo 1.21\n');
  const goInfo = Buffer.from('{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}');
  let bigGoZip: Buffer;
  const rawFile = fileBytes('raw');
  const jar = fileBytes('jar', 300_000);
  const wheel = fileBytes('wheel');
  const crate = fileBytes('crate');
  const chart = fileBytes('chart');
  const tarball = fileBytes('tarball');
  // Gzip files their origin labels `Content-Encoding: gzip` (Apache's `AddEncoding x-gzip .tgz`):
  // the bytes on the wire are the file itself, and the registry's digest names them.
  const labelledTarball = gzipSync(fileBytes('labelled-tarball'));
  const labelledChart = gzipSync(fileBytes('labelled-chart'));
  const labelled = new Set<string>();

  before(async () => {
    goZip = await moduleZip('example.com/m', 'v1.0.0', fileBytes('go-zip', 200_000));
    bigGoZip = await moduleZip('example.com/big', 'v1.0.0', fileBytes('big-go-zip', 3_000_000));
    origin = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0] ?? '/';
      seen.push({ url, acceptEncoding: req.headers['accept-encoding'] });
      if (url.includes('corrupt')) {
        res.writeHead(200, { 'content-encoding': 'gzip' }).end('this is not gzip data at all');
        return;
      }
      const file = files.get(url);
      if (file === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      if (labelled.has(url)) {
        res.writeHead(200, { 'content-type': file.type, 'content-encoding': 'gzip' });
        res.end(req.method === 'HEAD' ? undefined : file.body);
        return;
      }
      // `br` for one path: every coding the client knows is decoded, not only gzip.
      const brotli = url.endsWith('.mod');
      const body = brotli ? brotliCompressSync(file.body) : gzipSync(file.body);
      res.writeHead(200, {
        'content-type': file.type,
        'content-encoding': brotli ? 'br' : 'gzip',
        'content-length': String(body.length),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

    put('/go/example.com/m/@v/v1.0.0.info', goInfo, 'application/json');
    put('/go/example.com/m/@v/v1.0.0.mod', goMod, 'text/plain');
    put('/go/example.com/m/@v/v1.0.0.zip', goZip, 'application/zip');
    put('/go/example.com/big/@v/v1.0.0.zip', bigGoZip, 'application/zip');
    put('/raw/dir/file.bin', rawFile);
    put('/m2/com/example/lib/1.0/lib-1.0.jar', jar);
    put('/m2/com/example/lib/1.0/lib-1.0.jar.sha1', createHash('sha1').update(jar).digest('hex'));
    put(
      '/py/simple/demo/',
      JSON.stringify({
        meta: { 'api-version': '1.0' },
        name: 'demo',
        files: [
          {
            filename: 'demo-1.0-py3-none-any.whl',
            url: `${base}/py/files/demo-1.0-py3-none-any.whl`,
            hashes: { sha256: sha256(wheel) },
          },
        ],
      }),
      'application/vnd.pypi.simple.v1+json',
    );
    put('/py/files/demo-1.0-py3-none-any.whl', wheel);
    put(
      '/cargo/index/config.json',
      JSON.stringify({ dl: `${base}/cargo/dl/{crate}/{version}/download`, api: base }),
      'application/json',
    );
    put(
      '/cargo/index/de/mo/democrate',
      `${JSON.stringify({
        name: 'democrate',
        vers: '1.0.0',
        deps: [],
        cksum: sha256(crate),
        features: {},
        yanked: false,
      })}\n`,
      'text/plain',
    );
    put('/cargo/dl/democrate/1.0.0/download', crate);
    put(
      '/helm/index.yaml',
      [
        'apiVersion: v1',
        'entries:',
        '  demo:',
        '  - name: demo',
        '    version: 1.0.0',
        '    apiVersion: v2',
        `    digest: ${sha256(chart)}`,
        '    urls:',
        `    - ${base}/helm/charts/demo-1.0.0.tgz`,
        '  labelled:',
        '  - name: labelled',
        '    version: 1.0.0',
        '    apiVersion: v2',
        `    digest: ${sha256(labelledChart)}`,
        '    urls:',
        `    - ${base}/helm/charts/labelled-1.0.0.tgz`,
        'generated: "2024-01-01T00:00:00Z"',
        '',
      ].join('\n'),
      'application/x-yaml',
    );
    put('/helm/charts/demo-1.0.0.tgz', chart, 'application/gzip');
    put(
      '/npm/demo-pkg',
      JSON.stringify({
        name: 'demo-pkg',
        'dist-tags': { latest: '1.0.0' },
        versions: {
          '1.0.0': {
            name: 'demo-pkg',
            version: '1.0.0',
            dist: {
              tarball: `${base}/npm/demo-pkg/-/demo-pkg-1.0.0.tgz`,
              shasum: createHash('sha1').update(tarball).digest('hex'),
              integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
            },
          },
        },
        time: { '1.0.0': '2024-01-01T00:00:00.000Z' },
      }),
      'application/json',
    );
    put('/npm/demo-pkg/-/demo-pkg-1.0.0.tgz', tarball);
    put('/helm/charts/labelled-1.0.0.tgz', labelledChart, 'application/gzip');
    labelled.add('/helm/charts/labelled-1.0.0.tgz');
    put(
      '/npm/labelled-pkg',
      JSON.stringify({
        name: 'labelled-pkg',
        'dist-tags': { latest: '1.0.0' },
        versions: {
          '1.0.0': {
            name: 'labelled-pkg',
            version: '1.0.0',
            dist: {
              tarball: `${base}/npm/labelled-pkg/-/labelled-pkg-1.0.0.tgz`,
              integrity: `sha512-${createHash('sha512').update(labelledTarball).digest('base64')}`,
            },
          },
        },
      }),
      'application/json',
    );
    put('/npm/labelled-pkg/-/labelled-pkg-1.0.0.tgz', labelledTarball, 'application/gzip');
    labelled.add('/npm/labelled-pkg/-/labelled-pkg-1.0.0.tgz');

    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'go-px', format: 'go', kind: 'proxy', upstreams: [{ url: `${base}/go` }] },
          { name: 'raw-px', format: 'raw', kind: 'proxy', upstreams: [{ url: `${base}/raw` }] },
          { name: 'mvn-px', format: 'maven', kind: 'proxy', upstreams: [{ url: `${base}/m2` }] },
          {
            name: 'py-px',
            format: 'pypi',
            kind: 'proxy',
            upstreams: [{ url: `${base}/py/simple/` }],
          },
          {
            name: 'cargo-px',
            format: 'cargo',
            kind: 'proxy',
            upstreams: [{ url: `${base}/cargo/index/` }],
          },
          { name: 'helm-px', format: 'helm', kind: 'proxy', upstreams: [{ url: `${base}/helm` }] },
          { name: 'npm-px', format: 'npm', kind: 'proxy', upstreams: [{ url: `${base}/npm` }] },
        ],
      },
    });
  });

  after(async () => {
    await server.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => {
      origin.close(() => {
        resolve();
      });
    });
  });

  /** GETs a NORA path twice (the fill, then the stored copy) and checks both are `expected`. */
  async function assertIdentity(path: string, expected: Buffer): Promise<void> {
    for (const round of ['upstream', 'stored']) {
      const res = await fetch(`${server.url}${path}`, {
        headers: { 'accept-encoding': 'identity' },
      });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `${round} ${path}: ${body.toString().slice(0, 200)}`);
      assert.equal(res.headers.get('content-encoding'), null, `${round} ${path}`);
      assert.equal(sha256(body), sha256(expected), `${round} ${path}: identity bytes`);
    }
  }

  test('go: .info, .mod, .zip (small and large) are stored and served decoded', async () => {
    await assertIdentity('/repository/go-px/example.com/m/@v/v1.0.0.info', goInfo);
    await assertIdentity('/repository/go-px/example.com/m/@v/v1.0.0.mod', goMod);
    await assertIdentity('/repository/go-px/example.com/m/@v/v1.0.0.zip', goZip);
    await assertIdentity('/repository/go-px/example.com/big/@v/v1.0.0.zip', bigGoZip);
  });

  test('NORA asks its upstreams for identity bytes', () => {
    const goAsks = seen.filter((request) => request.url.startsWith('/go/'));
    assert.ok(goAsks.length > 0);
    for (const request of goAsks) assert.equal(request.acceptEncoding, 'identity', request.url);
  });

  test('maven files; raw files are kept as sent (the encoded bytes, as curl -O saves them)', async () => {
    await assertIdentity('/repository/mvn-px/com/example/lib/1.0/lib-1.0.jar', jar);
    for (const round of ['upstream', 'stored']) {
      const res = await fetch(`${server.url}/repository/raw-px/dir/file.bin`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, round);
      assert.equal(res.headers.get('content-encoding'), null, round);
      assert.equal(sha256(body), sha256(gzipSync(rawFile)), `${round}: the bytes as sent`);
    }
    const rawAsks = seen.filter((request) => request.url.startsWith('/raw/'));
    assert.ok(rawAsks.length > 0);
    for (const request of rawAsks) assert.equal(request.acceptEncoding, undefined, request.url);
  });

  test('a body whose encoding is corrupt is the upstream failure (502), never stored', async () => {
    for (const path of ['/repository/go-px/corrupt.com/m/@v/v1.0.0.mod']) {
      for (let round = 0; round < 2; round++) {
        const res = await fetch(`${server.url}${path}`);
        const text = await res.text().catch(() => 'cut');
        assert.ok(res.status === 502 || text === 'cut', `${path}: ${res.status} ${text}`);
      }
    }
  });

  test('pypi: the page and the file', async () => {
    const page = await fetch(`${server.url}/repository/py-px/simple/demo/`, {
      headers: { accept: 'application/vnd.pypi.simple.v1+json' },
    });
    assert.equal(page.status, 200, await page.clone().text());
    const doc = (await page.json()) as { files: { filename: string; url: string }[] };
    const link = doc.files[0]?.url ?? '';
    const url = new URL(link, `${server.url}/repository/py-px/simple/demo/`);
    await assertIdentity(url.pathname, wheel);
  });

  test('cargo: the index file and the .crate', async () => {
    const index = await fetch(`${server.url}/repository/cargo-px/index/de/mo/democrate`);
    const text = await index.text();
    assert.equal(index.status, 200, text);
    assert.equal((JSON.parse(text) as { cksum: string }).cksum, sha256(crate));
    await assertIdentity('/repository/cargo-px/api/v1/crates/democrate/1.0.0/download', crate);
  });

  test('helm: index.yaml and the chart', async () => {
    const index = await fetch(`${server.url}/repository/helm-px/index.yaml`);
    const text = await index.text();
    assert.equal(index.status, 200, text);
    const url = /([^"\s[]*demo-1\.0\.0\.tgz)/.exec(text)?.[1] ?? '';
    assert.notEqual(url, '', text);
    await assertIdentity(new URL(url, `${server.url}/repository/helm-px/`).pathname, chart);
  });

  test('npm: the packument and the tarball', async () => {
    const packument = await fetch(`${server.url}/repository/npm-px/demo-pkg`);
    const text = await packument.text();
    assert.equal(packument.status, 200, text);
    const doc = JSON.parse(text) as { versions: Record<string, { dist: { tarball: string } }> };
    const url = doc.versions['1.0.0']?.dist.tarball ?? '';
    await assertIdentity(new URL(url).pathname, tarball);
  });

  test('a gzip file labelled Content-Encoding: gzip (npm tarball, Helm chart): 502, nothing stored', async () => {
    // What NORA does today (docs/proxy.md "Content codings per format"): the decoded bytes do not
    // match the registry's digest, so the download fails closed; the tar is never stored under
    // the archive's digest. (A client that decodes as NORA does fails the same way.)
    const packument = await fetch(`${server.url}/repository/npm-px/labelled-pkg`);
    const doc = (await packument.json()) as {
      versions: Record<string, { dist: { tarball: string } }>;
    };
    const index = await (await fetch(`${server.url}/repository/helm-px/index.yaml`)).text();
    const chartUrl = /([^"\s[]*labelled-1\.0\.0\.tgz)/.exec(index)?.[1] ?? '';
    assert.notEqual(chartUrl, '', index);
    for (const url of [
      new URL(doc.versions['1.0.0']?.dist.tarball ?? '').pathname,
      new URL(chartUrl, `${server.url}/repository/helm-px/`).pathname,
    ]) {
      for (let round = 0; round < 2; round++) {
        const res = await fetch(`${server.url}${url}`);
        const body = await res.arrayBuffer().catch(() => 'cut');
        assert.ok(res.status === 502 || body === 'cut', `${url}: ${res.status}`);
      }
    }
  });
});

/** A module zip of `module@version` holding a go.mod and `payload` (as data.bin). */
async function moduleZip(module: string, version: string, payload: Buffer): Promise<Buffer> {
  await using dir = await tempDir('unasked-encoding-zip-');
  const mod = path.join(dir.path, 'go.mod');
  const modText = `module ${module}\n`;
  await fs.writeFile(mod, modText);
  const data = path.join(dir.path, 'data.bin');
  await fs.writeFile(data, payload);
  const out = path.join(dir.path, 'module.zip');
  await writeModuleZip(out, module, version, [
    { path: 'go.mod', localPath: mod, size: Buffer.byteLength(modText) },
    { path: 'data.bin', localPath: data, size: payload.length },
  ]);
  return await fs.readFile(out);
}
