/**
 * Docker registry tokens (JWTs from `/v2/token`) are held at each use to what their credential
 * allows now (new-user trial 19):
 * - F4: a user taken out of `[auth] admin_users` (SIGHUP) loses admin in the registry tokens it
 *   already holds at the next request, as `read_only_users` caps them, not at their `exp`;
 * - F12: a registry token obtained with an API token limited to address ranges (its CIDR
 *   whitelist) works only from those ranges, as the API token itself does.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import type { TestServer } from '../../helpers/server.ts';
import { startOciServer } from '../oci/helpers.ts';

describe('registry tokens follow what their credential allows now', () => {
  let server: TestServer;

  before(async () => {
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          admin_users: ['alice'],
          docker_token_ttl: 3600,
          // adm/** of team-images is reserved: a rule naming nobody leaves it to admins.
          rules: [
            rule({
              repositories: ['team-images'],
              paths: ['adm/**'],
              actions: ['read', 'write', 'delete'],
            }),
          ],
        },
        repositories: [{ name: 'team-images', format: 'docker', kind: 'hosted' }],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
  });
  after(async () => {
    await server.close();
  });

  async function registryToken(
    authorization: string,
    image: string,
    from?: string,
  ): Promise<string> {
    const res = await fetch(
      `${server.url}/v2/token?service=nora&scope=repository:team-images/${image}:pull,push`,
      { headers: { authorization, ...(from === undefined ? {} : { 'x-forwarded-for': from }) } },
    );
    const body = (await res.json()) as { token: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.token;
  }

  /** A monolithic blob push with `jwt`: its status and body. */
  async function pushBlob(
    jwt: string,
    image: string,
    content: string,
    from?: string,
  ): Promise<{ status: number; text: string }> {
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const res = await fetch(
      `${server.url}/v2/team-images/${image}/blobs/uploads/?digest=${digest}`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${jwt}`,
          'content-type': 'application/octet-stream',
          ...(from === undefined ? {} : { 'x-forwarded-for': from }),
        },
        body: content,
      },
    );
    return { status: res.status, text: await res.text() };
  }

  async function apiToken(
    user: string,
    password: string,
    body: object,
    endpoint = '/api/tokens',
  ): Promise<string> {
    const res = await fetch(`${server.url}${endpoint}`, {
      method: 'POST',
      headers: { authorization: basic(user, password), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { token: string };
    assert.equal(res.status, 200, JSON.stringify(json));
    return json.token;
  }

  test('F4: an admin taken out of admin_users loses admin in the registry tokens it holds', async () => {
    const byPassword = await registryToken(basic('alice', 'alice-pw-1'), 'adm/y');
    const adminToken = await apiToken('alice', 'alice-pw-1', { role: 'admin', ttl_days: 1 });
    const byToken = await registryToken(basic('x', adminToken), 'adm/y');
    assert.equal((await pushBlob(byPassword, 'adm/y', 'admin 1')).status, 201);
    assert.equal((await pushBlob(byToken, 'adm/y', 'admin 2')).status, 201);

    server.app.reload({ ...server.config, auth: { ...server.config.auth, admin_users: [] } });
    await server.app.context.identity.settled();

    for (const [jwt, what] of [
      [byPassword, 'password'],
      [byToken, 'admin API token'],
    ] as const) {
      const refused = await pushBlob(jwt, 'adm/y', `after demotion ${what}`);
      assert.equal(refused.status, 403, `${what}: ${refused.text}`);
      assert.match(refused.text, /DENIED/);
      assert.match(refused.text, /alice may not write adm\/y in team-images/);
    }
    // Outside the reserved namespace alice keeps her own write.
    const own = await registryToken(basic('alice', 'alice-pw-1'), 'alice/app');
    assert.equal((await pushBlob(own, 'alice/app', 'own')).status, 201);

    // Listed again: the same tokens are admin again (the cap is read at each use).
    server.app.reload({
      ...server.config,
      auth: { ...server.config.auth, admin_users: ['alice'] },
    });
    await server.app.context.identity.settled();
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
