/**
 * A checksum-database lookup of a module path go-hosted holds, through the group `/go` (what
 * `go` asks when GOPRIVATE/GONOSUMDB do not name the path): never forwarded to the database (the
 * private name would leak), a 404 whose plain-text line tells the user to set GOPRIVATE.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('go group: sumdb lookups of hosted module paths stay here', () => {
  const requests: string[] = [];
  const upstream = http.createServer((req, res) => {
    requests.push(req.url ?? '/');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('record from the database\n');
  });
  let server: TestServer;
  let go: string;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: { go: { proxy: url, sumdb: [`sum.test.example=${url}`], negative_cache_ttl: 0 } },
    });
    go = `${server.url}/go`;
    await using dir = await tempDir('go-hosted-sumdb-');
    await fs.writeFile(path.join(dir.path, 'go.mod'), 'module corp.example.com/hello\n');
    const zip = path.join(dir.path, 'hello.zip');
    await writeModuleZip(zip, 'corp.example.com/hello', 'v1.4.0', [
      { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 30 },
    ]);
    const put = await fetch(`${go}/corp.example.com/hello/@v/v1.4.0.zip`, {
      method: 'PUT',
      body: await fs.readFile(zip),
    });
    assert.equal(put.status, 201, await put.text());
  });

  after(async () => {
    await server.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('lookup of a hosted module: 404 with the GOPRIVATE hint, nothing asked upstream', async () => {
    requests.length = 0;
    for (const version of ['v1.4.0', 'v9.9.9']) {
      const res = await fetch(
        `${go}/sumdb/sum.test.example/lookup/corp.example.com/hello@${version}`,
      );
      assert.equal(res.status, 404);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const body = await res.text();
      assert.equal(
        body,
        "not found: corp.example.com/hello is hosted in go-hosted, so NORA does not ask sum.test.example about it (NORA's copy may differ from the public one): set GOPRIVATE=corp.example.com/hello (or GONOSUMDB=corp.example.com/hello) for go\n",
      );
    }
    assert.deepEqual(requests, []);
  });

  test("a lookup of a hosted module's path prefix is not forwarded either", async () => {
    requests.length = 0;
    const res = await fetch(`${go}/sumdb/sum.test.example/lookup/corp.example.com@v1.4.0`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /GOPRIVATE=corp\.example\.com /);
    // Not a prefix at a path boundary: still the database's to answer.
    const near = await fetch(`${go}/sumdb/sum.test.example/lookup/corp.example.co@v1.4.0`);
    assert.equal(near.status, 200);
    await near.arrayBuffer();
    assert.deepEqual(requests, ['/lookup/corp.example.co@v1.4.0']);
  });

  test('lookups of other modules are still forwarded', async () => {
    requests.length = 0;
    const other = await fetch(`${go}/sumdb/sum.test.example/lookup/example.com/public@v1.0.0`);
    assert.equal(other.status, 200);
    assert.equal(await other.text(), 'record from the database\n');
    assert.deepEqual(requests, ['/lookup/example.com/public@v1.0.0']);
    const supported = await fetch(`${go}/sumdb/sum.test.example/supported`);
    assert.equal(supported.status, 200);
    await supported.arrayBuffer();
  });
});

describe('go without a module proxy (NORA_GO_PROXY=none): the checksum database is still forwarded', () => {
  const requests: string[] = [];
  const upstream = http.createServer((req, res) => {
    requests.push(req.url ?? '/');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('record from the database\n');
  });
  let url: string;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  after(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('/go and go-hosted: supported, lookups forwarded, hosted paths 404 with the GOPRIVATE hint', async () => {
    await using server = await startTestServer({
      config: { go: { sumdb: [`sum.golang.org=${url}`] } },
      env: { NORA_GO_PROXY: 'none' },
    });
    await using dir = await tempDir('go-hosted-only-sumdb-');
    await fs.writeFile(path.join(dir.path, 'go.mod'), 'module corp.example.com/hello\n');
    const zip = path.join(dir.path, 'hello.zip');
    await writeModuleZip(zip, 'corp.example.com/hello', 'v1.4.0', [
      { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 30 },
    ]);
    const put = await fetch(`${server.url}/go/corp.example.com/hello/@v/v1.4.0.zip`, {
      method: 'PUT',
      body: await fs.readFile(zip),
    });
    assert.equal(put.status, 201, await put.text());
    requests.length = 0;
    for (const base of [`${server.url}/go`, `${server.url}/repository/go-hosted`]) {
      const supported = await fetch(`${base}/sumdb/sum.golang.org/supported`);
      assert.equal(supported.status, 200, base);
      await supported.arrayBuffer();
      const other = await fetch(`${base}/sumdb/sum.golang.org/lookup/example.com/public@v1.0.0`);
      assert.equal(other.status, 200, base);
      assert.equal(await other.text(), 'record from the database\n');
      const hosted = await fetch(
        `${base}/sumdb/sum.golang.org/lookup/corp.example.com/hello@v1.4.0`,
      );
      assert.equal(hosted.status, 404, base);
      assert.match(
        await hosted.text(),
        /is hosted in go-hosted, so NORA does not ask sum\.golang\.org about it \(NORA's copy may differ from the public one\): set GOPRIVATE=corp\.example\.com\/hello /,
      );
      // A database not in [go] sumdb: 404, so go asks it directly.
      const unknown = await fetch(`${base}/sumdb/sum.other.example/supported`);
      assert.equal(unknown.status, 404);
      await unknown.arrayBuffer();
    }
    // Asked once (a lookup is kept forever, for every repository); the hosted path never.
    assert.deepEqual(requests, ['/lookup/example.com/public@v1.0.0']);
  });

  test('[go] sumdb = [] (NORA_GO_SUMDB=none): no checksum database forwarded', async () => {
    await using server = await startTestServer({
      env: { NORA_GO_PROXY: 'none', NORA_GO_SUMDB: 'none' },
    });
    const res = await fetch(`${server.url}/go/sumdb/sum.golang.org/supported`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /not found: sumdb\/sum\.golang\.org\/supported/);
  });
});

describe('go sumdb lookups of hosted module paths, auth on: the hint only for who may read them', () => {
  const requests: string[] = [];
  const upstream = http.createServer((req, res) => {
    requests.push(req.url ?? '/');
    // The public database knows no module of these tests: 404 (as sum.golang.org does for a
    // module that does not exist publicly).
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  });
  let server: TestServer;
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');
  const module = 'corp.example.com/priv/m';

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        go: { proxy: '', sumdb: [`sum.test.example=${url}`], negative_cache_ttl: 0 },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['go-hosted'],
              paths: ['corp.example.com/priv/**'],
              users: ['alice'],
              actions: ['read', 'write', 'delete'],
            },
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    await using dir = await tempDir('go-sumdb-auth-');
    await fs.writeFile(path.join(dir.path, 'go.mod'), `module ${module}\n`);
    const zip = path.join(dir.path, 'm.zip');
    await writeModuleZip(zip, module, 'v1.0.0', [
      { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 32 },
    ]);
    const put = await fetch(`${server.url}/go/${module}/@v/v1.0.0.zip`, {
      method: 'PUT',
      headers: { authorization: alice },
      body: await fs.readFile(zip),
    });
    assert.equal(put.status, 201, await put.text());
  });

  after(async () => {
    await server.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const get = async (url: string, authorization?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.status, body: await res.text() };
  };

  test('alice (who may read the module) gets the GOPRIVATE hint; bob and anonymous a plain 404', async () => {
    requests.length = 0;
    for (const base of ['/go', '/repository/go-hosted']) {
      for (const target of [module, 'corp.example.com']) {
        const lookup = `${base}/sumdb/sum.test.example/lookup/${target}@v1.0.0`;
        const hint = await get(lookup, alice);
        assert.equal(hint.status, 404, lookup);
        assert.match(
          hint.body,
          target === module
            ? new RegExp(
                `^not found: ${target} is hosted in go-hosted, so NORA does not ask sum\\.test\\.example about it .*GOPRIVATE=`,
              )
            : new RegExp(
                `^not found: ${module} is hosted in go-hosted, so NORA does not ask sum\\.test\\.example about ${target}, a prefix of its path .*GOPRIVATE=${target} `,
              ),
        );
        for (const [who, authorization] of [
          ['bob', bob],
          ['anonymous', undefined],
        ] as const) {
          const plain = await get(lookup, authorization);
          assert.equal(plain.status, 404, `${who} ${lookup}`);
          // The body of a lookup not served: nothing says the path is hosted here.
          assert.equal(
            plain.body.trim(),
            `not found: sumdb/sum.test.example/lookup/${target}@v1.0.0`,
            `${who} ${lookup}`,
          );
          assert.doesNotMatch(plain.body, /hosted|GOPRIVATE|go-hosted/);
        }
      }
    }
    // Never asked upstream, whoever asked.
    assert.deepEqual(requests, []);
    // A module not hosted here, unknown to the database: the same answer, forwarded.
    const unknown = await get('/go/sumdb/sum.test.example/lookup/corp.example.org/m@v1.0.0', bob);
    assert.equal(unknown.status, 404);
    assert.equal(
      unknown.body.trim(),
      'not found: sumdb/sum.test.example/lookup/corp.example.org/m@v1.0.0',
    );
    assert.deepEqual(requests, ['/lookup/corp.example.org/m@v1.0.0']);
    // The module itself: bob 403, anonymous 401, alice reads.
    assert.equal((await get(`/go/${module}/@v/list`, bob)).status, 403);
    assert.equal((await get(`/go/${module}/@v/list`)).status, 401);
    assert.equal((await get(`/go/${module}/@v/list`, alice)).body, 'v1.0.0\n');
  });
});
