/**
 * A storage directory that cannot be made at start-up: `nora serve` exits at once with a line
 * naming the setting, the path and the cause. (Trial 2026-12-02: a path under /proc spun at
 * 100% CPU forever in Node's recursive mkdir, printing nothing; a file in the way printed a
 * bare "ENOTDIR: not a directory, mkdir …".)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('an unusable [storage] path fails start-up with a clear line', () => {
  test('a regular file in the way', async () => {
    await using dir = await tempDir('nora-storage-file-');
    const file = path.join(dir.path, 'afile');
    await fs.writeFile(file, 'x');
    const storage = path.join(file, 'storage');
    const res = await nora(['serve'], { NORA_STORAGE_PATH: storage, NORA_PORT: '0' });
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      /storage directory \S+afile\/storage \(\[storage\] path, NORA_STORAGE_PATH\) is not usable: a file is in the way/,
    );
  });

  test(
    'a pseudo file system that answers ENOENT (/proc): no endless loop',
    { skip: existsSync('/proc/self') ? false : 'no /proc on this system' },
    async () => {
      const started = Date.now();
      const res = await nora(['serve'], {
        NORA_STORAGE_PATH: '/proc/nora-storage',
        NORA_PORT: '0',
      });
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /storage directory \/proc\/nora-storage .* is not usable/);
      assert.ok(Date.now() - started < 20_000);
    },
  );
});
