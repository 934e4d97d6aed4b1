/**
 * ExpiringMap (src/core/expiring-map.ts): bounded in count (oldest set first forgotten) and in
 * time (an entry older than the TTL is dropped when looked up). Used by hosted Maven's checksums
 * uploaded before their file, refused main archives and recent deploys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpiringMap } from '../../../src/core/expiring-map.ts';

test('an entry lives for the TTL (inclusive), then is dropped when looked up', () => {
  let now = 1_000;
  const map = new ExpiringMap<string, number>({ max: 10, ttlMs: 500, now: () => now });
  map.set('a', 1);
  assert.deepEqual(map.entry('a'), { value: 1, at: 1_000 });
  now += 500;
  assert.equal(map.get('a'), 1);
  now += 1;
  assert.equal(map.get('a'), undefined);
  assert.equal(map.size, 0, 'dropped on lookup');
  assert.equal(map.get('never'), undefined);
});

test('bounded: the oldest set is evicted first; setting again makes an entry the newest', () => {
  let now = 0;
  const map = new ExpiringMap<string, string>({ max: 3, ttlMs: 60_000, now: () => ++now });
  map.set('a', 'A');
  map.set('b', 'B');
  map.set('c', 'C');
  map.set('a', 'A2'); // refreshed: b is now the oldest
  map.set('d', 'D');
  assert.equal(map.size, 3);
  assert.equal(map.get('b'), undefined, 'the oldest went');
  assert.equal(map.get('a'), 'A2');
  assert.equal(map.get('c'), 'C');
  assert.equal(map.get('d'), 'D');
  assert.equal(map.entry('a')?.at, 4, 'set again: its time is the new one');
});

test('delete and deleteWhere forget entries; size counts what is held', () => {
  const map = new ExpiringMap<string, number>({ max: 10, ttlMs: 1_000 });
  for (const [i, key] of ['r\na', 'r\nb', 's\na'].entries()) map.set(key, i);
  assert.equal(map.delete('r\na'), true);
  assert.equal(map.delete('r\na'), false);
  map.deleteWhere((key) => key.startsWith('r\n'));
  assert.equal(map.size, 1);
  assert.equal(map.get('s\na'), 2);
  assert.equal(map.ttlMs, 1_000);
});

test('a max below 1 still holds the newest entry', () => {
  const map = new ExpiringMap<string, number>({ max: 0, ttlMs: 1_000 });
  map.set('a', 1);
  map.set('b', 2);
  assert.equal(map.size, 1);
  assert.equal(map.get('b'), 2);
});
