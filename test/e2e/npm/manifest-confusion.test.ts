/**
 * Manifest confusion (trial 13 F2): a publish whose tarball's package.json names another package
 * or version is refused (400, npm's `{error}`), so what `npm install` unpacks is what the registry
 * shows. The check must not refuse what the real clients publish: each of npm, pnpm, yarn classic
 * and yarn berry publishes a package whose package.json spells its version with build metadata
 * (`1.2.3+build.7`, which npm's publish sends as `1.2.3`), and a scoped one; the crafted body
 * (as a script would PUT it) is refused and leaves nothing a client can install.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { integrityOf, makeTarball, publishBody } from '../../integration/npm/fixtures.ts';
import { CLIENTS } from './clients.ts';

async function writePackage(dir: string, name: string, version: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }, null, 2)}\n`,
  );
  await fs.writeFile(path.join(dir, 'index.js'), `module.exports = ${JSON.stringify(version)};\n`);
}

for (const client of CLIENTS) {
  describe(
    `tarball package.json checked at publish, with ${client.id}`,
    { skip: client.missing },
    () => {
      test('the client publishes (build metadata, scoped name); a confused body is refused', async () => {
        await using server = await startTestServer();
        await using tmp = await tempDir(`nora-e2e-confusion-${client.id}-`);
        const http = new NpmHttp(`${server.url}/npm`);
        // Auth is off: an anonymous login gives the clients the token they insist on.
        assert.equal((await http.login('anyone', 'anything')).status, 201);
        const home = path.join(tmp.path, 'home');
        await fs.mkdir(home, { recursive: true });
        await client.configure({ registry: `${server.url}/npm/`, token: http.token!, home });

        const id = client.id.replace(/[^a-z]/g, '');
        for (const name of [`mc-${id}`, `@mc/${id}`]) {
          const pkg = path.join(tmp.path, name.replace(/[@/]/g, '_'));
          await writePackage(pkg, name, '1.2.3+build.7');
          await client.prepareProject(pkg);
          const published = await client.publish(pkg);
          assert.equal(published.code, 0, `${name}: ${published.stderr}`);
          const doc = (await http.packument(name)).json<{ versions: object }>();
          assert.equal(Object.keys(doc.versions).length, 1, JSON.stringify(doc.versions));
        }

        const confused = `mc-bad-${id}`;
        const body = publishBody({ name: confused, version: '1.0.0' });
        const tgz = makeTarball({
          'package.json': JSON.stringify({ name: 'totally-other', version: '9.9.9' }),
          'index.js': 'module.exports = "not what the registry shows";\n',
        });
        const versions = body['versions'] as Record<string, Record<string, unknown>>;
        versions['1.0.0']!['dist'] = integrityOf(tgz);
        body['_attachments'] = {
          [`${confused}-1.0.0.tgz`]: { data: tgz.toString('base64'), length: tgz.length },
        };
        const refused = await http.request('PUT', `/${confused}`, body);
        assert.equal(refused.status, 400, refused.text);
        assert.match(
          refused.json<{ error: string }>().error,
          /package\.json names "totally-other" version "9\.9\.9"/,
        );
        const project = path.join(tmp.path, 'project');
        await writePackage(project, 'consumer', '1.0.0');
        await client.prepareProject(project);
        await assert.rejects(client.install(project, [confused]), 'nothing was stored');
      });
    },
  );
}
