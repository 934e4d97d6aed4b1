/**
 * The fs driver's durability order (`[storage] fsync`, the default): a write resolves — and so a
 * 201 is sent — only after the fsync of the directory its file was renamed into, and a directory
 * the write had to make is synced into its parent first. Checked with the driver's `onDirSync`
 * hook, which the fsync waits for: holding it must hold the write.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';

/** A driver whose directory syncs wait until released; `synced` lists the directories synced. */
async function heldDriver(): Promise<{
  root: string;
  driver: FsDriver;
  synced: string[];
  held: Set<string>;
  release: () => void;
}> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-dirsync-'));
  const synced: string[] = [];
  const held = new Set<string>();
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const driver = await FsDriver.open(root, {
    onDirSync: async (dir) => {
      held.add(dir);
      await gate;
      synced.push(dir);
    },
  });
  return { root, driver, synced, held, release: open };
}

/** True when `promise` has not settled after a few turns of the event loop and some ms. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return !settled;
}

for (const [label, body] of [
  ['a buffer', () => Buffer.from('buffered bytes')],
  ['a stream', () => Readable.from([Buffer.from('streamed '), Buffer.from('bytes')])],
] as const) {
  test(`fs: a write of ${label} resolves only after its directory's fsync`, async () => {
    const { root, driver, synced, held, release } = await heldDriver();
    const key = 'blobs/sha256/ab/abcdef' as StorageKey;
    const write = driver.write(key, body());
    // The sync has started (the write got that far: spool, rename) and is held…
    while (held.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // …so the write must still be waiting for it.
    assert.equal(await pending(write), true, 'resolved before its directory sync ran');
    release();
    await write;
    assert.ok(synced.includes(path.join(root, 'blobs/sha256/ab')), synced.join(', '));
    await driver.close();
    await fs.rm(root, { recursive: true, force: true });
  });
}

test('fs: a directory made by a write is synced into its parent before the write resolves', async () => {
  const { root, driver, synced, release } = await heldDriver();
  release();
  await driver.write('blobs/sha256/cd/one' as StorageKey, Buffer.from('one'));
  // Every level made (blobs, blobs/sha256, blobs/sha256/cd) has its entry synced in its parent.
  for (const parent of ['', 'blobs', 'blobs/sha256']) {
    assert.ok(
      synced.includes(path.join(root, parent)),
      `${parent || 'root'}: ${synced.join(', ')}`,
    );
  }
  // A write into a directory that exists already syncs that directory only.
  synced.length = 0;
  await driver.write('blobs/sha256/cd/two' as StorageKey, Buffer.from('two'));
  assert.deepEqual(synced, [path.join(root, 'blobs/sha256/cd')]);
  await driver.close();
  await fs.rm(root, { recursive: true, force: true });
});

test('fs without fsync: no directory sync at all', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-fs-dirsync-off-'));
  const synced: string[] = [];
  const driver = await FsDriver.open(root, {
    fsync: false,
    onDirSync: (dir) => void synced.push(dir),
  });
  await driver.write('blobs/sha256/ef/one' as StorageKey, Buffer.from('one'));
  assert.deepEqual(synced, []);
  await driver.close();
  await fs.rm(root, { recursive: true, force: true });
});
