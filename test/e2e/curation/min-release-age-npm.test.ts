/**
 * Minimum release age with the real npm client: a NORA process proxies an upstream whose
 * packument says `age-lib` 1.0.0 was published years ago and 1.1.0 (latest, and `next`) one hour
 * ago (a second NORA behind a fixture that rewrites `time`). With min_release_age = "1d" in
 * enforce, `npm install age-lib` gets 1.0.0 (latest retargeted, not an error), 1.1.0 is hidden
 * and its tarball refused with the age and when it becomes available; a SIGHUP to "30m" lets
 * 1.1.0 in.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startNoraProcess, writeConfigToml } from '../../helpers/process.ts';
import { startRewriter } from '../../helpers/rewriter.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { npmUserEnv as npmEnv, writeUserNpmrc } from '../npm/clients.ts';

const OLD = '2020-01-01T00:00:00.000Z';

test(
  'npm through a min release age: the newest old-enough version installs, the young one is refused with its date, SIGHUP applies a new age',
  { skip: findTool('npm') === undefined ? 'client not installed: npm' : false, timeout: 300_000 },
  async () => {
    await using tmp = await tempDir('nora-cur-age-npm-');
    await using upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '1.1.0']) {
      assert.equal((await up.publish({ name: 'age-lib', version })).status, 201);
    }
    assert.equal(
      (await up.request('PUT', '/-/package/age-lib/dist-tags/next', '"1.1.0"')).status < 300,
      true,
    );
    const young = new Date(Date.now() - 3_600_000).toISOString();
    // Packuments (not tarballs' JSON errors): 1.0.0 published years ago, 1.1.0 an hour ago.
    await using rewriter = await startRewriter(`${upstream.url}/npm`, (doc, url) => {
      if (url.includes('/-/')) return;
      doc.time = { ...(doc.time as object | undefined), '1.0.0': OLD, '1.1.0': young };
    });
    {
      const configLines = (age: string) => [
        '[npm]',
        `proxy = "${rewriter.url}/"`,
        'metadata_ttl = 0',
        '[curation]',
        'mode = "enforce"',
        `min_release_age = "${age}"`,
      ];
      const configFile = await writeConfigToml(tmp.path, configLines('1d'));
      await using server = await startNoraProcess({
        port: await freePort(),
        args: ['serve', '-c', configFile],
        env: { NORA_LOG_LEVEL: 'info' },
      });
      const registry = `${server.url}/npm/`;
      const npm = async (label: string, spec: string) => {
        const home = path.join(tmp.path, `home-${label}`);
        await fs.mkdir(home, { recursive: true });
        const npmrc = await writeUserNpmrc(home, registry);
        const project = path.join(tmp.path, `project-${label}`);
        await fs.mkdir(project, { recursive: true });
        await fs.writeFile(
          path.join(project, 'package.json'),
          '{"name":"consumer","version":"1.0.0","private":true}\n',
        );
        const result = await run(
          'npm',
          ['install', '--no-audit', '--no-fund', spec, '--registry', registry],
          { cwd: project, env: npmEnv(home, npmrc), check: false, timeoutMs: 120_000 },
        );
        const manifest = path.join(project, 'node_modules', 'age-lib', 'package.json');
        const version = await fs
          .readFile(manifest, 'utf8')
          .then((text) => (JSON.parse(text) as { version: string }).version)
          .catch(() => undefined);
        return { result, version };
      };

      // The dist-tag retarget keeps a bare install working: latest (and next) → 1.0.0.
      const bare = await npm('bare', 'age-lib');
      assert.equal(bare.result.code, 0, output(bare.result));
      assert.equal(bare.version, '1.0.0');
      const nextTag = await npm('next', 'age-lib@next');
      assert.equal(nextTag.result.code, 0, output(nextTag.result));
      assert.equal(nextTag.version, '1.0.0');
      const group = new NpmHttp(`${server.url}/npm`);
      const packument = (await group.packument('age-lib')).json<{
        'dist-tags': Record<string, string>;
        versions: Record<string, unknown>;
        time: Record<string, string>;
      }>();
      assert.deepEqual(Object.keys(packument.versions), ['1.0.0']);
      assert.deepEqual(packument['dist-tags'], { latest: '1.0.0', next: '1.0.0' });
      assert.equal(packument.time['1.1.0'], undefined);

      // The young version: no matching version for npm, 403 with the age for its tarball.
      const exact = await npm('exact', 'age-lib@1.1.0');
      assert.notEqual(exact.result.code, 0, output(exact.result));
      assert.match(output(exact.result), /ETARGET|No matching version/);
      const refused = await group.request('GET', '/age-lib/-/age-lib-1.1.0.tgz');
      assert.equal(refused.status, 403, refused.text);
      const available = new Date(Date.parse(young) + 86_400_000).toISOString().slice(0, 19);
      assert.match(
        refused.json<{ error: string }>().error,
        new RegExp(`min_release_age 1d\\): published .*available from ${available}Z`),
      );

      // SIGHUP with a shorter age: 1.1.0 (an hour old) is in, and latest is back on it.
      await writeConfigToml(tmp.path, configLines('30m'));
      server.child.kill('SIGHUP');
      let after = await group.request('GET', '/age-lib/-/age-lib-1.1.0.tgz');
      for (let i = 0; i < 200 && after.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await group.request('GET', '/age-lib/-/age-lib-1.1.0.tgz');
      }
      assert.equal(after.status, 200, after.text);
      const fresh = await npm('fresh', 'age-lib');
      assert.equal(fresh.result.code, 0, output(fresh.result));
      assert.equal(fresh.version, '1.1.0');
    }
  },
);
