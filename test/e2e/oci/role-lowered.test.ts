/**
 * A lowered role and a revoked token with real skopeo, auth on (eighteenth session): a user
 * pushes, is then put in `[auth] read_only_users` (a reload, as SIGHUP applies it: the way
 * docs/auth.md lowers a user's role), and its next push with the same login is refused while a
 * pull still works — both with the password (skopeo asks `/v2/token` again) and with the registry
 * token it held from before (`--dest-registry-token`, re-checked at each use). An API token
 * revoked after a push: the next push with it is refused, with the login and with the registry
 * token obtained before. An OIDC identity's registry token (no credential binding) whose role
 * rule was lowered to read since: skopeo's push with it is refused, its pull works.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiToken, registryToken, reloadAuth, startAuthServer } from '../../helpers/auth-server.ts';
import { basic, htpasswdOf } from '../../helpers/auth.ts';
import { OidcIssuer, oidcSection } from '../../helpers/oidc-issuer.ts';
import type { TestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';
import { type ContainersWork, containersWork } from './containers-work.ts';

const skip = missingTools('skopeo');

describe('skopeo after a role is lowered or a token revoked', { skip }, () => {
  let server: TestServer;
  let issuer: OidcIssuer;
  let work: ContainersWork;

  const tool = (args: readonly string[]) => work.tool('skopeo', args);
  const layout = () => `oci:${path.join(work.path, 'layout')}:v1`;
  /** `skopeo copy` to `image`, with `--dest-creds user:secret` or a held registry token. */
  const push = (auth: { creds: string } | { token: string }, image: string) =>
    tool([
      'copy',
      '--dest-tls-verify=false',
      ...('creds' in auth ? ['--dest-creds', auth.creds] : ['--dest-registry-token', auth.token]),
      layout(),
      `docker://${server.host}/${image}`,
    ]);
  /** `skopeo inspect --raw` of `image`: the manifest, read with the login or a registry token. */
  const pull = (auth: { creds: string } | { token: string }, image: string) =>
    tool([
      'inspect',
      '--tls-verify=false',
      ...('creds' in auth ? ['--creds', auth.creds] : ['--registry-token', auth.token]),
      '--raw',
      `docker://${server.host}/${image}`,
    ]);

  before(async () => {
    work = await containersWork('nora-oci-lowered-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, htpasswdOf({ erin: 'erin-pw', fred: 'fred-pw' }));
    issuer = await OidcIssuer.start();
    server = await startAuthServer({
      start: startOciServer,
      config: { docker: { upstreams: [] } },
      auth: {
        htpasswd_file: htpasswd,
        docker_token_ttl: 3600,
        oidc: oidcSection(issuer.url, 'write'),
      },
    });
    await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [1024] });
  });

  after(async () => {
    await server.close();
    await issuer.close();
    await work[Symbol.asyncDispose]();
  });

  test('a user put in read_only_users: the same login and its held token pull, never push', async () => {
    const login = { creds: 'erin:erin-pw' };
    const first = await push(login, 'erin/app:v1');
    assert.equal(first.code, 0, first.stderr);
    const held = { token: await registryToken(server, basic('erin', 'erin-pw'), 'erin/app') };

    await reloadAuth(server, { read_only_users: ['erin'] });
    try {
      const again = await push(login, 'erin/app:v2');
      assert.notEqual(again.code, 0, 'pushed after being made read-only');
      assert.match(again.stderr, /erin is a read-only user/);
      const heldPush = await push(held, 'erin/app:v3');
      assert.notEqual(heldPush.code, 0, 'pushed with a registry token held from before');
      assert.match(heldPush.stderr, /denied|403/i);
      for (const auth of [login, held]) {
        const pulled = await pull(auth, 'erin/app:v1');
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.match(pulled.stdout, /schemaVersion/);
      }
    } finally {
      await reloadAuth(server, { read_only_users: [] });
    }
  });

  test('a revoked API token: its next push is refused, with the login and its registry token', async () => {
    const { token, id } = await apiToken(server, basic('fred', 'fred-pw'), { role: 'write' });
    const login = { creds: `token:${token}` };
    const first = await push(login, 'fred/app:v1');
    assert.equal(first.code, 0, first.stderr);
    const held = { token: await registryToken(server, basic('x', token), 'fred/app') };

    const revoked = await fetch(`${server.url}/api/tokens/revoke`, {
      method: 'POST',
      headers: { authorization: basic('fred', 'fred-pw'), 'content-type': 'application/json' },
      body: JSON.stringify({ id }),
    });
    assert.equal(revoked.status, 200, await revoked.text());
    for (const auth of [login, held]) {
      const refused = await push(auth, 'fred/app:v2');
      assert.notEqual(refused.code, 0, 'pushed with a revoked token');
      assert.match(refused.stderr, /401|unauthorized|authentication required/i);
    }
  });

  test("an OIDC identity's registry token after its role rule is lowered to read", async () => {
    const jwt = await issuer.mint();
    const first = await push({ creds: `oidc:${jwt}` }, 'myorg/app:v1');
    assert.equal(first.code, 0, first.stderr);
    const held = { token: await registryToken(server, basic('oidc', jwt), 'myorg/app') };

    const [provider] = server.config.auth.oidc.providers;
    assert.ok(provider);
    const lowered = {
      ...provider,
      role_rules: [{ pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'read' as const }],
    };
    await reloadAuth(server, { oidc: { ...server.config.auth.oidc, providers: [lowered] } });
    try {
      const refused = await push(held, 'myorg/app:v2');
      assert.notEqual(refused.code, 0, 'pushed with an OIDC registry token after the rule fell');
      assert.match(refused.stderr, /read-only/);
      const again = await push({ creds: `oidc:${jwt}` }, 'myorg/app:v3');
      assert.notEqual(again.code, 0, 'pushed with the OIDC login after the rule fell');
      const pulled = await pull(held, 'myorg/app:v1');
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.match(pulled.stdout, /schemaVersion/);
    } finally {
      await reloadAuth(server, { oidc: server.config.auth.oidc });
    }
  });
});
