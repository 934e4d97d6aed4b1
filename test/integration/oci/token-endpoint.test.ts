/**
 * The Docker token endpoint `/v2/token` (GET per the token spec, POST per the OAuth2 spec) and
 * the registry tokens it issues, over HTTP against a listening server: scopes and what they
 * grant, malformed requests, refresh tokens, and the tokens a bearer may not use.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { AuthClient, expectError, startOciServer } from './helpers.ts';

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

type Access = { type: string; name: string; actions: string[] }[];

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ALICE = basic('alice', 'alice-pw-1');
const READER = basic('reader', 'reader-pw-1');

function accessOf(token: string): Access {
  return decodeJwt(token)['access'] as Access;
}

describe('OCI /v2/token', () => {
  let server: TestServer;
  let dataDir: string;

  const getToken = (query: string, authorization?: string) =>
    fetch(`${server.url}/v2/token?${query}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
  const tokenOf = async (query: string, authorization?: string): Promise<TokenBody> => {
    const response = await getToken(query, authorization);
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return JSON.parse(text) as TokenBody;
  };
  const postToken = (form: Record<string, string>) =>
    fetch(`${server.url}/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const start = async () => {
    server = await startOciServer({
      dataDir,
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, anonymous_read: false, docker_token_ttl: 120 },
        repositories: [{ name: 'team', format: 'docker', kind: 'hosted' }],
      },
    });
  };

  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-token-'));
    await start();
    const users = server.app.context.identity.users;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    assert.ok(await users.create('reader', 'reader-pw-1', undefined, ['read']));
    // Content to read back with tokens: team/app:v1, pushed with Basic.
    await new AuthClient(server.url, ALICE).pushImage('team/app', 'v1');
  });

  after(async () => {
    await server.close();
    await removeDir(dataDir);
  });

  test('a user gets what it asked for and may do; several scope params and space-separated ones', async () => {
    const body = await tokenOf(
      'service=nora&scope=repository:team/app:pull,push&scope=repository:other:pull%20repository:other:delete',
      ALICE,
    );
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 120);
    assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
    assert.equal(body.refresh_token, undefined, 'no offline_token, no refresh token');
    // alice (read, write) may delete too (a write role deletes).
    assert.deepEqual(accessOf(body.token), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'other', actions: ['pull', 'delete'] },
    ]);
    const claims = decodeJwt(body.token);
    assert.equal(claims.iss, 'nora');
    assert.equal(claims.aud, 'nora');
    assert.equal(claims.sub, 'alice');
    assert.ok(claims.jti && claims.nbf && claims.iat && claims.exp);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120);

    const all = await tokenOf('scope=repository:team/app:*', ALICE);
    assert.deepEqual(accessOf(all.token), [
      { type: 'repository', name: 'team/app', actions: ['*'] },
    ]);
    // reader (read only): push, delete and * are left out, not refused.
    const reader = await tokenOf('scope=repository:team/app:pull,push,delete,*', READER);
    assert.deepEqual(accessOf(reader.token), [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);
  });

  test('the token reaches exactly the granted (repository, image, action)s', async () => {
    const { token } = await tokenOf('scope=repository:team/app:pull', ALICE);
    const blobs = await fetch(`${server.url}/v2/team/app/tags/list`, { headers: bearer(token) });
    assert.equal(blobs.status, 200);
    // The same repository through its own prefix: the same grant.
    const named = await fetch(`${server.url}/repository/team/v2/app/tags/list`, {
      headers: bearer(token),
    });
    assert.equal(named.status, blobs.status);
    await expectError(
      await fetch(`${server.url}/v2/team/other/tags/list`, { headers: bearer(token) }),
      401,
      'UNAUTHORIZED',
    );
    await expectError(
      await fetch(`${server.url}/v2/team/app/blobs/uploads/`, {
        method: 'POST',
        headers: bearer(token),
      }),
      401,
      'UNAUTHORIZED',
    );
    const ping = await fetch(`${server.url}/v2/`, { headers: bearer(token) });
    assert.equal(ping.status, 200);
  });

  test('catalog scope; unknown names and resource types grant nothing they should not', async () => {
    const catalog = await tokenOf('scope=registry:catalog:*', ALICE);
    assert.deepEqual(accessOf(catalog.token), [
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const listed = await fetch(`${server.url}/v2/_catalog`, { headers: bearer(catalog.token) });
    assert.equal(listed.status, 200, await listed.clone().text());
    assert.deepEqual(((await listed.json()) as { repositories: string[] }).repositories, [
      'team/app',
    ]);
    // A name no image has yet lands in the default repository, like its URL: pull/push as usual.
    const unknown = await tokenOf('scope=repository:nosuch/image:pull,push', ALICE);
    assert.deepEqual(accessOf(unknown.token), [
      { type: 'repository', name: 'nosuch/image', actions: ['pull', 'push'] },
    ]);
    const other = await tokenOf(
      'scope=plugin:thing:pull&scope=repository:team/app:frobnicate',
      ALICE,
    );
    assert.deepEqual(accessOf(other.token), []);
    // Anonymous (anonymous read off) gets a token that grants nothing.
    const anonymous = await tokenOf('scope=repository:team/app:pull');
    assert.deepEqual(accessOf(anonymous.token), []);
    assert.equal(decodeJwt(anonymous.token).sub, '');
  });

  test('malformed scopes and an unknown service: 400 in the registry (GET) or OAuth2 (POST) shape', async () => {
    for (const scope of [
      'repository',
      'repository:team/app',
      'repository:team/app:',
      ':x:pull',
      'repository:Bad Name:pull',
      'repository:a:pull,,push',
    ]) {
      const response = await getToken(`scope=${encodeURIComponent(scope)}`, ALICE);
      await expectError(response, 400, 'INVALID_SCOPE');
    }
    await expectError(await getToken('service=elsewhere', ALICE), 400, 'INVALID_REQUEST');
    const post = await postToken({
      grant_type: 'password',
      username: 'alice',
      password: 'alice-pw-1',
      scope: 'repository:team/app',
    });
    assert.equal(post.status, 400);
    assert.equal(((await post.json()) as { error: string }).error, 'invalid_scope');
    const grant = await postToken({ grant_type: 'client_credentials' });
    assert.equal(grant.status, 400);
    assert.equal(((await grant.json()) as { error: string }).error, 'unsupported_grant_type');
  });

  test('wrong credentials: 401 at the token endpoint (GET Basic, POST password)', async () => {
    const wrong = await getToken('scope=repository:team/app:pull', basic('alice', 'nope'));
    assert.equal(wrong.status, 401);
    const post = await postToken({ grant_type: 'password', username: 'alice', password: 'nope' });
    assert.equal(post.status, 401);
    assert.equal(((await post.json()) as { error: string }).error, 'invalid_grant');
  });

  test('offline_token / access_type=offline: a refresh token, exchanged for access tokens', async () => {
    const first = await tokenOf('offline_token=true&client_id=docker&service=nora', ALICE);
    assert.ok(first.refresh_token);
    const anonymous = await tokenOf('offline_token=true');
    assert.equal(anonymous.refresh_token, undefined, 'no refresh token without a user');

    const exchanged = await postToken({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      service: 'nora',
      client_id: 'docker',
      scope: 'repository:team/app:pull repository:team/app:push',
    });
    const body = (await exchanged.json()) as TokenBody;
    assert.equal(exchanged.status, 200, JSON.stringify(body));
    assert.deepEqual(accessOf(body.access_token), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
    ]);
    assert.equal(decodeJwt(body.access_token).sub, 'alice');

    const password = await postToken({
      grant_type: 'password',
      username: 'reader',
      password: 'reader-pw-1',
      access_type: 'offline',
      scope: 'repository:team/app:pull,push',
    });
    const passwordBody = (await password.json()) as TokenBody;
    assert.equal(password.status, 200);
    assert.ok(passwordBody.refresh_token);
    assert.deepEqual(accessOf(passwordBody.access_token), [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);

    // A refresh token is never a bearer; an access token is never a refresh token.
    await expectError(
      await fetch(`${server.url}/v2/`, { headers: bearer(first.refresh_token) }),
      401,
      'UNAUTHORIZED',
    );
    const notRefresh = await postToken({ grant_type: 'refresh_token', refresh_token: first.token });
    assert.equal(notRefresh.status, 401);
  });

  test('expired and tampered tokens: 401 with the Bearer challenge', async () => {
    const tokens = server.app.context.identity.registryTokens;
    const expired = await tokens.issueAccess({
      principal: { kind: 'user', name: 'alice', roles: ['read', 'write'] },
      service: 'nora',
      access: [],
      grants: [],
      ttlSeconds: -600,
    });
    const stale = await fetch(`${server.url}/v2/`, { headers: bearer(expired.token) });
    await expectError(stale, 401, 'UNAUTHORIZED');
    assert.match(stale.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+\/v2\/token"/);

    const { token } = await tokenOf('scope=repository:team/app:pull', READER);
    const [header, payload, signature] = token.split('.');
    // A payload claiming push under the original signature.
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    claims['access'] = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    await expectError(
      await fetch(`${server.url}/v2/`, { headers: bearer(forged) }),
      401,
      'UNAUTHORIZED',
    );
    const flipped = `${header}.${payload}.${(signature ?? '').startsWith('A') ? 'B' : 'A'}${(signature ?? '').slice(1)}`;
    await expectError(
      await fetch(`${server.url}/v2/`, { headers: bearer(flipped) }),
      401,
      'UNAUTHORIZED',
    );
    // Another issuer's JWT is not ours: no resolver takes it, so it is just invalid credentials.
    const foreign = [
      Buffer.from('{"alg":"none"}').toString('base64url'),
      Buffer.from('{"iss":"elsewhere","sub":"alice"}').toString('base64url'),
      '',
    ].join('.');
    await expectError(
      await fetch(`${server.url}/v2/`, { headers: bearer(foreign) }),
      401,
      'UNAUTHORIZED',
    );
  });

  test('tokens survive a restart (the signing key is in the metadata store)', async () => {
    const { token } = await tokenOf('scope=repository:team/app:pull', ALICE);
    await server.close();
    await start();
    const tags = await fetch(`${server.url}/v2/team/app/tags/list`, { headers: bearer(token) });
    assert.equal(tags.status, 200, await tags.clone().text());
  });
});

describe('OCI /v2/token with anonymous_read on (the default)', () => {
  let server: TestServer;

  before(async () => {
    server = await startOciServer({
      config: { docker: { upstreams: [] }, auth: { enabled: true } },
    });
  });

  after(async () => {
    await server.close();
  });

  test('anonymous gets pull, never push; /v2/ still challenges anonymous', async () => {
    const response = await fetch(`${server.url}/v2/token?scope=repository:team/app:pull,push`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as TokenBody;
    assert.deepEqual(accessOf(body.token), [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);
    const ping = await fetch(`${server.url}/v2/`);
    assert.equal(ping.status, 401);
    const tags = await fetch(`${server.url}/v2/team/app/tags/list`, {
      headers: { authorization: `Bearer ${body.token}` },
    });
    await expectError(tags, 404, 'NAME_UNKNOWN');
  });

  test('a push with a token lacking push scope: 401 whose challenge says insufficient_scope (trial 33 newB)', async () => {
    const response = await fetch(`${server.url}/v2/token?scope=repository:team/app:pull,push`);
    const { token } = (await response.json()) as TokenBody;
    const refused = await fetch(`${server.url}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await expectError(refused, 401, 'UNAUTHORIZED');
    const message = body.errors[0]?.message ?? '';
    assert.match(message, /authentication required to write team\/app/, message);
    const challenge = refused.headers.get('www-authenticate') ?? '';
    assert.match(
      challenge,
      /^Bearer realm="[^"]+\/v2\/token",service="nora",scope="repository:team\/app:pull,push",error="insufficient_scope",error_description="authentication required to write team\/app in docker"$/,
      challenge,
    );
    // No token sent: the token is required, not insufficient (distribution's challenge too).
    const bare = await fetch(`${server.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    await expectError(bare, 401, 'UNAUTHORIZED');
    assert.doesNotMatch(bare.headers.get('www-authenticate') ?? '', /error=/);
    // A token that fails verification: a credential to replace, not a scope to widen.
    const broken = await fetch(`${server.url}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}x` },
    });
    await expectError(broken, 401, 'UNAUTHORIZED');
    assert.doesNotMatch(broken.headers.get('www-authenticate') ?? '', /insufficient_scope/);
  });
});

describe('OCI /v2/token: `*` for a user a rule gives read and write only', () => {
  let server: TestServer;
  const CAROL = basic('carol', 'carol-pw-1');

  before(async () => {
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [{ repositories: ['team'], users: ['carol'], actions: ['read', 'write'] }],
        },
        repositories: [{ name: 'team', format: 'docker', kind: 'hosted' }],
      },
    });
    const users = server.app.context.identity.users;
    assert.ok(await users.create('carol', 'carol-pw-1', undefined, ['read', 'write']));
    await new AuthClient(server.url, CAROL).pushImage('team/carol', 'v1');
  });

  after(async () => {
    await server.close();
  });

  test('skopeo delete asks `*`: pull and push are granted, the DELETE is refused naming delete', async () => {
    const response = await fetch(
      `${server.url}/v2/token?service=nora&scope=repository:team/carol:*`,
      {
        headers: { authorization: CAROL },
      },
    );
    assert.equal(response.status, 200);
    const { token } = (await response.json()) as TokenBody;
    assert.deepEqual(accessOf(token), [
      { type: 'repository', name: 'team/carol', actions: ['pull', 'push'] },
    ]);
    const auth = { authorization: `Bearer ${token}` };
    const head = await fetch(`${server.url}/v2/team/carol/manifests/v1`, {
      method: 'HEAD',
      headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(head.status, 200);
    const digest = head.headers.get('docker-content-digest');
    assert.ok(digest);
    const refused = await expectError(
      await fetch(`${server.url}/v2/team/carol/manifests/${digest}`, {
        method: 'DELETE',
        headers: auth,
      }),
      401,
      'UNAUTHORIZED',
    );
    const message = refused.errors[0]?.message ?? '';
    assert.match(message, /may not delete/, message);
    assert.doesNotMatch(message, /limited to nothing/, message);
    // Still there.
    const still = await fetch(`${server.url}/v2/team/carol/manifests/${digest}`, {
      method: 'HEAD',
      headers: auth,
    });
    assert.equal(still.status, 200);
  });
});
