/**
 * Raw proxy and group repositories against a fixture origin (a local HTTP server standing for a
 * release-download site): stream-through fetch and cache, cached forever by default (no second
 * upstream request), TTL revalidation with If-None-Match / If-Modified-Since (304 kept, 200
 * replaced), one upstream GET for concurrent clients, 404 remembered, stale served when the
 * origin is down, 502 for an uncached miss; a group of hosted + proxy: reads in member order,
 * listings merged, writes to the write member, a failing proxy member is "not here".
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { send } from '../../helpers/send.ts';

const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');

interface Origin {
  readonly url: string;
  readonly files: Map<string, { body: Buffer; etag?: string; lastModified?: string }>;
  readonly log: { path: string; headers: http.IncomingHttpHeaders }[];
  /** Delay before answering, ms. */
  delay: number;
  /** Answer 503 to everything. */
  down: boolean;
  close(): Promise<void>;
}

async function startOrigin(): Promise<Origin> {
  const files = new Map<string, { body: Buffer; etag?: string; lastModified?: string }>();
  const log: Origin['log'] = [];
  const state = { delay: 0, down: false };
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    log.push({ path, headers: req.headers });
    setTimeout(() => {
      if (state.down) {
        res.writeHead(503).end('down');
        return;
      }
      const file = files.get(path);
      if (!file) {
        res.writeHead(404).end('not found');
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (file.etag) headers['etag'] = file.etag;
      if (file.lastModified) headers['last-modified'] = file.lastModified;
      if (file.etag && req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers).end();
        return;
      }
      if (
        !file.etag &&
        file.lastModified &&
        req.headers['if-modified-since'] === file.lastModified
      ) {
        res.writeHead(304, headers).end();
        return;
      }
      headers['content-length'] = String(file.body.length);
      res.writeHead(200, headers);
      // Two halves with a pause, so concurrent clients really overlap one fill.
      const half = Math.floor(file.body.length / 2);
      res.write(file.body.subarray(0, half));
      setTimeout(() => res.end(file.body.subarray(half)), state.delay);
    }, state.delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/downloads`,
    files,
    log,
    get delay() {
      return state.delay;
    },
    set delay(v: number) {
      state.delay = v;
    },
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('raw proxy and group', () => {
  let origin: Origin;
  let server: TestServer;
  let port = 0;
  const hits = (path: string) => origin.log.filter((l) => l.path === path).length;

  before(async () => {
    origin = await startOrigin();
    server = await startTestServer({
      config: {
        raw: { negative_cache_ttl: 60 },
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: origin.url }] },
          {
            name: 'dl-fresh',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: origin.url }],
            metadata_ttl: 0,
          },
          { name: 'files-a', format: 'raw', kind: 'hosted' },
          { name: 'files-b', format: 'raw', kind: 'hosted' },
          {
            name: 'all',
            format: 'raw',
            kind: 'group',
            members: ['files-a', 'files-b', 'dl'],
            write_member: 'files-b',
          },
        ],
      },
    });
    port = server.port;
  });
  after(async () => {
    await server.close();
    await origin.close();
  });

  test('fetched once, streamed, cached forever by default (ETag = sha256)', async () => {
    const body = Buffer.alloc(300_000, 7);
    origin.files.set('/downloads/tool/1.0/tool-linux.tar.gz', { body, etag: '"v1"' });
    const first = await send(port, 'GET', '/repository/dl/tool/1.0/tool-linux.tar.gz');
    assert.equal(first.status, 200);
    assert.equal(first.body.length, body.length);
    assert.equal(first.headers['content-type'], 'application/gzip');
    const second = await send(port, 'GET', '/repository/dl/tool/1.0/tool-linux.tar.gz');
    assert.equal(second.status, 200);
    assert.equal(second.headers.etag, `"${sha256(body)}"`);
    assert.equal(hits('/downloads/tool/1.0/tool-linux.tar.gz'), 1);
    const range = await send(port, 'GET', '/repository/dl/tool/1.0/tool-linux.tar.gz', {
      range: 'bytes=0-9',
    });
    assert.equal(range.status, 206);
    assert.equal(hits('/downloads/tool/1.0/tool-linux.tar.gz'), 1);
  });

  test('concurrent clients of an uncached file: one upstream GET, every client gets it all', async () => {
    const body = Buffer.from('z'.repeat(200_000));
    origin.files.set('/downloads/big/z.bin', { body });
    origin.delay = 150;
    try {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => send(port, 'GET', '/repository/dl/big/z.bin')),
      );
      for (const a of answers) {
        assert.equal(a.status, 200);
        assert.equal(a.body.length, body.length);
      }
    } finally {
      origin.delay = 0;
    }
    assert.equal(hits('/downloads/big/z.bin'), 1);
  });

  test('TTL 0: revalidated every read (304 keeps, 200 replaces), by ETag or Last-Modified', async () => {
    origin.files.set('/downloads/latest.txt', { body: Buffer.from('v1'), etag: '"e1"' });
    assert.equal((await send(port, 'GET', '/repository/dl-fresh/latest.txt')).body, 'v1');
    assert.equal((await send(port, 'GET', '/repository/dl-fresh/latest.txt')).body, 'v1');
    const revalidation = origin.log.filter((l) => l.path === '/downloads/latest.txt').at(-1);
    assert.equal(revalidation?.headers['if-none-match'], '"e1"');
    origin.files.set('/downloads/latest.txt', { body: Buffer.from('v2'), etag: '"e2"' });
    assert.equal((await send(port, 'GET', '/repository/dl-fresh/latest.txt')).body, 'v2');
    const date = new Date(Date.now() - 60_000).toUTCString();
    origin.files.set('/downloads/dated.txt', { body: Buffer.from('d1'), lastModified: date });
    assert.equal((await send(port, 'GET', '/repository/dl-fresh/dated.txt')).body, 'd1');
    assert.equal((await send(port, 'GET', '/repository/dl-fresh/dated.txt')).body, 'd1');
    const dated = origin.log.filter((l) => l.path === '/downloads/dated.txt').at(-1);
    assert.equal(dated?.headers['if-modified-since'], date);
  });

  test('404 remembered; origin down: cached copy served stale, uncached miss 502', async () => {
    assert.equal((await send(port, 'GET', '/repository/dl/missing.bin')).status, 404);
    assert.equal((await send(port, 'GET', '/repository/dl/missing.bin')).status, 404);
    assert.equal(hits('/downloads/missing.bin'), 1);
    origin.down = true;
    try {
      const stale = await send(port, 'GET', '/repository/dl-fresh/latest.txt');
      assert.equal(stale.status, 200);
      assert.equal(stale.body, 'v2');
      const miss = await send(port, 'GET', '/repository/dl/never-cached.bin');
      assert.equal(miss.status, 502, miss.body);
      assert.doesNotMatch(miss.body, /127\.0\.0\.1/);
    } finally {
      origin.down = false;
    }
  });

  test('a proxy is read-only (405) and has no listing (404)', async () => {
    assert.equal((await send(port, 'PUT', '/repository/dl/x.txt', {}, 'x')).status, 405);
    assert.equal((await send(port, 'GET', '/repository/dl/tool/')).status, 404);
    assert.equal((await send(port, 'GET', '/repository/dl/%2e%2e/x')).status, 400);
  });

  test('group: member order, writes to write_member, listings merged, failing proxy is not here', async () => {
    assert.equal(
      (await send(port, 'PUT', '/repository/files-a/shared/a.txt', {}, 'from a')).status,
      201,
    );
    assert.equal(
      (await send(port, 'PUT', '/repository/files-a/shared/same.txt', {}, 'A')).status,
      201,
    );
    assert.equal(
      (await send(port, 'PUT', '/repository/all/shared/b.txt', {}, 'from b')).status,
      201,
    );
    assert.equal((await send(port, 'GET', '/repository/files-b/shared/b.txt')).body, 'from b');
    assert.equal(
      (await send(port, 'PUT', '/repository/files-b/shared/same.txt', {}, 'B')).status,
      201,
    );
    assert.equal((await send(port, 'GET', '/repository/all/shared/same.txt')).body, 'A');
    assert.equal((await send(port, 'GET', '/repository/all/shared/a.txt')).body, 'from a');
    origin.files.set('/downloads/shared/c.txt', { body: Buffer.from('from origin') });
    assert.equal((await send(port, 'GET', '/repository/all/shared/c.txt')).body, 'from origin');
    const listing = await send(port, 'GET', '/repository/all/shared/?limit=2', {
      accept: 'application/json',
    });
    const json = JSON.parse(listing.body) as { entries: { name: string }[]; next: string };
    assert.deepEqual(
      json.entries.map((e) => e.name),
      ['a.txt', 'b.txt'],
    );
    assert.equal(json.next, '/repository/all/shared/?limit=2&after=b.txt');
    const rest = JSON.parse(
      (await send(port, 'GET', json.next, { accept: 'application/json' })).body,
    ) as { entries: { name: string }[]; next: string | null };
    assert.deepEqual(
      rest.entries.map((e) => e.name),
      ['same.txt'],
    );
    assert.equal(rest.next, null);
    origin.down = true;
    try {
      const miss = await send(port, 'GET', '/repository/all/shared/nowhere.txt');
      assert.equal(miss.status, 404);
      assert.match(miss.body, /upstream \S+ failed: HTTP 503/);
      assert.equal((await send(port, 'GET', '/repository/all/shared/a.txt')).status, 200);
    } finally {
      origin.down = false;
    }
  });
});
