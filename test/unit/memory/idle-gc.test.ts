/**
 * After a busy period the server collects its garbage once when it falls quiet, so what a load
 * left on the heap (and the Buffers only garbage holds) does not stay until the next load.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectWhenIdle } from '../../../src/core/idle-gc.ts';

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // keep the event loop busy
  }
}

test('one collection per quiet period, and only after work', async () => {
  let collections = 0;
  const collector = collectWhenIdle({
    intervalMs: 40,
    quietSamples: 2,
    // Short windows: a timer's own work is a few % of 40 ms; the busy loops are ~90%.
    quietUtilization: 0.3,
    collect: () => {
      collections++;
    },
  });
  try {
    await sleep(200);
    assert.equal(collections, 0, 'quiet since start: nothing to collect');
    for (let i = 0; i < 4; i++) {
      busyFor(35);
      await sleep(5);
    }
    await sleep(250);
    assert.equal(collections, 1, 'quiet after work: one collection');
    await sleep(200);
    assert.equal(collections, 1, 'still quiet: no second one');
    busyFor(60);
    await sleep(250);
    assert.equal(collections, 2, 'work again, then quiet: one more');
  } finally {
    collector.stop();
  }
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
    for (let i = 0; i < 40 && !state.released; i++) await sleep(25);
    assert.equal(state.released, true);
  } finally {
    collector.stop();
  }
});
