/**
 * Go proxy prefetch ([go] prefetch) against a scripted upstream whose answers the test holds:
 * a client request that arrives while its prefetch is fetching joins it (one upstream request,
 * not two), and the bounds hold (at most PREFETCH_REQUIRES requirements of one go.mod, each file
 * once). The real `go` client's run is test/e2e/go-proxy/prefetch.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PREFETCH_REQUIRES } from '../../../src/formats/go/proxy.ts';
import { goModuleZip, UPSTREAM_TIME } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

interface Answer {
  status: number;
  body?: string | Buffer;
  heldUntil?: Promise<void>;
}

class Upstream {
  readonly requests: string[] = [];
  answers = new Map<string, Answer>();
  /** Resolvers of the requests that arrived for a held answer, by URL. */
  readonly arrived = new Map<string, () => void>();
  readonly #waiting = new Map<string, Promise<void>>();
  #server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    this.requests.push(url);
    this.arrived.get(url)?.();
    const answer = this.answers.get(url) ?? { status: 404, body: 'not found' };
    void (answer.heldUntil ?? Promise.resolve()).then(() => {
      res.writeHead(answer.status).end(answer.body ?? '');
    });
  });
  url = '';

  /** Resolves once `url` has been asked (a test waits on the upstream, not on a clock). */
  asked(url: string): Promise<void> {
    let promise = this.#waiting.get(url);
    if (promise === undefined) {
      promise = new Promise<void>((resolve) => this.arrived.set(url, resolve));
      this.#waiting.set(url, promise);
    }
    return this.requests.includes(url) ? Promise.resolve() : promise;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  count(url: string): number {
    return this.requests.filter((r) => r === url).length;
  }
}

/** nora_proxy_coalesced_total of the default Go proxy: requests that joined a fill under way. */
async function coalesced(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('nora_proxy_coalesced_total{registry="go-proxy"}'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('go proxy prefetch against a scripted upstream', { timeout: 120_000 }, () => {
  const upstream = new Upstream();
  let server: TestServer;
  let go: string;

  before(async () => {
    await upstream.start();
    server = await startTestServer({
      config: { go: { sumdb: [], negative_cache_ttl: 0, private: ['corp.example'] } },
      env: { NORA_GO_PROXY: upstream.url },
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

  test('a client .zip request during its prefetch joins it: one upstream request', async () => {
    const zip = await goModuleZip('join.test/m', 'v1.0.0');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    upstream.answers.set('/join.test/m/@v/v1.0.0.info', {
      status: 200,
      body: JSON.stringify({ Version: 'v1.0.0', Time: UPSTREAM_TIME }),
    });
    upstream.answers.set('/join.test/m/@v/v1.0.0.zip', { status: 200, body: zip, heldUntil: held });
    const zipAsked = upstream.asked('/join.test/m/@v/v1.0.0.zip');
    const before = await coalesced(server);
    const info = await fetch(`${go}/join.test/m/@v/v1.0.0.info`);
    assert.equal(info.status, 200);
    await info.arrayBuffer();
    // The .info set off the .zip's prefetch, which the upstream now holds.
    await zipAsked;
    const client = fetch(`${go}/join.test/m/@v/v1.0.0.zip`).then(async (r) => ({
      status: r.status,
      body: Buffer.from(await r.arrayBuffer()),
    }));
    // Released only once the client's request has joined the prefetch's fill (the engine counts
    // each join): it reached the proxy while the upstream still held the prefetch's request.
    while ((await coalesced(server)) < before + 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    const got = await client;
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, zip);
    assert.equal(upstream.count('/join.test/m/@v/v1.0.0.zip'), 1, upstream.requests.join('\n'));
  });

  test('a go.mod with many requirements: at most PREFETCH_REQUIRES prefetched, each once', async () => {
    const many = Array.from(
      { length: PREFETCH_REQUIRES + 20 },
      (_, i) => `\tmany.test/r${i} v1.0.0\n`,
    );
    upstream.answers.set('/many.test/top/@v/v1.0.0.mod', {
      status: 200,
      body: `module many.test/top\n\ngo 1.16\n\nrequire (\n${many.join('')}\tcorp.example/x v1.0.0\n)\n`,
    });
    const last = `/many.test/r${PREFETCH_REQUIRES - 1}/@v/v1.0.0.mod`;
    const lastAsked = upstream.asked(last);
    for (let i = 0; i < 2; i++) {
      const mod = await fetch(`${go}/many.test/top/@v/v1.0.0.mod`);
      assert.equal(mod.status, 200);
      await mod.arrayBuffer();
    }
    // The requirements are queued in file order: once the last one within the bound was asked,
    // every one was queued (the ones past it never are).
    await lastAsked;
    const prefetched = upstream.requests.filter((r) => r.startsWith('/many.test/r'));
    assert.ok(prefetched.length <= PREFETCH_REQUIRES, `${prefetched.length} prefetched`);
    assert.equal(new Set(prefetched).size, prefetched.length, 'each once');
    assert.ok(!upstream.requests.some((r) => r.includes(`/many.test/r${PREFETCH_REQUIRES}/`)));
    assert.ok(!upstream.requests.some((r) => r.includes('corp.example')), 'private: never asked');
    assert.equal(upstream.count('/many.test/top/@v/v1.0.0.mod'), 1);
  });

  test('a go.mod of go 1.17 or later (a pruned graph): its requirements are not prefetched', async () => {
    upstream.answers.set('/pruned.test/top/@v/v1.0.0.mod', {
      status: 200,
      body: 'module pruned.test/top\n\ngo 1.17\n\nrequire pruned.test/dep v1.0.0\n',
    });
    // Then a go.mod that does prefetch: once its requirement was asked, the first one's turn
    // (earlier, same path) has passed.
    upstream.answers.set('/pruned.test/old/@v/v1.0.0.mod', {
      status: 200,
      body: 'module pruned.test/old\n\nrequire pruned.test/olddep v1.0.0\n',
    });
    const oldAsked = upstream.asked('/pruned.test/olddep/@v/v1.0.0.mod');
    await (await fetch(`${go}/pruned.test/top/@v/v1.0.0.mod`)).arrayBuffer();
    await (await fetch(`${go}/pruned.test/old/@v/v1.0.0.mod`)).arrayBuffer();
    await oldAsked;
    assert.equal(upstream.count('/pruned.test/dep/@v/v1.0.0.mod'), 0, upstream.requests.join('\n'));
  });
});
