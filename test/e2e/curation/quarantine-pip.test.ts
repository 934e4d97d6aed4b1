/**
 * Digest quarantine with the real pip: a NORA proxies a second NORA holding `q-py` 1.0.0 (a
 * wheel uploaded with twine). With `quarantine = "enforce"` and a 3 s TTL, the first
 * `pip install q-py` fails with the 403 (the wheel's first fill, made by pip's download or by
 * the metadata prefetch, starts the hold); after the TTL the same install succeeds.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  uploadWheels,
} from '../../helpers/python.ts';

test(
  'pip through quarantine (enforce, 3 s): refused with 403, installed after the TTL',
  { skip: missingPython('build', 'venv', 'twine'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-quar-pypi-');
    const home = await pythonHome(path.join(work.path, 'home'));
    await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    const files = await uploadWheels(home, path.join(work.path, 'src'), upstream.url, [
      { name: 'q-py', version: '1.0.0' },
    ]);
    await using server = await startTestServer({
      config: { curation: { quarantine: 'enforce', quarantine_ttl: '3s' } },
      env: { NORA_PYPI_PROXY: indexUrl(upstream.url) },
    });
    const index = indexUrl(server.url);
    const venv = await createVenv(home, path.join(work.path, 'venv'));
    const held = await venv.pip(['install', '--no-cache-dir', '--index-url', index, 'q-py'], {
      check: false,
    });
    assert.notEqual(held.code, 0, output(held));
    assert.match(output(held), /403/);
    const wheel = path.basename(files[0] ?? '');
    const refused = await fetch(`${server.url}/simple/q-py/${wheel}`);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /pypi q-py@1\.0\.0 is in quarantine .* until /);
    await sleep(3100);
    const released = await venv.pip(['install', '--no-cache-dir', '--index-url', index, 'q-py'], {
      check: false,
    });
    assert.equal(released.code, 0, output(released));
    assert.deepEqual(await venv.versions('q-py'), { 'q-py': '1.0.0' });
  },
);
