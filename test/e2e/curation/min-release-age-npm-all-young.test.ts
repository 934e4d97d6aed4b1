/**
 * Minimum release age with the real npm client when EVERY version of a package is too young:
 * an upstream (a second NORA behind a fixture that rewrites `time`) whose `young-lib` 1.0.0 was
 * published two hours ago and 1.1.0 one hour ago. With min_release_age = "1d" in enforce the
 * packument is a 404 in npm's error shape naming curation and when the first version becomes
 * allowed (1.0.0, two hours ago + 1d), which `npm install` prints, instead of an empty packument
 * that npm reports as `No matching version found for young-lib@latest`. A package with one old
 * version next to it still installs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startRewriter } from '../../helpers/rewriter.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { homeEnv, writeUserNpmrc } from '../npm/clients.ts';

test(
  'npm through a min release age: a package whose every version is too young is a 404 naming curation and the first release time',
  { skip: findTool('npm') === undefined ? 'client not installed: npm' : false, timeout: 300_000 },
  async () => {
    await using tmp = await tempDir('nora-cur-age-npm-young-');
    await using upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '1.1.0']) {
      assert.equal((await up.publish({ name: 'young-lib', version })).status, 201);
    }
    assert.equal((await up.publish({ name: 'old-lib', version: '1.0.0' })).status, 201);
    const first = new Date(Date.now() - 7_200_000).toISOString();
    const second = new Date(Date.now() - 3_600_000).toISOString();
    await using rewriter = await startRewriter(`${upstream.url}/npm`, (doc, url) => {
      if (url.includes('/-/')) return;
      const time = doc.time as Record<string, string> | undefined;
      doc.time =
        doc.name === 'young-lib'
          ? { ...time, '1.0.0': first, '1.1.0': second }
          : { ...time, '1.0.0': '2020-01-01T00:00:00.000Z' };
    });
    await using server = await startTestServer({
      config: {
        npm: { proxy: `${rewriter.url}/`, metadata_ttl: 0 },
        curation: { mode: 'enforce', min_release_age: '1d' },
      },
    });
    const registry = `${server.url}/npm/`;
    const install = async (label: string, spec: string) => {
      const home = path.join(tmp.path, `home-${label}`);
      await fs.mkdir(home, { recursive: true });
      await writeUserNpmrc(home, registry);
      const project = path.join(tmp.path, `project-${label}`);
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(
        path.join(project, 'package.json'),
        '{"name":"consumer","version":"1.0.0","private":true}\n',
      );
      return run('npm', ['install', '--no-audit', '--no-fund', spec, '--registry', registry], {
        cwd: project,
        env: homeEnv(home),
        check: false,
        timeoutMs: 120_000,
      });
    };
    const allowedAt = new Date(Date.parse(first) + 86_400_000).toISOString().slice(0, 19);

    const refused = await install('young', 'young-lib');
    assert.notEqual(refused.code, 0, output(refused));
    assert.match(output(refused), /404/);
    assert.match(
      output(refused),
      new RegExp(
        `young-lib has no version curation allows: npm young-lib@1\\.0\\.0 is blocked by curation \\(min_release_age 1d\\).*available from ${allowedAt}Z`,
      ),
    );
    assert.doesNotMatch(output(refused), /No versions available|No matching version/);

    // Over HTTP: npm's error shape, full and abbreviated alike.
    const group = new NpmHttp(`${server.url}/npm`);
    const full = await group.request('GET', '/young-lib');
    assert.equal(full.status, 404, full.text);
    assert.match(full.json<{ error: string }>().error, /first to be allowed of its 2 versions/);
    const abbreviated = await fetch(`${server.url}/npm/young-lib`, {
      headers: { accept: 'application/vnd.npm.install-v1+json' },
    });
    assert.equal(abbreviated.status, 404);
    assert.match(((await abbreviated.json()) as { error: string }).error, /available from/);

    const old = await install('old', 'old-lib');
    assert.equal(old.code, 0, output(old));
  },
);
