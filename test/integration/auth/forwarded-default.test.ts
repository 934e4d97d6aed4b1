/**
 * Trial 35 (newB F1): the default `[auth] trusted_proxies` was loopback, so any process on the
 * server's host could pick its client address with `X-Forwarded-For`: a `--cidr=10.0.0.0/8`
 * token answered 200 to `curl -H 'X-Forwarded-For: 10.1.2.3'` from 127.0.0.1, and wrong tokens
 * sent with a new X-Forwarded-For each never met the failed-login lockout. The default trusts no
 * proxy now: forwarded headers count only from listed peers, and the first one from an unlisted
 * peer is logged once, naming the setting a reverse-proxy deployment needs. Over real HTTP from
 * 127.0.0.1, as curl sends it; both ways (default, and loopback listed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A server with auth on, alice in the store, and a token of alice's limited to 10.0.0.0/8. */
async function start(
  trustedProxies: readonly string[] | undefined,
  lines: string[],
): Promise<{ server: TestServer; token: string }> {
  const server = await startTestServer({
    config: {
      auth: {
        enabled: true,
        anonymous_read: false,
        ...(trustedProxies === undefined ? {} : { trusted_proxies: [...trustedProxies] }),
      },
    },
    logLevel: 'info',
    logStream: { write: (line: string) => void lines.push(line) },
  });
  await server.app.context.identity.users.create('alice', 'alicepw', undefined);
  // As `npm token create --cidr=10.0.0.0/8` sends it (the password again in the body).
  const res = await fetch(`${server.url}/npm/-/npm/v1/tokens`, {
    method: 'POST',
    headers: { authorization: basic('alice', 'alicepw'), 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'alicepw', cidr_whitelist: ['10.0.0.0/8'] }),
  });
  assert.ok(res.ok, String(res.status));
  const { token } = (await res.json()) as { token: string };
  return { server, token };
}

const whoami = async (server: TestServer, token: string, forwardedFor?: string) =>
  (
    await fetch(`${server.url}/npm/-/whoami`, {
      headers: {
        authorization: `Bearer ${token}`,
        ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
      },
    })
  ).status;

/** The statuses of seven wrong Bearer tokens, each with another X-Forwarded-For (lockout cleared). */
async function sevenWrongTokens(server: TestServer): Promise<number[]> {
  server.app.context.access.lockout.clear();
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    statuses.push(await whoami(server, `nra_wrong${i}`, `10.0.0.${i + 1}`));
  }
  server.app.context.access.lockout.clear();
  return statuses;
}

async function memoHits(server: TestServer): Promise<number> {
  const text = await server.app.context.metrics.registry.getSingleMetricAsString(
    'nora_answer_memo_hits_total',
  );
  const line = text.split('\n').find((l) => l.startsWith('nora_answer_memo_hits_total'));
  return Number(line?.split(' ')[1] ?? 0);
}

const untrustedNotices = (lines: readonly string[]) =>
  lines.filter((line) => line.includes('is not in [auth] trusted_proxies'));

describe('default trusted_proxies: no proxy trusted (trial 35 newB F1)', () => {
  const lines: string[] = [];
  let server: TestServer;
  let token: string;
  before(async () => {
    ({ server, token } = await start(undefined, lines));
  });
  after(async () => {
    await server.close();
  });

  test('the default is empty', () => {
    assert.deepEqual(server.config.auth.trusted_proxies, []);
  });

  test('X-Forwarded-For from a local process does not meet a --cidr limit', async () => {
    assert.equal(await whoami(server, token), 401);
    assert.equal(await whoami(server, token, '10.1.2.3'), 401);
  });

  test('the first forwarded header from an unlisted peer is logged once, naming the setting', async () => {
    await whoami(server, token, '10.1.2.4');
    const notices = untrustedNotices(lines);
    assert.equal(notices.length, 1, lines.join(''));
    const notice = JSON.parse(notices[0]!) as { level: number; msg: string };
    assert.equal(notice.level, 40);
    assert.match(notice.msg, /X-Forwarded-For/);
    assert.match(notice.msg, /127\.0\.0\.1|::1/);
    assert.match(notice.msg, /NORA_AUTH_TRUSTED_PROXIES/);
  });

  test('wrong tokens with a new X-Forwarded-For each still meet the lockout', async () => {
    assert.deepEqual(await sevenWrongTokens(server), [401, 401, 401, 401, 401, 429, 429]);
  });
});

describe('trusted_proxies = loopback (a reverse proxy on the same host)', () => {
  const lines: string[] = [];
  let server: TestServer;
  let token: string;
  before(async () => {
    ({ server, token } = await start(['127.0.0.1', '::1'], lines));
  });
  after(async () => {
    await server.close();
  });

  test("the proxy's X-Forwarded-For is the client address, and nothing is logged", async () => {
    assert.equal(await whoami(server, token), 401);
    assert.equal(await whoami(server, token, '10.1.2.3'), 200);
    assert.deepEqual(untrustedNotices(lines), []);
  });

  test('failed logins count per forwarded client', async () => {
    assert.deepEqual(await sevenWrongTokens(server), [401, 401, 401, 401, 401, 401, 401]);
  });
});

describe('the notice from an answer the memo gives (before Fastify)', () => {
  const lines: string[] = [];
  let server: TestServer;
  before(async () => {
    // Rate limits off: with them on, a request with X-Forwarded-For skips the memo.
    server = await startTestServer({
      config: { rate_limit: { enabled: false } },
      logLevel: 'info',
      logStream: { write: (line: string) => void lines.push(line) },
    });
    const put = await fetch(`${server.url}/raw/site/a.txt`, { method: 'PUT', body: 'kept' });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await server.close();
  });

  test('a memo hit carrying X-Forwarded-For from an unlisted peer is logged', async () => {
    const url = `${server.url}/raw/site/a.txt`;
    assert.equal(await (await fetch(url)).text(), 'kept');
    const hits = await memoHits(server);
    const hit = await fetch(url, { headers: { 'x-forwarded-for': '10.1.2.3' } });
    assert.equal(await hit.text(), 'kept');
    assert.equal(await memoHits(server), hits + 1, 'the second read came from the memo');
    assert.equal(untrustedNotices(lines).length, 1, lines.join(''));
  });
});
