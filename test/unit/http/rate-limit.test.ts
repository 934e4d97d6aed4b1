/** Tier classification and the limiter (http/rate-limit.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRegistryError } from '../../../src/core/errors.ts';
import { classifyRequest, RateLimiter } from '../../../src/http/rate-limit.ts';

test('tiers: credential-issuing routes, writes, everything else; probes never', () => {
  const cases: [string, string, string | undefined][] = [
    ['PUT', '/npm/-/user/org.couchdb.user:alice', 'auth'],
    ['PUT', '/repository/team-npm/-/user/org.couchdb.user%3Aalice', 'auth'],
    ['POST', '/npm/-/npm/v1/tokens', 'auth'],
    ['POST', '/npm/-/v1/login', 'auth'],
    ['POST', '/api/tokens', 'auth'],
    ['POST', '/api/tokens/list', 'auth'],
    ['POST', '/api/tokens/revoke', 'auth'],
    ['GET', '/api/tokens', 'auth'],
    ['POST', '/api/v1/admin/tokens', 'auth'],
    ['GET', '/v2/token', 'general'],
    ['POST', '/v2/token', 'upload'],
    ['GET', '/repository/docker-hosted/v2/token', 'general'],
    // Not credential-issuing.
    ['GET', '/npm/-/user/org.couchdb.user:alice', 'general'],
    ['GET', '/npm/-/npm/v1/tokens', 'general'],
    ['GET', '/npm/-/v1/login/done/abc', 'general'],
    ['DELETE', '/npm/-/user/token/abc', 'upload'],
    ['GET', '/v2/token/manifests/latest', 'general'],
    ['PUT', '/v2/token/manifests/latest', 'upload'],
    ['GET', '/v2/library/alpine/manifests/3', 'general'],
    ['HEAD', '/v2/library/alpine/blobs/sha256:ab', 'general'],
    ['PATCH', '/v2/app/blobs/uploads/uuid', 'upload'],
    ['POST', '/v2/app/blobs/uploads/', 'upload'],
    ['PUT', '/npm/pkg', 'upload'],
    ['DELETE', '/raw/a/b.txt', 'upload'],
    ['GET', '/npm/lodash', 'general'],
    ['GET', '/metrics', 'general'],
    ['GET', '/health', undefined],
    ['HEAD', '/ready', undefined],
    ['POST', '/health', undefined],
  ];
  for (const [method, path, tier] of cases) {
    assert.equal(classifyRequest(method, path), tier, `${method} ${path}`);
  }
});

const settings = {
  enabled: true,
  auth_rps: 1,
  auth_burst: 2,
  upload_rps: 1,
  upload_burst: 3,
  general_rps: 1,
  general_burst: 4,
};

test('each tier has its own bucket per address; refusal is TOO_MANY_REQUESTS with Retry-After', () => {
  let now = 0;
  const limiter = new RateLimiter(settings, { now: () => now });
  for (let i = 0; i < 2; i++) limiter.check('auth', '1.1.1.1');
  // The auth tier is empty, the others are not.
  for (let i = 0; i < 4; i++) limiter.check('general', '1.1.1.1');
  for (let i = 0; i < 3; i++) limiter.check('upload', '1.1.1.1');
  for (const tier of ['auth', 'upload', 'general'] as const) {
    assert.throws(
      () => {
        limiter.check(tier, '1.1.1.1');
      },
      (err) =>
        isRegistryError(err) &&
        err.status === 429 &&
        err.headers?.['retry-after'] === '1' &&
        err.message.includes(tier),
    );
  }
  limiter.check('auth', '2.2.2.2');
  now += 1000;
  limiter.check('auth', '1.1.1.1');
});

test('configure (SIGHUP) applies new limits; disabled never refuses', () => {
  const limiter = new RateLimiter(settings, { now: () => 0 });
  for (let i = 0; i < 2; i++) limiter.check('auth', 'a');
  assert.throws(() => {
    limiter.check('auth', 'a');
  });
  limiter.configure({ ...settings, auth_burst: 10 });
  for (let i = 0; i < 10; i++) limiter.check('auth', 'a');
  limiter.configure({ ...settings, auth_burst: 10, enabled: false });
  for (let i = 0; i < 100; i++) limiter.check('auth', 'a');
  assert.equal(limiter.enabled, false);
});
