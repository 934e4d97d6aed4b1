/** Storage test helpers: what the fs driver left behind, an in-memory blob index. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobIndex } from '../../src/storage/blob-store.ts';

/** A BlobIndex in a Map (digest → size), for blob store tests without a database. */
export class MapIndex implements BlobIndex {
  readonly sizes = new Map<string, number>();
  record(digest: string, size: number): Promise<void> {
    this.sizes.set(digest, size);
    return Promise.resolve();
  }
  remove(digest: string): Promise<void> {
    this.sizes.delete(digest);
    return Promise.resolve();
  }
  totalSize(): Promise<number> {
    return Promise.resolve([...this.sizes.values()].reduce((a, b) => a + b, 0));
  }
}

/**
 * What a write left in the fs driver's temp directory (`<root>/.tmp`): anything but the stock of
 * empty temp files the driver opens ahead (`ready-<pid>-<n>/`), and any stocked file holding
 * bytes. Names relative to `.tmp`; empty when nothing was left.
 */
export async function tempLeftovers(root: string): Promise<string[]> {
  const tmp = path.join(root, '.tmp');
  const left: string[] = [];
  for (const name of await fs.readdir(tmp)) {
    if (!/^ready-\d+-\d+$/.test(name)) {
      left.push(name);
      continue;
    }
    for (const file of await fs.readdir(path.join(tmp, name))) {
      if ((await fs.stat(path.join(tmp, name, file))).size > 0) left.push(`${name}/${file}`);
    }
  }
  return left;
}

/** Flips the byte at offset `at` of `file` in place: same size, new mtime/ctime. */
export async function flipByteAt(file: string, at: number): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

/**
 * Damages a stored blob in place as a failing disk would: one byte in the middle of
 * `<storageRoot>/blobs/<algorithm>/<xx>/<hex>` flipped, same size (npm's tarballs are addressed
 * by sha512, the other formats' by sha256). Returns the file's path.
 */
export async function flipBlobByte(
  storageRoot: string,
  hex: string,
  algorithm: 'sha256' | 'sha512' = 'sha256',
): Promise<string> {
  const file = path.join(storageRoot, 'blobs', algorithm, hex.slice(0, 2), hex);
  await flipByteAt(file, Math.floor((await fs.stat(file)).size / 2));
  return file;
}

/** Whether a path exists. */
export function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/** The SHA-256 of a file's bytes, hex (read whole: test-sized files). */
export async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

/**
 * How a test makes files unwritable here: `chmod` when not root (root's writes ignore the mode),
 * `chattr` (+i, immutable) as root where it works, else the reason neither can be done (for a
 * test's `skip`).
 */
export function unwritableMethod(): string {
  if (process.getuid?.() !== 0) return 'chmod';
  const probe = mkdtempSync(path.join(os.tmpdir(), 'nora-chattr-'));
  try {
    execFileSync('chattr', ['+i', probe], { stdio: 'pipe' });
    execFileSync('chattr', ['-i', probe], { stdio: 'pipe' });
    return 'chattr';
  } catch (err) {
    return `root, and chattr +i is not available here: ${String(err).split('\n')[0]}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
