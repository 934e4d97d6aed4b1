/** raceDeadline (core/deadline.ts): a wait bounded by a timer, the timer cleared after. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { raceDeadline } from '../../../src/core/deadline.ts';

test('raceDeadline: the promise when it settles first, `late` after ms, a rejection rejects', async () => {
  assert.equal(await raceDeadline(Promise.resolve(1), 1000, 'late'), 1);
  assert.equal(
    await raceDeadline(
      sleep(1000).then(() => 1),
      10,
      'late',
    ),
    'late',
  );
  await assert.rejects(raceDeadline(Promise.reject(new Error('no')), 1000, 'late'), /no/);
});

test('raceDeadline: the timer is cleared when the promise wins', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await raceDeadline(Promise.resolve(true), 60_000, false);
  assert.equal(timers(), before);
});

test('raceDeadline: `unref` leaves the timer out of what keeps the process alive', async () => {
  const refed = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = refed();
  let release: (value: string) => void = () => undefined;
  const pending = new Promise<string>((resolve) => {
    release = resolve;
  });
  const waiting = raceDeadline(pending, 60_000, 'late', { unref: true });
  // An unref'd timer is not listed among the active resources that hold the loop.
  assert.equal(refed(), before);
  release('done');
  assert.equal(await waiting, 'done');
});
