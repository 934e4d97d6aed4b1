/** stripAuditNames: hosted names leave the forwarded audit body; every other key stays a key. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripAuditNames } from '../../../src/formats/npm/service.ts';

test('a dependency named __proto__ or constructor is kept as a key, hosted names are dropped', () => {
  const body = JSON.parse(
    '{"name":"app","requires":{"__proto__":"1.0.0","mine":"1.0.0","constructor":"2.0.0"},' +
      '"dependencies":{"__proto__":{"version":"1.0.0"},"mine":{"version":"1.0.0"}}}',
  ) as Record<string, unknown>;
  const out = stripAuditNames('audits/quick', body, new Set(['mine']));
  assert.deepEqual(Object.keys(out['requires'] as object), ['__proto__', 'constructor']);
  assert.deepEqual(Object.keys(out['dependencies'] as object), ['__proto__']);
  assert.match(JSON.stringify(out), /"requires":\{"__proto__":"1\.0\.0","constructor":"2\.0\.0"\}/);
});
