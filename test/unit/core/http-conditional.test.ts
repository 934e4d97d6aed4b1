/** Entity-tag lists (RFC 9110 §8.8.3, §13.1.2): one splitter for every format. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etagMatches, splitEntityTags } from '../../../src/core/http-conditional.ts';

test('entity-tag lists split at commas outside quotes; weak comparison for If-None-Match', () => {
  assert.deepEqual(splitEntityTags('"a", W/"b,c" ,"d"'), ['"a"', ' W/"b,c" ', '"d"']);
  assert.deepEqual(splitEntityTags('*'), ['*']);
  assert.ok(etagMatches('"x", W/"b,c"', '"b,c"'));
  assert.ok(etagMatches(['"x"', '"y"'], 'W/"y"'));
  assert.ok(etagMatches('*', '"z"'));
  assert.ok(!etagMatches('"b", "c"', '"b,c"'));
  assert.ok(!etagMatches(undefined, '"a"'));
});
