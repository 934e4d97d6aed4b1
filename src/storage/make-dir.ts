/**
 * `mkdir -p` that reports why it failed. Node's recursive mkdir answers ENOENT when the last
 * directory cannot be made on a read-only file system (measured, Node 24: EROFS becomes ENOENT),
 * which would turn a storage fault (503) into an unexplained 500, or, where a caller reads ENOENT
 * as "gone", into the wrong answer. On ENOENT the last step is tried again alone, which fails
 * with the real cause when the parent exists (EROFS, EACCES, ENOSPC…); the original error is
 * thrown when the parent is really missing.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
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

/**
 * The error of a directory to make under `root` (the storage directory) when `root` itself is
 * gone: ENOENT, which the error mapping answers 503 "storage is unavailable". undefined when
 * `root` exists. Making `root` again would put uploads on whatever disk is under it now (an
 * unmounted volume's mount point) while everything stored before stays unreadable.
 */
function missingRoot(root: string): Error | undefined {
  if (existsSync(root)) return undefined;
  return Object.assign(new Error(`ENOENT: the storage directory ${root} is missing`), {
    code: 'ENOENT',
    path: root,
  });
}

/** makeDir of `dir` inside `root`, refused (ENOENT) when `root` itself is missing. */
export async function makeDirUnder(root: string, dir: string): Promise<void> {
  const missing = missingRoot(root);
  if (missing !== undefined) throw missing;
  await makeDir(dir);
}

/** makeDirUnder, synchronous. */
export function makeDirUnderSync(root: string, dir: string): void {
  const missing = missingRoot(root);
  if (missing !== undefined) throw missing;
  makeDirSync(dir);
}

/**
 * `mkdir -p` of `dir` one level at a time, from its nearest existing ancestor down, each level
 * made alone (no `recursive`). For the storage directory at start-up: Node's recursive mkdir
 * spins forever, at 100% CPU, under a pseudo file system that answers ENOENT to a mkdir of an
 * existing parent (`/proc/storage`), and turns other failures into ENOENT; here each level fails
 * with its own cause (ENOENT, ENOTDIR, EROFS, EACCES…) on the path that failed.
 */
export async function makeDirLevels(dir: string): Promise<void> {
  const absolute = path.resolve(dir);
  const missing: string[] = [];
  let at = absolute;
  for (;;) {
    const stat = await fs.stat(at).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    });
    if (stat !== undefined) {
      if (!stat.isDirectory()) {
        throw Object.assign(new Error(`ENOTDIR: not a directory: ${at}`), {
          code: 'ENOTDIR',
          path: at,
        });
      }
      break;
    }
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) {
    try {
      await fs.mkdir(level);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
}

/**
 * makeDirLevels, synchronous: for directories made from configured paths before the server
 * listens (the audit log's `[audit] path`, the database's `[database] path`). Under `/proc`
 * (`NORA_AUDIT_PATH=/proc/nora/audit.jsonl`) Node's recursive mkdir never returns (trial 28
 * newU F14); this fails at once with ENOENT on `/proc/nora`.
 */
export function makeDirLevelsSync(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    let stat;
    try {
      stat = statSync(at);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    if (stat !== undefined) {
      if (!stat.isDirectory()) {
        throw Object.assign(new Error(`ENOTDIR: not a directory: ${at}`), {
          code: 'ENOTDIR',
          path: at,
        });
      }
      break;
    }
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
}
