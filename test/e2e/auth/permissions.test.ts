/**
 * Permission rules with real clients, auth on and anonymous read off:
 * - Docker: the whole `docker` repository belongs to the group `staff` (bob); alice is limited by
 *   a rule to `team/**`. skopeo (`--dest-creds`) pushes and pulls `team/app` as alice and is
 *   refused `other/app`; `_catalog` lists only what each may read.
 * - npm: everyone signed in reads `npm`; only alice publishes, and only in the scope `@corp`.
 *   Real npm publishes `@corp/pkg` and is refused `@other/pkg`; bob may not publish in `@corp`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const RULES = [
  { repositories: ['docker'], groups: ['staff'], actions: ['read', 'write', 'delete'] },
  { repositories: ['docker'], paths: ['team/**'], users: ['alice'], actions: ['read', 'write'] },
  { repositories: ['npm'], users: ['*'], actions: ['read'] },
  { repositories: ['npm'], paths: ['@corp/*'], users: ['alice'], actions: ['read', 'write'] },
];

describe('permission rules with real clients', () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };

  before(async () => {
    work = await tempDir('nora-perms-');
    server = await startTestServer({
      config: {
        docker: { upstreams: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          groups: { staff: ['bob'] },
          rules: RULES,
        },
      },
    });
    const { users } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', 'alice@example.test', ['read', 'write']));
    assert.ok(await users.create('bob', 'bob-pw-1', 'bob@example.test', ['read', 'write']));
  });

  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  describe('skopeo and a namespace rule', { skip: missingTools('skopeo') }, () => {
    const env = (): NodeJS.ProcessEnv => ({
      ...process.env,
      REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
      HOME: work.path,
    });
    const skopeo = (args: readonly string[]) =>
      run('skopeo', args, { env: env(), cwd: work.path, timeoutMs: 120_000, check: false });
    const push = (creds: string, image: string) =>
      skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${path.join(work.path, 'layout')}:v1`,
        `docker://${server.host}/${image}`,
      ]);
    const pull = (creds: string, image: string) =>
      skopeo([
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        creds,
        `docker://${server.host}/${image}`,
        `oci:${path.join(work.path, `pulled-${image.replaceAll('/', '-')}`)}:v1`,
      ]);
    const catalog = async (authorization: string | undefined) => {
      const response = await fetch(`${server.url}/v2/_catalog`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      return {
        status: response.status,
        body: (await response.json()) as { repositories?: string[] },
      };
    };

    before(async () => {
      await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
      await fs.writeFile(
        path.join(work.path, 'registries.conf'),
        'unqualified-search-registries = []\n',
      );
      await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [2048] });
    });

    test('alice pushes and pulls team/app', async () => {
      const pushed = await push('alice:alice-pw-1', 'team/app:v1');
      assert.equal(pushed.code, 0, pushed.stderr);
      const pulled = await pull('alice:alice-pw-1', 'team/app:v1');
      assert.equal(pulled.code, 0, pulled.stderr);
    });

    test('alice may neither push nor pull other/app; bob (staff) may', async () => {
      const refused = await push('alice:alice-pw-1', 'other/app:v1');
      assert.notEqual(refused.code, 0, 'alice pushed outside team/**');
      assert.match(refused.stderr, /denied|403|forbidden|may not/i);
      const pushed = await push('bob:bob-pw-1', 'other/app:v1');
      assert.equal(pushed.code, 0, pushed.stderr);
      const pulled = await pull('alice:alice-pw-1', 'other/app:v1');
      assert.notEqual(pulled.code, 0, 'alice pulled outside team/**');
      const direct = await fetch(`${server.url}/v2/other/app/manifests/v1`, {
        headers: { authorization: basic('alice', 'alice-pw-1') },
      });
      assert.equal(direct.status, 403);
      const viaMember = await fetch(
        `${server.url}/repository/docker-hosted/v2/other/app/tags/list`,
        {
          headers: { authorization: basic('alice', 'alice-pw-1') },
        },
      );
      assert.equal(viaMember.status, 403, 'a rule on the group covers its members');
    });

    test('_catalog lists only what the caller may read', async () => {
      const alice = await catalog(basic('alice', 'alice-pw-1'));
      assert.equal(alice.status, 200);
      assert.deepEqual(alice.body.repositories, ['team/app']);
      const bob = await catalog(basic('bob', 'bob-pw-1'));
      assert.deepEqual(bob.body.repositories, ['other/app', 'team/app']);
      assert.equal((await catalog(undefined)).status, 401);
    });
  });

  describe('npm and a scope rule', { skip: missingTools('npm') }, () => {
    async function project(name: string): Promise<string> {
      const dir = path.join(work.path, 'pkgs', name.replace('/', '+'));
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(
        path.join(dir, 'package.json'),
        JSON.stringify({ name, version: '1.0.0', license: 'MIT', main: 'index.js' }),
      );
      await fs.writeFile(path.join(dir, 'index.js'), 'module.exports = 1;\n');
      return dir;
    }

    async function npmAs(
      user: string,
    ): Promise<(args: string[], cwd: string) => ReturnType<typeof run>> {
      const { secret } = await server.app.context.identity.tokens.create(user);
      const registry = `${server.url}/npm/`;
      const env = await npmHome(
        path.join(work.path, `npm-home-${user}`),
        registry,
        `_authToken=${secret}`,
      );
      return (args, cwd) =>
        run('npm', [...args, '--registry', registry], {
          cwd,
          env,
          timeoutMs: 120_000,
          check: false,
        });
    }

    test('alice publishes @corp/pkg, not @other/pkg; bob may read @corp/pkg but not publish there', async () => {
      const alice = await npmAs('alice');
      const bob = await npmAs('bob');
      const corp = await project('@corp/pkg');
      const published = await alice(['publish', '--access', 'public'], corp);
      assert.equal(published.code, 0, published.stderr);
      const other = await alice(['publish', '--access', 'public'], await project('@other/pkg'));
      assert.notEqual(other.code, 0, 'alice published outside @corp');
      assert.match(other.stderr, /403|forbidden|may not/i);
      const bobCorp = await bob(['publish', '--access', 'public'], await project('@corp/bobs'));
      assert.notEqual(bobCorp.code, 0, 'bob published in @corp');
      const viewed = await bob(['view', '@corp/pkg', 'version'], work.path);
      assert.equal(viewed.code, 0, viewed.stderr);
      assert.match(viewed.stdout, /1\.0\.0/);
      const search = await fetch(`${server.url}/npm/-/v1/search?text=pkg`, {
        headers: { authorization: basic('bob', 'bob-pw-1') },
      });
      const names = (
        (await search.json()) as { objects: { package: { name: string } }[] }
      ).objects.map((o) => o.package.name);
      assert.deepEqual(names, ['@corp/pkg']);
    });

    test('a reload applies new rules at once; search lists only what the caller may read', async () => {
      const only = {
        repositories: ['npm'],
        paths: ['@corp/*'],
        users: ['alice'],
        groups: [],
        tokens: [],
        anonymous: false,
        actions: ['read', 'write'] as ('read' | 'write')[],
      };
      const running = server.app.context.config();
      server.app.reload({ ...running, auth: { ...running.auth, rules: [only] } });
      const searchAs = async (authorization: string) => {
        const response = await fetch(`${server.url}/npm/-/v1/search?text=pkg`, {
          headers: { authorization },
        });
        assert.equal(response.status, 200);
        const body = (await response.json()) as { objects: { package: { name: string } }[] };
        return body.objects.map((o) => o.package.name);
      };
      assert.deepEqual(await searchAs(basic('alice', 'alice-pw-1')), ['@corp/pkg']);
      assert.deepEqual(await searchAs(basic('bob', 'bob-pw-1')), [], 'bob may not read @corp');
      const packument = await fetch(`${server.url}/npm/@corp%2fpkg`, {
        headers: { authorization: basic('bob', 'bob-pw-1') },
      });
      assert.equal(packument.status, 403);
      server.app.reload(running);
    });
  });
});
