/**
 * A token NORA does not know, sent by cargo (trial 34: `cargo login anything` while auth was off,
 * then auth on): the 401's `errors[].detail`, which cargo prints, says how to get a token and
 * save it, as npm's saved anonymous token gets "run npm login". Without a token the 401 stays
 * as it was; a wrong password to the token API words its 401 as npm login does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody } from './fixtures.ts';

describe('cargo: a 401 for an unknown token says how to make one and cargo login', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: { cargo: { proxy: '' }, auth: { enabled: true, anonymous_read: false } },
    });
    assert.ok(
      await server.app.context.identity.users.create('bob', 'bob-pw-123', undefined, [
        'read',
        'write',
      ]),
    );
  });
  after(async () => {
    await server.close();
  });

  test('publish and index read with a made-up token: the hint in errors[].detail', async () => {
    for (const [method, url, body] of [
      ['PUT', `${server.url}/cargo/api/v1/crates/new`, await crateBody('hinted', '1.0.0')],
      ['GET', `${server.url}/cargo/index/hi/nt/hinted`, undefined],
    ] as const) {
      const answer = await fetch(url, {
        method,
        headers: { authorization: 'anything' },
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(answer.status, 401, url);
      const json = (await answer.json()) as { errors: { detail: string }[] };
      const detail = json.errors[0]?.detail ?? '';
      assert.match(detail, /^invalid credentials: NORA knows no such token/, detail);
      assert.match(detail, /nora token create/);
      assert.match(detail, /cargo login --registry <name>/);
    }
  });

  test('no token at all: no such hint (cargo is told to send one)', async () => {
    const answer = await fetch(`${server.url}/cargo/index/hi/nt/hinted`);
    assert.equal(answer.status, 401);
    assert.doesNotMatch(await answer.text(), /NORA knows no such token/);
  });

  test("POST /api/tokens with a wrong password: npm login's wording", async () => {
    const answer = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'wrong' }),
    });
    assert.equal(answer.status, 401);
    assert.match(await answer.text(), /incorrect username or password/);
  });
});
