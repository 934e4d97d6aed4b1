/**
 * Issue 13 "Proof (real clients)": twine and pip against a listening NORA on its default
 * configuration (the `/simple/` group), with the upstream unreachable (NORA_PYPI_PROXY =
 * http://127.0.0.1:9/simple/, an air-gapped machine): build `nora-demo-base` 1.0.0 and
 * `nora-demo-lib` 1.0.0 + 1.1.0 (which depend on the hosted base) with
 * `python3 -m build --no-isolation`, `twine upload` (identical again → 200 as on PyPI, a rebuilt wheel under a taken name → 400
 * "File already exists", `--skip-existing` → fine),
 * pip install into fresh venvs, `pip download` (same bytes), `--require-hashes`,
 * `--only-binary :all:`, the sdist path, and PEP 592: yank 1.1.0 through the yank API, pip picks
 * 1.0.0 unless `==1.1.0` is pinned. Last, a hosted wheel whose blob was removed from storage:
 * pip fails with NORA's explanation from the 410's reason phrase, not just "Gone".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  alteredWheel,
  buildProjects,
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  sha256File,
  step,
  twineUpload,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('build', 'venv', 'twine');
const ANY = { username: 'anyone', password: 'anything' };

describe(
  'twine + pip on the default /simple/ group (upstream unreachable)',
  { skip: missing },
  () => {
    let server: TestServer;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let home: PythonHome;
    let files: string[];
    let index: string;
    const venvCount = { n: 0 };
    const freshVenv = (seed = false, buildTools = false) =>
      createVenv(home, path.join(work.path, `venv-${++venvCount.n}`), { seed, buildTools });
    const file = (re: RegExp) => {
      const found = files.find((f) => re.test(path.basename(f)));
      assert.ok(
        found,
        `no built file matches ${re}: ${files.map((f) => path.basename(f)).join(', ')}`,
      );
      return found;
    };

    before(async () => {
      work = await tempDir('nora-e2e-pypi-twine-');
      home = await pythonHome(path.join(work.path, 'home'));
      [files, server] = await Promise.all([
        buildProjects(home, path.join(work.path, 'src'), [
          { name: 'nora-demo-base', version: '1.0.0' },
          { name: 'nora-demo-lib', version: '1.0.0', dependencies: ['nora-demo-base>=1.0'] },
          { name: 'nora-demo-lib', version: '1.1.0', dependencies: ['nora-demo-base>=1.0'] },
        ]),
        startTestServer({ env: { NORA_PYPI_PROXY: 'http://127.0.0.1:9/simple/' } }),
      ]);
      index = indexUrl(server.url);
    });
    after(async () => {
      await (server as TestServer | undefined)?.close();
      await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
    });

    test('python3 -m build --no-isolation made an sdist and a wheel of each', () => {
      const names = files.map((f) => path.basename(f));
      assert.equal(names.length, 6, names.join(', '));
      assert.equal(names.filter((n) => n.endsWith('.whl')).length, 3, names.join(', '));
      assert.equal(names.filter((n) => n.endsWith('.tar.gz')).length, 3, names.join(', '));
    });

    test('twine upload; identical again → 200 (as PyPI); another file, same name → 400; --skip-existing', async () => {
      const first = await twineUpload(home, index, ANY, files);
      assert.equal(first.code, 0, output(first));
      // An identical re-upload is a no-op success on PyPI (twine's retries rely on it).
      const same = await twineUpload(home, index, ANY, [file(/^nora_demo_base-1\.0\.0-.*\.whl$/)]);
      assert.equal(same.code, 0, output(same));
      // Other bytes under a name already taken: refused with the words twine knows.
      const other = await alteredWheel(
        home,
        file(/^nora_demo_base-1\.0\.0-.*\.whl$/),
        path.join(work.path, 'rebuilt', path.basename(file(/^nora_demo_base-1\.0\.0-.*\.whl$/))),
      );
      const again = await twineUpload(home, index, ANY, [other]);
      assert.notEqual(again.code, 0, output(again));
      assert.match(output(again), /400/, output(again));
      assert.match(output(again), /File already exists/i, output(again));
      const skip = await twineUpload(home, index, ANY, [other, ...files], ['--skip-existing']);
      assert.equal(skip.code, 0, output(skip));
      assert.match(output(skip), /Skipping/, output(skip));
    });

    test('pip install into a fresh venv resolves the hosted dependency (newest: 1.1.0)', async () => {
      // This venv has its own pip (ensurepip), as a user's would.
      const venv = await freshVenv(true);
      const res = await venv.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        index,
        'nora-demo-lib',
      ]);
      assert.match(res.stdout, /Successfully installed/, output(res));
      assert.deepEqual(await venv.versions('nora-demo-lib', 'nora-demo-base'), {
        'nora-demo-lib': '1.1.0',
        'nora-demo-base': '1.0.0',
      });
      const imported = await step(home, venv.python, [
        '-c',
        'import nora_demo_lib; print(nora_demo_lib.__version__)',
      ]);
      assert.equal(imported.stdout.trim(), '1.1.0');
    });

    test('pip download gets the very bytes that were uploaded (wheel and sdist)', async () => {
      const venv = await freshVenv(false, true);
      const dest = path.join(work.path, 'downloads');
      await venv.pip([
        'download',
        '--no-cache-dir',
        '--index-url',
        index,
        '-d',
        dest,
        'nora-demo-lib==1.0.0',
      ]);
      const sdistDest = path.join(work.path, 'downloads-sdist');
      await venv.pip([
        'download',
        '--no-cache-dir',
        '--no-deps',
        '--no-binary',
        ':all:',
        '--no-build-isolation',
        '--index-url',
        index,
        '-d',
        sdistDest,
        'nora-demo-lib==1.0.0',
      ]);
      const got = [
        ...(await fs.readdir(dest)).map((f) => path.join(dest, f)),
        ...(await fs.readdir(sdistDest)).map((f) => path.join(sdistDest, f)),
      ];
      const names = got.map((f) => path.basename(f)).sort();
      assert.deepEqual(
        names,
        [
          path.basename(file(/^nora[-_]demo[-_]lib-1\.0\.0\.tar\.gz$/)),
          path.basename(file(/^nora_demo_base-1\.0\.0-.*\.whl$/)),
          path.basename(file(/^nora_demo_lib-1\.0\.0-.*\.whl$/)),
        ].sort(),
      );
      for (const downloaded of got) {
        const original = files.find((f) => path.basename(f) === path.basename(downloaded));
        assert.ok(original);
        assert.equal(
          await sha256File(downloaded),
          await sha256File(original),
          path.basename(original),
        );
      }
    });

    test('pip --require-hashes: the right sha256 installs, a wrong one is refused', async () => {
      const lib = file(/^nora_demo_lib-1\.0\.0-.*\.whl$/);
      const base = file(/^nora_demo_base-1\.0\.0-.*\.whl$/);
      const good = path.join(work.path, 'requirements-good.txt');
      await fs.writeFile(
        good,
        [
          `nora-demo-lib==1.0.0 --hash=sha256:${await sha256File(lib)}`,
          `nora-demo-base==1.0.0 --hash=sha256:${await sha256File(base)}`,
          '',
        ].join('\n'),
      );
      const venv = await freshVenv();
      const ok = await venv.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        index,
        '--require-hashes',
        '-r',
        good,
      ]);
      assert.match(ok.stdout, /Successfully installed/, output(ok));
      assert.deepEqual(await venv.versions('nora-demo-lib'), { 'nora-demo-lib': '1.0.0' });

      const bad = path.join(work.path, 'requirements-bad.txt');
      await fs.writeFile(
        bad,
        [
          `nora-demo-lib==1.0.0 --hash=sha256:${'0'.repeat(64)}`,
          `nora-demo-base==1.0.0 --hash=sha256:${await sha256File(base)}`,
          '',
        ].join('\n'),
      );
      const refused = await (
        await freshVenv()
      ).pip(['install', '--no-cache-dir', '--index-url', index, '--require-hashes', '-r', bad], {
        check: false,
      });
      assert.notEqual(refused.code, 0, output(refused));
      assert.match(output(refused), /hash/i, output(refused));
    });

    test('pip --only-binary :all: installs wheels; --no-binary installs from the sdist', async () => {
      const wheels = await freshVenv();
      const res = await wheels.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        index,
        '--only-binary',
        ':all:',
        'nora-demo-lib==1.0.0',
      ]);
      assert.match(res.stdout, /Successfully installed/, output(res));
      assert.doesNotMatch(output(res), /\.tar\.gz/, 'no sdist was fetched');
      // The sdist path: fetched from the index, built with the venv's own setuptools.
      const sdist = await freshVenv(false, true);
      const built = await sdist.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        index,
        '--no-binary',
        'nora-demo-lib',
        '--no-build-isolation',
        'nora-demo-lib==1.0.0',
      ]);
      assert.match(output(built), /nora[-_]demo[-_]lib-1\.0\.0\.tar\.gz/, output(built));
      assert.deepEqual(await sdist.versions('nora-demo-lib', 'nora-demo-base'), {
        'nora-demo-lib': '1.0.0',
        'nora-demo-base': '1.0.0',
      });
    });

    test('yank 1.1.0 (POST /pypi/…/yank): pip picks 1.0.0; ==1.1.0 still installs it', async () => {
      const yank = await fetch(`${server.url}/pypi/nora-demo-lib/1.1.0/yank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'broken on purpose' }),
      });
      assert.equal(yank.status, 200, await yank.text());

      const unpinned = await freshVenv();
      const res = await unpinned.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        index,
        'nora-demo-lib',
      ]);
      assert.match(res.stdout, /Successfully installed/, output(res));
      assert.deepEqual(await unpinned.versions('nora-demo-lib'), { 'nora-demo-lib': '1.0.0' });

      const pinned = await freshVenv();
      const pin = await pinned.pip([
        'install',
        '--no-cache-dir',
        '--index-url',
        index,
        'nora-demo-lib==1.1.0',
      ]);
      assert.deepEqual(await pinned.versions('nora-demo-lib'), { 'nora-demo-lib': '1.1.0' });
      // pip warns with the reason (PEP 592).
      assert.match(output(pin), /yanked/i, output(pin));
      assert.match(output(pin), /broken on purpose/, output(pin));

      const unyank = await fetch(`${server.url}/pypi/nora-demo-lib/1.1.0/unyank`, {
        method: 'POST',
      });
      assert.equal(unyank.status, 200, await unyank.text());
      const again = await freshVenv();
      await again.pip(['install', '--no-cache-dir', '--index-url', index, 'nora-demo-lib']);
      assert.deepEqual(await again.versions('nora-demo-lib'), { 'nora-demo-lib': '1.1.0' });
    });

    test("a hosted wheel whose blob was removed: pip's error carries NORA's 410 explanation", async () => {
      // Last: the wheel stays gone. pip prints only the status line of a failed download, so
      // NORA's reason phrase (`Gone - stored file missing from storage …`) is what
      // explains it, not a bare "Gone" (trial 17).
      const wheel = file(/^nora_demo_base-1\.0\.0-.*\.whl$/);
      const hex = await sha256File(wheel);
      await fs.rm(path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex));
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the answer memo
      const venv = await freshVenv();
      const res = await venv.pip(
        [
          'install',
          '--no-cache-dir',
          '--only-binary',
          ':all:',
          '--index-url',
          index,
          'nora-demo-base==1.0.0',
        ],
        { check: false },
      );
      assert.notEqual(res.code, 0, output(res));
      assert.match(output(res), /410/, output(res));
      assert.match(
        output(res),
        /Gone - stored file missing from storage, so retrying will not help \(hosted, no upstream\): upload the same file again; nora verify lists what is missing, docs\/storage\.md says how/,
        output(res),
      );
      assert.deepEqual(await venv.versions('nora-demo-base'), { 'nora-demo-base': null });
    });
  },
);
