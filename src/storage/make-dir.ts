/**
 * `mkdir -p` that reports why it failed. Node's recursive mkdir answers ENOENT when the last
 * directory cannot be made on a read-only file system (measured, Node 24: EROFS becomes ENOENT),
 * which would turn a storage fault (503) into an unexplained 500, or, where a caller reads ENOENT
 * as "gone", into the wrong answer. On ENOENT the last step is tried again alone, which fails
 * with the real cause when the parent exists (EROFS, EACCES, ENOSPC…); the original error is
 * thrown when the parent is really missing.
 */
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import { errnoCode } from '../core/errors.ts';

export async function makeDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    try {
      await fs.mkdir(dir);
    } catch (cause) {
      if (errnoCode(cause) === 'EEXIST') return;
      throw errnoCode(cause) === 'ENOENT' ? err : cause;
    }
  }
}

/** makeDir, synchronous (the fs driver's inline small writes). */
export function makeDirSync(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    try {
      mkdirSync(dir);
    } catch (cause) {
      if (errnoCode(cause) === 'EEXIST') return;
      throw errnoCode(cause) === 'ENOENT' ? err : cause;
    }
  }
}
