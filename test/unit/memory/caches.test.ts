/**
 * Every in-memory cache is bounded by the bytes it keeps alive, not by what its values look like:
 * given 10 MB of entries, a cache holds at most its budget. A Buffer that is a slice of a larger
 * allocation (Node 24's 64 KiB pool slabs) counts as the whole allocation, so the tests build
 * values the way the server gets them: small slices of large ArrayBuffers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ByteLru, ownedBuffer, retainedBytes } from '../../../src/core/byte-lru.ts';
import { gzipOf, makeDoc, RenderedDocCache } from '../../../src/core/rendered-docs.ts';
import { ParsedCache, sourcesBytes } from '../../../src/formats/npm/proxy.ts';
import { ManifestCache } from '../../../src/formats/oci/hosted.ts';
import { BufferPool } from '../../../src/http/send-body.ts';
import { TokenCache } from '../../../src/proxy/auth.ts';

const MB = 1024 * 1024;

/** 64 KiB slabs, as Node 24's Buffer pool hands out (`Buffer.poolSize`). */
const slabs = Array.from({ length: 256 }, () => Buffer.alloc(64 * 1024));

/**
 * The `n`th `length`-byte Buffer, a slice of one of the slabs, as `Buffer.from` of a small string
 * is: consecutive ones land on different slabs, as they do in a server allocating between them.
 */
function pooledSlice(n: number, length: number): Buffer {
  const slab = slabs[n % slabs.length] ?? Buffer.alloc(0);
  const offset = (Math.floor(n / slabs.length) * length) % (slab.length - length);
  return slab.subarray(offset, offset + length).fill(n % 256);
}

/** Sum of the distinct ArrayBuffers behind `buffers`: the memory they keep alive. */
function retainedByAll(buffers: Iterable<Uint8Array>): number {
  const seen = new Set<ArrayBufferLike>();
  let total = 0;
  for (const buffer of buffers) {
    if (seen.has(buffer.buffer)) continue;
    seen.add(buffer.buffer);
    total += buffer.buffer.byteLength;
  }
  return total;
}

describe('ByteLru', () => {
  test('10 MB of values in a 1 MB budget: at most 1 MB held, most recently used kept', () => {
    const lru = new ByteLru<number, Buffer>(MB, retainedBytes);
    for (let i = 0; i < 10 * 64; i++) lru.set(i, Buffer.alloc(16 * 1024));
    assert.ok(lru.bytes <= MB, `${lru.bytes} bytes held`);
    assert.equal(lru.size, 64);
    assert.ok(lru.has(639) && !lru.has(0));
    lru.get(576);
    lru.set(1000, Buffer.alloc(16 * 1024));
    assert.ok(lru.has(576), 'a value just read is not the next one out');
  });

  test('a value over a quarter of the budget is refused; grow evicts past the budget', () => {
    const evicted: number[] = [];
    const lru = new ByteLru<number, number>(1000, (n) => n, {
      onEvict: (key) => evicted.push(key),
    });
    assert.equal(lru.set(1, 251), false);
    assert.equal(lru.size, 0);
    lru.set(2, 200);
    lru.set(3, 200);
    lru.grow(2, 50);
    assert.equal(lru.bytes, 450);
    lru.grow(3, 600);
    assert.equal(lru.has(3), false, 'grown past a quarter: dropped');
    assert.deepEqual(evicted, [3]);
    lru.maxBytes = 100;
    assert.equal(lru.size, 0);
  });

  test('ownedBuffer copies a slice into memory of its own, and keeps an exact buffer', () => {
    const slice = pooledSlice(7, 600);
    const owned = ownedBuffer(slice);
    assert.ok(owned.equals(slice));
    assert.equal(retainedBytes(owned), 600);
    assert.equal(ownedBuffer(owned), owned);
  });
});

describe('ManifestCache', () => {
  test('10 MB of manifests that are pool slices: what the cache keeps alive stays within budget', () => {
    const cache = new ManifestCache(MB);
    const digests: string[] = [];
    // 17,000 manifests of 600 bytes (10 MB), as received: slices of 64 KiB slabs.
    for (let i = 0; i < 17_000; i++) {
      const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
      cache.set(digest, pooledSlice(i, 600));
      digests.push(digest);
    }
    const held = digests.map((d) => cache.get(d)).filter((b) => b !== undefined);
    assert.ok(held.length > 500, `${held.length} manifests kept`);
    const retained = retainedByAll(held);
    assert.ok(retained <= MB, `cached manifests keep ${retained} bytes alive, budget ${MB}`);
    assert.ok(cache.bytes <= MB);
    assert.equal(held.at(-1)?.[0], (17_000 - 1) % 256, 'bodies are intact');
  });

  test('budget 0 keeps nothing', () => {
    const cache = new ManifestCache(0);
    cache.set('sha256:x', Buffer.from('{}'));
    assert.equal(cache.get('sha256:x'), undefined);
  });
});

