/**
 * Issue 13 "Proof (real clients)": Debian's pipenv against NORA's default `/simple/` group with
 * no upstream (NORA_PYPI_PROXY=none). Two setuptools projects are built offline and uploaded with
 * twine; a Pipfile whose only `[[source]]` is our index: `pipenv install` creates the venv,
 * locks (the hashes in Pipfile.lock are the uploaded files' sha256) and installs; a fresh copy
 * with Pipfile.lock runs `pipenv sync`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  buildProjects,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  sha256File,
  SYSTEM_PYTHON,
  step,
  twineUpload,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('pipenv', 'build', 'twine');
const TIMEOUT = 180_000;

describe(
  'pipenv install from a Pipfile whose source is the /simple/ group',
  { skip: missing },
  () => {
    let server: TestServer;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let home: PythonHome;
    let index: string;
    let files: string[];
    const pipenv = (args: string[], cwd: string) =>
      step(home, 'pipenv', args, { cwd, timeoutMs: TIMEOUT });
    const installed = async (project: string, ...dists: string[]) => {
      const script = `import importlib.metadata as m, json, sys; print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))`;
      const python = path.join(project, '.venv', 'bin', 'python');
      const res = await step(home, python, ['-c', script, ...dists]);
      return JSON.parse(res.stdout) as Record<string, string>;
    };

    before(async () => {
      work = await tempDir('nora-e2e-pypi-pipenv-');
      home = await pythonHome(path.join(work.path, 'home'));
      [files, server] = await Promise.all([
        buildProjects(home, path.join(work.path, 'src'), [
          { name: 'nora-pipenv-base', version: '2.0.0' },
          { name: 'nora-pipenv-lib', version: '3.1.0', dependencies: ['nora-pipenv-base>=2'] },
        ]),
        startTestServer({ env: { NORA_PYPI_PROXY: 'none' } }),
      ]);
      index = indexUrl(server.url);
    });
    after(async () => {
      await (server as TestServer | undefined)?.close();
      await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
    });

    test('pipenv install: venv, lock with the index hashes, install; pipenv sync in a copy', async () => {
      const up = await twineUpload(home, index, { username: 'u', password: 'p' }, files);
      assert.equal(up.code, 0, output(up));

      const project = path.join(work.path, 'project');
      await fs.mkdir(project);
      await fs.writeFile(
        path.join(project, 'Pipfile'),
        [
          '[[source]]',
          `url = ${JSON.stringify(index)}`,
          'verify_ssl = false',
          'name = "nora"',
          '',
          '[packages]',
          'nora-pipenv-lib = "*"',
          '',
        ].join('\n'),
      );
      const res = await pipenv(['install', '--python', SYSTEM_PYTHON], project);
      assert.match(output(res), /Pipfile\.lock/, output(res));
      assert.deepEqual(await installed(project, 'nora-pipenv-lib', 'nora-pipenv-base'), {
        'nora-pipenv-lib': '3.1.0',
        'nora-pipenv-base': '2.0.0',
      });
      const lock = JSON.parse(await fs.readFile(path.join(project, 'Pipfile.lock'), 'utf8')) as {
        default: Record<string, { version: string; hashes: string[] } | undefined>;
      };
      const entry = lock.default['nora-pipenv-lib'];
      assert.ok(entry, JSON.stringify(lock.default));
      assert.equal(entry.version, '==3.1.0');
      for (const f of files.filter((f) => path.basename(f).startsWith('nora_pipenv_lib'))) {
        assert.ok(
          entry.hashes.includes(`sha256:${await sha256File(f)}`),
          `${path.basename(f)} hash in Pipfile.lock`,
        );
      }

      const copy = path.join(work.path, 'copy');
      await fs.mkdir(copy);
      for (const f of ['Pipfile', 'Pipfile.lock'])
        await fs.copyFile(path.join(project, f), path.join(copy, f));
      await pipenv(['sync', '--python', SYSTEM_PYTHON], copy);
      assert.deepEqual(await installed(copy, 'nora-pipenv-lib', 'nora-pipenv-base'), {
        'nora-pipenv-lib': '3.1.0',
        'nora-pipenv-base': '2.0.0',
      });
    });
  },
);
