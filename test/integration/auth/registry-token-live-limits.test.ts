/**
 * Docker registry tokens (JWTs from `/v2/token`) are held at each use to what their credential
 * allows now (new-user trial 19):
 * - F4: a user taken out of `[auth] admin_users` (SIGHUP) loses admin in the registry tokens it
 *   already holds at the next request, as `read_only_users` caps them, not at their `exp`;
 * - F12: a registry token obtained with an API token limited to address ranges (its CIDR
 *   whitelist) works only from those ranges, as the API token itself does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  apiToken as makeApiToken,
  pushBlob as push,
  registryToken as token,
  reloadAuth,
  startTeamImagesServer,
} from '../../helpers/auth-server.ts';
import { basic } from '../../helpers/auth.ts';
import type { TestServer } from '../../helpers/server.ts';

describe('registry tokens follow what their credential allows now', () => {
  let server: TestServer;

  before(async () => {
    // adm/** of team-images is reserved: a rule naming nobody leaves it to admins.
    server = await startTeamImagesServer({ users: { alice: 'alice-pw-1', bob: 'bob-pw-1' } });
  });
  after(async () => {
    await server.close();
  });

  const registryToken = (authorization: string, image: string, from?: string) =>
    token(server, authorization, `team-images/${image}`, from);
  /** A monolithic blob push with `jwt`: its status and body. */
  const pushBlob = (jwt: string, image: string, content: string, from?: string) =>
    push(server, jwt, `team-images/${image}`, content, from);
  const apiToken = async (user: string, password: string, body: object, endpoint?: string) =>
    (await makeApiToken(server, basic(user, password), body, endpoint)).token;

  test('F4: an admin taken out of admin_users loses admin in the registry tokens it holds', async () => {
    const byPassword = await registryToken(basic('alice', 'alice-pw-1'), 'adm/y');
    const adminToken = await apiToken('alice', 'alice-pw-1', { role: 'admin', ttl_days: 1 });
    const byToken = await registryToken(basic('x', adminToken), 'adm/y');
    assert.equal((await pushBlob(byPassword, 'adm/y', 'admin 1')).status, 201);
    assert.equal((await pushBlob(byToken, 'adm/y', 'admin 2')).status, 201);

    await reloadAuth(server, { admin_users: [] });

    for (const [jwt, what] of [
      [byPassword, 'password'],
      [byToken, 'admin API token'],
    ] as const) {
      const refused = await pushBlob(jwt, 'adm/y', `after demotion ${what}`);
      assert.equal(refused.status, 401, `${what}: ${refused.text}`);
      assert.match(refused.text, /UNAUTHORIZED/);
      assert.match(refused.text, /alice may not write adm\/y in team-images/);
    }
    // Outside the reserved namespace alice keeps her own write.
    const own = await registryToken(basic('alice', 'alice-pw-1'), 'alice/app');
    assert.equal((await pushBlob(own, 'alice/app', 'own')).status, 201);

    // Listed again: the same tokens are admin again (the cap is read at each use).
    await reloadAuth(server, { admin_users: ['alice'] });
    assert.equal((await pushBlob(byPassword, 'adm/y', 'admin again')).status, 201);
  });

  test('F12: a registry token from a CIDR-limited API token works only from its ranges', async () => {
    // `npm token create --cidr=10.0.0.0/8`
    const limited = await apiToken(
      'bob',
      'bob-pw-1',
      { password: 'bob-pw-1', readonly: false, cidr_whitelist: ['10.0.0.0/8'] },
      '/npm/-/npm/v1/tokens',
    );
    const jwt = await registryToken(basic('x', limited), 'bob/c', '10.9.9.9');
    assert.equal((await pushBlob(jwt, 'bob/c', 'inside', '10.1.2.3')).status, 201);

    const outside = await pushBlob(jwt, 'bob/c', 'outside', '192.0.2.7');
    assert.equal(outside.status, 401, outside.text);
    assert.match(outside.text, /may only be used from 10\.0\.0\.0\/8/);
    // The test client's own address (127.0.0.1, no X-Forwarded-For) is outside too.
    assert.equal((await pushBlob(jwt, 'bob/c', 'loopback')).status, 401);
    // A registry token asked for with that registry token carries the limit as well.
    const chained = await registryToken(`Bearer ${jwt}`, 'bob/c', '10.4.4.4');
    assert.equal((await pushBlob(chained, 'bob/c', 'chained', '192.0.2.8')).status, 401);
    assert.equal((await pushBlob(chained, 'bob/c', 'chained in', '10.4.4.4')).status, 201);
  });
});
