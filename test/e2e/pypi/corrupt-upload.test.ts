/**
 * Upload-archive refusals with the real twine (src/formats/pypi/archive-check.ts): files twine
 * itself reads without complaint (it only opens the metadata) but that pip would fail on:
 *
 * - Debian's real wheel-0.38.4 wheel with its first entry's deflated bytes (LICENSE.txt)
 *   overwritten: METADATA and the central directory intact, the entry's CRC-32 wrong;
 * - an sdist built by `python3 -m build` whose gzip trailer (CRC-32) is wrong: Python's tarfile
 *   stops at the tar end marker and never reads it, so twine's metadata read passes.
 *
 * Each `twine upload` must fail, showing NORA's 400 and its one-line reason; nothing is stored
 * (the project page stays 404); the intact files then upload fine under the same names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import {
  buildProjects,
  debianWheelFiles,
  indexUrl,
  missingPython,
  output,
  twineWork,
} from '../../helpers/python.ts';

const WHEEL = debianWheelFiles().find((f) => path.basename(f) === 'wheel-0.38.4-py3-none-any.whl');

describe('twine upload of corrupt archives', () => {
  test(
    'a corrupt wheel and a corrupt sdist: twine shows the 400 and its reason, nothing stored',
    {
      skip:
        missingPython('build', 'twine') ||
        (WHEEL === undefined
          ? 'Debian wheel not installed: wheel-0.38.4 (python3-wheel-whl)'
          : false),
      timeout: 120_000,
    },
    async () => {
      await using work = await twineWork('nora-e2e-pypi-corrupt-');
      await using server = await startTestServer();
      const index = indexUrl(server.url);

      const goodWheel = WHEEL ?? '';
      const badWheel = path.join(work.path, 'bad', path.basename(goodWheel));
      await fs.mkdir(path.dirname(badWheel), { recursive: true });
      const wheelBytes = await fs.readFile(goodWheel);
      // The first local header is 30 bytes + the name (wheel-0.38.4.dist-info/LICENSE.txt, 34):
      // bytes 100..110 are inside LICENSE.txt's deflated data.
      assert.equal(wheelBytes.readUInt32LE(0), 0x04034b50, 'a zip local file header');
      await fs.writeFile(badWheel, Buffer.from(wheelBytes).fill(0xff, 100, 110));

      const [built] = await buildProjects(
        work.home,
        path.join(work.path, 'src'),
        [{ name: 'nora-corrupt-sdist', version: '1.0.0' }],
        'sdist',
      );
      const sdist = built ?? '';
      assert.ok(sdist.endsWith('.tar.gz'), sdist);
      const badSdist = path.join(work.path, 'bad', path.basename(sdist));
      const sdistBytes = Buffer.from(await fs.readFile(sdist));
      const crcAt = sdistBytes.length - 8;
      sdistBytes.writeUInt32LE(~sdistBytes.readUInt32LE(crcAt) >>> 0, crcAt);
      await fs.writeFile(badSdist, sdistBytes);

      for (const [file, reason, project] of [
        [badWheel, /invalid wheel: .*wheel-0\.38\.4-py3-none-any\.whl/, 'wheel'],
        [
          badSdist,
          /invalid sdist: .*nora[-_]corrupt[-_]sdist-1\.0\.0\.tar\.gz/,
          'nora-corrupt-sdist',
        ],
      ] as const) {
        // Wide enough that twine's (rich) output keeps the reason on one line.
        const res = await work.upload(server.url, [file], [], { env: { COLUMNS: '200' } });
        assert.notEqual(res.code, 0, output(res));
        assert.match(output(res), /400/, output(res));
        assert.match(output(res), reason, output(res));
        assert.doesNotMatch(output(res), /\b500\b|Internal Server Error/, output(res));
        const page = await fetch(`${index}${project}/`);
        assert.equal(page.status, 404, `${project}: nothing stored`);
      }

      const good = await work.upload(server.url, [goodWheel, sdist]);
      assert.equal(good.code, 0, output(good));
    },
  );
});
