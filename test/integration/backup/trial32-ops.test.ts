/**
 * Backup and restore, trial 32 ops findings:
 * - `nora backup -o FILE` replaces an existing FILE (scheduled runs rely on it) and says so;
 * - a failed `nora restore` (not gzip, truncated) leaves no directory it created (an empty
 *   `storage/.tmp` stayed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('nora backup -o FILE says when it replaces an existing FILE', async () => {
  await using dir = await tempDir('nora-backup-replace-');
  const storage = path.join(dir.path, 'storage');
  {
    await using server = await startTestServer({ dataDir: dir.path });
    const put = await fetch(`${server.url}/raw/docs/a.txt`, { method: 'PUT', body: 'a' });
    assert.equal(put.status, 201);
  }
  const archive = path.join(dir.path, 'backup.tar.gz');
  const first = await nora(['backup', '-o', archive], { NORA_STORAGE_PATH: storage });
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stdout, /replacing/);
  await fs.writeFile(archive, 'an earlier archive');
  const second = await nora(['backup', '-o', archive], { NORA_STORAGE_PATH: storage });
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /wrote .*backup\.tar\.gz \(replacing the archive that was there\)/);
  assert.notEqual(await fs.readFile(archive, 'utf8'), 'an earlier archive');
});

test('a failed restore leaves no directory it created', async () => {
  await using dir = await tempDir('nora-restore-dirs-');
  const archive = path.join(dir.path, 'bad.tar.gz');
  await fs.writeFile(archive, 'not an archive\n');
  const storage = path.join(dir.path, 'data', 'storage');
  const result = await nora(['restore', '-i', archive], { NORA_STORAGE_PATH: storage });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /not a gzip file/);
  assert.deepEqual(await fs.readdir(dir.path), ['bad.tar.gz']);
  // An existing empty storage stays, without a `.tmp` in it.
  await fs.mkdir(storage, { recursive: true });
  const again = await nora(['restore', '-i', archive], { NORA_STORAGE_PATH: storage });
  assert.equal(again.code, 1, again.stderr);
  assert.deepEqual(await fs.readdir(storage), []);
});

test('nora backup -o into a missing directory names the directory, not a temp path (trial 33)', async () => {
  await using dir = await tempDir('nora-backup-nodir-');
  const storage = path.join(dir.path, 'storage');
  {
    await using server = await startTestServer({ dataDir: dir.path });
    assert.ok(server.url);
  }
  const missing = path.join(dir.path, 'nodir');
  const result = await nora(['backup', '-o', path.join(missing, 'x.tar.gz')], {
    NORA_STORAGE_PATH: storage,
  });
  assert.equal(result.code, 1, result.stderr);
  assert.ok(result.stderr.includes(`directory ${missing} does not exist`), result.stderr);
  assert.doesNotMatch(result.stderr, /ENOENT|mkdir|\.tmp/);
});
