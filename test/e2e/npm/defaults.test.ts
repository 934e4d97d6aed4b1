/**
 * Issue 11 with the real clients: `npm login` then `npm publish` out of the box with auth off
 * (fresh user config, no token); a read-only token from `npm token create` cannot publish but
 * installs; and a version equal by SemVer precedence to a published one (3.0.0+b2 after
 * 3.0.0+b1) is refused for every client, which then installs the first bytes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { CLIENTS } from './clients.ts';

/** A private HOME whose user config names only the registry: no token, nothing inherited. */
async function freshNpm(home: string, registry: string) {
  await fs.mkdir(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!/^(npm_|yarn_|pnpm_|corepack_)/i.test(key)) env[key] = value;
  Object.assign(env, {
    HOME: home,
    NPM_CONFIG_USERCONFIG: path.join(home, '.npmrc'),
    NPM_CONFIG_CACHE: path.join(home, 'npm-cache'),
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    NPM_CONFIG_FUND: 'false',
    NPM_CONFIG_AUDIT: 'false',
  });
  await fs.writeFile(path.join(home, '.npmrc'), `registry=${registry}\n`);
  return (args: readonly string[], cwd = home, check = true) =>
    run('npm', args, { cwd, env, check, timeoutMs: 120_000, input: '' });
}

async function writePackage(dir: string, name: string, version: string, main: string) {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }, null, 2)}\n`,
  );
  await fs.writeFile(path.join(dir, 'index.js'), main);
}

describe('npm defaults with auth off (real npm)', { skip: missingTools('npm') }, () => {
  for (const command of ['login', 'adduser']) {
    test(`fresh config: publish → ENEEDAUTH; npm ${command} → ok; publish and install work`, async () => {
      await using server = await startTestServer();
      await using tmp = await tempDir('nora-e2e-login-');
      const registry = `${server.url}/npm/`;
      const npm = await freshNpm(path.join(tmp.path, 'home'), registry);
      const pkg = path.join(tmp.path, 'pkg');
      await writePackage(pkg, `open-${command}`, '1.0.0', "module.exports = 'open';\n");

      const before = await npm(['publish'], pkg, false);
      assert.notEqual(before.code, 0);
      assert.match(before.stderr, /ENEEDAUTH/);

      const login = await npm([command], tmp.path, false);
      assert.equal(login.code, 0, `${login.stdout}\n${login.stderr}`);
      assert.match(login.stdout + login.stderr, /Logged in/);
      // What README says the user sees (trial 35 newB F5): npm's web login always prints the
      // page's address, though nothing is to be done there; it finishes by itself.
      const address = `${registry}-/v1/login/open`.replace(/[.?]/g, '\\$&');
      assert.match(
        login.stdout,
        new RegExp(
          `^${command === 'login' ? 'Login at' : 'Create your account at'}:\\n${address}\\nLogged in on ${registry.replace(/[.]/g, '\\.')}\\.\\n$`,
        ),
      );
      const page = await fetch(`${registry}-/v1/login/open`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /needs nothing else/);
      const npmrc = await fs.readFile(path.join(tmp.path, 'home', '.npmrc'), 'utf8');
      assert.match(npmrc, /_authToken=nora_anonymous_/);
      // The documented flow ends cleanly: the anonymous token is "anonymous", not an E401.
      const whoami = await npm(['whoami'], tmp.path, false);
      assert.equal(whoami.code, 0, whoami.stderr);
      assert.equal(whoami.stdout.trim(), 'anonymous');

      const publish = await npm(['publish'], pkg, false);
      assert.equal(publish.code, 0, publish.stderr);
      const project = path.join(tmp.path, 'project');
      await writePackage(project, 'consumer', '1.0.0', '');
      await npm(['install', `open-${command}`], project);
      const installed = await fs.readFile(
        path.join(project, 'node_modules', `open-${command}`, 'index.js'),
        'utf8',
      );
      assert.match(installed, /open/);
    });
  }

  test('deprecate, unpublish name@version and unpublish --force send the current _rev; a stale one → 409', async () => {
    await using server = await startTestServer();
    await using tmp = await tempDir('nora-e2e-rev-');
    const npm = await freshNpm(path.join(tmp.path, 'home'), `${server.url}/npm/`);
    await npm(['login'], tmp.path);
    const pkg = path.join(tmp.path, 'pkg');
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
      await writePackage(pkg, 'rev-e2e', version, `module.exports = '${version}';\n`);
      await npm(['publish'], pkg);
    }
    const http = new NpmHttp(`${server.url}/npm`);
    const stale = (await http.request('GET', '/rev-e2e?write=true')).json<{ _rev: string }>()._rev;
    await npm(['deprecate', 'rev-e2e@1.0.0', 'use 1.2.0']);
    await npm(['unpublish', 'rev-e2e@1.1.0']);
    type Doc = { versions: Record<string, { deprecated?: string }> };
    const doc = (await http.packument('rev-e2e')).json<Doc>();
    assert.deepEqual(Object.keys(doc.versions).sort(), ['1.0.0', '1.2.0']);
    assert.equal(doc.versions['1.0.0']?.deprecated, 'use 1.2.0');
    assert.equal((await http.request('GET', '/rev-e2e/-/rev-e2e-1.1.0.tgz')).status, 404);
    // The revision read before those writes no longer deletes anything.
    assert.equal((await http.request('DELETE', `/rev-e2e/-rev/${stale}`)).status, 409);
    await npm(['unpublish', 'rev-e2e', '--force']);
    assert.equal((await http.packument('rev-e2e')).status, 404);
  });

  test('npm token create --packages-and-scopes-permission=read-only: installs, cannot publish', async () => {
    await using server = await startTestServer({ config: { auth: { allow_registration: true } } });
    await using tmp = await tempDir('nora-e2e-rotoken-');
    const registry = `${server.url}/npm/`;
    const http = new NpmHttp(`${server.url}/npm`);
    assert.equal((await http.login('rita', 'rita-password')).status, 201);
    const home = path.join(tmp.path, 'home');
    const npm = await freshNpm(home, registry);
    const hostPath = registry.replace(/^https?:/, '');
    await fs.appendFile(path.join(home, '.npmrc'), `${hostPath}:_authToken=${http.token!}\n`);
    const pkg = path.join(tmp.path, 'pkg');
    await writePackage(pkg, 'ro-target', '1.0.0', "module.exports = 'ro';\n");
    await npm(['publish'], pkg);

    // npm 11 sends `packages_and_scopes_permission: "read-only"` for this flag (its `--read-only`
    // flag sends nothing: see docs/npm.md).
    const created = await npm([
      'token',
      'create',
      '--packages-and-scopes-permission=read-only',
      '--password=rita-password',
      '--json',
    ]);
    const token = (JSON.parse(created.stdout) as { token: string; readonly: boolean }).token;
    assert.equal((JSON.parse(created.stdout) as { readonly: boolean }).readonly, true);
    await fs.writeFile(
      path.join(home, '.npmrc'),
      `registry=${registry}\n${hostPath}:_authToken=${token}\n`,
    );
    await writePackage(pkg, 'ro-target', '2.0.0', "module.exports = 'ro2';\n");
    const refused = await npm(['publish'], pkg, false);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /403|read-only/);
    const tag = await npm(['dist-tag', 'add', 'ro-target@1.0.0', 'beta'], tmp.path, false);
    assert.notEqual(tag.code, 0);
    const project = path.join(tmp.path, 'project');
    await writePackage(project, 'consumer', '1.0.0', '');
    await npm(['install', 'ro-target'], project);
    const doc = (await http.packument('ro-target')).json<{ versions: object }>();
    assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
  });
});

describe('npm search of a proxied package (real npm)', { skip: missingTools('npm') }, () => {
  test('shows its description, author, publisher and publish date, not the cache time', async () => {
    await using upstream = await startTestServer({
      config: { auth: { allow_registration: true } },
    });
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.login('ursula', 'ursula-password')).status, 201);
    const publish = await up.publish({
      name: 'found-lib',
      version: '2.0.0',
      description: 'a library worth finding',
      keywords: ['findable'],
      extra: { author: 'Ann Author <ann@example.test>' },
    });
    assert.equal(publish.status, 201, publish.text);
    const time = (await up.packument('found-lib')).json<{ time: Record<string, string> }>().time;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await using server = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/` } },
    });
    await using tmp = await tempDir('nora-e2e-search-');
    const npm = await freshNpm(path.join(tmp.path, 'home'), `${server.url}/npm/`);
    await npm(['view', 'found-lib', 'version']); // the proxy sees (and indexes) it
    const out = await npm(['search', 'found-lib', '--json']);
    const results = JSON.parse(out.stdout) as Record<string, unknown>[];
    const found = results.find((r) => r['name'] === 'found-lib');
    assert.ok(found, out.stdout);
    assert.equal(found['description'], 'a library worth finding');
    assert.equal(found['version'], '2.0.0');
    assert.deepEqual(found['keywords'], ['findable']);
    assert.equal(new Date(String(found['date'])).toISOString(), time['2.0.0']);
    assert.match(JSON.stringify(found['publisher']), /ursula/);
    assert.match(JSON.stringify(found), /Ann Author/);
  });
});

