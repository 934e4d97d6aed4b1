/** `Range: bytes=…` (RFC 9110 §14.1.2): one range, positions past the end read to the end. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from '../../../src/core/http-range.ts';

test('single ranges, suffixes, and positions past the end (even past 2^53)', () => {
  assert.deepEqual(parseRange(undefined, 6), { kind: 'none' });
  assert.deepEqual(parseRange('bytes=0-100', 6), { kind: 'range', range: { start: 0, end: 5 } });
  assert.deepEqual(parseRange('bytes=2-9007199254740993', 6), {
    kind: 'range',
    range: { start: 2, end: 5 },
  });
  assert.deepEqual(parseRange('bytes=2-', 6), { kind: 'range', range: { start: 2, end: 5 } });
  assert.deepEqual(parseRange('bytes=-2', 6), { kind: 'range', range: { start: 4, end: 5 } });
  assert.deepEqual(parseRange('bytes=-99999999999999999999', 6), {
    kind: 'range',
    range: { start: 0, end: 5 },
  });
  assert.deepEqual(parseRange('bytes=6-', 6), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=99999999999999999999-', 6), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=3-2', 6), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 6), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-1,3-4', 6), { kind: 'none' });
});
