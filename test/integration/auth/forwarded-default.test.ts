/**
 * Trial 35 (newB F1): with the default `[auth] trusted_proxies` (loopback, as NORA), a process on
 * the server's host can pick its client address with `X-Forwarded-For`: a `--cidr=10.0.0.0/8`
 * token answered 200 to `curl -H 'X-Forwarded-For: 10.1.2.3'` from 127.0.0.1. The default stays
 * (the production guide puts Caddy or nginx on the same host, sending X-Forwarded-For with no
 * setting: without it every client would share the proxy's lockout and rate limit), and what it
 * means is pinned here: loopback's X-Forwarded-For is the client; a client behind that proxy
 * cannot pick its address (the chain is read from the right, so a hop it writes itself on the
 * left is not taken); with `trusted_proxies = []` (no proxy on this host) loopback's header is
 * ignored, `--cidr` and the lockout hold, and the first such header is logged once, naming the
 * setting. Over real HTTP from 127.0.0.1, as curl sends it.
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

/**
 * The statuses of seven wrong Bearer tokens, each with another X-Forwarded-For (lockout cleared);
 * `hop(i)` is the header sent, `10.0.0.<i+1>` by default.
 */
async function sevenWrongTokens(
  server: TestServer,
  hop = (i: number) => `10.0.0.${i + 1}`,
): Promise<number[]> {
  server.app.context.access.lockout.clear();
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    statuses.push(await whoami(server, `nra_wrong${i}`, hop(i)));
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

const LOCKED_AFTER_FIVE = [401, 401, 401, 401, 401, 429, 429];

describe('default trusted_proxies: loopback, as NORA (a reverse proxy on this host)', () => {
  const lines: string[] = [];
  let server: TestServer;
  let token: string;
  before(async () => {
    ({ server, token } = await start(undefined, lines));
  });
  after(async () => {
    await server.close();
  });

  test('the default is 127.0.0.1 and ::1 (documented)', () => {
    assert.deepEqual(server.config.auth.trusted_proxies, ['127.0.0.1', '::1']);
  });

  test("a loopback peer's X-Forwarded-For is the client address, and nothing is logged", async () => {
    assert.equal(await whoami(server, token), 401);
    assert.equal(await whoami(server, token, '10.1.2.3'), 200);
    assert.deepEqual(untrustedNotices(lines), []);
  });

  test('failed logins count per forwarded client', async () => {
    assert.deepEqual(await sevenWrongTokens(server), [401, 401, 401, 401, 401, 401, 401]);
  });

  // nginx's `$proxy_add_x_forwarded_for` appends the client's address to what the client sent;
  // Caddy's `header_up X-Forwarded-For {remote}` replaces it. Only the rightmost hop is believed.
  test('a hop a client writes itself, left of the one the proxy appends, is not taken', async () => {
    assert.equal(await whoami(server, token, '10.1.2.3, 192.0.2.7'), 401);
    assert.equal(await whoami(server, token, '192.0.2.7, 10.1.2.3'), 200);
    assert.deepEqual(
      await sevenWrongTokens(server, (i) => `10.0.0.${i + 1}, 192.0.2.7`),
      LOCKED_AFTER_FIVE,
    );
  });
});

describe('trusted_proxies = [] (no proxy on this host)', () => {
  const lines: string[] = [];
  let server: TestServer;
  let token: string;
  before(async () => {
    ({ server, token } = await start([], lines));
  });
  after(async () => {
    await server.close();
  });

  test('X-Forwarded-For from a local process does not meet a --cidr limit', async () => {
    assert.equal(await whoami(server, token), 401);
    assert.equal(await whoami(server, token, '10.1.2.3'), 401);
  });

  test('wrong tokens with a new X-Forwarded-For each still meet the lockout', async () => {
    assert.deepEqual(await sevenWrongTokens(server), LOCKED_AFTER_FIVE);
  });

  test('the forwarded headers from the unlisted peer were logged once, naming the setting', () => {
    const notices = untrustedNotices(lines);
    assert.equal(notices.length, 1, lines.join(''));
    const notice = JSON.parse(notices[0]!) as { level: number; msg: string };
    assert.equal(notice.level, 40);
    assert.match(
      notice.msg,
      /^a request from (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1) carries X-Forwarded-For/,
    );
    assert.match(notice.msg, /NORA_AUTH_TRUSTED_PROXIES/);
  });
});

describe('the notice from an answer the memo gives (before Fastify)', () => {
  const lines: string[] = [];
  let server: TestServer;
  before(async () => {
    // Rate limits off: with them on, a request with X-Forwarded-For skips the memo.
    server = await startTestServer({
      config: { rate_limit: { enabled: false }, auth: { trusted_proxies: [] } },
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
