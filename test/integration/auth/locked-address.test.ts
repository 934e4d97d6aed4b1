/**
 * "A locked address is refused whatever it sends" (docs/auth.md, "Failed-login lockout"): found
 * by a new-user trial, requests WITHOUT credentials from an address locked after 5 failed logins
 * still got 200 (anonymous reads of a public repository), from Fastify's hooks and from the
 * answer memo before them. They get the 429 in each protocol's format now; /health and /ready
 * still answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(
  server: TestServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${server.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function memoHits(server: TestServer): Promise<number> {
  const text = await server.app.context.metrics.registry.getSingleMetricAsString(
    'nora_answer_memo_hits_total',
  );
  const line = text.split('\n').find((l) => l.startsWith('nora_answer_memo_hits_total'));
  return Number(line?.split(' ')[1] ?? 0);
}

/** Five failed logins from the test client's own address (127.0.0.1, no X-Forwarded-For). */
async function lockOwnAddress(server: TestServer): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const wrong = await get(server, '/npm/-/whoami', { authorization: `Bearer nra_wrong${i}` });
    assert.equal(wrong.status, 401, `failure ${i}`);
  }
}

describe('a locked address gets 429 without credentials too', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          public_metrics: true,
          trusted_proxies: [...LOOPBACK_PROXY],
        },
      },
    });
    await server.app.context.identity.users.create('alice', 'alice-password', undefined);
    const put = await fetch(`${server.url}/raw/pub/a.txt`, {
      method: 'PUT',
      headers: { authorization: basic('alice', 'alice-password') },
      body: 'public bytes',
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await server.close();
  });

  test('anonymous reads, npm and OCI are refused; /health, /ready and a public /metrics answer', async () => {
    server.app.context.access.lockout.clear();
    assert.equal((await get(server, '/raw/pub/a.txt')).status, 200);
    // A warm GET is a memo hit (kept ≤ 1 s): lock at once, then read again.
    const hits = await memoHits(server);
    assert.equal((await get(server, '/raw/pub/a.txt')).text, 'public bytes');
    assert.equal(await memoHits(server), hits + 1, 'the second read came from the memo');
    await lockOwnAddress(server);

    const raw = await get(server, '/raw/pub/a.txt');
    assert.equal(raw.status, 429, raw.text);
    assert.ok(Number(raw.headers.get('retry-after')) >= 1);
    assert.match(raw.text, /too many failed logins from this address/);
    assert.equal(await memoHits(server), hits + 1, 'no memo hit from a locked address');
    const head = await fetch(`${server.url}/raw/pub/a.txt`, { method: 'HEAD' });
    assert.equal(head.status, 429);

    const npm = await get(server, '/npm/left-pad');
    assert.equal(npm.status, 429);
    assert.match((JSON.parse(npm.text) as { error: string }).error, /too many failed logins/);
    const oci = await get(server, '/v2/');
    assert.equal(oci.status, 429);
    assert.equal(
      (JSON.parse(oci.text) as { errors: [{ code: string }] }).errors[0].code,
      'TOOMANYREQUESTS',
    );
    // A public /metrics is monitoring: answered, as /health and /ready are.
    assert.equal((await get(server, '/metrics')).status, 200);
    // An empty Basic credential is no credential: refused the same way.
    assert.equal(
      (await get(server, '/raw/pub/a.txt', { authorization: 'Basic Og==' })).status,
      429,
    );

    assert.equal((await get(server, '/health')).status, 200);
    assert.equal((await get(server, '/ready')).status, 200);

    // Another client behind the (trusted) local proxy is not locked.
    const other = await get(server, '/raw/pub/a.txt', { 'x-forwarded-for': '10.9.0.1' });
    assert.equal(other.status, 200);
    assert.equal(other.text, 'public bytes');
    const refusals = await server.app.context.metrics.registry.getSingleMetricAsString(
      'nora_auth_lockout_refused_total',
    );
    assert.match(refusals, /nora_auth_lockout_refused_total [1-9]/);
  });

  test('once the lock ends, anonymous reads answer again (memo included)', async () => {
    server.app.context.access.lockout.clear();
    for (let i = 0; i < 3; i++) {
      const res = await get(server, '/raw/pub/a.txt');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'public bytes');
    }
  });
});
