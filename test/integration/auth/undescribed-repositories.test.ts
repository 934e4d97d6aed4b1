/**
 * Running repositories a reload does not describe (trial 23 authx F9; the SIGHUP itself:
 * renamed-repository-reload.test.ts): one whose format or kind the file changed is closed to all
 * but admins as a renamed one is; a glob of the reloaded rules matching its name does not reopen
 * it; it keeps its running `[[repositories]]` entry, while a repository the file still describes
 * takes its new settings in the same reload; a group whose members alone changed is not closed
 * (the running group graph keeps deciding, as before).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { startAuthServer } from '../../helpers/auth-server.ts';
import type { TestServer } from '../../helpers/server.ts';

const basic = (user: string): string =>
  `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`;

const PRIVATE = { name: 'private-raw', format: 'raw', kind: 'hosted', anonymous_read: false };
const PUBLIC = { name: 'pub-raw', format: 'raw', kind: 'hosted' };
const SHARED = { name: 'shared-raw', format: 'raw', kind: 'hosted' };
const TEAM = { name: 'team-raw', format: 'raw', kind: 'group', members: ['pub-raw', 'shared-raw'] };
const ALL = { name: 'all-raw', format: 'raw', kind: 'group', members: ['private-raw', 'pub-raw'] };
const BOB_RULE = { repositories: ['private-raw'], users: ['bob'], actions: ['read', 'write'] };

async function start(): Promise<TestServer> {
  const server = await startAuthServer({
    auth: { anonymous_read: true, rules: [BOB_RULE] },
    config: { repositories: [PRIVATE, PUBLIC, SHARED, TEAM, ALL] },
    users: { bob: 'bob-pw', carol: 'carol-pw' },
  });
  await server.app.context.identity.users.create('root', 'root-pw', undefined, ['admin']);
  for (const [repo, file] of [
    ['private-raw', 's.txt'],
    ['pub-raw', 'p.txt'],
    ['shared-raw', 'h.txt'],
  ] as const) {
    const res = await server.app.fastify.inject({
      method: 'PUT',
      url: `/repository/${repo}/${file}`,
      headers: { authorization: basic(repo === 'private-raw' ? 'bob' : 'root') },
      payload: 'x',
    });
    assert.equal(res.statusCode, 201, res.body);
  }
  return server;
}

/** The running configuration with `repositories` and `rules` as a reloaded file says them. */
function reload(
  server: TestServer,
  repositories: Record<string, unknown>[],
  rules: Record<string, unknown>[],
): string[] {
  const { config } = parseConfigObject(
    { auth: { enabled: true, anonymous_read: true, rules }, repositories },
    {},
  );
  return server.app.reload({
    ...server.app.context.config(),
    auth: { ...server.app.context.config().auth, rules: config.auth.rules },
    repositories: config.repositories,
  });
}

/** The refusal's message, whatever shape the body has (raw answers JSON `{ error }`). */
function message(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; errors?: { message?: unknown }[] };
    if (typeof parsed.error === 'string') return parsed.error;
    const first = parsed.errors?.[0]?.message;
    if (typeof first === 'string') return first;
  } catch {
    // not JSON: the body is the message
  }
  return body.trim();
}

async function get(server: TestServer, url: string, user?: string): Promise<number> {
  const res = await server.app.fastify.inject({
    method: 'GET',
    url,
    headers: user === undefined ? {} : { authorization: basic(user) },
  });
  return res.statusCode;
}

