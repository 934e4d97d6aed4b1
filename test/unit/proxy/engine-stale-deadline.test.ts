/**
 * A revalidation that outlives the stale deadline (a hung upstream): a request with a cached copy
 * is answered that copy, flagged stale, within the deadline; the revalidation goes on in the
 * background (requests meanwhile answer at once, without asking again) and its result is what the
 * next request sees. A request without a cached copy still waits for the refresh.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { formatDigest } from '../../../src/core/digest.ts';
import { RegistryError } from '../../../src/core/errors.ts';
import type { ProxyEngine, Refresh } from '../../../src/proxy/engine.ts';
import type { EntryInput } from '../../../src/proxy/state.ts';
import { openTestEngine, type TestEngine } from '../../helpers/proxy-engine.ts';

/**
 * Long enough that what "at once" means below (under half of it) holds on a loaded CI machine: at
 * 200 ms, a 100 ms stall of the test process failed an answer that did not wait at all.
 */
const DEADLINE_MS = 1000;

describe('proxy engine: stale after a deadline', () => {
  let parts: TestEngine;
  let engine: ProxyEngine;

  before(async () => {
    parts = await openTestEngine('nora-proxy-stale-', { staleAfterMs: DEADLINE_MS });
    engine = parts.engine;
  });
  after(async () => {
    await parts.close();
  });

  async function document(text: string): Promise<EntryInput> {
    const body = Buffer.from(text);
    const stored = await engine.storeDocument(Readable.from([body]), {
      maxBytes: 1024,
      expectedSize: body.length,
    });
    return {
      digest: formatDigest(stored.digest),
      size: stored.size,
      mediaType: 'application/json',
      etag: undefined,
      upstream: 'u',
    };
  }

  /** Waits (up to 10 s, a bound for a failure only) until no revalidation runs in the background. */
  async function drained(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (engine.backgroundRevalidations !== 0) {
      if (Date.now() > deadline) assert.fail('the background revalidation did not finish');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
    const started = performance.now();
    const value = await work;
    return { value, ms: performance.now() - started };
  }

  test('a slow revalidation answers the cached copy at the deadline and updates it later', async () => {
    const v1 = await document('{"v":1}');
    const v2 = await document('{"v":2}');
    await engine.remember('slow', 'doc:a', v1);
    let refreshes = 0;
    let finish!: (refresh: Refresh) => void;
    const refresh = (): Promise<Refresh> => {
      refreshes += 1;
      return new Promise((resolve) => (finish = resolve));
    };
    const request = { registry: 'slow', key: 'doc:a', ttlSeconds: 0, serveStale: true, refresh };

    const first = await timed(engine.resolve(request));
    assert.equal(first.value?.stale, true);
    assert.equal(first.value.result, 'stale');
    assert.equal(first.value.entry.digest, v1.digest);
    assert.ok(first.ms >= DEADLINE_MS - 20, `answered after ${Math.round(first.ms)} ms`);
    assert.ok(first.ms < DEADLINE_MS + 2000, `answered after ${Math.round(first.ms)} ms`);
    assert.equal(refreshes, 1);
    assert.equal(engine.backgroundRevalidations, 1);

    const second = await timed(engine.resolve(request));
    assert.equal(second.value?.stale, true);
    assert.ok(second.ms < DEADLINE_MS / 2, `second answer took ${Math.round(second.ms)} ms`);
    assert.equal(refreshes, 1, 'no new upstream request while one runs in the background');

    finish({ kind: 'updated', entry: v2 });
    await drained();
    const fresh = await engine.resolve({ ...request, ttlSeconds: 60 });
    assert.equal(fresh?.result, 'hit');
    assert.equal(fresh.stale, false);
    assert.equal(fresh.entry.digest, v2.digest, 'the background result was stored');
  });

  test("a request joining a running revalidation is answered stale at that revalidation's deadline", async () => {
    const v1 = await document('{"v":7}');
    await engine.remember('slow', 'doc:f', v1);
    let refreshes = 0;
    let finish!: (refresh: Refresh) => void;
    const request = {
      registry: 'slow',
      key: 'doc:f',
      ttlSeconds: 0,
      serveStale: true,
      refresh: (): Promise<Refresh> => {
        refreshes += 1;
        return new Promise((resolve) => (finish = resolve));
      },
    };
    const first = engine.resolve(request);
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 0.75));
    const late = await timed(engine.resolve(request));
    assert.equal(late.value?.stale, true);
    assert.ok(late.ms < DEADLINE_MS * 0.75, `the joiner waited ${Math.round(late.ms)} ms`);
    assert.equal((await first)?.stale, true);
    assert.equal(refreshes, 1);
    finish({ kind: 'unchanged' });
    await drained();
  });

  test('a background revalidation that fails is logged, not thrown; the next one asks again', async () => {
    const v1 = await document('{"v":3}');
    await engine.remember('slow', 'doc:b', v1);
    let refreshes = 0;
    let fail!: (err: Error) => void;
    const request = {
      registry: 'slow',
      key: 'doc:b',
      ttlSeconds: 0,
      serveStale: true,
      refresh: (): Promise<Refresh> => {
        refreshes += 1;
        return new Promise((_resolve, reject) => (fail = reject));
      },
    };
    assert.equal((await engine.resolve(request))?.stale, true);
    fail(new RegistryError('UPSTREAM_TIMEOUT', 'upstream timed out'));
    await drained();
    const quick = await engine.resolve({
      ...request,
      refresh: () => {
        refreshes += 1;
        return Promise.resolve({ kind: 'unchanged' });
      },
    });
    assert.equal(quick?.stale, false);
    assert.equal(quick.result, 'revalidated');
    assert.equal(refreshes, 2);
  });

  test('without a cached copy the request waits for the refresh', async () => {
    const v1 = await document('{"v":4}');
    const request = {
      registry: 'slow',
      key: 'doc:c',
      ttlSeconds: 0,
      serveStale: true,
      refresh: async (): Promise<Refresh> => {
        await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 2));
        return { kind: 'updated', entry: v1 };
      },
    };
    const { value, ms } = await timed(engine.resolve(request));
    assert.equal(value?.result, 'miss');
    assert.equal(value.stale, false);
    assert.ok(ms >= DEADLINE_MS * 2 - 20, `answered after ${Math.round(ms)} ms`);
  });

  test('serve-stale off: the request waits for the refresh', async () => {
    const v1 = await document('{"v":5}');
    await engine.remember('slow', 'doc:d', v1);
    const { value, ms } = await timed(
      engine.resolve({
        registry: 'slow',
        key: 'doc:d',
        ttlSeconds: 0,
        serveStale: false,
        refresh: async (): Promise<Refresh> => {
          await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 2));
          return { kind: 'unchanged' };
        },
      }),
    );
    assert.equal(value?.stale, false);
    assert.equal(value.result, 'revalidated');
    assert.ok(ms >= DEADLINE_MS * 2 - 20, `answered after ${Math.round(ms)} ms`);
  });

  test('close does not wait for a revalidation that never ends', async () => {
    const other = await openTestEngine('nora-proxy-stale-close-', { staleAfterMs: 50 });
    try {
      const body = Buffer.from('{"v":6}');
      const stored = await other.engine.storeDocument(Readable.from([body]), { maxBytes: 1024 });
      await other.engine.remember('slow', 'doc:e', {
        digest: formatDigest(stored.digest),
        size: stored.size,
        mediaType: 'application/json',
        etag: undefined,
        upstream: 'u',
      });
      const resolved = await other.engine.resolve({
        registry: 'slow',
        key: 'doc:e',
        ttlSeconds: 0,
        serveStale: true,
        refresh: () => new Promise<Refresh>(() => undefined),
      });
      assert.equal(resolved?.stale, true);
    } finally {
      const { ms } = await timed(other.close());
      // Waiting for the revalidation would never end: any bound shows it did not.
      assert.ok(ms < 10_000, `close took ${Math.round(ms)} ms`);
    }
  });
});
