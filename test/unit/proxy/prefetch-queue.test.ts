/**
 * The shared prefetch queue (src/proxy/prefetch.ts) the PyPI, Go and Cargo proxies use: its
 * bounds (concurrency, queue cap, each key once, nothing after close), the on/off switch read
 * per add, and its counters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrefetchQueue } from '../../../src/proxy/prefetch.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';

/** A task that runs until its `release` is called. */
function gate(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

test('at most `concurrency` run, at most `queue` wait, the rest is dropped', async () => {
  const held = gate();
  const started: string[] = [];
  const queue = new PrefetchQueue({
    format: 'test',
    concurrency: 2,
    queue: 3,
    enabled: () => true,
  });
  for (let i = 0; i < 10; i++) {
    queue.add(`k${i}`, async () => {
      started.push(`k${i}`);
      await held.promise;
    });
  }
  assert.equal(queue.running, 2);
  assert.equal(queue.waiting, 3);
  assert.deepEqual(started, ['k0', 'k1']);
  held.release();
  await queue.idle();
  assert.deepEqual(started, ['k0', 'k1', 'k2', 'k3', 'k4']);
  assert.equal(queue.running, 0);
});

test('each key once; a failing task is contained; off and closed queue nothing', async () => {
  let on = true;
  let runs = 0;
  const count = (): Promise<void> => {
    runs++;
    return Promise.resolve();
  };
  const queue = new PrefetchQueue({
    format: 'test',
    concurrency: 1,
    queue: 10,
    enabled: () => on,
  });
  assert.equal(
    queue.add('a', () => {
      runs++;
      return Promise.reject(new Error('upstream down'));
    }),
    true,
  );
  assert.equal(
    queue.add('a', () => {
      runs++;
      return Promise.resolve();
    }),
    false,
  );
  await queue.idle();
  assert.equal(runs, 1);
  on = false;
  assert.equal(queue.add('b', count), false);
  on = true;
  const held = gate();
  queue.add('c', () => held.promise);
  queue.add('d', count);
  queue.close();
  assert.equal(queue.waiting, 0, 'close drops what waits');
  assert.equal(queue.add('e', count), false);
  held.release();
  await queue.idle();
  assert.equal(runs, 1);
});

test('counters: started, used once per key, failed, dropped', async () => {
  const metrics = new Metrics();
  const queue = new PrefetchQueue({
    format: 'unit',
    concurrency: 1,
    queue: 1,
    enabled: () => true,
    metrics,
  });
  const held = gate();
  queue.add('x', () => held.promise);
  queue.add('y', () => Promise.reject(new Error('no')));
  queue.add('z', () => Promise.resolve()); // dropped: y waits, the queue holds one
  held.release();
  await queue.idle();
  queue.used('x');
  queue.used('x');
  queue.used('never-prefetched');
  const text = await metrics.registry.metrics();
  const value = (outcome: string): number =>
    Number(
      new RegExp(`nora_proxy_prefetch_total\\{format="unit",outcome="${outcome}"\\} (\\d+)`).exec(
        text,
      )?.[1] ?? 0,
    );
  assert.equal(value('started'), 2);
  assert.equal(value('used'), 1);
  assert.equal(value('failed'), 1);
  assert.equal(value('dropped'), 1);
});
