/**
 * One npm scenario, written once, run against npm, pnpm, yarn classic and yarn berry, each
 * against its own NORA on loopback with auth enabled: log in with a token, whoami, publish a
 * scoped and an unscoped package (one depends on the other), install them into a fresh project,
 * dist-tags, deprecate, search, unpublish. A client that lacks a command skips that step with
 * the reason; a missing client skips everything.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { CLIENTS, type NpmClient } from './clients.ts';

const LIB = '@e2e/lib';
const APP = 'e2e-app';

async function writePackage(
  dir: string,
  manifest: Record<string, unknown>,
  main: string,
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ license: 'MIT', main: 'index.js', ...manifest }, null, 2)}\n`,
  );
  await fs.writeFile(path.join(dir, 'index.js'), main);
  await fs.writeFile(path.join(dir, 'README.md'), `# ${String(manifest['name'])}\n`);
}

for (const client of CLIENTS) {
  describe(`npm scenario with ${client.id}`, { skip: client.missing, concurrency: false }, () => {
    test(
      'publish, install, dist-tag, deprecate, search, unpublish, whoami',
      { timeout: 600_000 },
      async (t) => {
        await using server = await startTestServer({
          config: { auth: { enabled: true, anonymous_read: true, allow_registration: true } },
        });
        await using tmp = await tempDir(`nora-e2e-${client.id}-`);
        const registry = `${server.url}/npm/`;
        const http = new NpmHttp(`${server.url}/npm`);
        const login = await http.login('alice', 'alice-password');
        assert.equal(login.status, 201, login.text);
        const home = path.join(tmp.path, 'home');
        await fs.mkdir(home, { recursive: true });
        await client.configure({ registry, token: http.token!, home });

        await step(t, client, 'whoami', async () => {
          const out = await client.whoami();
          assert.match(out.stdout, /alice/);
        });

        await t.test('publish a scoped and an unscoped package that depends on it', async () => {
          const lib = path.join(tmp.path, 'lib');
          await writePackage(
            lib,
            { name: LIB, version: '1.0.0' },
            "module.exports = 'lib@1.0.0';\n",
          );
          await client.prepareProject(lib);
          await client.publish(lib);
          const app = path.join(tmp.path, 'app');
          await writePackage(
            app,
            { name: APP, version: '1.0.0', dependencies: { [LIB]: '^1.0.0' } },
            `module.exports = 'app+' + require('${LIB}');\n`,
          );
          await client.prepareProject(app);
          await client.publish(app);
          const doc = (await http.packument(APP)).json<{
            versions: Record<string, { dependencies: object }>;
          }>();
          assert.deepEqual(doc.versions['1.0.0']?.dependencies, { [LIB]: '^1.0.0' });
        });

        await t.test(
          'install into a fresh project resolves both through the registry',
          async () => {
            const project = path.join(tmp.path, 'project');
            await writePackage(project, { name: 'consumer', version: '1.0.0', private: true }, '');
            await client.prepareProject(project);
            await client.install(project, [APP]);
            const required = (await import(
              path.join(project, 'node_modules', APP, 'index.js')
            )) as {
              default: string;
            };
            assert.equal(required.default, 'app+lib@1.0.0');
            const files = await fs.readdir(project);
            const lockfile = files.find((f) => /lock/.test(f));
            assert.ok(lockfile, `a lockfile in ${files.join(',')}`);
          },
        );

        await t.test('view shows versions and dist-tags', async () => {
          const out = await client.view(LIB);
          assert.match(out.stdout, /1\.0\.0/);
        });

        await t.test('dist-tag: publish with --tag next, then add / ls / rm', async () => {
          const lib = path.join(tmp.path, 'lib');
          await writePackage(
            lib,
            { name: LIB, version: '1.1.0' },
            "module.exports = 'lib@1.1.0';\n",
          );
          await client.publish(lib, 'next');
          let tags = (await http.request('GET', `/-/package/${LIB}/dist-tags`)).json();
          assert.deepEqual(tags, { latest: '1.0.0', next: '1.1.0' });
          await client.distTagAdd(`${LIB}@1.1.0`, 'stable');
          const listed = await client.distTagList(LIB);
          assert.match(listed.stdout, /stable/);
          tags = (await http.request('GET', `/-/package/${LIB}/dist-tags`)).json();
          assert.equal(tags['stable'], '1.1.0');
          await client.distTagRemove(LIB, 'stable');
          tags = (await http.request('GET', `/-/package/${LIB}/dist-tags`)).json();
          assert.equal(tags['stable'], undefined);
        });

        await step(t, client, 'deprecate', async () => {
          await client.deprecate(`${LIB}@1.0.0`, 'please use 1.1.0');
          const doc = (await http.packument(LIB, true)).json<{
            versions: Record<string, { deprecated?: string }>;
          }>();
          assert.equal(doc.versions['1.0.0']?.deprecated, 'please use 1.1.0');
          assert.equal(doc.versions['1.1.0']?.deprecated, undefined);
        });

        await step(t, client, 'search', async () => {
          const out = await client.search('e2e');
          assert.match(out.stdout, /e2e-app/);
        });

        await step(t, client, 'unpublish', async () => {
          await client.unpublish(`${LIB}@1.1.0`);
          const doc = (await http.packument(LIB)).json<{
            versions: object;
            'dist-tags': Record<string, string>;
          }>();
          assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
          assert.equal(doc['dist-tags']['latest'], '1.0.0');
          assert.equal((await http.request('GET', `/${LIB}/-/lib-1.1.0.tgz`)).status, 404);
        });
      },
    );
  });
}

async function step(
  t: {
    test: (
      name: string,
      options: { skip: string | false },
      fn: () => Promise<void>,
    ) => Promise<void>;
  },
  client: NpmClient,
  name: 'whoami' | 'deprecate' | 'unpublish' | 'search',
  fn: () => Promise<void>,
): Promise<void> {
  await t.test(name, { skip: client.lacks[name] ?? false }, fn);
}
