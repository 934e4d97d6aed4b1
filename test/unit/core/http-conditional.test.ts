/** Entity-tag lists (RFC 9110 §8.8.3, §13.1.2): one splitter for every format. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etagMatches, ifRangeHolds, splitEntityTags } from '../../../src/core/http-conditional.ts';

test('entity-tag lists split at commas outside quotes; weak comparison for If-None-Match', () => {
  assert.deepEqual(splitEntityTags('"a", W/"b,c" ,"d"'), ['"a"', ' W/"b,c" ', '"d"']);
  assert.deepEqual(splitEntityTags('*'), ['*']);
  assert.ok(etagMatches('"x", W/"b,c"', '"b,c"'));
  assert.ok(etagMatches(['"x"', '"y"'], 'W/"y"'));
  assert.ok(etagMatches('*', '"z"'));
  assert.ok(!etagMatches('"b", "c"', '"b,c"'));
  assert.ok(!etagMatches(undefined, '"a"'));
});

test('If-Range (RFC 9110 §13.1.5): the strong ETag, or the Last-Modified once a second old', () => {
  const etag = '"abc"';
  const lastModified = 'Thu, 03 Dec 2026 06:00:00 GMT';
  const later = Date.parse(lastModified) + 1000;
  assert.ok(ifRangeHolds(undefined, etag, lastModified, later));
  assert.ok(ifRangeHolds('"abc"', etag, lastModified, later));
  assert.ok(ifRangeHolds(' "abc" ', etag, undefined, later));
  assert.ok(!ifRangeHolds('"nope"', etag, lastModified, later));
  assert.ok(!ifRangeHolds('W/"abc"', etag, lastModified, later));
  assert.ok(!ifRangeHolds('"abc"', 'W/"abc"', lastModified, later));
  assert.ok(!ifRangeHolds('"abc"', undefined, lastModified, later));
  assert.ok(!ifRangeHolds(['"abc"', '"abc"'], etag, lastModified, later));
  assert.ok(ifRangeHolds(lastModified, etag, lastModified, later));
  // Within the second it changed in, a date is weak: the file may change again unseen.
  assert.ok(!ifRangeHolds(lastModified, etag, lastModified, later - 1));
  assert.ok(!ifRangeHolds('Thu, 03 Dec 2026 05:00:00 GMT', etag, lastModified, later));
  assert.ok(!ifRangeHolds(lastModified, etag, undefined, later));
  assert.ok(!ifRangeHolds('not a date', etag, lastModified, later));
});
