/**
 * Issue 13 "Proof (real clients)": Debian's pdm against NORA's default `/simple/` group with no
 * upstream (NORA_PYPI_PROXY=""). Two pdm-pep517 projects are built offline with
 * `python3 -m build --no-isolation` (pdm 2.2's own `pdm build --no-isolation` still installs the
 * backend into the project environment from the index, which an offline machine cannot), then
 * `pdm publish --no-build -r <index> -u -P` uploads them (a rebuilt wheel under a taken name → refused); an application whose
 * `[[tool.pdm.source]]` named `pypi` is our index runs `pdm add`, and a fresh copy with the lock
 * runs `pdm install`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  alteredWheel,
  buildDists,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  step,
  writeProject,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('pdm', 'build');
const TIMEOUT = 180_000;

describe('pdm publish / add / install through the /simple/ group', { skip: missing }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let home: PythonHome;
  let index: string;
  const pdm = (args: string[], cwd: string, check = true) =>
    step(home, 'pdm', args, { cwd, timeoutMs: TIMEOUT, check });
  const installed = async (project: string, ...dists: string[]) => {
    const script = `import importlib.metadata as m, json, sys; print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))`;
    const python = path.join(project, '.venv', 'bin', 'python');
    const res = await step(home, python, ['-c', script, ...dists]);
    return JSON.parse(res.stdout) as Record<string, string>;
  };
  const writeApp = async (dir: string) => {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, 'pyproject.toml'),
      [
        '[project]',
        'name = "nora-pdm-app"',
        'version = "1.0.0"',
        'requires-python = ">=3.8"',
        'dependencies = []',
        '',
        '[[tool.pdm.source]]',
        'name = "pypi"',
        `url = ${JSON.stringify(index)}`,
        'verify_ssl = false',
        '',
      ].join('\n'),
    );
  };

  before(async () => {
    work = await tempDir('nora-e2e-pypi-pdm-');
    home = await pythonHome(path.join(work.path, 'home'));
    server = await startTestServer({ env: { NORA_PYPI_PROXY: '' } });
    index = indexUrl(server.url);
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
    await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
  });

  test('pdm publish --no-build -r <index> -u -P; a rebuilt wheel → refused', async () => {
    const specs = [
      { name: 'nora-pdm-base', version: '0.1.0', backend: 'pdm-pep517' as const },
      {
        name: 'nora-pdm-pkg',
        version: '0.2.0',
        dependencies: ['nora-pdm-base>=0.1'],
        backend: 'pdm-pep517' as const,
      },
    ];
    await Promise.all(
      specs.map(async (spec) => {
        const dir = path.join(work.path, spec.name);
        await writeProject(dir, spec);
        const files = await buildDists(home, dir, path.join(dir, 'dist'));
        assert.equal(files.length, 2, files.join(', '));
      }),
    );
    for (const spec of specs) {
      const published = await pdm(
        ['publish', '--no-build', '-r', index, '-u', 'pdm-user', '-P', 'pw'],
        path.join(work.path, spec.name),
      );
      assert.match(output(published), /Uploading/i, output(published));
    }
    // A rebuilt wheel (other bytes, same name): the index refuses it.
    const dist = path.join(work.path, 'nora-pdm-base', 'dist');
    const wheel = (await fs.readdir(dist)).find((f) => f.endsWith('.whl'));
    assert.ok(wheel);
    await alteredWheel(home, path.join(dist, wheel), path.join(dist, wheel));
    const again = await pdm(
      ['publish', '--no-build', '-r', index, '-u', 'pdm-user', '-P', 'pw'],
      path.join(work.path, 'nora-pdm-base'),
      false,
    );
    assert.notEqual(again.code, 0, output(again));
    assert.match(output(again), /400|already exists/i, output(again));
  });

  test('pdm add from the index (source "pypi"); pdm install from the lock', async () => {
    const app = path.join(work.path, 'app');
    await writeApp(app);
    const added = await pdm(['add', '--no-self', 'nora-pdm-pkg'], app);
    assert.match(output(added), /nora-pdm-pkg/, output(added));
    assert.deepEqual(await installed(app, 'nora-pdm-pkg', 'nora-pdm-base'), {
      'nora-pdm-pkg': '0.2.0',
      'nora-pdm-base': '0.1.0',
    });
    const lock = await fs.readFile(path.join(app, 'pdm.lock'), 'utf8');
    assert.match(lock, /sha256:[0-9a-f]{64}/, 'the lock carries the index hashes');

    const copy = path.join(work.path, 'app-copy');
    await fs.mkdir(copy);
    for (const f of ['pyproject.toml', 'pdm.lock'])
      await fs.copyFile(path.join(app, f), path.join(copy, f));
    await pdm(['install', '--no-self'], copy);
    assert.deepEqual(await installed(copy, 'nora-pdm-pkg', 'nora-pdm-base'), {
      'nora-pdm-pkg': '0.2.0',
      'nora-pdm-base': '0.1.0',
    });
  });
});
