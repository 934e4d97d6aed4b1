import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  forEachLimited,
  PrefetchIndex,
  upstreamKeepsUp,
} from '../../../src/formats/oci/prefetch.ts';

describe('PrefetchIndex', () => {
  test('a layer of a remembered image claims the other layers and the config, once', () => {
    const index = new PrefetchIndex();
    index.remember('app', 'sha256:m1', 'sha256:c', ['sha256:a', 'sha256:b', 'sha256:d']);
    assert.equal(index.knows('app', 'sha256:m1'), true);
    assert.deepEqual(index.claim('app', 'sha256:b'), ['sha256:a', 'sha256:d', 'sha256:c']);
    assert.equal(index.claim('app', 'sha256:a'), undefined, 'an image is prefetched once');
  });

  test('a manifest without layers is remembered (no re-parse) and claims nothing', () => {
    const index = new PrefetchIndex();
    index.remember('app', 'sha256:artifact', 'sha256:c', []);
    assert.equal(index.knows('app', 'sha256:artifact'), true);
    assert.equal(index.claim('app', 'sha256:c'), undefined);
  });

  test('the config, unknown digests and other names claim nothing', () => {
    const index = new PrefetchIndex();
    index.remember('app', 'sha256:m1', 'sha256:c', ['sha256:a', 'sha256:b']);
    assert.equal(index.claim('app', 'sha256:c'), undefined);
    assert.equal(index.claim('app', 'sha256:zz'), undefined);
    assert.equal(index.claim('other', 'sha256:a'), undefined);
    assert.deepEqual(index.claim('app', 'sha256:a'), ['sha256:b', 'sha256:c']);
  });

  test('a shared base layer points at the newest image that lists it', () => {
    const index = new PrefetchIndex();
    index.remember('app', 'sha256:old', 'sha256:c1', ['sha256:base', 'sha256:v1']);
    index.remember('app', 'sha256:new', 'sha256:c2', ['sha256:base', 'sha256:v2']);
    assert.deepEqual(index.claim('app', 'sha256:base'), ['sha256:v2', 'sha256:c2']);
    assert.deepEqual(index.claim('app', 'sha256:v1'), ['sha256:base', 'sha256:c1']);
  });

  test('the oldest images are forgotten beyond the cap', () => {
    const index = new PrefetchIndex();
    for (let i = 0; i <= 4096; i++)
      index.remember('app', `sha256:m${i}`, 'sha256:c', [`sha256:l${i}`, `sha256:x${i}`]);
    assert.equal(index.knows('app', 'sha256:m0'), false);
    assert.equal(index.claim('app', 'sha256:l0'), undefined);
    assert.deepEqual(index.claim('app', 'sha256:l4096'), ['sha256:x4096', 'sha256:c']);
  });

  test('the oldest images are forgotten once the layers remembered exceed the layer cap', () => {
    const index = new PrefetchIndex();
    const layers = (i: number) => Array.from({ length: 100 }, (_, j) => `sha256:l${i}-${j}`);
    for (let i = 0; i < 200; i++) index.remember('app', `sha256:m${i}`, 'sha256:c', layers(i));
    // 200 images x 100 layers = 20,000 > 16,384: the oldest 37 are gone, the newest kept.
    assert.equal(index.knows('app', 'sha256:m0'), false);
    assert.equal(index.knows('app', 'sha256:m36'), false);
    assert.equal(index.knows('app', 'sha256:m37'), true);
    assert.equal(index.claim('app', 'sha256:l0-5'), undefined);
    assert.equal(index.claim('app', 'sha256:l199-5')?.length, 100);
  });
});

describe('forEachLimited', () => {
  test('runs every item with at most `limit` at once, and survives failures', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
      if (n === 2) throw new Error('boom');
      done.push(n);
    });
    assert.equal(peak, 3);
    assert.deepEqual(done.sort(), [1, 3, 4, 5, 6, 7]);
  });
});

describe('upstreamKeepsUp', () => {
  test('100 MiB/s and more per connection keeps up with a client; less does not', () => {
    const MiB = 1024 * 1024;
    assert.equal(upstreamKeepsUp(20 * MiB, 0.1), true); // 200 MiB/s: a loopback or LAN registry
    assert.equal(upstreamKeepsUp(10 * MiB, 0.1), true);
    assert.equal(upstreamKeepsUp(2.5 * MiB, 0.1), false); // 25 MiB/s: a CDN connection
    assert.equal(upstreamKeepsUp(300_000, 0.2), false);
    assert.equal(upstreamKeepsUp(4 * MiB, 0), true, 'an instant transfer counts as fast');
  });
});
