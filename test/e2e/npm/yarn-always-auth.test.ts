/**
 * yarn with auth on and anonymous read off, set up as README's npm section says (eighth session's
 * trial: with the `.npmrc` token alone, yarn classic and berry fetched the unscoped dependency of a
 * scoped package anonymously and stopped on 401). yarn classic with `always-auth=true` in
 * `.npmrc`, yarn berry with `npmAuthToken` + `npmAlwaysAuth: true` in `.yarnrc.yml`: both install
 * a scoped package and its unscoped dependency.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { PROJECT_ROOT, run } from '../../helpers/tools.ts';

const TIMEOUT = 180_000;
const NPM_TOOLS = path.join(PROJECT_ROOT, '.tools', 'npm-tools', 'node_modules');
const YARN_CLASSIC = path.join(NPM_TOOLS, 'yarn', 'bin', 'yarn.js');
const YARN_BERRY = path.join(NPM_TOOLS, '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');

function missing(script: string, what: string): string | false {
  return existsSync(script)
    ? false
    : `client not installed: ${what} (run scripts/install-test-clients.sh)`;
}

/** The parent environment minus package-manager settings, with a private HOME. */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|yarn_|pnpm_|corepack_|berry_)/i.test(key)) env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    NPM_CONFIG_USERCONFIG: path.join(home, '.npmrc'),
    XDG_CACHE_HOME: path.join(home, 'xdg-cache'),
    XDG_CONFIG_HOME: path.join(home, 'xdg-config'),
    XDG_DATA_HOME: path.join(home, 'xdg-data'),
  };
}

/** A scoped package depending on an unscoped one, both published by a write token. */
async function publishPair(url: string, token: string): Promise<void> {
  const publish = async (name: string, dependencies: Record<string, string>) => {
    const tarball = await packTarball(name, dependencies);
    const version = '1.0.0';
    const res = await fetch(`${url}/npm/${name.replace('/', '%2f')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        name,
        'dist-tags': { latest: version },
        versions: {
          [version]: {
            name,
            version,
            dependencies,
            dist: { tarball: `${url}/npm/${name}/-/${name.split('/').pop() ?? name}-1.0.0.tgz` },
          },
        },
        _attachments: {
          [`${name.split('/').pop() ?? name}-1.0.0.tgz`]: {
            content_type: 'application/octet-stream',
            data: tarball.toString('base64'),
            length: tarball.length,
          },
        },
      }),
    });
    assert.equal(res.status, 201, await res.text());
  };
  await publish('ya-plain', {});
  await publish('@ya/app', { 'ya-plain': '^1.0.0' });
}

/** `npm pack` of a minimal package (the real tarball layout yarn unpacks). */
async function packTarball(name: string, dependencies: Record<string, string>): Promise<Buffer> {
  await using dir = await tempDir('nora-yarn-pack-');
  await fs.writeFile(
    path.join(dir.path, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', license: 'MIT', main: 'index.js', dependencies }),
  );
  await fs.writeFile(
    path.join(dir.path, 'index.js'),
    `module.exports = ${JSON.stringify(name)};\n`,
  );
  const packed = await run('npm', ['pack', '--silent'], {
    cwd: dir.path,
    env: cleanEnv(dir.path),
    timeoutMs: TIMEOUT,
  });
  return await fs.readFile(path.join(dir.path, packed.stdout.trim().split('\n').pop() ?? ''));
}

describe('yarn with anonymous read off, configured as README says', () => {
  const setup = async (tmp: string) => {
    const htpasswd = path.join(tmp, 'users.htpasswd');
    await fs.writeFile(htpasswd, `yara:${bcrypt.hashSync('yara-pw', 5)}\n`);
    const server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
    });
    const res = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'yara', password: 'yara-pw', role: 'write' }),
    });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    await publishPair(server.url, token);
    return { server, token };
  };

  test(
    'yarn classic: .npmrc token + always-auth=true installs a scoped package and its unscoped dependency',
    { skip: missing(YARN_CLASSIC, 'yarn@1'), timeout: 300_000 },
    async (t) => {
      await using tmp = await tempDir('nora-yarn1-auth-');
      const { server, token } = await setup(tmp.path);
      t.after(() => server.close());
      const registry = `${server.url}/npm/`;
      const home = path.join(tmp.path, 'home');
      const project = path.join(tmp.path, 'project');
      await fs.mkdir(home);
      await fs.mkdir(project);
      await fs.writeFile(
        path.join(home, '.npmrc'),
        `registry=${registry}\n${registry.replace(/^https?:/, '')}:_authToken=${token}\nalways-auth=true\n`,
      );
      await fs.writeFile(path.join(project, 'package.json'), '{"name":"p","private":true}\n');
      const added = await run(
        process.execPath,
        [YARN_CLASSIC, 'add', '@ya/app', '--non-interactive', '--no-progress'],
        {
          cwd: project,
          env: { ...cleanEnv(home), YARN_CACHE_FOLDER: path.join(home, 'yarn-cache') },
          timeoutMs: TIMEOUT,
          check: false,
        },
      );
      assert.equal(added.code, 0, `${added.stdout}\n${added.stderr}`);
      assert.ok(existsSync(path.join(project, 'node_modules', 'ya-plain', 'index.js')));
    },
  );

  test(
    'yarn berry: .yarnrc.yml npmAuthToken + npmAlwaysAuth installs a scoped package and its unscoped dependency',
    { skip: missing(YARN_BERRY, '@yarnpkg/cli-dist'), timeout: 300_000 },
    async (t) => {
      await using tmp = await tempDir('nora-berry-auth-');
      const { server, token } = await setup(tmp.path);
      t.after(() => server.close());
      const home = path.join(tmp.path, 'home');
      const project = path.join(tmp.path, 'project');
      await fs.mkdir(home);
      await fs.mkdir(project);
      await fs.writeFile(
        path.join(project, '.yarnrc.yml'),
        [
          `npmRegistryServer: "${server.url}/npm"`,
          'unsafeHttpWhitelist: ["127.0.0.1"]',
          'npmMinimalAgeGate: 0',
          `npmAuthToken: "${token}"`,
          'npmAlwaysAuth: true',
          'nodeLinker: node-modules',
          'enableTelemetry: false',
          'enableGlobalCache: false',
          '',
        ].join('\n'),
      );
      await fs.writeFile(path.join(project, 'package.json'), '{"name":"p","private":true}\n');
      await fs.writeFile(path.join(project, 'yarn.lock'), '');
      const added = await run(process.execPath, [YARN_BERRY, 'add', '@ya/app'], {
        cwd: project,
        env: { ...cleanEnv(home), YARN_IGNORE_PATH: '1', YARN_ENABLE_IMMUTABLE_INSTALLS: 'false' },
        timeoutMs: TIMEOUT,
        check: false,
      });
      assert.equal(added.code, 0, `${added.stdout}\n${added.stderr}`);
      assert.ok(existsSync(path.join(project, 'node_modules', 'ya-plain', 'index.js')));
    },
  );
});
