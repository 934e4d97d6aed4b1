/**
 * Trial 23 authx F4: on a read-only metadata database (a disk remounted `ro`, a read-only
 * replica), the first request of each API token — and again once a minute — answered 503 "the
 * metadata database is not writable": the token's `last_used_at` write failed the request it
 * authenticated. That write is bookkeeping: it is best-effort now, the read goes on, and the
 * failure is logged at warn once per minute (not once per request or per token). The database is
 * made read-only with SQLite's `query_only`, as test/integration/storage/storage-faults.test.ts
 * does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { apiToken, startAuthServer } from '../../helpers/auth-server.ts';
import { basic } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('API tokens on a read-only metadata database', () => {
  let server: TestServer;
  const lines: string[] = [];
  before(async () => {
    server = await startAuthServer({
      users: { alice: 'alicepw' },
      start: (options) =>
        startTestServer({
          ...options,
          logLevel: 'warn',
          logStream: { write: (line) => lines.push(line) },
        }),
    });
  });
  after(async () => {
    await server.close();
  });

  const lastUseWarnings = () =>
    lines.filter((line) => line.includes('could not record the last use of API token'));

  test('reads with a token go on (200); the failed last-used write is one warning', async () => {
    const alice = basic('alice', 'alicepw');
    const put = await fetch(`${server.url}/raw/pub/a.txt`, {
      method: 'PUT',
      headers: { authorization: alice },
      body: 'hi',
    });
    assert.equal(put.status, 201, await put.text());
    // Two tokens never used: each one's first request writes last_used_at.
    const first = await apiToken(server, alice, { role: 'read' });
    const second = await apiToken(server, alice, { role: 'read' });
    const db = server.app.context.db;
    await sql.raw('PRAGMA query_only = 1').execute(db);
    try {
      for (const { token } of [first, second, first]) {
        const bearer = await fetch(`${server.url}/raw/pub/a.txt`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(bearer.status, 200, await bearer.clone().text());
        assert.equal(await bearer.text(), 'hi');
      }
      // Basic with the token as the password takes the same path.
      const asPassword = await fetch(`${server.url}/raw/pub/a.txt`, {
        headers: { authorization: basic('x', first.token) },
      });
      assert.equal(asPassword.status, 200);
      const warnings = lastUseWarnings();
      assert.equal(warnings.length, 1, lines.join(''));
      const logged = JSON.parse(warnings[0] ?? '{}') as { level: number; msg: string };
      assert.equal(logged.level, 40);
      assert.match(logged.msg, /the request goes on/);
      assert.ok(!logged.msg.includes(first.token) && !logged.msg.includes(second.token));
      // Writes still answer 503 as before: only the bookkeeping is best-effort.
      const write = await fetch(`${server.url}/raw/pub/b.txt`, {
        method: 'PUT',
        headers: { authorization: alice },
        body: 'no',
      });
      assert.equal(write.status, 503, await write.text());
    } finally {
      await sql.raw('PRAGMA query_only = 0').execute(db);
    }
  });
});