describe('running repositories a reload does not describe', () => {
  let server: TestServer;
  before(async () => {
    server = await start();
  });
  after(async () => {
    await server.close();
  });

  test('another kind in the file: closed to all but admins; a glob rule matching it does not reopen it', async () => {
    // The file makes private-raw a public proxy, with a rule opening every repository to reads.
    const restart = reload(
      server,
      [
        { ...PRIVATE, kind: 'proxy', anonymous_read: true, upstreams: ['http://127.0.0.1:9/'] },
        PUBLIC,
        SHARED,
        TEAM,
        ALL,
      ],
      [{ repositories: ['*'], anonymous: true, actions: ['read'] }],
    );
    assert.deepEqual(restart, ['repositories']);
    assert.equal(await get(server, '/repository/private-raw/s.txt'), 401);
    assert.equal(await get(server, '/repository/private-raw/s.txt', 'bob'), 403);
    assert.equal(await get(server, '/repository/private-raw/s.txt', 'carol'), 403);
    assert.equal(await get(server, '/repository/private-raw/s.txt', 'root'), 200);
    const refusal = await server.app.fastify.inject({
      method: 'PUT',
      url: '/repository/private-raw/c.txt',
      headers: { authorization: basic('carol') },
      payload: 'x',
    });
    assert.equal(refusal.statusCode, 403);
    assert.match(
      message(refusal.body),
      /^carol may not write c\.txt in private-raw: private-raw is a raw proxy repository in the reloaded configuration, a raw hosted one while running, so it is closed to non-admins until the server restarts, and carol is not an admin$/,
    );
    // Through a running group containing it: closed too.
    assert.equal(await get(server, '/repository/all-raw/p.txt'), 401);
    assert.equal(await get(server, '/repository/all-raw/s.txt', 'carol'), 403);
    assert.equal(await get(server, '/repository/all-raw/s.txt', 'root'), 200);
    // An admin's API token with a read-only role: refused, and the refusal says it is the
    // token's role, not that admins are refused (trial 25 devD F2: "root may not read").
    const { tokens } = server.app.context.identity;
    const readToken = await tokens.create('root', { role: 'read', description: 'root read' });
    const adminToken = await tokens.create('root', { role: 'admin', description: 'root admin' });
    const asToken = (secret: string, url: string) =>
      server.app.fastify.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${secret}` },
      });
    const byToken = await asToken(readToken.secret, '/repository/private-raw/s.txt');
    assert.equal(byToken.statusCode, 403, byToken.body);
    assert.match(
      message(byToken.body),
      /^this API token of root may not read s\.txt in private-raw: private-raw is a raw proxy repository in the reloaded configuration, a raw hosted one while running, so it is closed to non-admins until the server restarts, and the token's role is read, not admin \(a token is held to its role, whatever its user's\)$/,
    );
    const throughGroup = await asToken(readToken.secret, '/repository/all-raw/s.txt');
    assert.equal(throughGroup.statusCode, 403, throughGroup.body);
    assert.match(
      message(throughGroup.body),
      /^this API token of root may not read s\.txt in all-raw: its member private-raw is a raw proxy repository in the reloaded configuration, a raw hosted one while running, so all-raw is closed to non-admins until the server restarts, and the token's role is read, not admin/,
    );
    assert.equal(
      (await asToken(adminToken.secret, '/repository/private-raw/s.txt')).statusCode,
      200,
    );
    // The other repositories follow the reloaded rule.
    assert.equal(await get(server, '/repository/pub-raw/p.txt'), 200);
    // private-raw keeps its running entry (anonymous_read = false), not the file's.
    assert.deepEqual(
      server.app.context.config().repositories.find((r) => r.name === 'private-raw'),
      parseConfigObject({ repositories: [PRIVATE] }, {}).config.repositories[0],
    );
  });

  test('removed: closed, while a described repository takes its new settings in the same reload; a regrouped group stays open', async () => {
    // private-raw is gone from the file (and from all-raw's members); pub-raw closes to anonymous
    // reads; team-raw drops shared-raw (a change of members only).
    const restart = reload(
      server,
      [
        { ...PUBLIC, anonymous_read: false },
        SHARED,
        { ...TEAM, members: ['pub-raw'] },
        { ...ALL, members: ['pub-raw'] },
      ],
      [],
    );
    assert.deepEqual(restart, ['repositories']);
    assert.equal(await get(server, '/repository/private-raw/s.txt'), 401);
    assert.equal(await get(server, '/repository/private-raw/s.txt', 'bob'), 403);
    assert.equal(await get(server, '/repository/private-raw/s.txt', 'root'), 200);
    // Kept from the run before (the file no longer has it), not dropped.
    assert.equal(
      server.app.context.config().repositories.find((r) => r.name === 'private-raw')
        ?.anonymous_read,
      false,
    );
    // pub-raw: the file's anonymous_read = false applies at once.
    assert.equal(await get(server, '/repository/pub-raw/p.txt'), 401);
    assert.equal(await get(server, '/repository/pub-raw/p.txt', 'carol'), 200);
    // all-raw still reads from private-raw until the restart: closed.
    assert.equal(await get(server, '/repository/all-raw/p.txt', 'carol'), 403);
    // team-raw (members changed, none closed) keeps answering from its running members.
    assert.equal(await get(server, '/repository/team-raw/h.txt', 'carol'), 200);
  });
});
