import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionalHeaders, validatorOf } from '../../../src/proxy/validators.ts';

const response = (headers: Record<string, string>) => ({
  header: (name: string) => headers[name],
});

test('validatorOf keeps the ETag, else the Last-Modified as lm:<date>, else nothing', () => {
  assert.equal(validatorOf(response({ etag: '"v1"', 'last-modified': 'x' })), '"v1"');
  assert.equal(
    validatorOf(response({ 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' })),
    'lm:Tue, 01 Dec 2026 10:00:00 GMT',
  );
  assert.equal(validatorOf(response({})), undefined);
});

test('conditionalHeaders asks only the upstream the copy came from, with the matching header', () => {
  const target = { label: 'r#0' };
  assert.deepEqual(conditionalHeaders({ upstream: 'r#0', etag: '"v1"' }, target), {
    'if-none-match': '"v1"',
  });
  assert.deepEqual(conditionalHeaders({ upstream: 'r#0', etag: 'lm:Tue, 01 Dec 2026' }, target), {
    'if-modified-since': 'Tue, 01 Dec 2026',
  });
  assert.deepEqual(conditionalHeaders({ upstream: 'r#1', etag: '"v1"' }, target), {});
  assert.deepEqual(conditionalHeaders({ upstream: 'r#0', etag: undefined }, target), {});
  assert.deepEqual(conditionalHeaders(undefined, target), {});
});
