/**
 * The audit log with curl against raw, auth on (src/audit/): PUT, a second PUT (overwrite), GET
 * (the second answered by the answer memo), DELETE, a failed login and an API token, each one
 * line with the user as actor, and no secret in any line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { apiToken, startAuthServer } from '../../helpers/auth-server.ts';
import { basic } from '../../helpers/auth.ts';
import { curl } from '../../helpers/curl.ts';
import type { TestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';
import { auditFile, auditText, summary, untilEvents } from './helpers.ts';

const PASSWORD = 'alice-secret-pw-7731';

describe('audit log: curl on raw with auth on', { skip: missingTools('curl') }, () => {
  let server: TestServer;
  let file: string;

  before(async () => {
    server = await startAuthServer({
      users: { alice: PASSWORD },
      // Anonymous reads on: the answer memo answers only requests without credentials.
      auth: { anonymous_read: true },
      config: {
        raw: { immutable: false },
        audit: {
          actions: [
            'push',
            'pull',
            'delete',
            'overwrite',
            'cache_hit',
            'proxy_fetch',
            'token-create',
            'token-revoke',
            'login-failed',
          ],
        },
      },
    });
    file = auditFile(server);
  });

  after(async () => {
    await server.close();
  });

  test('push, overwrite, pull (twice, memo), delete, failed login, token: one line each', async () => {
    const url = `${server.url}/raw/team/app/build.txt`;
    const auth = ['-u', `alice:${PASSWORD}`];
    assert.equal((await curl([...auth, '-X', 'PUT', '--data-binary', 'one', url])).status, 201);
    assert.equal((await curl([...auth, '-X', 'PUT', '--data-binary', 'two', url])).status, 200);
    for (let i = 0; i < 2; i++) {
      const got = await curl([`${url}?token=query-secret-123`]);
      assert.equal(got.status, 200);
      assert.equal(got.body, 'two');
    }
    // The second GET was the answer memo's (before Fastify): recorded all the same.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^nora_answer_memo_hits_total 1$/m);
    const bad = await curl([
      '-u',
      'alice:wrong-password-55',
      '-X',
      'PUT',
      '--data-binary',
      'x',
      url,
    ]);
    assert.equal(bad.status, 401);
    const { token, id } = await apiToken(server, basic('alice', PASSWORD), { role: 'write' });
    assert.equal(
      (await curl(['-H', `Authorization: Bearer ${token}`, '-X', 'DELETE', url])).status,
      204,
    );

    const events = await untilEvents(file, (all) => all.some((e) => e.action === 'delete'));
    assert.deepEqual(summary(events), [
      'push alice team/app/build.txt',
      'overwrite alice team/app/build.txt',
      'pull anonymous team/app/build.txt',
      'pull anonymous team/app/build.txt',
      'login-failed alice team/app/build.txt',
      `token-create alice ${id}`,
      'delete alice team/app/build.txt',
    ]);
    const push = events.find((e) => e.action === 'push');
    assert.ok(push);
    assert.equal(push.registry, 'raw');
    assert.equal(push.repository, 'raw-hosted');
    assert.equal(push.format, 'raw');
    assert.equal(push.status, 201);
    assert.equal(push.method, 'PUT');
    assert.equal(push.client, '127.0.0.1');
    assert.match(push.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(events.find((e) => e.action === 'token-create')?.registry, 'system');

    // No credential of any kind, in any line.
    const text = await auditText(file);
    for (const secret of [
      PASSWORD,
      'wrong-password-55',
      token,
      'query-secret-123',
      'Basic ',
      'Bearer',
    ]) {
      assert.ok(!text.includes(secret), `the audit log holds ${secret}`);
    }
    // The feed the web UI reads: newest first, filtered by format.
    const recent = server.app.context.activity.recent(3, { format: 'raw' });
    assert.deepEqual(
      recent.map((e) => e.action),
      ['delete', 'login-failed', 'pull'],
    );
  });
});

describe('audit log: [audit] log = "off"', () => {
  test('writes no file; the activity feed still fills', async () => {
    const server = await startAuthServer({
      config: { audit: { log: 'off' } },
      auth: { enabled: false },
    });
    try {
      const url = `${server.url}/raw/off/file.txt`;
      assert.equal((await curl(['-X', 'PUT', '--data-binary', 'x', url])).status, 201);
      assert.equal((await curl([url])).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 700));
      await assert.rejects(fs.stat(auditFile(server)), { code: 'ENOENT' });
      assert.deepEqual(
        server.app.context.activity.recent().map((e) => e.action),
        ['pull', 'push'],
      );
    } finally {
      await server.close();
    }
  });
});
