/**
 * The access log says who did what from where: each request's line carries the client address
 * as NORA resolves it (`X-Forwarded-For` from a trusted proxy, else the socket peer), the
 * principal (`user`, `tokenId` for an API token, never the secret; `userTried` for a refused
 * Basic login of an existing user — never an unknown name, which may be a pasted password) and the user agent (at most 256 characters) — also for answers the answer memo
 * sends. A lock after failed logins is logged once per lock (address, user name tried when it is
 * a user's, failures, duration), never with the password; URLs stay redacted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { auditFile, untilEvents } from '../../e2e/audit/helpers.ts';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

type Line = Record<string, unknown>;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('access log: client, principal, user agent; lockout warnings', () => {
  let server: TestServer;
  let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };
  const raw: string[] = [];
  const lines = (): Line[] => raw.map((text) => JSON.parse(text) as Line);
  /** The access line of the request answered with this X-Request-Id. */
  const accessLine = (id: string): Line => {
    const found = lines().find((l) => l['msg'] === 'request' && l['reqId'] === id);
    assert.ok(found, `access line of ${id} in:\n${raw.join('')}`);
    return found;
  };
  let n = 0;
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const id = `access-log-${++n}`;
    const res = await fetch(`${server.url}${url}`, {
      headers: { 'x-request-id': id, 'user-agent': 'test-agent/1.0', ...headers },
    });
    await res.arrayBuffer();
    // The line is written once the answer is sent; wait for it (10 s bounds a failure only).
    const deadline = Date.now() + 10_000;
    while (!raw.some((t) => t.includes(`"reqId":"${id}"`)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { status: res.status, line: accessLine(id) };
  };

  before(async () => {
    dir = await tempDir('nora-access-log-');
    const file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      file,
      `alice:${bcrypt.hashSync('alice-pw', 4).replace(/^\$2b\$/, '$2y$')}\n`,
    );
    server = await startTestServer({
      // trusted_proxies: 127.0.0.1 and ::1, so the tests' X-Forwarded-For counts.
      config: {
        auth: { enabled: true, htpasswd_file: file, trusted_proxies: [...LOOPBACK_PROXY] },
      },
      logLevel: 'info',
      logStream: {
        write(line: string) {
          raw.push(line);
        },
      },
    });
    const put = await fetch(`${server.url}/raw/site/a.txt`, {
      method: 'PUT',
      body: 'hello',
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  test('a password login: client from X-Forwarded-For, the user, the user agent', async () => {
    const { status, line } = await get('/raw/site/a.txt', {
      authorization: basic('alice', 'alice-pw'),
      'x-forwarded-for': '203.0.113.7, 127.0.0.1',
    });
    assert.equal(status, 200);
    assert.equal(line['client'], '203.0.113.7');
    assert.equal(line['user'], 'alice');
    assert.equal(line['userAgent'], 'test-agent/1.0');
    assert.equal(line['tokenId'], undefined);
    assert.equal(line['status'], 200);
    assert.ok(!JSON.stringify(line).includes('alice-pw'));
  });

  test('an API token: the user and the token id, never the secret', async () => {
    const created = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice-pw' }),
    });
    const token = (await created.json()) as { token: string; id: string };
    assert.match(token.token, /^nra_/);
    const { line } = await get('/raw/site/a.txt', { authorization: `Bearer ${token.token}` });
    assert.equal(line['user'], 'alice');
    assert.equal(line['tokenId'], token.id);
    assert.equal(line['client'], '127.0.0.1');
    assert.ok(!raw.join('').includes(token.token.slice(4)), 'no log line holds the secret');
  });

  test('a Docker registry token: its subject and the credential it was issued from', async () => {
    const registryToken = async (authorization: string) => {
      const res = await fetch(`${server.url}/v2/token?service=nora&scope=repository:app:pull`, {
        headers: { authorization },
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { token: string }).token;
    };
    const fromPassword = await registryToken(basic('alice', 'alice-pw'));
    const byPassword = await get('/v2/app/tags/list', { authorization: `Bearer ${fromPassword}` });
    assert.equal(byPassword.line['user'], 'alice');
    assert.equal(byPassword.line['tokenFrom'], 'password');
    assert.equal(byPassword.line['tokenId'], undefined);

    const created = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice-pw' }),
    });
    const api = (await created.json()) as { token: string; id: string };
    const fromApi = await registryToken(basic('alice', api.token));
    // A registry token asked for with a registry token keeps what the first came from.
    const again = await registryToken(`Bearer ${fromApi}`);
    for (const token of [fromApi, again]) {
      const { line } = await get('/v2/app/tags/list', { authorization: `Bearer ${token}` });
      assert.equal(line['user'], 'alice');
      assert.equal(line['tokenFrom'], `api-token ${api.id}`);
      assert.equal(line['tokenId'], api.id);
    }
    assert.ok(!raw.join('').includes(fromPassword), 'no log line holds the registry token');

    // The audit events of a push and a pull with it name it too.
    const res = await fetch(`${server.url}/v2/token?service=nora&scope=repository:app:pull,push`, {
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    const pushToken = ((await res.json()) as { token: string }).token;
    const blob = Buffer.from('traced blob');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const pushed = await fetch(`${server.url}/v2/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pushToken}` },
      body: blob,
    });
    assert.equal(pushed.status, 201, await pushed.text());
    const pulled = await get(`/v2/app/blobs/${digest}`, { authorization: `Bearer ${pushToken}` });
    assert.equal(pulled.status, 200);
    const events = await untilEvents(auditFile(server), (all) =>
      all.some((e) => e.action === 'pull' && e.artifact.includes(digest)),
    );
    const traced = events.filter((e) => e.artifact.includes(digest));
    assert.deepEqual(
      traced.map((e) => `${e.action} ${e.actor} ${e.tokenFrom}`),
      ['push alice password', 'pull alice password'],
    );
  });

  test('anonymous, a long user agent cut at 256, a secret in the query redacted', async () => {
    const { line } = await get('/raw/site/a.txt?token=s3cr3t-value', {
      'user-agent': `agent/${'x'.repeat(1000)}`,
    });
    assert.equal(line['user'], 'anonymous');
    assert.equal(String(line['userAgent']).length, 256);
    assert.ok(!JSON.stringify(line).includes('s3cr3t-value'), JSON.stringify(line));
  });

  test('answers from the answer memo carry the same fields', async () => {
    await get('/raw/site/a.txt');
    const hits = async () =>
      Number(
        /^nora_answer_memo_hits_total (\S+)$/m.exec(
          await (await fetch(`${server.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const before = await hits();
    const { line } = await get('/raw/site/a.txt', {
      'x-forwarded-for': '192.0.2.44',
    });
    assert.equal(await hits(), before + 1, 'answered from the memo');
    assert.equal(line['client'], '192.0.2.44');
    assert.equal(line['user'], 'anonymous');
    assert.equal(line['userAgent'], 'test-agent/1.0');
  });

  test('failed logins of an unknown name: counted, locked, but the name is never logged', async () => {
    // Users paste passwords into the user field: a name that is no user's may be a password.
    const from = { 'x-forwarded-for': '198.51.100.9' };
    for (let i = 1; i <= 5; i++) {
      const { status, line } = await get('/raw/site/a.txt', {
        ...from,
        authorization: basic('Hunter2-pasted', `wrong-pw-${i}`),
      });
      assert.equal(status, 401);
      assert.equal(line['client'], '198.51.100.9');
      assert.equal(line['userTried'], undefined);
      assert.equal(line['user'], undefined);
    }
    const locked = await get('/raw/site/a.txt', {
      ...from,
      authorization: basic('Hunter2-pasted', 'wrong-pw-6'),
    });
    assert.equal(locked.status, 429);
    assert.equal(locked.line['client'], '198.51.100.9');
    const warnings = lines().filter((l) => l['lockout'] !== undefined);
    assert.deepEqual(
      warnings.map((l) => [l['level'], l['lockout'], l['client'], l['user'], l['unknownUser']]),
      [
        [40, 'address', '198.51.100.9', undefined, true],
        [40, 'user', '198.51.100.9', undefined, true],
      ],
    );
    assert.match(
      String(warnings[0]?.['msg']),
      /address 198\.51\.100\.9 locked for 1 s after 5 consecutive failures \(last user name tried: an unknown user, name not logged\)/,
    );
    assert.match(
      String(warnings[1]?.['msg']),
      /^failed logins: an unknown user \(name not logged\) locked for 1 s after 5 consecutive failures/,
    );
    assert.ok(!raw.join('').includes('Hunter2'), 'the unknown name is in no line');
    assert.ok(!raw.join('').includes('wrong-pw'), 'no password in any line');
  });

  test('failed logins of an existing user: userTried on each 401, the lock names the user', async () => {
    const from = { 'x-forwarded-for': '198.51.100.10' };
    for (let i = 1; i <= 5; i++) {
      const { status, line } = await get('/raw/site/a.txt', {
        ...from,
        authorization: basic('alice', `bad-pw-${i}`),
      });
      assert.equal(status, 401);
      assert.equal(line['userTried'], 'alice');
      assert.equal(line['user'], undefined);
    }
    const warnings = lines().filter(
      (l) => l['lockout'] !== undefined && l['client'] === '198.51.100.10',
    );
    assert.deepEqual(
      warnings.map((l) => [l['lockout'], l['user'], l['unknownUser'], l['failures']]),
      [
        ['address', 'alice', undefined, 5],
        ['user', 'alice', undefined, 5],
      ],
    );
    for (const warning of warnings) {
      assert.equal(warning['lockSeconds'], 1);
      assert.match(String(warning['msg']), /locked for 1 s after 5 consecutive failures/);
    }
    assert.match(String(warnings[0]?.['msg']), /\(last user name tried: "alice"\)/);
    assert.ok(!raw.join('').includes('bad-pw'), 'no password in any line');
    // alice is locked now (except from addresses she logged in from): later tests log in from
    // 127.0.0.1, where she has.
    server.app.context.access.lockout.clear();
  });

  test('without a trusted proxy, X-Forwarded-For is ignored (the socket peer is logged)', async () => {
    server.app.reload({ ...server.config, auth: { ...server.config.auth, trusted_proxies: [] } });
    try {
      const { line } = await get('/raw/site/a.txt', { 'x-forwarded-for': '192.0.2.99' });
      assert.equal(line['client'], '127.0.0.1');
    } finally {
      server.app.reload(server.config);
    }
  });
});
