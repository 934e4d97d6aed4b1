/**
 * After a busy period the server collects its garbage once when it falls quiet, so what a load
 * left on the heap (and the Buffers only garbage holds) does not stay until the next load.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectWhenIdle, QuietAfterWork } from '../../../src/core/idle-gc.ts';

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // keep the event loop busy
  }
}

test('one collection per quiet period, and only after work', () => {
  // Samples as the timer would feed them (event-loop utilisation per period), not wall-clock
  // timing: a loaded CI machine makes short real periods look busy.
  const gate = new QuietAfterWork(2, 0.05);
  const run = (samples: number[]): boolean[] => samples.map((u) => gate.observe(u));
  assert.deepEqual(run([0, 0, 0, 0]), [false, false, false, false], 'quiet since start');
  assert.deepEqual(run([0.9, 0.5, 0.01, 0.02]), [false, false, false, true], 'work, then quiet');
  assert.deepEqual(run([0, 0, 0]), [false, false, false], 'still quiet: no second one');
  assert.deepEqual(run([0.6, 0.01, 0.9, 0.01, 0.01]), [false, false, false, false, true]);
});

test('the default collector is a real full GC: garbage-only Buffers are released', async () => {
  const state = { released: false };
  const registry = new FinalizationRegistry(() => {
    state.released = true;
  });
  (() => {
    registry.register(Buffer.alloc(1024 * 1024), 'garbage');
  })();
  const collector = collectWhenIdle({ intervalMs: 30, quietSamples: 1, quietUtilization: 0.3 });
  try {
    busyFor(40);
    // A full GC, then the finalizer's task: ms alone, seconds on a loaded machine (bound: 10 s).
    for (let i = 0; i < 400 && !state.released; i++) await sleep(25);
    assert.equal(state.released, true);
  } finally {
    collector.stop();
  }
});

test('no collection while requests arrive, however little CPU they take', async () => {
  let requests = 0;
  const seen = { collections: 0 };
  const collector = collectWhenIdle({
    intervalMs: 20,
    quietSamples: 1,
    quietUtilization: 0.99,
    requests: () => requests,
    collect: () => {
      seen.collections += 1;
    },
  });
  try {
    // A client trickling requests: every sample sees one, and utilisation stays near zero.
    const trickle = setInterval(() => {
      requests += 1;
    }, 5);
    await sleep(200);
    clearInterval(trickle);
    assert.equal(seen.collections, 0, 'no collection while requests arrive');
    const count = (): number => seen.collections;
    for (let i = 0; i < 500 && count() === 0; i++) await sleep(20);
    assert.equal(seen.collections, 1, 'one collection once they stop');
  } finally {
    collector.stop();
  }
});
