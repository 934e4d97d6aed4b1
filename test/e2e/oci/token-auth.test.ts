/**
 * Docker token authentication with real clients: with auth on and anonymous read off, `/v2/`
 * challenges with `Bearer realm="…/v2/token"`; docker, podman and skopeo fetch registry tokens
 * there (Basic for the user, or anonymous) and send them back as bearers. A wrong password fails
 * at the token endpoint, so `docker login` / `podman login` fail too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AccessTokenRequest, ResourceAccess } from '../../../src/auth/registry-token.ts';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

type Work = { path: string; [Symbol.asyncDispose](): Promise<void> };

/** Records the access every issued token grants (what the clients asked /v2/token for). */
function recordTokens(server: TestServer): ResourceAccess[][] {
  const seen: ResourceAccess[][] = [];
  const tokens = server.app.context.identity.registryTokens;
  const issue = tokens.issueAccess.bind(tokens);
  tokens.issueAccess = (request: AccessTokenRequest) => {
    seen.push([...request.access]);
    return issue(request);
  };
  return seen;
}

function clientEnv(work: Work): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
    HOME: work.path,
  };
}

async function prepare(prefix: string): Promise<Work> {
  const work = await tempDir(prefix);
  await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
  await fs.mkdir(path.join(work.path, 'docker'));
  await fs.writeFile(
    path.join(work.path, 'registries.conf'),
    'unqualified-search-registries = []\n',
  );
  await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [2048] });
  return work;
}

describe(
  'OCI token auth: auth on, anonymous read off',
  { skip: missingTools('skopeo', 'podman', 'docker') },
  () => {
    let server: TestServer;
    let work: Work;
    let seen: ResourceAccess[][];
    const tool = (name: string, args: readonly string[]) =>
      run(name, args, { env: clientEnv(work), cwd: work.path, timeoutMs: 120_000, check: false });
    // docker keeps its own config (podman would read docker's identity token and refuse to log in).
    const docker = (args: readonly string[]) =>
      run('docker', args, {
        env: {
          ...clientEnv(work),
          DOCKER_CONFIG: path.join(work.path, 'docker'),
          // No engine: `docker login` then logs in client-side.
          DOCKER_HOST: `unix://${path.join(work.path, 'no-docker.sock')}`,
        },
        cwd: work.path,
        timeoutMs: 120_000,
        check: false,
      });
    const layout = () => `oci:${path.join(work.path, 'layout')}:v1`;

    before(async () => {
      work = await prepare('nora-oci-token-');
      server = await startOciServer({
        config: { docker: { upstreams: [] }, auth: { enabled: true, anonymous_read: false } },
      });
      const users = server.app.context.identity.users;
      assert.ok(await users.create('alice', 'secret-pw-1', undefined, ['read', 'write']));
      assert.ok(await users.create('reader', 'reader-pw-1', undefined, ['read']));
      seen = recordTokens(server);
    });

    after(async () => {
      await server.close();
      await work[Symbol.asyncDispose]();
    });

    test('GET /v2/ without credentials: 401 with a Bearer challenge naming /v2/token', async () => {
      const anonymous = await fetch(`${server.url}/v2/`);
      assert.equal(anonymous.status, 401);
      assert.equal(
        anonymous.headers.get('www-authenticate'),
        `Bearer realm="${server.url}/v2/token",service="nora"`,
      );
      const tags = await fetch(`${server.url}/v2/team/app/tags/list`);
      assert.equal(tags.status, 401);
      assert.match(tags.headers.get('www-authenticate') ?? '', /scope="repository:team\/app:pull"/);
      const catalog = await fetch(`${server.url}/v2/_catalog`);
      assert.match(catalog.headers.get('www-authenticate') ?? '', /scope="registry:catalog:\*"/);
      // Basic on /v2/* is still accepted directly.
      const basic = Buffer.from('alice:secret-pw-1').toString('base64');
      const known = await fetch(`${server.url}/v2/`, {
        headers: { authorization: `Basic ${basic}` },
      });
      assert.equal(known.status, 200);
    });

    test('docker login: a wrong password fails, the right one succeeds', async () => {
      const wrong = await docker(['login', '-u', 'alice', '-p', 'wrong', server.host]);
      assert.notEqual(wrong.code, 0, `wrong password logged in: ${wrong.stdout}`);
      assert.doesNotMatch(wrong.stdout, /Login Succeeded/);
      const right = await docker(['login', '-u', 'alice', '-p', 'secret-pw-1', server.host]);
      assert.equal(right.code, 0, right.stderr);
      assert.match(right.stdout, /Login Succeeded/);
      // docker asked for an offline token: it keeps the refresh token, not the password.
      const config = JSON.parse(
        await fs.readFile(path.join(work.path, 'docker', 'config.json'), 'utf8'),
      ) as { auths: Record<string, { identitytoken?: string }> };
      assert.ok(config.auths[server.host]?.identitytoken, 'docker stored an identity token');
    });

    test('podman login: a wrong password fails, the right one succeeds', async () => {
      const login = (password: string) =>
        tool('podman', ['login', '--tls-verify=false', '-u', 'alice', '-p', password, server.host]);
      const wrong = await login('wrong');
      assert.notEqual(wrong.code, 0, `wrong password logged in: ${wrong.stdout}`);
      const right = await login('secret-pw-1');
      assert.equal(right.code, 0, right.stderr);
    });

    test('skopeo pushes and pulls through the Bearer flow (creds, then the podman auth file)', async () => {
      seen.length = 0;
      const pushed = await tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'alice:secret-pw-1',
        layout(),
        `docker://${server.host}/team/app:v1`,
      ]);
      assert.equal(pushed.code, 0, pushed.stderr);
      const pushScopes = seen.flat().filter((a) => a.name === 'team/app');
      assert.ok(
        pushScopes.some((a) => a.actions.includes('push') && a.actions.includes('pull')),
        `push token granted: ${JSON.stringify(seen)}`,
      );

      seen.length = 0;
      const pulled = await tool('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        'alice:secret-pw-1',
        `docker://${server.host}/team/app:v1`,
        `oci:${path.join(work.path, 'pulled')}:v1`,
      ]);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.ok(
        seen.flat().some((a) => a.name === 'team/app' && a.actions.includes('pull')),
        `pull token granted: ${JSON.stringify(seen)}`,
      );

      // The auth file `podman login` wrote (alice) works the same way.
      const withAuthFile = await tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--authfile',
        path.join(work.path, 'auth.json'),
        layout(),
        `docker://${server.host}/team/app:v2`,
      ]);
      assert.equal(withAuthFile.code, 0, withAuthFile.stderr);
      const tags = await tool('skopeo', [
        'list-tags',
        '--tls-verify=false',
        '--creds',
        'alice:secret-pw-1',
        `docker://${server.host}/team/app`,
      ]);
      assert.equal(tags.code, 0, tags.stderr);
      assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags.sort(), ['v1', 'v2']);
    });

    test('a read-only user pulls but cannot push; anonymous can do neither', async () => {
      const pull = await tool('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        'reader:reader-pw-1',
        `docker://${server.host}/team/app:v1`,
        `oci:${path.join(work.path, 'reader-pulled')}:v1`,
      ]);
      assert.equal(pull.code, 0, pull.stderr);
      const push = await tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'reader:reader-pw-1',
        layout(),
        `docker://${server.host}/team/app:reader`,
      ]);
      assert.notEqual(push.code, 0, 'a read-only user pushed');
      assert.match(push.stderr, /denied|unauthorized/i);
      const anonymous = await tool('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--src-no-creds',
        `docker://${server.host}/team/app:v1`,
        `oci:${path.join(work.path, 'anon-pulled')}:v1`,
      ]);
      assert.notEqual(anonymous.code, 0, 'anonymous pulled with anonymous read off');
    });
  },
);

