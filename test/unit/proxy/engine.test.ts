/**
 * The proxy engine against a fixture upstream on loopback: single-flight blob fills, digest
 * verification (garbage is never committed), metadata freshness/revalidation/stale serving,
 * timeouts (504) and the circuit breaker skipping a dead upstream quickly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type Digest, digestOf, formatDigest } from '../../../src/core/digest.ts';
import { RegistryError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import type { ProxyEngine } from '../../../src/proxy/engine.ts';
import { type Refresh } from '../../../src/proxy/engine.ts';
import type { UpstreamTarget } from '../../../src/proxy/upstream-client.ts';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { openTestEngine, type TestEngine } from '../../helpers/proxy-engine.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

describe('proxy engine', () => {
  let engineParts: TestEngine;
  let blobs: BlobStore;
  let engine: ProxyEngine;
  let server: http.Server;
  let base: string;
  let handler: Handler = (_req, res) => res.writeHead(404).end();
  const hits: string[] = [];
  const metrics = new Metrics();
  let resetTimeoutMs = 60_000;

  before(async () => {
    engineParts = await openTestEngine('nora-proxy-engine-', {
      metrics,
      circuitBreaker: () => ({ enabled: true, threshold: 2, resetTimeoutMs }),
    });
    ({ blobs, engine } = engineParts);
    server = http.createServer((req, res) => {
      hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await engineParts.close();
  });

  function target(
    label: string,
    options: { timeoutSeconds?: number; readTimeoutSeconds?: number; url?: string } = {},
  ): UpstreamTarget {
    return engine.upstream({
      label,
      registry: 'test',
      url: options.url ?? base,
      auth: 'challenge',
      timeoutSeconds: options.timeoutSeconds ?? 5,
      readTimeoutSeconds: options.readTimeoutSeconds ?? 5,
    });
  }

  async function fetchBody(t: UpstreamTarget, url: string) {
    const response = await engine.client.request(t, { method: 'GET', path: url });
    if (response.status !== 200) {
      response.body.destroy();
      return undefined;
    }
    const length = response.header('content-length');
    return { body: response.body, size: length === undefined ? undefined : Number(length) };
  }

  async function readAll(stream: Readable): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  test('10 concurrent opens of an uncached blob: one upstream GET, every reader gets the bytes', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    const digest = digestOf(payload);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      // Dribble the body so readers attach while the fill is running.
      let offset = 0;
      const step = () => {
        if (offset >= payload.length) return void res.end();
        res.write(payload.subarray(offset, offset + 256 * 1024));
        offset += 256 * 1024;
        setTimeout(step, 5);
      };
      step();
    };
    hits.length = 0;
    const t = target('fill');
    const opened = await Promise.all(
      Array.from({ length: 10 }, () =>
        engine.openBlob({ registry: 'test', digest, fetch: () => fetchBody(t, '/blob') }),
      ),
    );
    const bodies = await Promise.all(opened.map(async (o) => readAll(await o!.open())));
    for (const body of bodies) assert.ok(body.equals(payload));
    assert.equal(hits.filter((h) => h === 'GET /blob').length, 1);
    await opened[0]!.committed;
    assert.equal((await blobs.stat(digest))?.size, payload.length);
    const again = await engine.openBlob({
      registry: 'test',
      digest,
      fetch: () => Promise.reject(new Error('must not fetch')),
    });
    assert.equal(again?.source, 'cache');
    const ranged = await readAll(await again.open({ start: 10, end: 19 }));
    assert.ok(ranged.equals(payload.subarray(10, 20)));
  });

  test('a range read while the fill is running', async () => {
    const payload = randomBytes(1024 * 1024);
    const digest = digestOf(payload);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.write(payload.subarray(0, 1000));
      setTimeout(() => res.end(payload.subarray(1000)), 50);
    };
    const opened = await engine.openBlob({
      registry: 'test',
      digest,
      fetch: () => fetchBody(target('fill'), '/range'),
    });
    const part = await readAll(await opened!.open({ start: 500, end: 600_000 }));
    assert.ok(part.equals(payload.subarray(500, 600_001)));
  });

  test('upstream bytes that do not match the digest are never committed', async () => {
    const wanted = digestOf('the real thing');
    handler = (_req, res) => res.writeHead(200, { 'content-length': '7' }).end('garbage');
    const opened = await engine.openBlob({
      registry: 'test',
      digest: wanted,
      fetch: () => fetchBody(target('fill'), '/bad'),
    });
    await assert.rejects(readAll(await opened!.open()));
    await assert.rejects(
      opened!.committed,
      (err: unknown) => err instanceof RegistryError && err.status === 502,
    );
    assert.equal(await blobs.stat(wanted), undefined);
    assert.equal(
      engine.isFilling(wanted),
      false,
      'a failed fill is forgotten: the next request starts over',
    );
  });

  test('a truncated upstream body (shorter than Content-Length) fails the fill', async () => {
    const payload = randomBytes(5000);
    const digest: Digest = digestOf(payload);
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': '5000' });
      res.write(payload.subarray(0, 100));
      setTimeout(() => req.socket.destroy(), 20);
    };
    const opened = await engine.openBlob({
      registry: 'test',
      digest,
      fetch: () => fetchBody(target('trunc'), '/trunc'),
    });
    await assert.rejects(opened!.committed);
    assert.equal(await blobs.stat(digest), undefined);
  });

  test('metadata: fresh → hit; stale → one revalidation for concurrent callers; all upstreams down → stale copy', async () => {
    const doc = Buffer.from('{"v":1}');
    const stored = await engine.storeDocument(Readable.from([doc]), { maxBytes: 1024 });
    let refreshes = 0;
    let mode: 'update' | 'unchanged' | 'fail' = 'update';
    const refresh = async (): Promise<Refresh> => {
      refreshes += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (mode === 'fail') throw new RegistryError('UPSTREAM_FAILED', 'upstream x failed');
      if (mode === 'unchanged') return { kind: 'unchanged', etag: '"e2"' };
      return {
        kind: 'updated',
        entry: {
          digest: formatDigest(stored.digest),
          size: stored.size,
          mediaType: 'application/json',
          etag: '"e1"',
          upstream: 'u',
        },
      };
    };
    const request = { registry: 'meta', key: 'doc:a', ttlSeconds: 0, serveStale: true, refresh };
    const first = await engine.resolve(request);
    assert.equal(first?.result, 'miss');
    mode = 'unchanged';
    refreshes = 0;
    const many = await Promise.all(Array.from({ length: 5 }, () => engine.resolve(request)));
    assert.equal(refreshes, 1, 'one revalidation for five concurrent callers');
    assert.ok(many.every((r) => r?.entry.etag === '"e2"' && !r.stale));
    const ttl = await engine.resolve({ ...request, ttlSeconds: 60 });
    assert.equal(ttl?.result, 'hit');
    assert.equal(refreshes, 1);
    mode = 'fail';
    const stale = await engine.resolve(request);
    assert.equal(stale?.stale, true);
    assert.equal(stale.entry.digest, formatDigest(stored.digest));
    await assert.rejects(engine.resolve({ ...request, serveStale: false }), /upstream x failed/);
    await assert.rejects(
      engine.resolve({ ...request, key: 'doc:never-cached' }),
      /upstream x failed/,
    );
  });

  test('metadata miss: the state row is read once; a write that lands meanwhile is read again', async () => {
    const doc = Buffer.from('{"v":2}');
    const stored = await engine.storeDocument(Readable.from([doc]), {
      maxBytes: 1024,
      expectedSize: doc.length,
    });
    const entry = {
      digest: formatDigest(stored.digest),
      size: stored.size,
      mediaType: 'application/json',
      etag: undefined,
      upstream: 'u',
    };
    let refreshes = 0;
    const refresh = (): Promise<Refresh> => {
      refreshes += 1;
      return Promise.resolve({ kind: 'updated', entry });
    };
    const state = engine.state;
    const realGet = state.get.bind(state);
    let reads = 0;
    let gate: Promise<void> | undefined;
    state.get = async (repository, key) => {
      reads += 1;
      const row = await realGet(repository, key);
      await gate;
      return row;
    };
    try {
      const request = { registry: 'once', key: 'doc:b', ttlSeconds: 60, serveStale: true, refresh };
      assert.equal((await engine.resolve(request))?.result, 'miss');
      assert.equal(reads, 1, 'one read for a miss');
      assert.equal(refreshes, 1);
      // Another path writes the row while a reader's first read is in flight: the flight
      // must see that write (a hit) rather than refresh on what it read before.
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      reads = 0;
      const racing = engine.resolve({ ...request, key: 'doc:c' });
      await new Promise((resolve) => setImmediate(resolve));
      await engine.remember('once', 'doc:c', entry);
      open();
      assert.equal((await racing)?.result, 'hit');
      assert.equal(reads, 2, 'read again after the write');
      assert.equal(refreshes, 1, 'no refresh for a row written meanwhile');
    } finally {
      state.get = realGet;
    }
  });

  test('a blob removed from the store within the grace period of its fill is fetched again', async () => {
    const payload = randomBytes(50_000);
    const digest = digestOf(payload);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) }).end(payload);
    };
    hits.length = 0;
    const t = target('refill');
    const open = () =>
      engine.openBlob({ registry: 'test', digest, fetch: () => fetchBody(t, '/again') });
    const first = await open();
    assert.ok((await readAll(await first!.open())).equals(payload));
    await first!.committed;
    assert.ok(engine.isFilling(digest), 'the finished fill is kept for its grace period');
    await blobs.delete(digest);
    const second = await open();
    assert.ok((await readAll(await second!.open())).equals(payload));
    await second!.committed;
    assert.equal(hits.filter((h) => h === 'GET /again').length, 2);
    assert.equal((await blobs.stat(digest))?.size, payload.length);
  });

  test('a hung upstream answers 504 after proxy_timeout; its breaker then skips it at once', async () => {
    handler = () => undefined; // never answers
    const t = target('hung', { timeoutSeconds: 0.3 });
    // The upstream never answers, so a 504 can only be proxy_timeout's: the answer is the event,
    // no wall-clock bound on it. Were the timeout ignored, the 30 s guard rejects instead (with
    // an Error, not a RegistryError) and the check fails.
    for (let i = 0; i < 2; i++) {
      let guard: NodeJS.Timeout | undefined;
      const noAnswer = new Promise<never>((_, reject) => {
        guard = setTimeout(() => {
          reject(new Error('no answer within 30 s'));
        }, 30_000);
      });
      await assert.rejects(
        Promise.race([engine.client.request(t, { method: 'GET', path: '/hang' }), noAnswer]),
        (err: unknown) => {
          assert.ok(err instanceof RegistryError, String(err));
          assert.equal(err.status, 504);
          assert.doesNotMatch(err.message, /127\.0\.0\.1/);
          return true;
        },
      );
      clearTimeout(guard);
    }
    // An open circuit fails fast: refused without asking the upstream (so without waiting for
    // its timeout). Shown by the upstream's requests, not by a wall-clock bound (50 ms was one,
    // and a loaded machine can stall a process that long).
    await assert.rejects(
      engine.client.request(t, { method: 'GET', path: '/hang-open' }),
      /circuit open/,
    );
    assert.ok(!hits.includes('GET /hang-open'), 'the upstream was not asked');
    assert.equal(engine.circuits()['hung']?.state, 'open');
    // open → half-open comes with time alone; a scrape still reports it.
    const gauge = async (): Promise<string | undefined> =>
      /nora_circuit_breaker_state\{registry="hung"\} (\d)/.exec(
        await metrics.registry.metrics(),
      )?.[1];
    assert.equal(await gauge(), '2');
    resetTimeoutMs = 1;
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await gauge(), '1');
    resetTimeoutMs = 60_000;
  });

  test('a metadata document cut at its whole deadline counts as a failure: the breaker opens', async () => {
    // Headers at once, then a byte now and then: each answer "arrives", none ever finishes.
    const drips = new Set<NodeJS.Timeout>();
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      drips.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        drips.delete(timer);
      });
    };
    const t = target('drip', { timeoutSeconds: 0.3 });
    for (let i = 0; i < 2; i++) {
      const response = await engine.client.request(t, {
        method: 'GET',
        path: '/drip',
        wholeDeadline: true,
      });
      await assert.rejects(readAll(response.body), /timeout/i);
    }
    assert.equal(engine.circuits()['drip']?.state, 'open');
    assert.equal(engine.circuits()['drip']?.consecutive_failures, 2);
    await assert.rejects(
      engine.client.request(t, { method: 'GET', path: '/drip-open', wholeDeadline: true }),
      /circuit open/,
    );
    assert.ok(!hits.includes('GET /drip-open'), 'the upstream was not asked');
    for (const timer of drips) clearInterval(timer);
  });

  test('a label repointed at another URL (config reload) starts with a closed circuit', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-length': '2' }).end('ok');
    const dead = target('moved', { url: 'http://127.0.0.1:1' });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(engine.client.request(dead, { method: 'GET', path: '/x' }));
    }
    assert.equal(engine.circuits()['moved']?.state, 'open');
    const live = target('moved');
    const response = await engine.client.request(live, { method: 'GET', path: '/x' });
    assert.equal(response.status, 200);
    response.body.destroy();
    assert.equal(engine.circuits()['moved']?.state, 'closed');
  });

  test('a body that stalls longer than read_timeout fails the fill (the headers came in time)', async () => {
    const payload = randomBytes(2000);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '2000' });
      res.write(payload.subarray(0, 10));
    };
    const t = target('stall', { readTimeoutSeconds: 0.3 });
    const digest = digestOf(payload);
    const opened = await engine.openBlob({
      registry: 'test',
      digest,
      fetch: () => fetchBody(t, '/stall'),
    });
    await assert.rejects(opened!.committed);
    assert.equal(await blobs.stat(digest), undefined);
  });

  test('redirects are followed; credentials never go to another origin', async () => {
    const seen: (string | undefined)[] = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-length': '2' }).end('ok');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const address = other.address();
    const otherUrl = `http://localhost:${typeof address === 'object' && address ? address.port : 0}`;
    handler = (req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        return;
      }
      res.writeHead(307, { location: `${otherUrl}/cdn/blob` }).end();
    };
    const t = engine.upstream({
      label: 'redir',
      registry: 'test',
      url: base,
      credentials: 'u:p',
      auth: 'challenge',
      timeoutSeconds: 5,
      readTimeoutSeconds: 5,
    });
    const response = await engine.client.request(t, { method: 'GET', path: '/v2/x/blobs/y' });
    assert.equal(response.status, 200);
    assert.equal((await readAll(response.body)).toString(), 'ok');
    assert.deepEqual(seen, [undefined]);
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  });
});
