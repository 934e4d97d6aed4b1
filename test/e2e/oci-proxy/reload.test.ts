/**
 * SIGHUP repoints the Docker proxy at another upstream without a restart, seen by skopeo against
 * a NORA process: the image is missing behind the first upstream (dead), the config file is
 * rewritten to a live Distribution, SIGHUP, and the same pull succeeds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, startNoraProcess, type NoraProcess } from '../../helpers/process.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { buildOciLayout, type Distribution, pushLayout, startDistribution } from './fixtures.ts';

const skip = missingTools('skopeo', 'docker-registry');

/** Polls `check` for up to 20 s (a bound for a failure only; a reload takes milliseconds). */
async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), `timed out waiting for ${what}`);
}

describe('docker proxy: SIGHUP repoints the upstream (skopeo, NORA process)', { skip }, () => {
  let dir: string;
  let upstream: Distribution;
  let nora: NoraProcess;
  let configFile: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-reload-'));
    upstream = await startDistribution(path.join(dir, 'registry'));
    const layout = path.join(dir, 'layout');
    await buildOciLayout(layout, 'v1', { layerSizes: [4096, 200_000] });
    await pushLayout(layout, 'v1', `${upstream.host}/team/app:v1`);
    configFile = path.join(dir, 'config.toml');
    const dead = `http://127.0.0.1:${await freePort()}`;
    await fs.writeFile(
      configFile,
      `[docker]\nproxy_timeout = 3\nupstreams = [{ url = "${dead}" }]\n`,
    );
    nora = await startNoraProcess({
      port: await freePort(),
      env: { NORA_CONFIG_PATH: configFile, NORA_STORAGE_PATH: path.join(dir, 'storage') },
    });
  });

  after(async () => {
    nora.child.kill('SIGTERM');
    await nora.exited;
    await upstream.stop();
    await removeDir(dir);
  });

  test('a pull that failed against the dead upstream succeeds after the config points elsewhere', async () => {
    const host = new URL(nora.url).host;
    const pull = (label: string) =>
      run(
        'skopeo',
        [
          'copy',
          '--src-tls-verify=false',
          `docker://${host}/team/app:v1`,
          `dir:${path.join(dir, label)}`,
        ],
        { check: false },
      );
    const before = await pull('before');
    assert.notEqual(before.code, 0, 'the dead upstream cannot serve the image');

    await fs.writeFile(
      configFile,
      `[docker]\nproxy_timeout = 3\nupstreams = [{ url = "${upstream.url}" }]\n`,
    );
    const reloads = nora.output().split('configuration reloaded').length;
    nora.child.kill('SIGHUP');
    await waitFor(
      () => nora.output().split('configuration reloaded').length > reloads,
      'the reload log line',
    );
    assert.match(nora.output(), /"requires_restart":\[\]/);

    const after = await pull('after');
    assert.equal(after.code, 0, after.stderr);
    const blobs = (await fs.readdir(path.join(dir, 'after'))).filter((f) =>
      /^[a-f0-9]{64}$/.test(f),
    );
    assert.equal(blobs.length, 3, 'config and two layers');
  });
});
