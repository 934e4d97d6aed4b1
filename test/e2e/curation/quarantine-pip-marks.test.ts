/**
 * Quarantine marks on the simple page, with the real pip (trial 31 fixY): a NORA proxies a second
 * NORA holding `young-lib` 1.0.0 and 1.1.0, quarantine enforce with a 1 h TTL. A held file stays
 * on the page marked yanked (PEP 592) with the hold as the reason, so pip unpinned prefers a file
 * not held (and says why a held one is refused: the 403's reason), pinned gets the 403 and the
 * reason; every WARN line of the holds names the file's digest, fetched now or cached.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
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

interface SimpleJson {
  files: { filename: string; yanked: boolean | string }[];
}

test(
  'pip through quarantine enforce: held files marked yanked with the hold, refused with it, logged with their digest',
  { skip: missingPython('build', 'venv', 'twine'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-quar-marks-');
    const home = await pythonHome(path.join(work.path, 'home'));
    await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    await uploadWheels(home, path.join(work.path, 'src'), upstream.url, [
      { name: 'young-lib', version: '1.0.0' },
      { name: 'young-lib', version: '1.1.0' },
    ]);
    const log: string[] = [];
    await using server = await startTestServer({
      config: {
        pypi: { metadata_ttl: 0 },
        curation: { quarantine: 'enforce', quarantine_ttl: '1h' },
      },
      env: { NORA_PYPI_PROXY: indexUrl(upstream.url) },
      logLevel: 'info',
      logStream: { write: (line) => log.push(line) },
    });
    const index = indexUrl(server.url);
    const marks = async (): Promise<Record<string, boolean | string>> => {
      const res = await fetch(`${server.url}/simple/young-lib/`, {
        headers: { accept: 'application/vnd.pypi.simple.v1+json' },
      });
      const json = (await res.json()) as SimpleJson;
      return Object.fromEntries(
        json.files.map((f): [string, boolean | string] => [
          f.filename.split('-')[1] ?? '',
          f.yanked,
        ]),
      );
    };
    assert.deepEqual(await marks(), { '1.0.0': false, '1.1.0': false });

    const venv = await createVenv(home, path.join(work.path, 'venv'));
    const install = (spec: string) =>
      venv.pip(['install', '--no-cache-dir', '--index-url', index, spec], { check: false });
    // First: pip takes 1.1.0, its fill starts the hold, the 403 says until when.
    const first = await install('young-lib');
    assert.notEqual(first.code, 0, output(first));
    assert.match(output(first), /403 .*young-lib@1\.1\.0 is in quarantine .* until /);
    const afterFirst = await marks();
    assert.equal(afterFirst['1.0.0'], false);
    assert.match(String(afterFirst['1.1.0']), /^curation: pypi young-lib@1\.1\.0 is in quarantine/);
    const html = await (await fetch(`${server.url}/simple/young-lib/`)).text();
    assert.match(html, /young_lib-1\.1\.0[^>]*data-yanked="curation: pypi young-lib@1\.1\.0 is in/);
    assert.doesNotMatch(html, /young_lib-1\.1\.0[^>]*data-dist-info-metadata/);

    // Unpinned again: the held 1.1.0 is yanked, pip prefers 1.0.0 (then held by its own fill).
    const second = await install('young-lib');
    assert.notEqual(second.code, 0, output(second));
    assert.match(output(second), /403 .*young-lib@1\.0\.0 is in quarantine/);
    assert.match(String((await marks())['1.0.0']), /is in quarantine .* until /);

    // Pinned, cached: the 403 and its reason.
    const pinned = await install('young-lib==1.1.0');
    assert.notEqual(pinned.code, 0, output(pinned));
    assert.match(output(pinned), /403 .*young-lib@1\.1\.0 is in quarantine/);
    assert.deepEqual(await venv.versions('young-lib'), { 'young-lib': null });

    // Every hold's WARN line names the digest (the fill's and the cached file's alike).
    const holds = log
      .filter((line) => line.includes('"reason":"quarantine"'))
      .map((line) => JSON.parse(line) as { curation: { version: string; digest?: string } });
    const versions = new Set(holds.map((h) => h.curation.version));
    assert.deepEqual([...versions].sort(), ['1.0.0', '1.1.0']);
    for (const hold of holds) assert.match(hold.curation.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok(holds.length >= 3, log.join(''));
  },
);
