/**
 * PEP 592 yanked files with poetry and pdm, as pip treats them: a release yanked in NORA (`POST
 * /pypi/<name>/<version>/yank` with a reason: `data-yanked="<reason>"` on the simple page,
 * `yanked: "<reason>"` in PEP 691 JSON) is not chosen for a loose requirement, and is for an exact
 * pin (`==`). Locks only (`poetry lock`, `pdm lock`): the choice is the resolver's. Debian's
 * poetry and pdm (python3-poetry, python3-pdm); the test skips and says so without them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  indexUrl,
  missingPython,
  output,
  pythonHome,
  step,
  writeLockApp,
  type PythonHome,
} from '../../helpers/python.ts';
import { makeWheel, MULTIPART, multipartBody, twineFields } from './fixtures.ts';

const TIMEOUT = 180_000;
const NAME = 'nora-yank-demo';

/** The versions a lock file pins for NAME (poetry.lock and pdm.lock both say `version = "…"`). */
async function lockedVersion(file: string): Promise<string | undefined> {
  const lock = await fs.readFile(file, 'utf8');
  const block = lock.split(/\n\[\[package\]\]\n/).find((b) => b.includes(`name = "${NAME}"`));
  return block === undefined ? undefined : /\nversion = "([^"]+)"/.exec(`\n${block}`)?.[1];
}

describe('yanked files with poetry and pdm (as pip: not for a loose requirement, yes for ==)', () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let home: PythonHome;
  let index: string;

  before(async () => {
    work = await tempDir('nora-pypi-yanked-');
    home = await pythonHome(path.join(work.path, 'home'));
    server = await startTestServer({ env: { NORA_PYPI_PROXY: '' } });
    index = indexUrl(server.url);
    for (const version of ['1.0.0', '1.1.0']) {
      const wheel = makeWheel(NAME, version);
      const res = await fetch(`${server.url}/simple/`, {
        method: 'POST',
        body: multipartBody(twineFields(NAME, version, wheel), wheel),
        headers: { 'content-type': MULTIPART },
      });
      assert.equal(res.status, 200, await res.text());
    }
    const yank = await fetch(`${server.url}/pypi/${NAME}/1.1.0/yank`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'broken build' }),
    });
    assert.equal(yank.status, 200, await yank.text());
    const page = await (await fetch(`${server.url}/simple/${NAME}/`)).text();
    assert.match(page, /1\.1\.0[^"]*\.whl[^>]*data-yanked="broken build"/, page);
  });
  after(async () => {
    await (server as TestServer | undefined)?.close();
    await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
  });

  const poetryMissing = missingPython('poetry');
  test('poetry lock', { skip: poetryMissing }, async () => {
    for (const [requirement, expected] of [
      ['', '1.0.0'],
      ['==1.1.0', '1.1.0'],
    ] as const) {
      const dir = path.join(work.path, `poetry-${expected}`);
      await writeLockApp(dir, 'poetry', index, NAME, requirement);
      const locked = await step(home, 'poetry', ['lock', '-vv'], { cwd: dir, timeoutMs: TIMEOUT });
      assert.equal(
        await lockedVersion(path.join(dir, 'poetry.lock')),
        expected,
        `${requirement || '(any)'}: ${output(locked)}`,
      );
    }
  });

  const pdmMissing = missingPython('pdm');
  test(
    "pdm lock (Debian's pdm 2.2 never picks a yanked file, even for ==)",
    { skip: pdmMissing },
    async () => {
      const lock = async (dir: string, requirement: string, check = true) => {
        await writeLockApp(dir, 'pdm', index, NAME, requirement);
        return step(home, 'pdm', ['lock', '-v'], { cwd: dir, timeoutMs: TIMEOUT, check });
      };
      const loose = await lock(path.join(work.path, 'pdm-loose'), '');
      assert.equal(
        await lockedVersion(path.join(work.path, 'pdm-loose', 'pdm.lock')),
        '1.0.0',
        output(loose),
      );
      // pdm 2.2 asks its finder (unearth) for every candidate with allow_yanked off, whatever the
      // specifier: a pin on a yanked release finds nothing. pip and poetry take it (PEP 592). The
      // same pin resolves once the release is unyanked: the refusal is pdm's, not the index's.
      const pinned = await lock(path.join(work.path, 'pdm-pinned'), '==1.1.0', false);
      if (pinned.code === 0) {
        // A pdm that follows PEP 592 for pins (newer than Debian's 2.2).
        assert.equal(await lockedVersion(path.join(work.path, 'pdm-pinned', 'pdm.lock')), '1.1.0');
        return;
      }
      assert.match(output(pinned), /Unable to find a resolution/, output(pinned));
      const unyank = await fetch(`${server.url}/pypi/${NAME}/1.1.0/unyank`, { method: 'POST' });
      assert.equal(unyank.status, 200, await unyank.text());
      const again = await lock(path.join(work.path, 'pdm-unyanked'), '==1.1.0');
      assert.equal(
        await lockedVersion(path.join(work.path, 'pdm-unyanked', 'pdm.lock')),
        '1.1.0',
        output(again),
      );
    },
  );
});
