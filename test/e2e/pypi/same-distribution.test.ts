/**
 * Trial 18 authx F5 with the real twine and pip: a release takes one file per normalised
 * distribution. `My_Pkg-1.0-py3-none-any.whl` then `my_pkg-1.0-py3-none-any.whl` (other bytes),
 * and `ok-1.0-…whl` then `ok-1.0.0-…whl`, used to be both accepted, and pip picked one by its own
 * ordering. Now the second `twine upload` fails showing the 400 "File already exists" naming the
 * stored file, `--skip-existing` skips it, and `pip download` gets the first file's bytes.
 * (Wheels are made by hand as zips: twine reads only their METADATA.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { createVenv, indexUrl, missingPython, output, twineWork } from '../../helpers/python.ts';
import { makeWheel } from '../../integration/pypi/fixtures.ts';

describe('twine upload of another spelling of a stored wheel', () => {
  test(
    'refused with "File already exists" naming the stored file; --skip-existing skips; pip gets the first',
    { skip: missingPython('venv', 'twine'), timeout: 120_000 },
    async () => {
      await using work = await twineWork('nora-e2e-pypi-samedist-', {
        username: '__token__',
        password: 'anything',
      });
      await using server = await startTestServer();
      const index = indexUrl(server.url);
      const write = async (dir: string, name: string, version: string, filename: string) => {
        const wheel = makeWheel(name, version, {
          filename,
          extra: [{ name: `${dir}.txt`, data: Buffer.from(dir) }],
        });
        const file = path.join(work.path, dir, filename);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, wheel.data);
        return { file, data: wheel.data };
      };

      const first = await write('n1', 'My_Pkg', '1.0', 'My_Pkg-1.0-py3-none-any.whl');
      const second = await write('n2', 'my_pkg', '1.0', 'my_pkg-1.0-py3-none-any.whl');
      const ok = await write('n1', 'ok', '1.0', 'ok-1.0-py3-none-any.whl');
      const okPadded = await write('n2', 'ok', '1.0.0', 'ok-1.0.0-py3-none-any.whl');

      const stored = await work.upload(server.url, [first.file, ok.file]);
      assert.equal(stored.code, 0, output(stored));
      for (const [again, existing] of [
        [second, 'My_Pkg-1.0-py3-none-any.whl'],
        [okPadded, 'ok-1.0-py3-none-any.whl'],
      ] as const) {
        const refused = await work.upload(server.url, [again.file]);
        assert.notEqual(refused.code, 0, output(refused));
        assert.match(output(refused), /400/, output(refused));
        assert.ok(output(refused).includes(`File already exists ('${existing}')`), output(refused));
      }
      const skip = await work.upload(server.url, [second.file, okPadded.file], ['--skip-existing']);
      assert.equal(skip.code, 0, output(skip));
      assert.match(output(skip), /Skipping/, output(skip));

      const page = await (await fetch(`${server.url}/simple/my-pkg/`)).text();
      assert.equal(page.match(/\.whl<\/a>/g)?.length, 1, page);

      const venv = await createVenv(work.home, path.join(work.path, 'venv'));
      const out = path.join(work.path, 'downloads');
      const got = await venv.pip(
        [
          'download',
          '--no-deps',
          '--no-cache-dir',
          '-d',
          out,
          '--index-url',
          index,
          'my-pkg==1.0',
          'ok==1.0',
        ],
        { check: false },
      );
      assert.equal(got.code, 0, output(got));
      assert.deepEqual((await fs.readdir(out)).sort(), [
        'My_Pkg-1.0-py3-none-any.whl',
        'ok-1.0-py3-none-any.whl',
      ]);
      assert.deepEqual(
        await fs.readFile(path.join(out, 'My_Pkg-1.0-py3-none-any.whl')),
        first.data,
      );
      assert.deepEqual(await fs.readFile(path.join(out, 'ok-1.0-py3-none-any.whl')), ok.data);
    },
  );
});
