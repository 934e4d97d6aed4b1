/**
 * Issue 13 "Real input": the wheels Debian ships (python3-pip-whl, python3-setuptools-whl,
 * python3-wheel-whl in /usr/share/python-wheels) go up with twine to NORA on its DEFAULT
 * configuration (the `/simple/` group; the public upstream is unreachable from here, and a
 * hosted name never comes from an upstream anyway), come back with `pip install --no-deps`
 * (fresh target dir) and `pip download` (identical bytes, sha256), and their PEP 658 metadata
 * file is the wheel's own METADATA.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  createVenv,
  debianWheelFiles,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  sha256File,
  step,
  SYSTEM_PYTHON,
  twineUpload,
  type PythonHome,
} from '../../helpers/python.ts';

const missing = missingPython('wheels', 'venv', 'twine');

/** `pip-23.0.1-py3-none-any.whl` → { project: 'pip', version: '23.0.1' } */
function wheelName(file: string): { project: string; version: string } {
  const [dist = '', version = ''] = path.basename(file).split('-');
  return { project: dist.toLowerCase().replace(/_/g, '-'), version };
}

describe("Debian's real wheels through twine and pip", { skip: missing }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let home: PythonHome;
  let index: string;
  const wheels = debianWheelFiles();

  before(async () => {
    work = await tempDir('nora-e2e-pypi-wheels-');
    home = await pythonHome(path.join(work.path, 'home'));
    server = await startTestServer();
    index = indexUrl(server.url);
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
    await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
  });

  test('twine upload of every Debian wheel', async () => {
    assert.ok(wheels.length >= 3, wheels.join(', '));
    const up = await twineUpload(home, index, { username: 'deb', password: 'deb' }, wheels);
    assert.equal(up.code, 0, output(up));
  });

  test('pip install --no-deps (fresh target) and pip download: identical bytes', async () => {
    const venv = await createVenv(home, path.join(work.path, 'venv'));
    const pins = wheels.map((w) => `${wheelName(w).project}==${wheelName(w).version}`);
    const target = path.join(work.path, 'target');
    const inst = await venv.pip([
      'install',
      '--no-cache-dir',
      '--no-deps',
      '--index-url',
      index,
      '--target',
      target,
      ...pins,
    ]);
    assert.match(inst.stdout, /Successfully installed/, output(inst));
    const entries = await fs.readdir(target);
    for (const w of wheels) {
      const { project, version } = wheelName(w);
      const distInfo = `${path.basename(w).split('-')[0]}-${version}.dist-info`;
      assert.ok(entries.includes(distInfo), `${project}: ${distInfo} in ${entries.join(', ')}`);
    }

    const dest = path.join(work.path, 'downloads');
    await venv.pip([
      'download',
      '--no-cache-dir',
      '--no-deps',
      '--only-binary',
      ':all:',
      '--index-url',
      index,
      '-d',
      dest,
      ...pins,
    ]);
    const got = (await fs.readdir(dest)).sort();
    assert.deepEqual(got, wheels.map((w) => path.basename(w)).sort());
    for (const w of wheels) {
      assert.equal(
        await sha256File(path.join(dest, path.basename(w))),
        await sha256File(w),
        path.basename(w),
      );
    }
  });

  test('PEP 658: <wheel>.metadata is the METADATA inside each wheel', async () => {
    for (const w of wheels) {
      const { project } = wheelName(w);
      const res = await fetch(`${index}${project}/${path.basename(w)}.metadata`);
      assert.equal(res.status, 200, `${path.basename(w)}.metadata`);
      const served = await res.text();
      const inside = await step(home, SYSTEM_PYTHON, [
        '-c',
        [
          'import sys, zipfile',
          'z = zipfile.ZipFile(sys.argv[1])',
          "name = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA') and n.count('/') == 1)",
          'sys.stdout.write(z.read(name).decode())',
        ].join('\n'),
        w,
      ]);
      assert.equal(served, inside.stdout, path.basename(w));
    }
  });
});
