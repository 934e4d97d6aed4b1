import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedSync } from '../../../src/core/shared-sync.ts';

test('requests share the waiting run; one made while a run is in progress gets the next', async () => {
  const started: (() => void)[] = [];
  let idleCalls = 0;
  const syncs = new SharedSync(
    () =>
      new Promise<void>((resolve) => {
        started.push(resolve);
      }),
    () => {
      idleCalls += 1;
    },
  );
  const a = syncs.request();
  const b = syncs.request();
  assert.equal(a, b, 'two requests before the run starts: one run');
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(started.length, 1);
  const c = syncs.request();
  assert.notEqual(c, a, 'made while running: covered only by the next run');
  started[0]?.();
  await a;
  assert.equal(syncs.idle, false);
  await new Promise((r) => setImmediate(r));
  assert.equal(started.length, 2);
  started[1]?.();
  await c;
  assert.equal(syncs.idle, true);
  assert.equal(idleCalls, 1);
});

test('a failed run rejects the requests it covers; the next run starts afresh', async () => {
  let fail = true;
  const syncs = new SharedSync(() => (fail ? Promise.reject(new Error('EIO')) : Promise.resolve()));
  await assert.rejects(syncs.request(), /EIO/);
  fail = false;
  await syncs.request();
  assert.equal(syncs.idle, true);
});
