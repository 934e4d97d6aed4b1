/**
 * API tokens with real OCI clients, auth on and anonymous read off: `podman login` with any
 * username and an `nra_` token (a wrong token fails), skopeo push and pull with `--creds
 * token:nra_…` and with an htpasswd user's password; a read token pulls but cannot push; a token
 * limited to one namespace (`team-a/**`) cannot read another; a registry token (JWT) obtained with
 * an API token stops pushing once that token is revoked (skopeo `--dest-registry-token`); a token
 * scoped `docker:team-a/**` (the default group at `/v2/`) pushes with skopeo, whose push goes
 * through `/v2/token` (trial 20 authx F7: it was granted pull only there).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { TestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';
import { type ContainersWork, containersWork } from './containers-work.ts';

const skip = missingTools('skopeo', 'podman');

describe('OCI clients with API tokens', { skip }, () => {
  let server: TestServer;
  let work: ContainersWork;
  const tokens: Record<'write' | 'read' | 'scoped' | 'group', string> = {
    write: '',
    read: '',
    scoped: '',
    group: '',
  };

  const tool = (name: string, args: readonly string[]) => work.tool(name, args);
  const layout = () => `oci:${path.join(work.path, 'layout')}:v1`;
  const push = (creds: string, image: string) =>
    tool('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      creds,
      layout(),
      `docker://${server.host}/${image}`,
    ]);
  const pull = (creds: string, image: string) =>
    tool('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--creds',
      creds,
      '--raw',
      `docker://${server.host}/${image}`,
    ]);

  before(async () => {
    work = await containersWork('nora-oci-tokens-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, `dora:${bcrypt.hashSync('dora-pw', 5)}\n`);
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd },
      },
    });
    for (const [kind, body] of [
      ['write', { role: 'write' }],
      ['read', { role: 'read' }],
      ['scoped', { role: 'write', scope: ['team-a/**'] }],
      // Names the default group at /v2/ (`docker`), whose member docker-hosted takes the push.
      ['group', { role: 'write', scope: ['docker:team-a/**'] }],
    ] as const) {
      const res = await fetch(`${server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dora', password: 'dora-pw', ...body }),
      });
      assert.equal(res.status, 200);
      tokens[kind] = ((await res.json()) as { token: string }).token;
    }
    await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [2048] });
  });

  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  test('podman login with any username and a token; a wrong token fails', async () => {
    for (const user of ['token', 'dora', 'ci-bot']) {
      const ok = await tool('podman', [
        'login',
        '--tls-verify=false',
        '-u',
        user,
        '-p',
        tokens.write,
        server.host,
      ]);
      assert.equal(ok.code, 0, `${user}: ${ok.stderr}`);
    }
    const wrong = await tool('podman', [
      'login',
      '--tls-verify=false',
      '-u',
      'token',
      '-p',
      `nra_${'W'.repeat(43)}`,
      server.host,
    ]);
    assert.notEqual(wrong.code, 0, `an unknown token logged in: ${wrong.stdout}`);
  });

  test('skopeo: push/pull with a token and with a password; a read token cannot push', async () => {
    assert.equal((await push(`token:${tokens.write}`, 'team-a/app:v1')).code, 0);
    assert.equal((await push('dora:dora-pw', 'team-b/app:v1')).code, 0);
    const pulled = await pull(`anything:${tokens.read}`, 'team-a/app:v1');
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /schemaVersion/);
    const refused = await push(`token:${tokens.read}`, 'team-a/app:v2');
    assert.notEqual(refused.code, 0);
    // The registry token skopeo got keeps the API token's ceiling: the refusal names it.
    assert.match(refused.stderr, /denied: this token is read-only: it may not write team-a\/app/);
  });

  test('skopeo pushes with a token scoped to the default group (docker:team-a/**)', async () => {
    const pushed = await push(`token:${tokens.group}`, 'team-a/grouped:v1');
    assert.equal(pushed.code, 0, pushed.stderr);
    const pulled = await pull(`token:${tokens.group}`, 'team-a/grouped:v1');
    assert.equal(pulled.code, 0, pulled.stderr);
    // Outside its scope the same token still pushes nothing.
    const refused = await push(`token:${tokens.group}`, 'team-b/grouped:v1');
    assert.notEqual(refused.code, 0, 'a push outside the scope was refused');
  });

  test('a token limited to team-a/** cannot read team-b', async () => {
    assert.equal((await push(`token:${tokens.write}`, 'team-a/lib:v1')).code, 0);
    assert.equal((await push(`token:${tokens.write}`, 'team-b/lib:v1')).code, 0);
    const own = await pull(`token:${tokens.scoped}`, 'team-a/lib:v1');
    assert.equal(own.code, 0, own.stderr);
    const other = await pull(`token:${tokens.scoped}`, 'team-b/lib:v1');
    assert.notEqual(other.code, 0, 'read across namespaces');
    assert.equal((await push(`token:${tokens.scoped}`, 'team-a/new:v1')).code, 0);
    assert.notEqual((await push(`token:${tokens.scoped}`, 'team-b/new:v1')).code, 0);
  });

  test('a registry token dies with the API token it came from (skopeo --dest-registry-token)', async () => {
    const made = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dora', password: 'dora-pw', role: 'write' }),
    });
    const { token, id } = (await made.json()) as { token: string; id: string };
    const res = await fetch(
      `${server.url}/v2/token?service=nora&scope=repository:team-a/revoked:pull,push`,
      { headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } },
    );
    assert.equal(res.status, 200);
    const jwt = ((await res.json()) as { token: string }).token;
    const pushWith = (tag: string) =>
      tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-registry-token',
        jwt,
        layout(),
        `docker://${server.host}/team-a/revoked:${tag}`,
      ]);
    const first = await pushWith('v1');
    assert.equal(first.code, 0, first.stderr);
    const revoked = await fetch(`${server.url}/api/tokens/revoke`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('dora:dora-pw').toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ id }),
    });
    assert.equal(revoked.status, 200, await revoked.clone().text());
    const second = await pushWith('v2');
    assert.notEqual(second.code, 0, 'pushed with the registry token of a revoked API token');
    assert.match(second.stderr, /401|unauthorized|authentication required/i);
  });
});

describe('skopeo delete refused by a rule: the message names delete', { skip }, () => {
  let server: TestServer;
  let work: ContainersWork;

  const tool = (name: string, args: readonly string[]) => work.tool(name, args);

  before(async () => {
    work = await containersWork('nora-oci-delete-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, `carol:${bcrypt.hashSync('carol-pw', 5)}\n`);
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          htpasswd_file: htpasswd,
          rules: [{ paths: ['team/**'], users: ['carol'], actions: ['read', 'write'] }],
        },
      },
    });
    await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [1024] });
  });

  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  test('carol (read+write) pushes team/carol; skopeo delete fails saying delete', async () => {
    const image = `docker://${server.host}/team/carol:v1`;
    const pushed = await tool('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'carol:carol-pw',
      `oci:${path.join(work.path, 'layout')}:v1`,
      image,
    ]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const deleted = await tool('skopeo', [
      'delete',
      '--tls-verify=false',
      '--creds',
      'carol:carol-pw',
      image,
    ]);
    assert.notEqual(deleted.code, 0, 'the delete was refused');
    assert.match(deleted.stderr, /may not delete/, deleted.stderr);
    assert.doesNotMatch(deleted.stderr, /limited to nothing|may not read/, deleted.stderr);
    const inspect = await tool('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--creds',
      'carol:carol-pw',
      '--raw',
      image,
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
  });
});
