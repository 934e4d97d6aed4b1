/**
 * The `nora import` PyPI writer against a listening NORA, with Debian's real wheels: each is
 * uploaded through the legacy upload API into the default repository and a named one (their
 * simple URLs differ: `/simple/`, `/repository/<name>/simple/`), a second run skips them (and
 * fails a file of the same name with other bytes), a wheel
 * NORA refuses fails with NORA's reason, and the real
 * `pip download` then fetches the wheels from NORA's index.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pypiWriter } from '../../../src/import/pypi.ts';
import { defaultTarget, failureReason, writeFile } from '../../helpers/import-writer.ts';
import {
  debianWheelFiles,
  indexUrl,
  missingPython,
  pythonHome,
  step,
  SYSTEM_PYTHON,
} from '../../helpers/python.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const skip = missingPython('wheels');

describe('nora import: PyPI writer', { skip }, () => {
  test('uploads real wheels, skips them on re-run, and pip downloads them', async () => {
    await using work = await tempDir('nora-import-pypi-');
    await using server = await startTestServer({
      config: { repositories: [{ name: 'py', format: 'pypi', kind: 'hosted' }] },
    });
    const wheels = debianWheelFiles();
    assert.ok(wheels.length > 0);
    const named = { name: 'py', format: 'pypi', isDefault: false, path: '/repository/py' } as const;
    for (const target of [defaultTarget('pypi', '/simple'), named]) {
      for (const wheel of wheels) {
        const listed = `packages/${path.basename(wheel)}`;
        const first = await writeFile(pypiWriter, server.url, target, wheel, listed);
        assert.deepEqual(first, { status: 'imported', bytes: (await fs.stat(wheel)).size });
        const again = await writeFile(pypiWriter, server.url, target, wheel, listed);
        assert.equal(again.status, 'skipped');
        // The same file name with other bytes: a failure naming it, never a skip.
        const changed = path.join(work.path, 'changed', path.basename(wheel));
        await fs.mkdir(path.dirname(changed), { recursive: true });
        await fs.writeFile(changed, Buffer.concat([await fs.readFile(wheel), Buffer.from('x')]));
        const differs = await writeFile(pypiWriter, server.url, target, changed, listed);
        assert.match(failureReason(differs), /in NORA with different bytes \(sha256 /);
      }
    }

    // A wheel under another project's file name: NORA refuses it (its METADATA names another
    // project), and the outcome says why.
    const wheel = wheels[0] ?? '';
    const altered = path.join(work.path, 'demo_pkg-1.0-py3-none-any.whl');
    await fs.copyFile(wheel, altered);
    const outcome = await writeFile(
      pypiWriter,
      server.url,
      { ...named, name: 'py' },
      altered,
      'demo_pkg/1.0/demo_pkg-1.0-py3-none-any.whl',
    );
    assert.equal(outcome.status, 'failed');
    assert.match(failureReason(outcome), /^400 .* from POST \/repository\/py\/simple\//);

    const home = await pythonHome(path.join(work.path, 'home'));
    const dest = path.join(work.path, 'dl');
    for (const prefix of ['/simple/', '/repository/py/simple/']) {
      for (const file of wheels) {
        const project = path.basename(file).split('-')[0] ?? '';
        const version = path.basename(file).split('-')[1] ?? '';
        await step(home, SYSTEM_PYTHON, [
          '-m',
          'pip',
          'download',
          '--no-deps',
          '--only-binary',
          ':all:',
          '--index-url',
          indexUrl(server.url, undefined, prefix),
          '--dest',
          dest,
          `${project}==${version}`,
        ]);
      }
    }
    const downloaded = (await fs.readdir(dest)).sort();
    assert.deepEqual(downloaded, wheels.map((w) => path.basename(w)).sort());
  });
});
