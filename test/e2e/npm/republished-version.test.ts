/**
 * Twelfth trial F2 (npm) with the real client: the upstream republishes a version with other
 * bytes while NORA has the first tarball cached. NORA keeps serving the cached tarball, and the
 * packument it serves must carry that tarball's integrity: `npm install` from a fresh cache
 * failed EINTEGRITY before (the upstream's new `dist.integrity`), also from the stale copy during
 * an outage.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { integrityOf, makeTarball } from '../../integration/npm/fixtures.ts';

const tarballWith = (text: string): Buffer =>
  makeTarball({
    'package.json': JSON.stringify({ name: 'repub', version: '1.0.0', main: 'index.js' }),
    'index.js': `module.exports = ${JSON.stringify(text)};\n`,
  });

describe('npm install of a version the upstream republished with other bytes', () => {
  test(
    'installs the cached tarball, fresh and stale',
    { skip: missingTools('npm'), timeout: 120_000 },
    async () => {
      await using work = await tempDir('nora-e2e-npm-repub-');
      let tarball = tarballWith('first');
      let down = false;
      const origin = http.createServer((req, res) => {
        if (down) {
          res.writeHead(503).end();
          return;
        }
        if (req.url === '/repub') {
          const { integrity, shasum } = integrityOf(tarball);
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              name: 'repub',
              'dist-tags': { latest: '1.0.0' },
              versions: {
                '1.0.0': {
                  name: 'repub',
                  version: '1.0.0',
                  dist: { tarball: `${base}/repub/-/repub-1.0.0.tgz`, integrity, shasum },
                },
              },
            }),
          );
          return;
        }
        if (req.url === '/repub/-/repub-1.0.0.tgz') {
          res.writeHead(200).end(tarball);
          return;
        }
        res.writeHead(404).end('{}');
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
      await using proxy = await startTestServer({
        config: { npm: { proxy: `${base}/`, metadata_ttl: 0 } },
      });
      try {
        const install = async (label: string) => {
          const home = path.join(work.path, `home-${label}`);
          const project = path.join(work.path, `project-${label}`);
          await fs.mkdir(home, { recursive: true });
          await fs.mkdir(project, { recursive: true });
          const rc = path.join(home, '.npmrc');
          await fs.writeFile(
            rc,
            [
              `registry=${proxy.url}/npm/`,
              `cache=${path.join(home, 'cache')}`,
              'fund=false',
              'audit=false',
              'update-notifier=false',
              'fetch-retries=0',
              '',
            ].join('\n'),
          );
          await fs.writeFile(
            path.join(project, 'package.json'),
            '{"name":"consumer","version":"1.0.0","private":true}\n',
          );
          const env: NodeJS.ProcessEnv = {};
          for (const [key, value] of Object.entries(process.env)) {
            if (!/^(npm_|yarn_|pnpm_|corepack_)/i.test(key)) env[key] = value;
          }
          const res = await run('npm', ['install', 'repub@1.0.0'], {
            cwd: project,
            env: { ...env, HOME: home, NPM_CONFIG_USERCONFIG: rc },
            check: false,
            timeoutMs: 45_000,
          });
          assert.equal(res.code, 0, `${label}: ${output(res)}`);
          return fs.readFile(path.join(project, 'node_modules', 'repub', 'index.js'), 'utf8');
        };
        assert.match(await install('first'), /"first"/);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await proxy.app.context.proxy.state.flush();
        tarball = tarballWith('republished');
        assert.match(await install('republished'), /"first"/);
        down = true;
        assert.match(await install('outage'), /"first"/);
      } finally {
        origin.closeAllConnections();
        await new Promise((resolve) => origin.close(resolve));
      }
    },
  );
});