describe('OCI token auth: docker_anon_pull on', { skip: missingTools('skopeo') }, () => {
  let server: TestServer;
  let work: Work;
  const tool = (name: string, args: readonly string[]) =>
    run(name, args, { env: clientEnv(work), cwd: work.path, timeoutMs: 120_000, check: false });

  before(async () => {
    work = await prepare('nora-oci-anonpull-');
    server = await startOciServer({
      config: { docker: { upstreams: [] }, auth: { enabled: true, anonymous_read: false } },
      env: { NORA_AUTH_DOCKER_ANON_PULL: 'true' },
    });
    assert.ok(
      await server.app.context.identity.users.create('alice', 'secret-pw-1', undefined, [
        'read',
        'write',
      ]),
    );
  });

  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  test('anonymous pulls; anonymous pushes and _catalog stay authenticated', async () => {
    const ping = await fetch(`${server.url}/v2/`);
    assert.equal(ping.status, 200);
    const pushed = await tool('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:secret-pw-1',
      `oci:${path.join(work.path, 'layout')}:v1`,
      `docker://${server.host}/mirror/img:v1`,
    ]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const pulled = await tool('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--src-no-creds',
      `docker://${server.host}/mirror/img:v1`,
      `oci:${path.join(work.path, 'pulled')}:v1`,
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const anonymousPush = await tool('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-no-creds',
      `oci:${path.join(work.path, 'layout')}:v1`,
      `docker://${server.host}/mirror/img:v2`,
    ]);
    assert.notEqual(anonymousPush.code, 0, 'anonymous pushed');
    const catalog = await fetch(`${server.url}/v2/_catalog`);
    assert.equal(catalog.status, 401);
    assert.match(catalog.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
  });
});
