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

  test('missing while its database (kept elsewhere) exists: an unmounted volume, not a first start', async () => {
    // Trial ops F2: the directory was made again on the mount point's disk; uploads were
    // acknowledged there and lost from sight when the volume came back.
    await using dir = await tempDir('nora-storage-unmounted-');
    const storage = path.join(dir.path, 'vol', 'nora');
    const database = path.join(dir.path, 'dbdisk', 'nora.db');
    await fs.mkdir(path.dirname(database), { recursive: true });
    await fs.writeFile(database, '');
    const env = { NORA_STORAGE_PATH: storage, NORA_DATABASE_PATH: database, NORA_PORT: '0' };
    const refused =
      /storage directory \S+\/vol\/nora \(\[storage\] path, NORA_STORAGE_PATH\) does not exist, but the metadata database \S+nora\.db \(\[database\] path\) does: .*mkdir -p \S+\/vol\/nora/;
    const serve = await nora(['serve'], env);
    assert.equal(serve.code, 1, serve.stderr);
    assert.match(serve.stderr, refused);
    // gc and verify would sweep or drop every blob of the unmounted volume: refused too.
    for (const verb of [
      ['gc', '--apply'],
      ['verify', '--remove'],
    ]) {
      const res = await nora(verb, env);
      assert.notEqual(res.code, 0, `${verb.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /does not exist, but the metadata database/);
    }
    assert.equal(existsSync(storage), false, 'nothing made on the mount point');
    // Created on purpose, as the message says: an empty storage is used.
    await fs.mkdir(storage, { recursive: true });
    const verify = await nora(['verify'], env);
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  });
});
