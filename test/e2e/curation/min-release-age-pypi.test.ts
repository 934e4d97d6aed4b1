/**
 * Minimum release age with the real pip: a NORA proxies an upstream (a second NORA holding
 * `age-py` 1.0.0 and 2.0.0, behind a fixture that rewrites PEP 700 `upload-time`: 1.0.0 years
 * ago, 2.0.0 an hour ago). With min_release_age = "1d" in enforce, `pip install age-py` gets
 * 1.0.0, `age-py==2.0.0` gets the
 * yanked-marked file's 403 with the age, and the 2.0.0 wheel's GET is a 403 naming the age.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { startRewriter } from '../../helpers/rewriter.ts';
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
  'pip through a min release age: the old-enough version installs, the young one is hidden and refused with its date',
  { skip: missingPython('build', 'venv', 'twine'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-cur-age-pypi-');
    const home = await pythonHome(path.join(work.path, 'home'));
    await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    const files = await uploadWheels(home, path.join(work.path, 'src'), upstream.url, [
      { name: 'age-py', version: '1.0.0' },
      { name: 'age-py', version: '2.0.0' },
    ]);
    const young = new Date(Date.now() - 3_600_000).toISOString();
    await using rewriter = await startRewriter(upstream.url, (doc) => {
      const listed = doc.files;
      if (!Array.isArray(listed)) return;
      for (const file of listed as Record<string, unknown>[]) {
        const name = String(file.filename);
        file['upload-time'] = name.includes('-1.0.0') ? '2020-01-01T00:00:00.000000Z' : young;
      }
    });
    await using server = await startTestServer({
      config: { pypi: { metadata_ttl: 0 }, curation: { mode: 'enforce', min_release_age: '1d' } },
      env: { NORA_PYPI_PROXY: indexUrl(rewriter.url) },
    });
    const index = indexUrl(server.url);
    const venv = await createVenv(home, path.join(work.path, 'venv'));
    const young2 = await venv.pip(
      ['install', '--no-cache-dir', '--index-url', index, 'age-py==2.0.0'],
      { check: false },
    );
    assert.notEqual(young2.code, 0, output(young2));
    assert.match(
      output(young2),
      /403 .*age-py@2\.0\.0 is blocked by curation \(min_release_age 1d\)/,
    );
    const bare = await venv.pip(['install', '--no-cache-dir', '--index-url', index, 'age-py'], {
      check: false,
    });
    assert.equal(bare.code, 0, output(bare));
    assert.deepEqual(await venv.versions('age-py'), { 'age-py': '1.0.0' });

    const wheel = path.basename(files.find((f) => f.includes('2.0.0')) ?? '');
    const refused = await fetch(`${server.url}/simple/age-py/${wheel}`);
    assert.equal(refused.status, 403);
    const available = new Date(Date.parse(young) + 86_400_000).toISOString().slice(0, 19);
    assert.match(
      await refused.text(),
      new RegExp(
        `age-py@2\\.0\\.0 is blocked by curation \\(min_release_age 1d\\): published .*available from ${available}Z`,
      ),
    );
  },
);
