import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionalHeaders, validatorsOf } from '../../../src/proxy/validators.ts';

const response = (headers: Record<string, string>) => ({
  header: (name: string) => headers[name],
});

test('validatorsOf keeps the ETag and the Last-Modified (epoch ms), each when sent', () => {
  const date = 'Tue, 01 Dec 2026 10:00:00 GMT';
  assert.deepEqual(validatorsOf(response({ etag: '"v1"', 'last-modified': date })), {
    etag: '"v1"',
    modifiedAt: Date.parse(date),
  });
  assert.deepEqual(validatorsOf(response({ 'last-modified': date })), {
    etag: undefined,
    modifiedAt: Date.parse(date),
  });
  // Not a date, or a date in the future: not a validator.
  assert.equal(validatorsOf(response({ 'last-modified': 'x' })).modifiedAt, undefined);
  const future = new Date(Date.now() + 86_400_000).toUTCString();
  assert.equal(validatorsOf(response({ 'last-modified': future })).modifiedAt, undefined);
  assert.deepEqual(validatorsOf(response({})), { etag: undefined, modifiedAt: undefined });
});

test('conditionalHeaders asks only the upstream the copy came from, with the matching headers', () => {
  const target = { label: 'r#0' };
  const date = 'Tue, 01 Dec 2026 10:00:00 GMT';
  assert.deepEqual(conditionalHeaders({ upstream: 'r#0', etag: '"v1"' }, target), {
    'if-none-match': '"v1"',
  });
  assert.deepEqual(
    conditionalHeaders({ upstream: 'r#0', etag: undefined, modifiedAt: Date.parse(date) }, target),
    { 'if-modified-since': date },
  );
  assert.deepEqual(
    conditionalHeaders({ upstream: 'r#0', etag: '"v1"', modifiedAt: Date.parse(date) }, target),
    { 'if-none-match': '"v1"', 'if-modified-since': date },
  );
  // A row stored before modified_at existed.
  assert.deepEqual(conditionalHeaders({ upstream: 'r#0', etag: 'lm:Tue, 01 Dec 2026' }, target), {
    'if-modified-since': 'Tue, 01 Dec 2026',
  });
  assert.deepEqual(conditionalHeaders({ upstream: 'r#1', etag: '"v1"' }, target), {});
  assert.deepEqual(conditionalHeaders({ upstream: 'r#0', etag: undefined }, target), {});
  assert.deepEqual(conditionalHeaders(undefined, target), {});
});
