/** names.ts over npm's semver: strict for what is published, loose for what upstreams hold. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compareVersions,
  findEqualVersion,
  isValidUpstreamVersion,
  isValidVersion,
  precedenceKey,
} from '../../../src/formats/npm/names.ts';
import { parseUpstream } from '../../../src/formats/npm/proxy.ts';

test('published versions are strict and canonical; upstream ones may be loose', () => {
  for (const v of ['1.0.0', '1.0.0-rc.1', '1.0.0+b.1', '0.0.0-0']) assert.ok(isValidVersion(v), v);
  for (const v of [
    'v1.0.0',
    '=1.0.0',
    ' 1.0.0',
    '1.0.0-01',
    '1.0',
    '01.0.0',
    `1.0.0-${'x'.repeat(260)}`,
  ])
    assert.ok(!isValidVersion(v), v);
  assert.ok(isValidUpstreamVersion('1.0.0-01'));
  assert.ok(isValidUpstreamVersion('v1.2.3'));
  assert.ok(!isValidUpstreamVersion('latest'));
  assert.ok(compareVersions('1.0.0-01', '1.0.0') < 0);
});

test('precedence classes ignore build metadata only', () => {
  assert.equal(precedenceKey('3.0.0+b1'), '3.0.0');
  assert.equal(precedenceKey('3.0.0-rc.1+b1'), '3.0.0-rc.1');
  assert.equal(precedenceKey('nope'), undefined);
  assert.equal(compareVersions('3.0.0+b1', '3.0.0+b2'), 0);
  assert.equal(findEqualVersion('3.0.0', ['2.0.0', '3.0.0+b1']), '3.0.0+b1');
  assert.equal(findEqualVersion('3.0.0+b1', ['3.0.0', '3.0.0+b1']), '3.0.0+b1');
  assert.equal(findEqualVersion('3.0.0-rc.1', ['3.0.0']), undefined);
});

test('an upstream packument keeps loosely valid versions, in semver order', () => {
  const dist = { shasum: 'a'.repeat(40) };
  const body = Buffer.from(
    JSON.stringify({
      name: 'old',
      versions: {
        '1.0.0': { name: 'old', version: '1.0.0', dist },
        '1.0.0-01': { name: 'old', version: '1.0.0-01', dist },
        'not-a-version': { name: 'old', dist },
      },
    }),
  );
  const parsed = parseUpstream('old', body, 'http://upstream.invalid/');
  assert.deepEqual(
    parsed.view.versions.map((v) => v.version),
    ['1.0.0-01', '1.0.0'],
  );
});
