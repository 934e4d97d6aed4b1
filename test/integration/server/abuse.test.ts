/**
 * Abuse controls over HTTP (issue 12): per-address rate limits answered in each protocol's own
 * error format, failed-login lockout per address and per user (a known-good address keeps
 * working), probes that ignore credentials, /metrics behind `[auth] public_metrics`.
 * Client addresses are simulated with X-Forwarded-For: the test client is 127.0.0.1, a trusted
 * proxy by default.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(
  server: TestServer,
  path: string,
  from: string,
  init: { method?: string; authorization?: string; body?: string } = {},
) {
  const headers: Record<string, string> = { 'x-forwarded-for': from };
  if (init.authorization !== undefined) headers['authorization'] = init.authorization;
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * One token every 100 s: a bucket emptied by a test stays empty for the rest of it, however slowly
 * a loaded machine runs it. At 1/s, requests that took a second (eight from one curl, eleven
 * after a reload) saw a token come back and a 200 where the test wanted the 429.
 */
const LIMITS = {
  enabled: true,
  auth_rps: 0.01,
  auth_burst: 1,
  upload_rps: 0.01,
  upload_burst: 2,
  general_rps: 0.01,
  general_burst: 2,
};

/** A whole number of seconds, at most the 100 s one token takes here. */
function assertRetryAfter(value: string | null | undefined): void {
  assert.match(value ?? '', /^\d+$/);
  assert.ok(Number(value) >= 1 && Number(value) <= 100, `Retry-After ${String(value)}`);
}

describe('rate limits per client address', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { rate_limit: LIMITS, auth: { trusted_proxies: [...LOOPBACK_PROXY] } },
    });
  });
  after(async () => {
    await server.close();
  });

  test('OCI: 429 in the OCI envelope with code TOOMANYREQUESTS and Retry-After', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await get(server, '/v2/', '10.0.1.1')).status, 200);
    const refused = await get(server, '/v2/', '10.0.1.1');
    assert.equal(refused.status, 429);
    assertRetryAfter(refused.headers.get('retry-after'));
    const body = JSON.parse(refused.text) as { errors: [{ code: string; message: string }] };
    assert.equal(body.errors[0].code, 'TOOMANYREQUESTS');
    assert.match(body.errors[0].message, /too many requests/);
    // Another address is not affected.
    assert.equal((await get(server, '/v2/', '10.0.1.2')).status, 200);
  });

  test('npm: 429 as {error}; plain JSON elsewhere; probes are never limited', async () => {
    const from = '10.0.2.1';
    for (let i = 0; i < 2; i++) await get(server, '/npm/-/ping', from);
    const npm = await get(server, '/npm/-/ping', from);
    assert.equal(npm.status, 429);
    assert.ok(Number(npm.headers.get('retry-after')) >= 1);
    assert.match((JSON.parse(npm.text) as { error: string }).error, /too many requests/);
    const plain = await get(server, '/no/such/route', from);
    assert.equal(plain.status, 429);
    assert.match((JSON.parse(plain.text) as { error: string }).error, /general tier/);
    for (let i = 0; i < 20; i++) {
      assert.equal((await get(server, '/health', from)).status, 200);
      assert.equal((await get(server, '/ready', from)).status, 200);
    }
  });

  test('tiers: writes and credential routes have their own buckets', async () => {
    const from = '10.0.3.1';
    // Empty the general bucket: writes still pass (upload tier)…
    for (let i = 0; i < 3; i++) await get(server, '/npm/-/ping', from);
    const startUpload = () => get(server, '/v2/abuse/blobs/uploads/', from, { method: 'POST' });
    for (let i = 0; i < 2; i++) {
      const upload = await startUpload();
      assert.equal(upload.status, 202, upload.text);
    }
    // …until the upload bucket is empty too.
    const third = await startUpload();
    assert.equal(third.status, 429);
    assert.match(third.text, /upload tier/);
    // npm login is the auth tier: burst 1.
    const login = (who: string) =>
      get(server, `/npm/-/user/org.couchdb.user:${who}`, '10.0.3.2', {
        method: 'PUT',
        body: JSON.stringify({ name: who, password: 'pw' }),
      });
    assert.notEqual((await login('x')).status, 429);
    const second = await login('y');
    assert.equal(second.status, 429);
    assert.match(second.text, /auth tier/);
    // The refusals are counted per tier.
    const metrics = await get(server, '/metrics', '10.0.3.9');
    assert.match(metrics.text, /nora_rate_limited_total\{tier="upload"\} [1-9]/);
    assert.match(metrics.text, /nora_rate_limited_total\{tier="auth"\} [1-9]/);
    assert.match(metrics.text, /nora_rate_limited_total\{tier="general"\} [1-9]/);
  });

  test('IPv6 clients are counted by their /64', async () => {
    assert.equal((await get(server, '/npm/-/ping', '2001:db8:7:1::a')).status, 200);
    assert.equal((await get(server, '/npm/-/ping', '2001:db8:7:1::b')).status, 200);
    assert.equal((await get(server, '/npm/-/ping', '2001:db8:7:1:ffff::c')).status, 429);
    assert.equal((await get(server, '/npm/-/ping', '2001:db8:7:2::a')).status, 200);
  });

  test('a reload (SIGHUP) applies new limits', async () => {
    const from = '10.0.4.1';
    for (let i = 0; i < 2; i++) await get(server, '/npm/-/ping', from);
    assert.equal((await get(server, '/npm/-/ping', from)).status, 429);
    const { config: next } = parseConfigObject(
      { ...server.config, rate_limit: { ...LIMITS, general_burst: 10 } },
      {},
    );
    server.app.reload(next);
    for (let i = 0; i < 10; i++) {
      assert.notEqual((await get(server, '/npm/-/ping', from)).status, 429, `request ${i}`);
    }
    assert.equal((await get(server, '/npm/-/ping', from)).status, 429);
    server.app.reload(parseConfigObject({ ...server.config, rate_limit: LIMITS }, {}).config);
  });

  test(
    'curl hammering a small limit gets 429 with Retry-After',
    { skip: missingTools('curl') },
    async () => {
      // One curl process, eight requests on one connection, headers of each response printed.
      const urls = Array.from({ length: 8 }, () => ['-o', '/dev/null', `${server.url}/npm/-/ping`]);
      const result = await run('curl', [
        '-s',
        '-D',
        '-',
        '-H',
        'X-Forwarded-For: 10.0.5.1',
        ...urls.flat(),
      ]);
      const statuses = [...result.stdout.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => m[1]);
      assert.equal(statuses.length, 8, result.stdout);
      assert.deepEqual(statuses.slice(0, 2), ['200', '200']);
      assert.ok(
        statuses.slice(2).every((s) => s === '429'),
        statuses.join(' '),
      );
      assertRetryAfter(/^retry-after: (\d+)\r?$/im.exec(result.stdout)?.[1]);
    },
  );
});

