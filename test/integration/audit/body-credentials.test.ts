/**
 * Requests whose credentials are in their body, not their headers (`POST /api/tokens` with
 * `username` and `password`, `npm login`): their audit line names the user who authenticated,
 * not `anonymous` (trial 28 newU F7).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAuthServer } from '../../helpers/auth-server.ts';
import { auditFile, untilEvents } from '../../e2e/audit/helpers.ts';

const PASSWORD = 'alice-pw-40961';

test('a token made with username and password in the body, and npm login, name that user as actor', async () => {
  await using server = await startAuthServer({
    users: { alice: PASSWORD },
    config: { audit: { actions: ['token-create', 'login-failed'] } },
  });
  const created = await fetch(`${server.url}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: PASSWORD, role: 'write' }),
  });
  assert.equal(created.status, 200, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const login = await fetch(`${server.url}/npm/-/user/org.couchdb.user:alice`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'alice', password: PASSWORD }),
  });
  assert.equal(login.status, 201, await login.text());

  const events = await untilEvents(auditFile(server), (all) => all.length >= 2);
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.actor}`),
    ['token-create alice', 'token-create alice'],
  );
  assert.equal(events[0]?.artifact, id);
});