describe('RenderedDocCache', () => {
  test('10 MB of documents with their gzip: bodies and gzips together stay within budget', async () => {
    const cache = new RenderedDocCache(MB);
    const keys: string[] = [];
    // 500 documents of ~20 KB (10 MB), each compressed as a gzip-accepting client would ask.
    for (let i = 0; i < 500; i++) {
      const doc = makeDoc({ name: `p${i}`, readme: randomBytes(10_000).toString('hex') }, Infinity);
      const key = `npm\np${i}\nfull\nhttp://x`;
      cache.set(key, `p${i}`, cache.generation(`p${i}`), doc);
      await gzipOf(doc);
      keys.push(key);
    }
    const docs = keys.map((k, i) => cache.get(k, `p${i}`)).filter((d) => d !== undefined);
    assert.ok(docs.length > 10, `${docs.length} documents kept`);
    const buffers: Buffer[] = [];
    for (const doc of docs) {
      buffers.push(doc.body);
      const gzip = await doc.gzip;
      if (gzip) buffers.push(gzip);
    }
    const retained = retainedByAll(buffers);
    assert.ok(retained <= MB, `cached documents keep ${retained} bytes alive, budget ${MB}`);
    assert.ok(cache.bytes <= MB);
  });

  test("a write drops the name's documents at once, and a render that raced it stores nothing", () => {
    const cache = new RenderedDocCache(MB);
    const before = cache.generation('a');
    cache.set('k-a-full', 'a', before, makeDoc({ name: 'a' }, Infinity));
    cache.set('k-a-abbr', 'a', before, makeDoc({ name: 'a', x: 1 }, Infinity));
    cache.set('k-b', 'b', cache.generation('b'), makeDoc({ name: 'b' }, Infinity));
    assert.equal(cache.size, 3);
    cache.invalidate('a');
    assert.equal(cache.size, 1, 'both documents of a are gone, b stays');
    cache.set('k-a-full', 'a', before, makeDoc({ name: 'a', stale: true }, Infinity));
    assert.equal(cache.get('k-a-full', 'a'), undefined);
  });

  test('write generations of many names are bounded, and a forgotten one still refuses a racing render', () => {
    const cache = new RenderedDocCache(MB);
    const read = cache.generation('a');
    cache.invalidate('a');
    // Enough other writes to push 'a' out of the remembered generations.
    for (let i = 0; i < 20_000; i++) cache.invalidate(`other-${i}`);
    cache.set('k-a', 'a', read, makeDoc({ name: 'a', stale: true }, Infinity));
    assert.equal(cache.get('k-a', 'a'), undefined, 'a render that read before the write');
    const fresh = cache.generation('a');
    cache.set('k-a', 'a', fresh, makeDoc({ name: 'a' }, Infinity));
    assert.ok(cache.get('k-a', 'a'), 'a render after the write is kept');
  });
});

describe('npm proxy caches', () => {
  test('parsed packuments: 10 MB of JSON parsed, bounded by its estimated size', () => {
    const cache = new ParsedCache<object>(8 * MB);
    for (let i = 0; i < 100; i++) cache.set(`sha256:${i}`, { i }, 100 * 1024);
    assert.ok(cache.bytes <= 8 * MB, `${cache.bytes}`);
    assert.ok(cache.get('sha256:99'));
    assert.equal(cache.get('sha256:0'), undefined);
    // One large document may take the whole budget (those are the ones worth keeping parsed).
    cache.set('sha256:big', { big: true }, 2 * MB);
    assert.ok(cache.get('sha256:big'));
  });

  test('a tarball index is estimated from its strings', () => {
    const sources = new Map<string, { version: string; url: string }>();
    for (let i = 0; i < 1000; i++)
      sources.set(`p-1.0.${i}.tgz`, { version: `1.0.${i}`, url: `http://u/p/-/p-1.0.${i}.tgz` });
    const bytes = sourcesBytes(sources);
    assert.ok(bytes >= 1000 * 300 && bytes < 1000 * 600, `${bytes}`);
  });
});

describe('upstream token cache', () => {
  test('10 MB of 2 KB tokens for distinct scopes: what is kept stays within budget', () => {
    const cache = new TokenCache(Date.now, MB);
    const token = `Bearer ${'t'.repeat(2048)}`;
    for (let i = 0; i < 2500; i++) cache.set('https://u', `repository:img${i}:pull`, token, 300);
    let kept = 0;
    for (let i = 0; i < 2500; i++) if (cache.get('https://u', `repository:img${i}:pull`)) kept++;
    // Each kept token holds at least its header (2 bytes a char).
    assert.ok(kept * 2 * token.length <= MB, `${kept} tokens kept`);
    assert.ok(kept > 100 && cache.bytes <= MB);
    assert.ok(cache.get('https://u', 'repository:img2499:pull'), 'the newest is kept');
  });
});

describe('send-body buffer pool', () => {
  test('keeps at most its bound of idle buffers and lets them all go once unused', (t) => {
    // Mocked timers and clock: a loaded machine's late timer cannot reorder the trim and a use
    // (with real 20/40/80 ms sleeps a 20 ms stall let the trim see 50 ms of idleness too early).
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let now = 0;
    const advance = (ms: number) => {
      now += ms;
      t.mock.timers.tick(ms);
    };
    const pool = new BufferPool(4, 50, () => now);
    const taken = Array.from({ length: 8 }, () => pool.take());
    for (const buffer of taken) pool.give(buffer);
    assert.equal(pool.idle, 4, 'at most 4 MiB idle');
    advance(20);
    pool.give(pool.take());
    advance(40);
    assert.equal(pool.idle, 4, 'still in use 40 ms ago: kept');
    advance(9);
    assert.equal(pool.idle, 4, 'unused for 49 ms: kept');
    advance(1);
    assert.equal(pool.idle, 0, 'unused for 50 ms: released');
  });
});
