/**
 * config.json's `auth-required` follows whether anonymous clients may read every crate, not
 * whether they may read *some* crate (trial 21 authx F4): with `[auth] anonymous_read = false`
 * and docs/cargo.md's anonymous read rule on `corp-*`, config.json left auth-required out, cargo
 * sent no token, and every token holder got 401 on every other crate (its text blaming a rule
 * that did not exist and advising the setting already made).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const CORP_RULES = [
  {
    repositories: ['cargo'],
    paths: ['corp-*'],
    users: ['carol'],
    actions: ['read', 'write'],
  },
  // docs/cargo.md's rule keeping the reserved crates readable without a token.
  { repositories: ['cargo'], paths: ['corp-*'], anonymous: true, actions: ['read'] },
];

async function configJson(server: TestServer, mount = '/cargo'): Promise<Record<string, unknown>> {
  const answer = await fetch(`${server.url}${mount}/index/config.json`);
  assert.equal(answer.status, 200);
  return (await answer.json()) as Record<string, unknown>;
}

describe('cargo config.json: auth-required with anonymous_read = false and an anonymous rule on some crates', () => {
  let server: TestServer;
  let bobToken: string;

  before(async () => {
    server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: { enabled: true, anonymous_read: false, rules: CORP_RULES },
      },
    });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('bob', 'bob-pw-123', undefined, ['read', 'write']));
    bobToken = (await tokens.create('bob', { role: 'write' })).secret;
  });
  after(async () => {
    await server.close();
  });

  test('config.json says auth-required, at the group and at its member', async () => {
    assert.equal((await configJson(server))['auth-required'], true);
    assert.equal((await configJson(server, '/repository/cargo-hosted'))['auth-required'], true);
  });

  test('a token holder reads a crate no rule names; anonymous clients still read corp-*', async () => {
    // 404 (no such crate), not 401: the token is accepted and nothing reserves foo-bob.
    const withToken = await fetch(`${server.url}/cargo/index/fo/o-/foo-bob`, {
      headers: { authorization: bobToken },
    });
    assert.equal(withToken.status, 404, await withToken.text());
    const anonymous = await fetch(`${server.url}/cargo/index/fo/o-/foo-bob`);
    const body = await anonymous.text();
    assert.equal(anonymous.status, 401);
    // The bare refusal: no "a rule reserves it", no advice to set what is already set.
    assert.doesNotMatch(body, /a rule reserves it|anonymous_read = false/);
    assert.match(body, /authentication required to read foo-bob in cargo/);
    assert.equal((await fetch(`${server.url}/cargo/index/co/rp/corp-x`)).status, 404);
  });
});

describe('cargo config.json: auth-required off where anonymous clients read every crate no rule reserves', () => {
  test('anonymous_read = false and an anonymous rule over all crates: no auth-required', async () => {
    const server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [
            // On the member: the group's anonymous rule does not open what it reserves.
            { ...CORP_RULES[0], repositories: ['cargo-hosted'] },
            { repositories: ['cargo'], anonymous: true, actions: ['read'] },
          ],
        },
      },
    });
    try {
      assert.equal((await configJson(server))['auth-required'], undefined);
      // corp-x is carol's (reserved by her rule on the member): the 401 explains, with advice
      // fitting this set-up.
      const answer = await fetch(`${server.url}/cargo/index/co/rp/corp-x`);
      const body = await answer.text();
      assert.equal(answer.status, 401, body);
      assert.match(
        body,
        /a rule reserves it, but anonymous clients may read the other crates of cargo, so its config\.json does not say auth-required/,
      );
      assert.doesNotMatch(body, /set anonymous_read = false/);
      assert.match(body, /a rule with anonymous = true over all its crates/);
    } finally {
      await server.close();
    }
  });

  // Trial 23: `paths = ["*"]` covers every crate (names have no "/") as `**` does, but only `**`
  // counted as "all crates": config.json said auth-required though anonymous clients read them all.
  for (const paths of [['*'], ['**']]) {
    test(`anonymous_read = false and an anonymous rule with paths = ${JSON.stringify(paths)}: no auth-required`, async () => {
      const server = await startTestServer({
        config: {
          cargo: { proxy: '' },
          auth: {
            enabled: true,
            anonymous_read: false,
            rules: [{ repositories: ['cargo'], paths, anonymous: true, actions: ['read'] }],
          },
        },
      });
      try {
        assert.equal((await configJson(server))['auth-required'], undefined);
        assert.equal(
          (await configJson(server, '/repository/cargo-hosted'))['auth-required'],
          undefined,
        );
        // What config.json promises holds: an anonymous read of any crate is no 401.
        assert.equal((await fetch(`${server.url}/cargo/index/fo/o-/foo-bob`)).status, 404);
      } finally {
        await server.close();
      }
    });
  }

  test('a rule owning every crate with paths = ["*"] for carol: auth-required, anonymous_read on', async () => {
    const server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [{ repositories: ['cargo'], paths: ['*'], users: ['carol'], actions: ['read'] }],
        },
      },
    });
    try {
      assert.equal((await fetch(`${server.url}/cargo/index/fo/o-/foo-bob`)).status, 401);
      assert.equal((await configJson(server))['auth-required'], true);
    } finally {
      await server.close();
    }
  });

  test('anonymous_read = true and a rule reserving some crates: no auth-required (as before)', async () => {
    const server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: { enabled: true, anonymous_read: true, rules: [CORP_RULES[0]] },
      },
    });
    try {
      assert.equal((await configJson(server))['auth-required'], undefined);
    } finally {
      await server.close();
    }
  });
});
