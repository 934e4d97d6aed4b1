/**
 * IsoClock (src/audit/requests.ts): the audit event's `ts` is `new Date(ms).toISOString()` for
 * every millisecond, the string made once per millisecond.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IsoClock } from '../../../src/audit/requests.ts';

test('IsoClock gives the ISO timestamp of each millisecond, reused within it', () => {
  const clock = new IsoClock();
  const start = Date.UTC(2026, 11, 5, 23, 59, 59, 998);
  for (const ms of [start, start, start + 1, start + 2, start + 2, start - 5, 0]) {
    assert.equal(clock.at(ms), new Date(ms).toISOString());
  }
  assert.equal(clock.at(start + 2), '2026-12-06T00:00:00.000Z');
});