for (const client of CLIENTS) {
  describe(`build metadata with ${client.id}`, { skip: client.missing }, () => {
    test('3.0.0+b2 after 3.0.0+b1 is refused; installing ~3.0.0 gets the first bytes', async () => {
      await using server = await startTestServer();
      await using tmp = await tempDir(`nora-e2e-build-${client.id}-`);
      const http = new NpmHttp(`${server.url}/npm`);
      // Auth is off: an anonymous login gives the clients the token they insist on.
      assert.equal((await http.login('anyone', 'anything')).status, 201);
      const name = `buildmeta-${client.id.replace(/[^a-z]/g, '')}`;
      assert.equal((await http.publish({ name, version: '3.0.0+b1' })).status, 201);
      const home = path.join(tmp.path, 'home');
      await fs.mkdir(home, { recursive: true });
      await client.configure({ registry: `${server.url}/npm/`, token: http.token!, home });

      const pkg = path.join(tmp.path, 'pkg');
      await writePackage(pkg, name, '3.0.0+b2', "module.exports = 'second';\n");
      await client.prepareProject(pkg);
      await assert.rejects(client.publish(pkg), 'the second publish must fail');
      const doc = (await http.packument(name)).json<{ versions: object }>();
      assert.deepEqual(Object.keys(doc.versions), ['3.0.0+b1']);

      const project = path.join(tmp.path, 'project');
      await writePackage(project, 'consumer', '1.0.0', '');
      await client.prepareProject(project);
      // A range, as dependencies say it (npm and pnpm look an exact version up by its key, and
      // the key stored is 3.0.0+b1).
      await client.install(project, [`${name}@~3.0.0`]);
      const installed = await fs.readFile(
        path.join(project, 'node_modules', name, 'index.js'),
        'utf8',
      );
      assert.match(installed, /3\.0\.0\+b1/, 'the bytes of the first publish');
    });
  });
}
