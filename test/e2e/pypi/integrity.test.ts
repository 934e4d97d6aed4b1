/**
 * Stored-bytes integrity with pip (docs/storage.md "Integrity of stored bytes"): Debian's real
 * wheels, uploaded by twine to a hosted upstream NORA, are fetched by pip through a second NORA's
 * PyPI proxy; then each cached blob is damaged on disk (one byte flipped, same size). The next
 * `pip download` must not keep a damaged copy (it fails cleanly, or retries and gets good bytes),
 * the damaged file is removed, and a later `pip download` gets the upstream's bytes again.
 * Two wheels: wheel-0.38.4 (36 KiB, read whole by the storage driver) and setuptools-66.1.1
 * (1.2 MiB, read as a file); both are hashed before any byte goes out (blobs up to 64 MiB: a
 * 503). The cut connection of larger blobs is covered with curl in
 * test/e2e/raw/damaged-storage.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { exists, flipBlobByte } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  createVenv,
  debianWheelFiles,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  sha256File,
  twineUpload,
} from '../../helpers/python.ts';

const WANTED = ['wheel-0.38.4-py3-none-any.whl', 'setuptools-66.1.1-py3-none-any.whl'];
const wheels = debianWheelFiles().filter((f) => WANTED.includes(path.basename(f)));
const skip =
  missingPython('wheels', 'venv', 'twine') ||
  (wheels.length === WANTED.length ? false : `Debian wheels not installed: ${WANTED.join(', ')}`);

describe('pip through the PyPI proxy when the cached wheel is damaged on disk', { skip }, () => {
  test(
    'damaged blobs are never kept by pip, are removed, and are fetched again from the upstream',
    { timeout: 120_000 },
    async () => {
      await using work = await tempDir('nora-e2e-pypi-integrity-');
      const home = await pythonHome(path.join(work.path, 'home'));
      await using upstream = await startTestServer();
      const up = await twineUpload(
        home,
        indexUrl(upstream.url),
        { username: 'u', password: 'p' },
        wheels,
      );
      assert.equal(up.code, 0, output(up));
      // The proxy's data directory outlives one process: it restarts on it below.
      const dataDir = path.join(work.path, 'proxy-data');
      await fs.mkdir(dataDir);
      const startProxy = () =>
        startTestServer({ dataDir, env: { NORA_PYPI_PROXY: indexUrl(upstream.url) } });
      let proxy = await startProxy();
      after(() => proxy.close());
      const storage = path.join(dataDir, 'storage');
      const venv = await createVenv(home, path.join(work.path, 'venv'));
      const download = async (label: string) => {
        const dest = path.join(work.path, label);
        const res = await venv.pip(
          [
            'download',
            '--no-cache-dir',
            '--no-deps',
            '--only-binary',
            ':all:',
            '--index-url',
            indexUrl(proxy.url),
            '-d',
            dest,
            'wheel==0.38.4',
            'setuptools==66.1.1',
          ],
          { check: false, timeoutMs: 30_000 },
        );
        const got: Record<string, string> = {};
        for (const name of await fs.readdir(dest).catch(() => [] as string[]))
          got[name] = await sha256File(path.join(dest, name));
        return { res, got };
      };
      const expected: Record<string, string> = {};
      for (const w of wheels) expected[path.basename(w)] = await sha256File(w);

      const warm = await download('warm');
      assert.equal(warm.res.code, 0, output(warm.res));
      assert.deepEqual(warm.got, expected);

      // The proxy keeps small files (≤ 1 MiB: the wheel) in memory once read: a running process
      // would serve those good bytes and never read the disk again. The damage is found by a new
      // process, whose memory is empty (the realistic case: bit rot found after a restart).
      await proxy.close();
      const damaged: string[] = [];
      for (const hex of Object.values(expected)) damaged.push(await flipBlobByte(storage, hex));
      for (const [i, file] of damaged.entries())
        assert.notEqual(await sha256File(file), Object.values(expected)[i], `${file} damaged`);
      proxy = await startProxy();

      // pip may fail (a 503, a cut body) or retry and succeed: it must never keep bad bytes.
      const hit = await download('hit');
      for (const [name, sha] of Object.entries(hit.got))
        assert.equal(sha, expected[name], `${name}: pip kept a damaged copy\n${output(hit.res)}`);
      if (hit.res.code === 0) assert.deepEqual(hit.got, expected, output(hit.res));
      else assert.doesNotMatch(output(hit.res), /\b500\b|Internal Server Error/, output(hit.res));

      // Both wheels are answered 503, which pip retries (good bytes, refilled from the upstream).
      // With blobs checked only as they were sent (over 1 MiB, before the line moved to 64 MiB)
      // the large one's body was cut before its last chunk, and pip (urllib3 does not enforce
      // Content-Length) reported a hash mismatch and kept nothing.
      // Each damaged file is gone or holds the upstream's good bytes again.
      for (const [i, file] of damaged.entries()) {
        if (await exists(file))
          assert.equal(await sha256File(file), Object.values(expected)[i], `${file} repaired`);
      }

      const again = await download('again');
      assert.equal(again.res.code, 0, output(again.res));
      assert.deepEqual(again.got, expected);
      for (const [i, file] of damaged.entries())
        assert.equal(await sha256File(file), Object.values(expected)[i], `${file} refilled`);
      await proxy.close();
    },
  );
});
