/**
 * `nora mirror pip`, the real thing: an upstream NORA hosts projects uploaded by twine; a second
 * NORA whose PyPI proxy is the first is pre-fetched by the real `bin/nora.js mirror pip` from a
 * requirements.txt with pins and `--hash` lines; the upstream stops; `pip download
 * --require-hashes` through the second alone gets the wheels, and the sdists are served too. A wrong hash → exit 1; a missing
 * project → exit 1 naming it; a bad line → exit 2.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import {
  buildProjects,
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  sha256File,
  twineUpload,
} from '../../helpers/python.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const TREE = [
  { name: 'nora-mirror-base', version: '1.0.0' },
  { name: 'nora-mirror-base', version: '1.2.0' },
  { name: 'Nora_Mirror.Lib', version: '2.0.0', dependencies: ['nora-mirror-base>=1.1'] },
];

describe('nora mirror pip through a proxy NORA', () => {
  test(
    'mirror a hashed requirements.txt, stop the upstream, pip download --require-hashes works',
    { skip: missingPython('build', 'venv', 'twine'), timeout: 300_000 },
    async () => {
      await using work = await tempDir('nora-mirror-pip-');
      const home = await pythonHome(path.join(work.path, 'home'));
      const files = await buildProjects(home, path.join(work.path, 'src'), TREE);
      const upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
      try {
        const up = await twineUpload(
          home,
          indexUrl(upstream.url),
          { username: 'u', password: 'p' },
          files,
        );
        assert.equal(up.code, 0, output(up));
        await using server = await startTestServer({
          config: { pypi: { metadata_ttl: 0 } },
          env: { NORA_PYPI_PROXY: indexUrl(upstream.url) },
        });

        const hashes = async (prefix: string) => {
          // setuptools spells the sdist's name either way (`nora-mirror-base-…`, `nora_mirror_base-…`).
          const mine = files.filter((f) =>
            path
              .basename(f)
              .toLowerCase()
              .replace(/[-_.]+/g, '_')
              .startsWith(prefix),
          );
          assert.equal(mine.length, 2, `${prefix}: a wheel and an sdist`);
          return Promise.all(mine.map(async (f) => `    --hash=sha256:${await sha256File(f)}`));
        };
        const requirements = path.join(work.path, 'requirements.txt');
        await fs.writeFile(
          requirements,
          [
            '# pip-compile --generate-hashes style',
            'nora-mirror-base==1.2.0 \\',
            (await hashes('nora_mirror_base_1_2_0_')).join(' \\\n'),
            '    # via nora-mirror-lib',
            'nora-mirror-lib==2.0 ; python_version >= "3"  \\',
            (await hashes('nora_mirror_lib_2_0_0_')).join(' \\\n'),
            '',
          ].join('\n'),
        );
        const mirrored = await nora([
          'mirror',
          'pip',
          '--lockfile',
          requirements,
          '--registry',
          server.url,
        ]);
        assert.equal(mirrored.code, 0, output(mirrored));
        assert.match(mirrored.stdout, /^ok {3}pip nora-mirror-base==1\.2\.0 {2}\(/m);
        assert.match(mirrored.stdout, /^ok {3}pip nora-mirror-lib==2\.0 {2}\(/m);
        assert.match(mirrored.stdout, /2 fetched .* 0 failed/);

        await upstream.close();
        assert.equal(
          await fetch(`${upstream.url}/health`).then(
            () => 'answered',
            () => 'down',
          ),
          'down',
        );

        const venv = await createVenv(home, path.join(work.path, 'venv'));
        const dest = path.join(work.path, 'downloads');
        // The wheels with pip (an sdist would need a build backend from the index to download).
        const res = await venv.pip(
          [
            'download',
            '--no-cache-dir',
            '--no-deps',
            '--require-hashes',
            '--only-binary',
            ':all:',
            '--index-url',
            indexUrl(server.url),
            '-r',
            requirements,
            '-d',
            dest,
          ],
          { check: false },
        );
        assert.equal(res.code, 0, output(res));
        const wheels = (await fs.readdir(dest)).sort();
        assert.equal(wheels.length, 2, wheels.join(' '));
        for (const name of wheels) {
          const original = files.find((f) => path.basename(f) === name);
          assert.ok(original, name);
          assert.equal(await sha256File(path.join(dest, name)), await sha256File(original), name);
        }
        // The sdists as pip would fetch them: the page's link, from the proxy alone.
        for (const project of ['nora-mirror-base', 'nora-mirror-lib']) {
          const page = await fetch(`${server.url}/simple/${project}/`, {
            headers: { accept: 'application/vnd.pypi.simple.v1+json' },
          });
          assert.equal(page.status, 200, project);
          const body = (await page.json()) as { files: { filename: string; url: string }[] };
          const sdist = body.files.find(
            (f) =>
              f.filename.endsWith('.tar.gz') && /-(1\.2\.0|2\.0\.0)\.tar\.gz$/.test(f.filename),
          );
          assert.ok(sdist, project);
          const file = await fetch(new URL(sdist.url, `${server.url}/simple/${project}/`));
          assert.equal(file.status, 200, sdist.filename);
          const original = files.find((f) => path.basename(f) === sdist.filename);
          assert.ok(original, sdist.filename);
          assert.deepEqual(Buffer.from(await file.arrayBuffer()), await fs.readFile(original));
        }

        // A wrong pin: no file of the version has it → exit 1 naming the requirement's line.
        const wrong = path.join(work.path, 'wrong.txt');
        await fs.writeFile(wrong, `nora-mirror-base==1.2.0 --hash=sha256:${'0'.repeat(64)}\n`);
        const mismatch = await nora([
          'mirror',
          'pip',
          '--lockfile',
          wrong,
          '--registry',
          server.url,
        ]);
        assert.equal(mismatch.code, 1, output(mismatch));
        assert.match(
          mismatch.stdout,
          /^fail pip nora-mirror-base==1\.2\.0: no file of nora-mirror-base 1\.2\.0 on \/simple\/nora-mirror-base\/ has a hash .*wrong\.txt:1 pins/m,
        );

        // A project nobody has, and one version the index lacks.
        const missing = path.join(work.path, 'missing.txt');
        await fs.writeFile(missing, 'nora-no-such-project==1.0\nnora-mirror-base==9.9\n');
        const miss = await nora(['mirror', 'pip', '--lockfile', missing, '--registry', server.url]);
        assert.equal(miss.code, 1, output(miss));
        assert.match(
          miss.stdout,
          /^fail pip nora-no-such-project==1\.0: 404 from \/simple\/nora-no-such-project\//m,
        );
        assert.match(
          miss.stdout,
          /^fail pip nora-mirror-base==9\.9: \/simple\/nora-mirror-base\/ lists no file of ==9\.9/m,
        );

        const bad = path.join(work.path, 'bad.txt');
        await fs.writeFile(bad, 'requests==2.31.0\nflask=>2\n');
        const badRun = await nora(['mirror', 'pip', '--lockfile', bad, '--registry', server.url]);
        assert.equal(badRun.code, 2, output(badRun));
        assert.match(
          badRun.stderr,
          /^nora mirror pip: .*bad\.txt:2: "=>2" is not a version specifier/,
        );
      } finally {
        await upstream.close();
      }
    },
  );
});
