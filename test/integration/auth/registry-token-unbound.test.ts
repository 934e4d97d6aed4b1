/**
 * Docker registry tokens that carry no credential binding (`nora.bind`) — those of OIDC
 * identities, and those issued before the binding existed — are held at each use to what their
 * subject is now (eighteenth session), as bound ones are to their credential:
 * - a user's token: the user must still exist (401 with the registry error and the Bearer
 *   challenge once it left the htpasswd file), and its roles now cap the token's (an admin
 *   taken out of `[auth] admin_users` loses admin at the next request);
 * - an OIDC identity's token: OIDC, the provider and a role rule matching `sub` must still be
 *   configured and enabled (401 otherwise); the rule's role now caps the token's (lowered to
 *   `read`: pulls work, pushes are refused) and the provider's namespace scope now is a ceiling.
 * Before the fix these tokens kept the roles they were minted with until `exp`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { Role } from '../../../src/auth/access.ts';
import type { AppConfig } from '../../../src/config/schema.ts';
import {
  pushBlob,
  type RegistryAnswer,
  registryToken,
  reloadAuth,
  startAuthServer,
  startTeamImagesServer,
} from '../../helpers/auth-server.ts';
import { basic, htpasswdOf } from '../../helpers/auth.ts';
import { OidcIssuer, oidcSection } from '../../helpers/oidc-issuer.ts';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { startOciServer } from '../oci/helpers.ts';

/** A read of `/v2/<image>/tags/list` with `jwt`: its status. */
async function pullTags(server: TestServer, jwt: string, image: string): Promise<number> {
  const res = await fetch(`${server.url}/v2/${image}/tags/list`, {
    headers: { authorization: `Bearer ${jwt}` },
  });
  await res.arrayBuffer();
  return res.status;
}

/** The registry error JSON of a 401 with the Bearer challenge, and its message. */
function assertUnauthorized(refused: RegistryAnswer, message: RegExp): void {
  assert.equal(refused.status, 401, refused.text);
  const body = JSON.parse(refused.text) as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]?.code, 'UNAUTHORIZED');
  assert.match(body.errors[0].message, message);
  assert.match(refused.challenge ?? '', /^Bearer realm="[^"]+\/v2\/token",service="nora"/);
}

