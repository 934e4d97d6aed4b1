import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { MemoryDriver } from '../../../src/storage/drivers/memory-driver.ts';
import { runDriverContract } from './driver-contract.ts';

runDriverContract('memory', () => MemoryDriver.open());
runDriverContract('fs', async () =>
  FsDriver.open(await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-'))),
);
runDriverContract('fs without fsync', async () =>
  FsDriver.open(await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-nosync-')), { fsync: false }),
);

test('fs: concurrent writes into one directory all land (their directory syncs are shared)', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-group-'));
  const driver = await FsDriver.open(root);
  const keys = Array.from({ length: 40 }, (_, i) => `blobs/sha256/ab/${i}` as StorageKey);
  await Promise.all(keys.map((k, i) => driver.write(k, Buffer.from(`object ${i}`))));
  for (const [i, k] of keys.entries()) {
    assert.equal((await driver.stat(k))?.size, Buffer.byteLength(`object ${i}`));
  }
  // A second wave over the same keys (replacing) once the first wave's syncs are done.
  await Promise.all(keys.map((k) => driver.write(k, Buffer.from('again'))));
  assert.deepEqual(await fs.readdir(path.join(root, '.tmp')), []);
  await fs.rm(root, { recursive: true, force: true });
});

test('fs: a store directory removed under a running driver is made again on the next write', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-gone-'));
  const driver = await FsDriver.open(root);
  await driver.write('blobs/sha256/cd/one' as StorageKey, Buffer.from('one'));
  await fs.rm(path.join(root, 'blobs'), { recursive: true });
  await driver.write('blobs/sha256/cd/two' as StorageKey, Buffer.from('two'));
  assert.equal((await driver.stat('blobs/sha256/cd/two' as StorageKey))?.size, 3);
  await driver.close();
  await fs.rm(root, { recursive: true, force: true });
});
