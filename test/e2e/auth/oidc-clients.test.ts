/**
 * CI identity with the real clients, auth on and anonymous read off: a CI job's OIDC token (from
 * the local issuer fixture) used as npm's `_authToken` to publish, as curl's Bearer to read the
 * packument, and as the password of skopeo/podman (`oidc:$JWT`) to push within its namespace
 * scope — and refused outside it, or when its `sub` matches no role rule.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OidcIssuer } from '../../helpers/oidc-issuer.ts';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';
import { isolatedNpmEnv } from '../../helpers/npm-ci.ts';

const SUB_MAIN = 'repo:myorg/app:ref:refs/heads/main';
const SUB_PR = 'repo:myorg/app:ref:refs/pull/3/merge';

describe('CI OIDC tokens with real clients', () => {
  let issuer: OidcIssuer;
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };

  before(async () => {
    issuer = await OidcIssuer.start();
    work = await tempDir('nora-e2e-oidc-');
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          oidc: {
            enabled: true,
            providers: [
              {
                name: 'ci',
                issuer: issuer.url,
                audience: 'nora',
                // Image names under team/, npm packages (no slash in unscoped names), @ci scope.
                namespace_scope: ['team/**', 'ci-*', '@ci/*'],
                role_rules: [{ pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'write' }],
              },
            ],
          },
        },
      },
    });
  });

  after(async () => {
    await server.close();
    await issuer.close();
    await work[Symbol.asyncDispose]();
  });

  test(
    'npm publish with the JWT as _authToken; curl reads the packument with Bearer',
    {
      skip: missingTools('npm', 'curl'),
    },
    async () => {
      const token = await issuer.mint({ sub: SUB_MAIN });
      const home = path.join(work.path, 'npm-home');
      const pkg = path.join(work.path, 'pkg');
      await fs.mkdir(home, { recursive: true });
      await fs.mkdir(pkg, { recursive: true });
      const registry = `${server.url}/npm/`;
      await fs.writeFile(
        path.join(home, '.npmrc'),
        `registry=${registry}\n${registry.replace(/^https?:/, '')}:_authToken=${token}\n`,
      );
      await fs.writeFile(
        path.join(pkg, 'package.json'),
        JSON.stringify({ name: 'ci-built', version: '1.0.0', license: 'MIT' }),
      );
      await fs.writeFile(path.join(pkg, 'index.js'), 'module.exports = 1;\n');
      const env = isolatedNpmEnv(home);
      const npm = (args: readonly string[]) =>
        run('npm', args, { cwd: pkg, env, check: false, timeoutMs: 120_000, input: '' });

      const whoami = await npm(['whoami']);
      assert.equal(whoami.code, 0, whoami.stderr);
      assert.equal(whoami.stdout.trim(), `ci:${SUB_MAIN}`);
      const published = await npm(['publish']);
      assert.equal(published.code, 0, `${published.stdout}\n${published.stderr}`);

      const curl = (authorization: string) =>
        run(
          'curl',
          ['-sS', '-w', '\n%{http_code}', '-H', authorization, `${server.url}/npm/ci-built`],
          { check: false, timeoutMs: 30_000 },
        );
      const read = await curl(`Authorization: Bearer ${token}`);
      const [body = '', status] = read.stdout.split(/\n(?=\d{3}$)/);
      assert.equal(status, '200', read.stdout);
      assert.equal((JSON.parse(body) as { name: string }).name, 'ci-built');
      const pr = await curl(`Authorization: Bearer ${await issuer.mint({ sub: SUB_PR })}`);
      assert.match(pr.stdout, /no role rule matches sub/);
      assert.match(pr.stdout, /401$/);
    },
  );

  describe('OCI clients', { skip: missingTools('skopeo', 'podman') }, () => {
    const env = (): NodeJS.ProcessEnv => ({
      ...process.env,
      REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
      HOME: work.path,
    });
    const tool = (name: string, args: readonly string[]) =>
      run(name, args, { env: env(), cwd: work.path, timeoutMs: 120_000, check: false });

    before(async () => {
      await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
      await fs.writeFile(
        path.join(work.path, 'registries.conf'),
        'unqualified-search-registries = []\n',
      );
      await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [2048] });
    });

    const push = async (token: string, image: string) =>
      tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `oidc:${token}`,
        `oci:${path.join(work.path, 'layout')}:v1`,
        `docker://${server.host}/${image}`,
      ]);

    test('skopeo push with --dest-creds oidc:$JWT: team/app ok, other/app denied', async () => {
      const token = await issuer.mint({ sub: SUB_MAIN });
      const pushed = await push(token, 'team/app:v1');
      assert.equal(pushed.code, 0, pushed.stderr);
      const denied = await push(token, 'other/app:v1');
      assert.notEqual(denied.code, 0, 'push outside the namespace scope succeeded');
      // 401 insufficient_scope: containers/image prints the challenge's error_description.
      assert.match(denied.stderr, /denied: /);
      const tags = await tool('skopeo', [
        'list-tags',
        '--tls-verify=false',
        '--creds',
        `oidc:${token}`,
        `docker://${server.host}/team/app`,
      ]);
      assert.equal(tags.code, 0, tags.stderr);
      assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ['v1']);
    });

    test('podman login -u oidc -p $JWT succeeds; a PR token is refused', async () => {
      const ok = await tool('podman', [
        'login',
        '--tls-verify=false',
        '-u',
        'oidc',
        '-p',
        await issuer.mint({ sub: SUB_MAIN }),
        server.host,
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      const refused = await tool('podman', [
        'login',
        '--tls-verify=false',
        '-u',
        'oidc',
        '-p',
        await issuer.mint({ sub: SUB_PR }),
        server.host,
      ]);
      assert.notEqual(refused.code, 0, 'a pull-request token logged in');
    });
  });
});