describe('registry tokens without a credential binding (issued by an older version)', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let file: string;

  before(async () => {
    dir = await tempDir('registry-token-unbound-');
    file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(file, htpasswdOf({ alice: 'alicepw', carol: 'carolpw' }));
    server = await startTeamImagesServer({ auth: { htpasswd_file: file } });
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  /**
   * A token as a version before `nora.bind` signed it: the same signing key and claims, no
   * binding (what `/v2/token` now adds for a password or an API token is left out).
   */
  async function legacyToken(user: string, roles: readonly Role[], image: string) {
    const issued = await server.app.context.identity.registryTokens.issueAccess({
      principal: { kind: 'user', name: user, roles, credential: 'password' },
      service: 'nora',
      access: [{ type: 'repository', name: `team-images/${image}`, actions: ['pull', 'push'] }],
      grants: [{ repository: 'team-images', path: image, actions: ['read', 'write'] }],
      ttlSeconds: 3600,
    });
    return issued.token;
  }

  test('an admin taken out of admin_users loses admin in its unbound tokens', async () => {
    const jwt = await legacyToken('alice', ['read', 'write', 'admin'], 'adm/x');
    assert.equal((await pushBlob(server, jwt, 'team-images/adm/x', 'admin 1')).status, 201);
    await reloadAuth(server, { admin_users: [] });
    try {
      const refused = await pushBlob(server, jwt, 'team-images/adm/x', 'after demotion');
      assert.equal(refused.status, 401, refused.text);
      assert.match(refused.text, /alice may not write adm\/x in team-images/);
    } finally {
      await reloadAuth(server, { admin_users: ['alice'] });
    }
    // Listed again: the cap is read at each use.
    assert.equal((await pushBlob(server, jwt, 'team-images/adm/x', 'admin again')).status, 201);
  });

  test('a user gone from the htpasswd file: its unbound token is refused with 401', async () => {
    const jwt = await legacyToken('carol', ['read', 'write'], 'carol/app');
    assert.equal((await pushBlob(server, jwt, 'team-images/carol/app', 'before')).status, 201);
    await fs.writeFile(file, htpasswdOf({ alice: 'alicepw' }));
    const { htpasswd } = server.app.context.identity;
    for (let i = 0; i < 400 && htpasswd.has('carol'); i++) await sleep(50);
    await server.app.context.identity.settled();
    assert.ok(!htpasswd.has('carol'), 'the file watch read the new file');
    assertUnauthorized(
      await pushBlob(server, jwt, 'team-images/carol/app', 'after'),
      /registry token invalid: its user carol no longer exists/,
    );
    assert.equal(await pullTags(server, jwt, 'team-images/carol/app'), 401);
  });
});

describe('registry tokens of OIDC identities', () => {
  let issuer: OidcIssuer;
  let server: TestServer;
  let provider: AppConfig['auth']['oidc']['providers'][number];

  before(async () => {
    issuer = await OidcIssuer.start();
    server = await startAuthServer({
      start: startOciServer,
      config: { docker: { upstreams: [] } },
      auth: { docker_token_ttl: 3600, oidc: oidcSection(issuer.url, 'write') },
    });
    const first = server.config.auth.oidc.providers[0];
    assert.ok(first);
    provider = first;
  });
  after(async () => {
    await server.close();
    await issuer.close();
  });

  /** A registry token for `image` obtained with a fresh CI token, as `docker login -u oidc`. */
  const oidcRegistryToken = async (image: string) =>
    registryToken(server, basic('oidc', await issuer.mint()), image);

  const withProvider = (changes: Partial<typeof provider>) => ({
    oidc: { ...server.config.auth.oidc, providers: [{ ...provider, ...changes }] },
  });

  test('the token names the OIDC issuer and subject it was issued from (access and audit lines)', async () => {
    const jwt = await oidcRegistryToken('myorg/app');
    const principal = await server.app.context.identity.registryTokens.principal(jwt, 'nora');
    assert.ok(principal?.kind === 'user');
    assert.equal(principal.tokenFrom, `oidc ${issuer.url} repo:myorg/app:ref:refs/heads/main`);
  });

  test('a role rule lowered to read: pushes are refused, pulls still work', async () => {
    const jwt = await oidcRegistryToken('myorg/app');
    assert.equal((await pushBlob(server, jwt, 'myorg/app', 'oidc 1')).status, 201);
    await reloadAuth(
      server,
      withProvider({ role_rules: [{ pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'read' }] }),
    );
    try {
      const refused = await pushBlob(server, jwt, 'myorg/app', 'oidc lowered');
      assert.equal(refused.status, 401, refused.text);
      assert.match(refused.text, /UNAUTHORIZED/);
      assert.match(refused.text, /read-only/);
      assert.equal(await pullTags(server, jwt, 'myorg/app'), 200);
    } finally {
      await reloadAuth(server, withProvider({}));
    }
    assert.equal((await pushBlob(server, jwt, 'myorg/app', 'oidc write again')).status, 201);
  });

  test('no role rule matching any more, the provider disabled or removed: 401', async () => {
    const jwt = await oidcRegistryToken('myorg/lib');
    assert.equal((await pushBlob(server, jwt, 'myorg/lib', 'oidc lib')).status, 201);
    const cases: [Partial<AppConfig['auth']>, RegExp][] = [
      [
        withProvider({
          role_rules: [{ pattern: 'repo:otherorg/*:ref:refs/heads/main', role: 'write' }],
        }),
        /no role rule of OIDC provider "ci" matches sub "repo:myorg\/app:ref:refs\/heads\/main"/,
      ],
      [withProvider({ enabled: false }), /OIDC provider "ci" is disabled/],
      [
        { oidc: { ...server.config.auth.oidc, enabled: false, providers: [] } },
        /OIDC provider "ci" is no longer configured/,
      ],
    ];
    try {
      for (const [auth, message] of cases) {
        await reloadAuth(server, auth);
        assertUnauthorized(await pushBlob(server, jwt, 'myorg/lib', 'refused'), message);
      }
    } finally {
      await reloadAuth(server, withProvider({}));
    }
    assert.equal(await pullTags(server, jwt, 'myorg/lib'), 200);
  });

  test('a namespace scope narrowed since: the token reaches only what it now covers', async () => {
    const jwt = await oidcRegistryToken('myorg/tool');
    assert.equal((await pushBlob(server, jwt, 'myorg/tool', 'tool 1')).status, 201);
    await reloadAuth(server, withProvider({ namespace_scope: ['myorg/app'] }));
    try {
      const refused = await pushBlob(server, jwt, 'myorg/tool', 'tool narrowed');
      assert.equal(refused.status, 401, refused.text);
      const { errors } = JSON.parse(refused.text) as { errors: { message: string }[] };
      assert.match(
        errors[0]?.message ?? '',
        /within namespace scope \[myorg\/app\] of OIDC provider "ci"/,
      );
      assert.equal(await pullTags(server, jwt, 'myorg/tool'), 401);
    } finally {
      await reloadAuth(server, withProvider({}));
    }
  });
});