describe('failed-login lockout and public system routes (auth enabled)', () => {
  let server: TestServer;
  let verifications = 0;
  before(async () => {
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          public_metrics: false,
          trusted_proxies: [...LOOPBACK_PROXY],
        },
      },
    });
    const users = server.app.context.identity.users;
    await users.create('alice', 'alice-password', undefined);
    await users.create('bob', 'bob-password', undefined);
    await users.create('carol', 'carol-password', undefined);
    // Count password verifications: a locked client must cost none.
    const verify = users.verify.bind(users);
    users.verify = async (name, password) => {
      verifications++;
      return verify(name, password);
    };
  });
  after(async () => {
    await server.close();
  });

  test('5 wrong passwords lock the address and the user; the known-good address still logs in', async () => {
    const home = '10.1.0.1';
    const attacker = '10.1.0.66';
    const ok = await get(server, '/npm/-/whoami', home, {
      authorization: basic('alice', 'alice-password'),
    });
    assert.equal(ok.status, 200, ok.text);
    for (let i = 0; i < 5; i++) {
      const wrong = await get(server, '/npm/-/whoami', attacker, {
        authorization: basic('alice', `guess-${i}`),
      });
      assert.equal(wrong.status, 401, `guess ${i}`);
    }
    // The attacker's address is locked, whatever it sends, before any hash is computed.
    const before = verifications;
    const locked = await get(server, '/npm/-/whoami', attacker, {
      authorization: basic('alice', 'alice-password'),
    });
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) >= 1);
    assert.match(locked.text, /too many failed logins from this address/);
    const oci = await get(server, '/v2/', attacker, { authorization: basic('bob', 'guess') });
    assert.equal(oci.status, 429);
    assert.match(oci.text, /"code":"TOOMANYREQUESTS"/);
    assert.equal(verifications, before, 'no password was verified for a locked address');
    const counted = await server.app.context.metrics.registry.getSingleMetricAsString(
      'nora_auth_lockout_refused_total',
    );
    assert.match(counted, /nora_auth_lockout_refused_total [1-9]/);
    // alice is locked from a fresh address…
    const fresh = await get(server, '/npm/-/whoami', '10.1.0.2', {
      authorization: basic('alice', 'alice-password'),
    });
    assert.equal(fresh.status, 429);
    assert.match(fresh.text, /for this user/);
    // …but not from where she has logged in before.
    const again = await get(server, '/npm/-/whoami', home, {
      authorization: basic('alice', 'alice-password'),
    });
    assert.equal(again.status, 200, again.text);
    // Other users are not affected.
    const bob = await get(server, '/npm/-/whoami', '10.1.0.3', {
      authorization: basic('bob', 'bob-password'),
    });
    assert.equal(bob.status, 200);
  });

  test('the lock lifts after its time, and a success resets the count', async () => {
    const from = '10.2.0.1';
    for (let i = 0; i < 5; i++) {
      await get(server, '/npm/-/whoami', from, { authorization: basic('carol', 'nope') });
    }
    assert.equal(
      (
        await get(server, '/npm/-/whoami', from, {
          authorization: basic('carol', 'carol-password'),
        })
      ).status,
      429,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const ok = await get(server, '/npm/-/whoami', from, {
      authorization: basic('carol', 'carol-password'),
    });
    assert.equal(ok.status, 200, ok.text);
    // Counting starts again: four failures do not lock.
    for (let i = 0; i < 4; i++) {
      await get(server, '/npm/-/whoami', from, { authorization: basic('carol', 'nope') });
    }
    const still = await get(server, '/npm/-/whoami', from, {
      authorization: basic('carol', 'carol-password'),
    });
    assert.equal(still.status, 200);
  });

  test('Bearer failures lock the address only', async () => {
    const from = '10.3.0.1';
    for (let i = 0; i < 5; i++) {
      const res = await get(server, '/npm/-/whoami', from, { authorization: `Bearer nope-${i}` });
      assert.equal(res.status, 401);
    }
    assert.equal(
      (await get(server, '/npm/-/whoami', from, { authorization: 'Bearer x' })).status,
      429,
    );
    const bob = await get(server, '/npm/-/whoami', '10.3.0.2', {
      authorization: basic('bob', 'bob-password'),
    });
    assert.equal(bob.status, 200);
  });

  test('passwords in request bodies (npm login, POST /api/tokens) count for the lockout too', async () => {
    await server.app.context.identity.users.create('dave', 'dave-password', undefined);
    const from = '10.9.0.1';
    const login = (password: string) =>
      fetch(`${server.url}/npm/-/user/org.couchdb.user:dave`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
        body: JSON.stringify({ name: 'dave', password }),
      });
    const tokens = (password: string) =>
      fetch(`${server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
        body: JSON.stringify({ username: 'dave', password, role: 'read' }),
      });
    for (let i = 0; i < 3; i++) assert.equal((await login('wrong')).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await tokens('wrong')).status, 401);
    const before = verifications;
    const locked = await tokens('dave-password');
    assert.equal(locked.status, 429, await locked.text());
    assert.ok(Number(locked.headers.get('retry-after')) >= 1);
    assert.equal((await login('dave-password')).status, 429);
    assert.equal(verifications, before, 'a locked client costs no password verification');
  });

  test('/health and /ready answer whatever Authorization is sent, even from a locked address', async () => {
    for (const authorization of [
      'Basic !!!garbage',
      basic('alice', 'wrong'),
      'Bearer nope',
      'Foo',
    ]) {
      for (const from of ['10.4.0.1', '10.1.0.66']) {
        assert.equal((await get(server, '/health', from, { authorization })).status, 200);
        assert.equal((await get(server, '/ready', from, { authorization })).status, 200);
      }
    }
  });

  test('/metrics with public_metrics = false: 401 anonymous, 200 with credentials', async () => {
    const anonymous = await get(server, '/metrics', '10.5.0.1');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.match((JSON.parse(anonymous.text) as { error: string }).error, /public_metrics/);
    const wrong = await get(server, '/metrics', '10.5.0.1', { authorization: basic('bob', 'x') });
    assert.equal(wrong.status, 401);
    const ok = await get(server, '/metrics', '10.5.0.2', {
      authorization: basic('bob', 'bob-password'),
    });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /nora_http_requests_total/);
  });
});

describe('public_metrics = true (the default) with auth enabled', () => {
  test('/metrics answers anonymous scrapes and ignores a wrong credential', async () => {
    await using server = await startTestServer({
      config: { auth: { enabled: true, trusted_proxies: [...LOOPBACK_PROXY] } },
    });
    assert.equal((await get(server, '/metrics', '10.6.0.1')).status, 200);
    const wrong = await get(server, '/metrics', '10.6.0.1', { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 200);
  });
});
