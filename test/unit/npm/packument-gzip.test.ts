/**
 * Rendered packuments are gzipped once, off the main thread, and every request shares that one
 * compression; small documents are sent as they are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { gzipOf, makeDoc } from '../../../src/core/rendered-docs.ts';

test('one shared compression per document; small documents are not compressed', async () => {
  const doc = makeDoc({ name: 'big', description: 'x'.repeat(100_000) }, Infinity);
  const first = gzipOf(doc);
  const second = gzipOf(doc);
  assert.ok(first !== undefined);
  assert.equal(first, second, 'concurrent requests share one compression');
  assert.ok(gunzipSync(await first).equals(doc.body));
  assert.equal(gzipOf(makeDoc({ name: 'small' }, Infinity)), undefined);
});
