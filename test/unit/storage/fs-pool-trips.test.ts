/**
 * The fs driver's thread-pool trips per durable write (`[storage] fsync`, the default): a
 * buffer written into a known directory takes two, the O_DSYNC writev and the directory fsync;
 * the temp file's open and the rename into place are synchronous metadata calls (a pool trip
 * each was two thread wake-ups per blob on every fill and upload). Counted by wrapping the
 * asynchronous `open` and `rename` the driver could call; the write must still be durable in
 * order (fs-dir-sync.test.ts) and land whole.
 */
import assert from 'node:assert/strict';
import fsCallback from 'node:fs';
import fs from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { mock, test, type TestContext } from 'node:test';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';

/** Counts the driver's asynchronous open, close and rename calls from now until the test ends. */
function countAsyncCalls(t: TestContext): Record<'open' | 'close' | 'rename', () => number> {
  const open = mock.method(fsCallback, 'open');
  const close = mock.method(fsCallback, 'close');
  const rename = mock.method(fs, 'rename');
  // The driver's named imports of node:fs see the wrappers only once synced.
  syncBuiltinESMExports();
  t.after(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
  });
  return {
    open: () => open.mock.callCount(),
    close: () => close.mock.callCount(),
    rename: () => rename.mock.callCount(),
  };
}

test('fs with fsync: a buffer write opens and renames without a thread-pool trip', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-trips-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  let dirSyncs = 0;
  const driver = await FsDriver.open(root, {
    onDirSync: () => {
      dirSyncs += 1;
      return Promise.resolve();
    },
  });
  // The first write makes the shard directory (its own syncs); the second is the steady state.
  await driver.write('blobs/sha256/ab/ab01' as StorageKey, Buffer.from('first'));
  const calls = countAsyncCalls(t);
  dirSyncs = 0;
  const parts = [Buffer.from('durable '), Buffer.from('bytes')];
  const info = await driver.write('blobs/sha256/ab/ab02' as StorageKey, parts);
  assert.equal(info.size, 'durable bytes'.length);
  assert.equal(await fs.readFile(path.join(root, 'blobs/sha256/ab/ab02'), 'utf8'), 'durable bytes');
  assert.equal(calls.open(), 0, 'the temp file is opened synchronously');
  assert.equal(calls.rename(), 0, 'the rename into place is synchronous');
  assert.equal(dirSyncs, 1, 'one directory fsync (in the pool) makes the rename durable');
});

test('fs with fsync: a spool file moved in is opened for its fsync on the loop, renamed there too', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-trips-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const driver = await FsDriver.open(root, {});
  await driver.write('blobs/sha256/cd/cd01' as StorageKey, Buffer.from('first'));
  const spool = path.join(root, '.tmp', 'spool-under-test');
  await fs.writeFile(spool, 'spooled bytes');
  const calls = countAsyncCalls(t);
  const info = await driver.writeFile('blobs/sha256/cd/cd02' as StorageKey, spool);
  assert.equal(info.size, 'spooled bytes'.length);
  assert.equal(await fs.readFile(path.join(root, 'blobs/sha256/cd/cd02'), 'utf8'), 'spooled bytes');
  await assert.rejects(fs.stat(spool), { code: 'ENOENT' });
  assert.equal(calls.open(), 0, 'opened for its fsync synchronously');
  assert.equal(calls.close(), 0, 'closed synchronously');
  assert.equal(calls.rename(), 0, 'the rename into place is synchronous');
});
