/**
 * Retention of a hosted PyPI repository with the real twine and pip (skipped, saying so, when
 * they are not installed): four releases of `nora-keep` (sdist + wheel each) uploaded one after
 * the other with twine, a rule `keep_last = 2` applied through the PyPI retention adapter, then
 * `pip index versions` lists only the two newest, `pip download` of a deleted release fails and
 * of a kept one works, every file of a deleted release is gone (a release = all its files), and
 * its filenames are refused on a new upload (a deleted file's name is never reused).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keepLast } from '../../helpers/retention.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  buildProjects,
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  twineUpload,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('build', 'venv', 'twine');
const ANY = { username: 'anyone', password: 'anything' };
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];

describe(
  'retention keep_last 2 on pypi-hosted: twine uploads, pip sees the kept releases',
  { skip: missing },
  () => {
    let server: TestServer;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let home: PythonHome;
    let files: string[];

    before(async () => {
      work = await tempDir('nora-e2e-pypi-retention-');
      home = await pythonHome(path.join(work.path, 'home'));
      [files, server] = await Promise.all([
        buildProjects(
          home,
          path.join(work.path, 'src'),
          VERSIONS.map((version) => ({ name: 'nora-keep', version })),
        ),
        startTestServer({ env: { NORA_PYPI_PROXY: 'http://127.0.0.1:9/simple/' } }),
      ]);
    });
    after(async () => {
      await (server as TestServer | undefined)?.close();
      await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
    });

    test(
      'four releases uploaded, two deleted, pip sees 1.2.0 and 1.3.0 only',
      { timeout: 600_000 },
      async () => {
        const index = indexUrl(server.url);
        // One upload per release, oldest first: the order keep_last counts in.
        for (const version of VERSIONS) {
          const mine = files.filter((f) => path.basename(f).includes(`-${version}`));
          assert.equal(mine.length, 2, mine.join(', '));
          const up = await twineUpload(home, index, ANY, mine);
          assert.equal(up.code, 0, output(up));
        }

        const result = await keepLast(server, 'pypi', 'pypi-hosted', 2);
        assert.deepEqual(result.deleted, ['nora-keep@1.0.0', 'nora-keep@1.1.0']);
        assert.deepEqual(result.kept, ['nora-keep@1.2.0', 'nora-keep@1.3.0']);
        // A release is every file of it: the sizes of both files of each deleted release.
        const listed = result.listed.filter((v) =>
          result.deleted.includes(`${v.name}@${v.version}`),
        );
        assert.equal(
          result.bytes,
          listed.reduce((sum, v) => sum + v.bytes, 0),
        );
        assert.ok(result.bytes > 0);

        const venv = await createVenv(home, path.join(work.path, 'venv'));
        const versions = await venv.pip(
          ['index', 'versions', '--no-cache-dir', '--index-url', index, 'nora-keep'],
          { check: false },
        );
        assert.equal(versions.code, 0, output(versions));
        assert.match(
          versions.stdout,
          /Available versions: 1\.3\.0, 1\.2\.0\s*$/m,
          output(versions),
        );

        const download = (spec: string, dest: string) =>
          venv.pip(
            [
              'download',
              '--no-cache-dir',
              '--no-deps',
              '--index-url',
              index,
              '-d',
              path.join(work.path, dest),
              spec,
            ],
            { check: false },
          );
        const gone = await download('nora-keep==1.1.0', 'gone');
        assert.notEqual(gone.code, 0, output(gone));
        assert.match(
          output(gone),
          /No matching distribution found for nora-keep==1\.1\.0/,
          output(gone),
        );
        const kept = await download('nora-keep==1.2.0', 'kept');
        assert.equal(kept.code, 0, output(kept));
        assert.match(output(kept), /Saved .*nora_keep-1\.2\.0/, output(kept));

        // Every file of a deleted release is gone, the sdist as well as the wheel.
        const page = await (await fetch(`${server.url}/simple/nora-keep/`)).text();
        assert.doesNotMatch(page, /1\.0\.0|1\.1\.0/, page);
        assert.match(page, /nora-keep-1\.3\.0\.tar\.gz/, page);
        // Deleted filenames are never accepted again (as after a DELETE).
        const again = await twineUpload(
          home,
          index,
          ANY,
          files.filter((f) => path.basename(f).includes('-1.0.0')),
        );
        assert.notEqual(again.code, 0, output(again));
        assert.match(output(again), /already been used by a deleted file/, output(again));

        // A second pass finds nothing more to delete.
        const second = await keepLast(server, 'pypi', 'pypi-hosted', 2);
        assert.deepEqual(second.deleted, []);
      },
    );
  },
);
