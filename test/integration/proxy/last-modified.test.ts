/**
 * Upstreams that send Last-Modified and no ETag (plain static servers, many CDNs), trial F2:
 * the shared engine (fetchRevalidated + refreshInOrder, what PyPI's and Cargo's proxies use)
 * revalidates with If-Modified-Since and keeps the upstream's date through 304s (stored in
 * `proxy_entries.modified_at`), instead of downloading the whole document again on every
 * revalidation; an upstream with both validators is asked with both; a raw proxy serves the
 * upstream's Last-Modified (not its fetch time), and a small fill is a cache hit right after.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { formatDigest } from '../../../src/core/digest.ts';
import type { Refresh } from '../../../src/proxy/engine.ts';
import { fetchRevalidated, refreshInOrder } from '../../../src/proxy/in-order.ts';
import type { ProxyEntriesTable } from '../../../src/proxy/state.ts';
import { openTestEngine, type TestEngine } from '../../helpers/proxy-engine.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { send } from '../../helpers/send.ts';

const MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT';

interface Served {
  body: string;
  etag?: string;
  lastModified?: string;
}

/** An origin that answers 304 to a matching If-None-Match or If-Modified-Since, and counts. */
async function startOrigin(): Promise<{
  readonly url: string;
  readonly files: Map<string, Served>;
  readonly log: { path: string; status: number; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}> {
  const files = new Map<string, Served>();
  const log: { path: string; status: number; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = files.get(path);
    const answer = (status: number, headers: Record<string, string> = {}, body = ''): void => {
      log.push({ path, status, headers: req.headers });
      res.writeHead(status, headers).end(body);
    };
    if (file === undefined) {
      answer(404, {}, 'not found');
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (file.etag !== undefined) headers['etag'] = file.etag;
    if (file.lastModified !== undefined) headers['last-modified'] = file.lastModified;
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const unchanged =
      inm !== undefined
        ? inm === file.etag
        : ims !== undefined &&
          file.lastModified !== undefined &&
          Date.parse(ims) >= Date.parse(file.lastModified);
    if (unchanged) {
      answer(304, headers);
      return;
    }
    answer(200, { ...headers, 'content-length': String(Buffer.byteLength(file.body)) }, file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('shared proxy engine: Last-Modified without ETag', () => {
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let parts: TestEngine;
  before(async () => {
    origin = await startOrigin();
    parts = await openTestEngine('nora-proxy-lm-');
  });
  after(async () => {
    await parts.close();
    await origin.close();
  });

  /** One engine.resolve of `path` (TTL 0: every read revalidates), as a format's refresh does. */
  async function resolve(path: string) {
    const engine = parts.engine;
    const target = engine.upstream({
      label: 'docs#0',
      registry: 'docs',
      url: origin.url,
      auth: 'basic',
      timeoutSeconds: 5,
      readTimeoutSeconds: 5,
    });
    return engine.resolve({
      registry: 'docs',
      key: `doc:${path}`,
      ttlSeconds: 0,
      serveStale: false,
      refresh: (cached) =>
        refreshInOrder([target], cached === undefined ? -1 : 0, {
          fetch: (t) =>
            fetchRevalidated(engine.client, t, cached, {
              path,
              absent: [404],
              maxBytes: 4096,
              what: path,
            }),
          store: async (document, t): Promise<Refresh> => {
            const stored = await engine.storeDocument(Readable.from([document.body]), {
              maxBytes: 4096,
              expectedSize: document.body.length,
            });
            return {
              kind: 'updated',
              entry: {
                digest: formatDigest(stored.digest),
                size: stored.size,
                mediaType: document.type,
                etag: document.etag,
                modifiedAt: document.modifiedAt,
                upstream: t.label,
              },
            };
          },
          onError: (err) => err as never,
          what: path,
        }),
    });
  }

  test('revalidated with If-Modified-Since (304), the date kept in modified_at', async () => {
    origin.files.set('/simple/lm-only/', { body: '<html>v1</html>', lastModified: MODIFIED });
    const first = await resolve('/simple/lm-only/');
    assert.equal(first?.result, 'miss');
    assert.equal(first.entry.modifiedAt, Date.parse(MODIFIED));
    const second = await resolve('/simple/lm-only/');
    const third = await resolve('/simple/lm-only/');
    assert.equal(second?.result, 'revalidated');
    assert.equal(third?.result, 'revalidated');
    const asked = origin.log.filter((l) => l.path === '/simple/lm-only/');
    // One download, then two 304s (before: three whole downloads).
    assert.deepEqual(
      asked.map((l) => l.status),
      [200, 304, 304],
    );
    assert.equal(asked[1]?.headers['if-modified-since'], MODIFIED);
    assert.equal(asked[2]?.headers['if-modified-since'], MODIFIED);
    // Kept through the 304s, in the row as committed.
    assert.equal(third.entry.modifiedAt, Date.parse(MODIFIED));
    await parts.engine.state.flush();
    const row = (await parts.db
      .selectFrom('proxy_entries' as never)
      .selectAll()
      .where('key' as never, '=', 'doc:/simple/lm-only/' as never)
      .executeTakeFirst()) as ProxyEntriesTable | undefined;
    assert.equal(row?.modified_at, Date.parse(MODIFIED));
  });

  test('an upstream with both validators is asked with both', async () => {
    origin.files.set('/simple/both/', { body: 'v1', etag: '"b1"', lastModified: MODIFIED });
    await resolve('/simple/both/');
    await resolve('/simple/both/');
    const asked = origin.log.filter((l) => l.path === '/simple/both/');
    const second = asked[1];
    assert.ok(second);
    assert.equal(second.headers['if-none-match'], '"b1"');
    assert.equal(second.headers['if-modified-since'], MODIFIED);
    assert.equal(second.status, 304);
  });
});

describe('raw proxy: the upstream Last-Modified, and a cache hit right after a small fill', () => {
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let server: TestServer;
  let port = 0;
  before(async () => {
    origin = await startOrigin();
    server = await startTestServer({
      config: {
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
        ],
      },
    });
    port = server.port;
  });
  after(async () => {
    await server.close();
    await origin.close();
  });

  test('served with the upstream Last-Modified, filled and cached', async () => {
    origin.files.set('/tool/notes.txt', { body: 'notes v1\n', lastModified: MODIFIED });
    const first = await send(port, 'GET', '/repository/dl/tool/notes.txt');
    assert.equal(first.status, 200, first.body);
    assert.equal(first.headers['last-modified'], MODIFIED);
    // Right after: from the cache (one upstream request in all).
    const second = await send(port, 'GET', '/repository/dl/tool/notes.txt');
    assert.equal(second.status, 200);
    assert.equal(second.headers['last-modified'], MODIFIED);
    assert.equal(origin.log.filter((l) => l.path === '/tool/notes.txt').length, 1);
    // A client's own If-Modified-Since with the upstream's date: 304 from NORA.
    const conditional = await send(port, 'GET', '/repository/dl/tool/notes.txt', {
      'if-modified-since': MODIFIED,
    });
    assert.equal(conditional.status, 304);
  });

  test('revalidated by date (TTL 0): the upstream Last-Modified kept through the 304', async () => {
    origin.files.set('/tool/latest.txt', { body: 'latest\n', lastModified: MODIFIED });
    const first = await send(port, 'GET', '/repository/dl-fresh/tool/latest.txt');
    assert.equal(first.headers['last-modified'], MODIFIED);
    const second = await send(port, 'GET', '/repository/dl-fresh/tool/latest.txt');
    assert.equal(second.status, 200);
    assert.equal(second.body, 'latest\n');
    assert.equal(second.headers['last-modified'], MODIFIED);
    const asked = origin.log.filter((l) => l.path === '/tool/latest.txt');
    assert.deepEqual(
      asked.map((l) => l.status),
      [200, 304],
    );
    assert.equal(asked[1]?.headers['if-modified-since'], MODIFIED);
  });
});
