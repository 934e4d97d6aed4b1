/**
 * Issue 13 "Proof (real clients)": Debian's poetry against NORA's default `/simple/` group with
 * no upstream at all (NORA_PYPI_PROXY=none). `poetry build` (poetry-core, offline) of two
 * projects, `poetry publish -r nora` (a repository set with `poetry config repositories.nora`),
 * a rebuilt wheel under a taken name → refused, `--skip-existing` → fine; then an application whose `[[tool.poetry.source]]`
 * is the index: `poetry add` resolves and installs the dependency tree, and `poetry install
 * --no-root` from the lock file in a fresh copy installs the same versions.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  alteredWheel,
  indexUrl,
  missingPython,
  moduleName,
  output,
  pythonHome,
  step,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('poetry', 'venv');
const TIMEOUT = 180_000;

interface PoetrySpec {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  /** The application: no package of its own, the index as its source. */
  readonly source?: string;
}

async function writePoetryProject(dir: string, spec: PoetrySpec): Promise<void> {
  const mod = moduleName(spec.name);
  await fs.mkdir(dir, { recursive: true });
  const deps = Object.entries(spec.dependencies ?? {}).map(
    ([name, range]) => `${name} = ${JSON.stringify(range)}`,
  );
  await fs.writeFile(
    path.join(dir, 'pyproject.toml'),
    [
      '[tool.poetry]',
      `name = ${JSON.stringify(spec.name)}`,
      `version = ${JSON.stringify(spec.version)}`,
      `description = "NORA e2e poetry fixture"`,
      'authors = ["NORA tests <nora@example.invalid>"]',
      spec.source ? 'packages = []' : `packages = [{ include = ${JSON.stringify(mod)} }]`,
      '',
      '[tool.poetry.dependencies]',
      'python = "^3.8"',
      ...deps,
      '',
      ...(spec.source
        ? ['[[tool.poetry.source]]', 'name = "nora"', `url = ${JSON.stringify(spec.source)}`]
        : []),
      ...(spec.source ? ['default = true', ''] : []),
      '[build-system]',
      'requires = ["poetry-core"]',
      'build-backend = "poetry.core.masonry.api"',
      '',
    ].join('\n'),
  );
  if (!spec.source) {
    await fs.mkdir(path.join(dir, mod), { recursive: true });
    await fs.writeFile(
      path.join(dir, mod, '__init__.py'),
      `__version__ = ${JSON.stringify(spec.version)}\n`,
    );
  }
}

describe('poetry publish / add / install through the /simple/ group', { skip: missing }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let home: PythonHome;
  let index: string;
  const poetry = (args: string[], cwd: string, env: Record<string, string> = {}) =>
    step(home, 'poetry', ['--no-ansi', '-n', ...args], { cwd, env, timeoutMs: TIMEOUT });
  const installed = async (project: string, ...dists: string[]) => {
    const script = `import importlib.metadata as m, json, sys; print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))`;
    const python = path.join(project, '.venv', 'bin', 'python');
    const res = await step(home, python, ['-c', script, ...dists]);
    return JSON.parse(res.stdout) as Record<string, string>;
  };

  before(async () => {
    work = await tempDir('nora-e2e-pypi-poetry-');
    home = await pythonHome(path.join(work.path, 'home'));
    server = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    index = indexUrl(server.url);
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
    await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
  });

  test('poetry build + poetry publish -r nora; a rebuilt wheel → refused; --skip-existing → fine', async () => {
    await poetry(['config', 'repositories.nora', index], work.path);
    const projects: PoetrySpec[] = [
      { name: 'nora-poetry-base', version: '0.1.0' },
      { name: 'nora-poetry-pkg', version: '0.2.0', dependencies: { 'nora-poetry-base': '^0.1' } },
    ];
    // Building needs no virtualenv: poetry-core builds in-process, offline.
    const noVenv = { POETRY_VIRTUALENVS_CREATE: 'false' };
    for (const spec of projects) {
      const dir = path.join(work.path, spec.name);
      await writePoetryProject(dir, spec);
      const built = await poetry(['build'], dir, noVenv);
      assert.match(built.stdout, /\.whl/, output(built));
      const dist = (await fs.readdir(path.join(dir, 'dist'))).sort();
      assert.equal(dist.length, 2, dist.join(', '));
      const published = await poetry(
        ['publish', '-r', 'nora', '-u', 'poet', '-p', 'pw'],
        dir,
        noVenv,
      );
      assert.match(output(published), /Uploading/, output(published));
    }
    const base = path.join(work.path, 'nora-poetry-base');
    // A rebuilt wheel (other bytes, same name): the index refuses it.
    const wheel = (await fs.readdir(path.join(base, 'dist'))).find((f) => f.endsWith('.whl'));
    assert.ok(wheel);
    await alteredWheel(home, path.join(base, 'dist', wheel), path.join(base, 'dist', wheel));
    const again = await step(
      home,
      'poetry',
      ['--no-ansi', '-n', 'publish', '-r', 'nora', '-u', 'poet', '-p', 'pw'],
      { cwd: base, env: noVenv, timeoutMs: TIMEOUT, check: false },
    );
    assert.notEqual(again.code, 0, output(again));
    assert.match(output(again), /400|already exists/i, output(again));
    const skip = await poetry(
      ['publish', '-r', 'nora', '-u', 'poet', '-p', 'pw', '--skip-existing'],
      base,
      noVenv,
    );
    assert.equal(skip.code, 0, output(skip));
  });

  test('poetry add from the index as a source; poetry install --no-root from the lock', async () => {
    const app = path.join(work.path, 'app');
    await writePoetryProject(app, { name: 'nora-poetry-app', version: '1.0.0', source: index });
    const added = await poetry(['add', 'nora-poetry-pkg'], app);
    assert.match(added.stdout, /Installing nora-poetry-pkg \(0\.2\.0\)/, output(added));
    assert.deepEqual(await installed(app, 'nora-poetry-pkg', 'nora-poetry-base'), {
      'nora-poetry-pkg': '0.2.0',
      'nora-poetry-base': '0.1.0',
    });
    const lock = await fs.readFile(path.join(app, 'poetry.lock'), 'utf8');
    assert.match(lock, /sha256:[0-9a-f]{64}/, 'the lock carries the index hashes');

    const copy = path.join(work.path, 'app-copy');
    await fs.mkdir(copy);
    for (const f of ['pyproject.toml', 'poetry.lock'])
      await fs.copyFile(path.join(app, f), path.join(copy, f));
    const inst = await poetry(['install', '--no-root'], copy);
    assert.match(inst.stdout, /Installing nora-poetry-base \(0\.1\.0\)/, output(inst));
    assert.deepEqual(await installed(copy, 'nora-poetry-pkg', 'nora-poetry-base'), {
      'nora-poetry-pkg': '0.2.0',
      'nora-poetry-base': '0.1.0',
    });
  });
});
