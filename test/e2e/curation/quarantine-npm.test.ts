/**
 * Digest quarantine with the real npm client: a NORA proxies a second NORA holding `q-lib`
 * 1.0.0. With `quarantine = "enforce"` and a 2 s TTL, the first `npm install q-lib` fails with
 * the 403 naming when the tarball is released; after the TTL the same install succeeds. pip,
 * cargo and skopeo are covered over HTTP only (test/integration/curation/quarantine.test.ts and
 * the unit tests): not with their clients yet.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { homeEnv, writeUserNpmrc } from '../npm/clients.ts';

test(
  'npm through quarantine (enforce, 2 s): refused with the release time, installed after it',
  { skip: findTool('npm') === undefined ? 'client not installed: npm' : false, timeout: 300_000 },
  async () => {
    await using tmp = await tempDir('nora-quar-npm-');
    await using upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'q-lib', version: '1.0.0' })).status, 201);
    await using server = await startTestServer({
      config: {
        npm: { proxy: `${upstream.url}/npm/` },
        curation: { quarantine: 'enforce', quarantine_ttl: '2s' },
      },
    });
    const registry = `${server.url}/npm/`;
    const install = async (label: string) => {
      const home = path.join(tmp.path, `home-${label}`);
      await fs.mkdir(home, { recursive: true });
      await writeUserNpmrc(home, registry);
      const project = path.join(tmp.path, `project-${label}`);
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(
        path.join(project, 'package.json'),
        '{"name":"consumer","version":"1.0.0","private":true}\n',
      );
      return run('npm', ['install', '--no-audit', '--no-fund', 'q-lib', '--registry', registry], {
        cwd: project,
        env: homeEnv(home),
        check: false,
        timeoutMs: 120_000,
      });
    };
    const held = await install('held');
    assert.notEqual(held.code, 0, output(held));
    assert.match(output(held), /403/);
    assert.match(output(held), /q-lib@1\.0\.0 is in quarantine .* until \d{4}-\d\d-\d\dT/);
    await sleep(2100);
    const released = await install('released');
    assert.equal(released.code, 0, output(released));
  },
);
