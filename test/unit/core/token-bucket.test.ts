/** Token buckets (core/token-bucket.ts) on a fake clock: burst, refill, Retry-After, memory bound. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBuckets } from '../../../src/core/token-bucket.ts';

function clock() {
  let now = 1_000_000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

test('a full bucket allows `burst` requests at once, then refuses with the time to the next token', () => {
  const c = clock();
  const buckets = new TokenBuckets({ rps: 2, burst: 5 }, { now: c.now });
  for (let i = 0; i < 5; i++)
    assert.deepEqual(buckets.take('a'), { allowed: true }, `request ${i}`);
  assert.deepEqual(buckets.take('a'), { allowed: false, retryAfterMs: 500 });
  // Another key has its own bucket.
  assert.deepEqual(buckets.take('b'), { allowed: true });
  c.advance(499);
  assert.equal(buckets.take('a').allowed, false);
  c.advance(1);
  assert.equal(buckets.take('a').allowed, true);
  assert.equal(buckets.take('a').allowed, false);
});

test('refill is rps per second and never above burst', () => {
  const c = clock();
  const buckets = new TokenBuckets({ rps: 10, burst: 3 }, { now: c.now });
  for (let i = 0; i < 3; i++) buckets.take('a');
  c.advance(60_000); // a minute idle: back to 3, not 600
  let allowed = 0;
  for (let i = 0; i < 10; i++) if (buckets.take('a').allowed) allowed++;
  assert.equal(allowed, 3);
  // Sustained: one request every 100 ms (10/s) is always allowed.
  for (let i = 0; i < 50; i++) {
    c.advance(100);
    assert.equal(buckets.take('a').allowed, true, `tick ${i}`);
  }
});

test('fractional rates: 0.5 rps means one request every 2 s', () => {
  const c = clock();
  const buckets = new TokenBuckets({ rps: 0.5, burst: 1 }, { now: c.now });
  assert.equal(buckets.take('a').allowed, true);
  assert.deepEqual(buckets.take('a'), { allowed: false, retryAfterMs: 2000 });
  c.advance(2000);
  assert.equal(buckets.take('a').allowed, true);
});

test('memory stays bounded under address spraying; full buckets go first', () => {
  const c = clock();
  const buckets = new TokenBuckets({ rps: 1, burst: 2 }, { now: c.now, maxKeys: 100 });
  // A busy client with an empty bucket.
  buckets.take('busy');
  buckets.take('busy');
  for (let i = 0; i < 5000; i++) {
    buckets.take(`spray-${i}`);
    assert.ok(buckets.size <= 100, `size ${buckets.size} at ${i}`);
  }
  assert.ok(buckets.size <= 100);
});

test('setRate applies new limits and starts every bucket full', () => {
  const c = clock();
  const buckets = new TokenBuckets({ rps: 1, burst: 1 }, { now: c.now });
  buckets.take('a');
  assert.equal(buckets.take('a').allowed, false);
  buckets.setRate({ rps: 1, burst: 3 });
  for (let i = 0; i < 3; i++) assert.equal(buckets.take('a').allowed, true);
  assert.equal(buckets.take('a').allowed, false);
});
