/**
 * Twelfth trial F2 (PyPI) with the real client: the upstream lists the same wheel filename with
 * other bytes (a new `#sha256=`) while NORA has the first wheel cached. NORA keeps serving the
 * cached wheel, and the page it serves must carry that wheel's sha256: pip failed "THESE
 * PACKAGES DO NOT MATCH THE HASHES" before, also from the stale page during an outage.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  alteredWheel,
  buildProjects,
  createVenv,
  missingPython,
  output,
  pythonHome,
  sha256File,
} from '../../helpers/python.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('pip install of a wheel the upstream republished with other bytes', () => {
  test(
    'installs the cached wheel, fresh and stale',
    { skip: missingPython('build', 'venv'), timeout: 240_000 },
    async () => {
      await using work = await tempDir('nora-e2e-pypi-repub-');
      const home = await pythonHome(path.join(work.path, 'home'));
      const [first] = await buildProjects(
        home,
        path.join(work.path, 'src'),
        [{ name: 'nora-repub', version: '1.0.0' }],
        'wheel',
      );
      assert.ok(first !== undefined);
      const name = path.basename(first);
      const second = await alteredWheel(home, first, path.join(work.path, 'rebuilt', name));
      let wheel = await fs.readFile(first);
      let digest = await sha256File(first);
      let down = false;
      const origin = http.createServer((req, res) => {
        if (down) {
          res.writeHead(503).end();
          return;
        }
        if (req.url === '/simple/nora-repub/') {
          res
            .writeHead(200, { 'content-type': 'text/html' })
            .end(`<html><body><a href="/files/${name}#sha256=${digest}">${name}</a></body></html>`);
          return;
        }
        if (req.url === `/files/${name}`) {
          res.writeHead(200).end(wheel);
          return;
        }
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
      await using proxy = await startTestServer({
        config: { pypi: { proxy: `${base}/simple/`, metadata_ttl: 0 } },
      });
      try {
        const install = async (label: string): Promise<void> => {
          const venv = await createVenv(home, path.join(work.path, `venv-${label}`));
          const res = await venv.pip(
            ['install', '--no-cache-dir', '--index-url', `${proxy.url}/simple/`, 'nora-repub'],
            { check: false },
          );
          assert.equal(res.code, 0, `${label}: ${output(res)}`);
        };
        await install('first');
        await new Promise((resolve) => setTimeout(resolve, 200));
        await proxy.app.context.proxy.state.flush();
        wheel = await fs.readFile(second);
        digest = await sha256File(second);
        await install('republished');
        down = true;
        await install('outage');
      } finally {
        origin.closeAllConnections();
        await new Promise((resolve) => origin.close(resolve));
      }
    },
  );
});
