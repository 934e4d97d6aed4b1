/** `@v/list` bodies as NORA's Go proxy reads them (src/formats/go/proxy.ts listedVersions). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listedVersions } from '../../../src/formats/go/proxy.ts';

const list = (text: string) => listedVersions(Buffer.from(text));

test('versions sorted, deduplicated; first field only; non-canonical skipped, not invalid', () => {
  assert.deepEqual(list('v1.1.0\nv1.0.0\n\nv1.0.0\r\n'), {
    versions: ['v1.0.0', 'v1.1.0'],
    invalid: false,
  });
  assert.deepEqual(list('v1.0.0 2020-01-01T00:00:00Z\nv1.0\n'), {
    versions: ['v1.0.0'],
    invalid: false,
  });
  assert.deepEqual(list(''), { versions: [], invalid: false });
});

test('a line that does not start with a version makes the list invalid (an HTML page)', () => {
  assert.equal(list('<!DOCTYPE html>\n<html><body>log in</body></html>\n').invalid, true);
  assert.equal(list('v1.0.0\nnot-a-version\n').invalid, true);
});
