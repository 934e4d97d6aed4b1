/**
 * The Go module proxy against a scripted upstream (a node:http GOPROXY whose answers, and when
 * it gives them, each test sets): what is asked upstream, when, and what `go` gets back (issue
 * 16, "Proxy").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

interface Answer {
  status: number;
  body?: string | Buffer;
  /** The answer is held until this settles: an upstream hung until the test releases it. */
  heldUntil?: Promise<void>;
  headers?: Record<string, string>;
}

class Upstream {
  readonly requests: string[] = [];
  answers = new Map<string, Answer>();
  #server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    this.requests.push(url);
    const answer = this.answers.get(url) ?? { status: 404, body: 'not found' };
    void (answer.heldUntil ?? Promise.resolve()).then(() => {
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  count(fragment: string): number {
    return this.requests.filter((r) => r.includes(fragment)).length;
  }
}

describe('go proxy against a scripted upstream', () => {
  const upstream = new Upstream();
  let server: TestServer;
  let go: string;

  before(async () => {
    await upstream.start();
    server = await startTestServer({
      config: {
        go: {
          metadata_ttl: 0,
          metadata_timeout: 1,
          negative_cache_ttl: 0,
          max_zip_size: 1000,
          private: ['corp.example', '*.internal.test/secret'],
          sumdb: [],
        },
      },
      env: { NORA_GO_PROXY: upstream.url },
      // No engine stale deadline (5 s by default): a kept copy served for a hung upstream is then
      // metadata_timeout's doing alone.
      proxyStaleAfterMs: 0,
    });
    go = `${server.url}/go`;
  });

  after(async () => {
    await server.close();
    await upstream.stop();
  });

  beforeEach(() => {
    upstream.requests.length = 0;
    upstream.answers = new Map();
  });

  test('.info/.mod/.zip fetched once, bytes unchanged, case-encoded paths upstream', async () => {
    // A real module zip: the proxy reads a .zip through whole before it keeps it.
    await using dir = await tempDir('go-azure-');
    await fs.writeFile(path.join(dir.path, 'go.mod'), 'module github.com/Azure/go\n');
    const zipFile = path.join(dir.path, 'azure.zip');
    await writeModuleZip(zipFile, 'github.com/Azure/go', 'v1.2.3', [
      { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 27 },
    ]);
    const zip = await fs.readFile(zipFile);
    upstream.answers.set('/github.com/!azure/go/@v/v1.2.3.zip', { status: 200, body: zip });
    upstream.answers.set('/github.com/!azure/go/@v/v1.2.3.mod', {
      status: 200,
      body: 'module github.com/Azure/go\n',
    });
    upstream.answers.set('/github.com/!azure/go/@v/v1.2.3.info', {
      status: 200,
      body: '{"Version":"v1.2.3","Time":"2020-01-02T03:04:05Z"}',
    });
    for (let i = 0; i < 3; i++) {
      const z = await fetch(`${go}/github.com/!azure/go/@v/v1.2.3.zip`);
      assert.equal(z.status, 200);
      assert.equal(z.headers.get('content-type'), 'application/zip');
      assert.deepEqual(Buffer.from(await z.arrayBuffer()), zip);
      const m = await fetch(`${go}/github.com/!azure/go/@v/v1.2.3.mod`);
      assert.equal(await m.text(), 'module github.com/Azure/go\n');
      const info = await fetch(`${go}/github.com/!azure/go/@v/v1.2.3.info`);
      assert.deepEqual(await info.json(), { Version: 'v1.2.3', Time: '2020-01-02T03:04:05Z' });
    }
    assert.equal(upstream.count('v1.2.3.zip'), 1);
    assert.equal(upstream.count('v1.2.3.mod'), 1);
    assert.equal(upstream.count('v1.2.3.info'), 1);
    const ranged = await fetch(`${go}/github.com/!azure/go/@v/v1.2.3.zip`, {
      headers: { range: 'bytes=0-3' },
    });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), 'PK\x03\x04');
    // If-Range: the ETag still holds → the range; a stale one → the whole file (RFC 9110 §13.1.5).
    const etag = ranged.headers.get('etag') ?? '';
    const current = await fetch(`${go}/github.com/!azure/go/@v/v1.2.3.zip`, {
      headers: { range: 'bytes=0-3', 'if-range': etag },
    });
    assert.equal(current.status, 206);
    await current.arrayBuffer();
    const stale = await fetch(`${go}/github.com/!azure/go/@v/v1.2.3.zip`, {
      headers: { range: 'bytes=0-3', 'if-range': '"something-else"' },
    });
    assert.equal(stale.status, 200);
    assert.deepEqual(Buffer.from(await stale.arrayBuffer()), zip);
  });

  test('a query holding % or a space is percent-encoded upstream, not sent raw', async () => {
    upstream.answers.set('/example.com/q/@v/v1%2500.info', {
      status: 200,
      body: '{"Version":"v1.0.0","Time":"2020-01-02T03:04:05Z"}',
    });
    const res = await fetch(`${go}/example.com/q/@v/v1%2500.info`);
    await res.arrayBuffer();
    assert.ok(
      upstream.requests.includes('/example.com/q/@v/v1%2500.info'),
      upstream.requests.join(),
    );
    assert.ok(!upstream.requests.some((r) => r.includes('v1%00')), upstream.requests.join());
    await (await fetch(`${go}/example.com/q/@v/my%20branch.info`)).arrayBuffer();
    assert.ok(
      upstream.requests.includes('/example.com/q/@v/my%20branch.info'),
      upstream.requests.join(),
    );
  });

  test('upstream 404 and 410 → 404 (go falls through); 5xx → 502 when nothing is cached', async () => {
    upstream.answers.set('/example.com/gone/@v/list', { status: 410, body: 'gone' });
    upstream.answers.set('/example.com/broken/@v/list', { status: 500 });
    assert.equal((await fetch(`${go}/example.com/nothing/@v/list`)).status, 404);
    assert.equal((await fetch(`${go}/example.com/gone/@v/list`)).status, 404);
    assert.equal((await fetch(`${go}/example.com/nothing/@v/v1.0.0.zip`)).status, 404);
    assert.equal((await fetch(`${go}/example.com/nothing/@latest`)).status, 404);
    const proxyAlone = await fetch(`${server.url}/repository/go-proxy/example.com/broken/@v/list`);
    assert.equal(proxyAlone.status, 502);
    // Through the group, a failing proxy is "not here": 404 naming the failure.
    const viaGroup = await fetch(`${go}/example.com/broken/@v/list`);
    assert.equal(viaGroup.status, 404);
    assert.match(await viaGroup.text(), /upstream go-proxy#0 failed: HTTP 500/);
  });

  test('@v/list: revalidated, served stale within metadata_timeout when the upstream is slow', async () => {
    upstream.answers.set('/example.com/slow/@v/list', { status: 200, body: 'v1.0.0\nv1.1.0\n' });
    const first = await fetch(`${go}/example.com/slow/@v/list`);
    assert.equal(await first.text(), 'v1.0.0\nv1.1.0\n');
    // The upstream hangs until released: the kept copy can only come from metadata_timeout (1 s)
    // firing, whatever the machine's load, not from a wall-clock bound. Were the timeout ignored
    // the request would wait on the upstream and be aborted after 30 s (a failure's bound only).
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    upstream.answers.set('/example.com/slow/@v/list', {
      status: 200,
      body: 'v1.0.0\nv1.1.0\nv1.2.0\n',
      heldUntil: released,
    });
    const second = await fetch(`${go}/example.com/slow/@v/list`, {
      signal: AbortSignal.timeout(30_000),
    }).finally(release);
    assert.equal(await second.text(), 'v1.0.0\nv1.1.0\n');
    assert.equal(second.headers.get('x-nora-stale'), 'true');
    upstream.answers.set('/example.com/slow/@v/list', { status: 200, body: 'v1.0.0\nv1.2.0\n' });
    const third = await fetch(`${go}/example.com/slow/@v/list`);
    assert.equal(await third.text(), 'v1.0.0\nv1.2.0\n');
    assert.equal(third.headers.get('x-nora-stale'), null);
  });

  test('@latest and a branch .info: a kept copy served when the upstream is down says x-nora-stale', async () => {
    const latest = '/example.com/down/@latest';
    const branch = '/example.com/down/@v/main.info';
    const info = '{"Version":"v1.0.0","Time":"2020-01-02T03:04:05Z"}';
    upstream.answers.set(latest, { status: 200, body: info });
    upstream.answers.set(branch, { status: 200, body: info });
    for (const p of [latest, branch]) {
      const fresh = await fetch(`${go}${p}`);
      assert.deepEqual(await fresh.json(), JSON.parse(info));
      assert.equal(fresh.headers.get('x-nora-stale'), null);
    }
    // TTL expired (metadata_ttl 0), upstream failing: the copy, marked stale, its JSON unchanged
    // (three upstream failures in a row: under the circuit breaker's threshold of 5).
    upstream.answers.set(latest, { status: 500 });
    upstream.answers.set(branch, { status: 503 });
    for (const url of [
      `${go}${latest}`,
      `${server.url}/repository/go-proxy${latest}`,
      `${go}${branch}`,
    ]) {
      const stale = await fetch(url);
      assert.equal(stale.status, 200, url);
      assert.equal(stale.headers.get('x-nora-stale'), 'true', url);
      assert.equal(await stale.text(), info);
    }
    // The upstream back: its answer, not stale.
    upstream.answers.set(latest, { status: 200, body: info.replace('v1.0.0', 'v1.1.0') });
    const back = await fetch(`${go}${latest}`);
    assert.equal(back.headers.get('x-nora-stale'), null);
    assert.equal(((await back.json()) as { Version: string }).Version, 'v1.1.0');
  });

  test('a .zip over max_zip_size is refused, never cached', async () => {
    upstream.answers.set('/example.com/big/@v/v1.0.0.zip', {
      status: 200,
      body: Buffer.alloc(2000),
    });
    const res = await fetch(`${server.url}/repository/go-proxy/example.com/big/@v/v1.0.0.zip`);
    assert.equal(res.status, 502);
    await res.arrayBuffer();
    await fetch(`${server.url}/repository/go-proxy/example.com/big/@v/v1.0.0.zip`).then((r) =>
      r.arrayBuffer(),
    );
    assert.equal(upstream.count('big/@v/v1.0.0.zip'), 2);
  });

  test('private module paths are never asked upstream', async () => {
    for (const url of [
      `${go}/corp.example/x/@v/list`,
      `${go}/corp.example/@latest`,
      `${go}/corp.example/x/y/@v/v1.0.0.zip`,
      `${go}/a.internal.test/secret/@v/v1.0.0.mod`,
      `${go}/a.internal.test/secret/sub/@v/v1.0.0.info`,
    ]) {
      const res = await fetch(url);
      assert.equal(res.status, 404, url);
      await res.arrayBuffer();
    }
    upstream.answers.set('/a.internal.test/public/@v/list', { status: 200, body: 'v1.0.0\n' });
    assert.equal((await fetch(`${go}/a.internal.test/public/@v/list`)).status, 200);
    assert.equal(upstream.count('corp.example'), 0);
    assert.equal(upstream.count('secret'), 0);
  });

  test('a module path go-hosted holds is served from go-hosted only, never asked upstream', async () => {
    upstream.answers.set('/example.com/mine/@v/list', { status: 200, body: 'v1.9.9\n' });
    // Before go-hosted has it, the upstream answers (and go-hosted's "not here" is remembered).
    assert.equal(await (await fetch(`${go}/example.com/mine/@v/list`)).text(), 'v1.9.9\n');
    // Published through the write path: what reads remember of go-hosted is dropped.
    {
      await using dir = await tempDir('go-mine-');
      await fs.writeFile(path.join(dir.path, 'go.mod'), 'module example.com/mine\n');
      const zip = path.join(dir.path, 'mine.zip');
      await writeModuleZip(zip, 'example.com/mine', 'v0.1.0', [
        { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 24 },
      ]);
      // The upstream's module was served (its list is cached): the takeover is meant.
      const put = await fetch(`${go}/example.com/mine/@v/v0.1.0.zip?shadow=1`, {
        method: 'PUT',
        body: await fs.readFile(zip),
      });
      assert.equal(put.status, 201, await put.text());
    }
    upstream.requests.length = 0;
    const list = await fetch(`${go}/example.com/mine/@v/list`);
    assert.equal(await list.text(), 'v0.1.0\n');
    assert.equal((await fetch(`${go}/example.com/mine/@v/v1.9.9.info`)).status, 404);
    assert.equal(upstream.count('example.com/mine'), 0);
  });

  test("a hosted module's tree (paths under it, its prefixes) is never asked upstream", async () => {
    await using dir = await tempDir('go-t7-');
    await fs.writeFile(path.join(dir.path, 'go.mod'), 'module tree.example.net/t7/hello\n');
    const zip = path.join(dir.path, 'hello.zip');
    await writeModuleZip(zip, 'tree.example.net/t7/hello', 'v1.0.0', [
      { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 33 },
    ]);
    const put = await fetch(`${go}/tree.example.net/t7/hello/@v/v1.0.0.zip`, {
      method: 'PUT',
      body: await fs.readFile(zip),
    });
    assert.equal(put.status, 201, await put.text());
    // What `go get tree.example.net/t7/hello/internal/secretpkg` asks: the package path and
    // each of its prefixes; the upstream would answer every one of them.
    const paths = [
      'tree.example.net',
      'tree.example.net/t7',
      'tree.example.net/t7/hello/internal',
      'tree.example.net/t7/hello/internal/secretpkg',
    ];
    upstream.requests.length = 0;
    for (const module of paths) {
      upstream.answers.set(`/${module}/@v/list`, { status: 200, body: 'v1.0.0\n' });
      upstream.answers.set(`/${module}/@latest`, {
        status: 200,
        body: '{"Version":"v1.0.0","Time":"2020-01-02T03:04:05Z"}',
      });
      for (const file of ['list', 'v1.0.0.info', 'v1.0.0.mod', 'v1.0.0.zip']) {
        const res = await fetch(`${go}/${module}/@v/${file}`);
        assert.equal(res.status, 404, `${module}/@v/${file}`);
        await res.arrayBuffer();
      }
      const latest = await fetch(`${go}/${module}/@latest`);
      assert.equal(latest.status, 404, `${module}@latest`);
      await latest.arrayBuffer();
    }
    // The hosted module itself still answers from go-hosted.
    assert.equal(await (await fetch(`${go}/tree.example.net/t7/hello/@v/list`)).text(), 'v1.0.0\n');
    assert.deepEqual(upstream.requests, []);
    // Not at a path boundary, or a sibling: the upstream's to answer.
    upstream.answers.set('/tree.example.net/t7/hell/@v/list', { status: 200, body: 'v0.1.0\n' });
    upstream.answers.set('/tree.example.net/t8/@v/list', { status: 200, body: 'v0.2.0\n' });
    assert.equal(await (await fetch(`${go}/tree.example.net/t7/hell/@v/list`)).text(), 'v0.1.0\n');
    assert.equal(await (await fetch(`${go}/tree.example.net/t8/@v/list`)).text(), 'v0.2.0\n');
    assert.deepEqual(upstream.requests, [
      '/tree.example.net/t7/hell/@v/list',
      '/tree.example.net/t8/@v/list',
    ]);
  });

  test('bad input → 400 in plain text', async () => {
    for (const path of [
      '/github.com/Azure/go/@v/list',
      '/example.com/x/@v/v1.0.0.tar',
      '/example.com/../x/@v/list',
      '/example.com/x%2fy/@v/list',
      '/nodot/x/@v/list',
      '/sumdb/sum.golang.org/tile/../../etc',
    ]) {
      const res = await fetch(`${go}${path}`);
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      await res.arrayBuffer();
    }
    assert.equal(upstream.requests.length, 0);
  });

  test('an @v/ file of an invalid or non-canonical version → 404 with the reason (go falls through)', async () => {
    // Only 404/410 let `go` try its next GOPROXY entry; proxy.golang.org answers these 404 too.
    // (A `.info` of a non-canonical name is a query, `master.info`: forwarded, not refused.)
    for (const [path, reason] of [
      ['/example.com/x/@v/v9.zip', /not a canonical version \(want v9\.0\.0\)/],
      ['/example.com/x/@v/v9.mod', /not a canonical version/],
      ['/example.com/x/@v/v1.0.zip', /not a canonical version/],
      ['/example.com/x/@v/v2.0.0.mod', /v2\.0\.0/],
      ['/example.com/x/@v/v1.0.0-RC.zip', /invalid escaped version/],
      ['/example.com/x/@v/.info', /invalid escaped version ""/],
    ] as const) {
      for (const base of [go, `${server.url}/repository/go-proxy`]) {
        for (const method of ['GET', 'HEAD']) {
          const res = await fetch(`${base}${path}`, { method });
          assert.equal(res.status, 404, `${method} ${base}${path}`);
          assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
          const body = await res.text();
          if (method === 'GET') assert.match(body, reason, path);
        }
      }
    }
    assert.equal(upstream.requests.length, 0);
  });
});
