/**
 * A reserve of disk space next to the metadata database (`<db>-reserve`, RESERVE_BYTES of
 * zeros), so that a disk filled to its last byte by uploads can still commit the DELETE that
 * frees space: when a write fails with SQLITE_FULL, the reserve is removed (its blocks freed at
 * once) and the write tried once more (db/node-sqlite-dialect.ts, db/sqlite-handle.ts). It is
 * made at start when there is room, and again once there is room again (after a gc pass, or
 * when /health asks: `ensure()`).
 *
 * Only work that frees space may use it (`freesSpace`: every DELETE request, a gc pass): an
 * upload that meets a full disk is refused 507 as before and leaves the reserve for the DELETE.
 * Such work also releases it up front when the disk has less than LOW_WATER_BYTES free (a
 * transaction SQLite rolled back at its COMMIT cannot be retried from where it failed).
 *
 * States: `held` (the file is there), `released` (used by a write on a full disk; not made again
 * yet: the database is full or was), `none` (an in-memory database, or no room to make it).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';

/** Set while work that frees space runs (a DELETE request, a gc pass): only it uses the reserve. */
const freeing = new AsyncLocalStorage<true>();

/** Free bytes under which work that frees space releases the reserve before it writes. */
export const LOW_WATER_BYTES = 256 * 1024;

/**
 * Size of the reserve, bytes: a DELETE's commit appends a few 4 KiB pages to the `-wal`, so this
 * is room for hundreds of them (and for gc's index removals after). On a small disk, an eighth
 * of its size instead (a 2 MiB disk keeps 256 KiB).
 */
export const RESERVE_BYTES = 1024 * 1024;

export type ReserveState = 'held' | 'released' | 'none';

export class SpaceReserve {
  readonly file: string | undefined;
  readonly #bytes: number;
  #state: ReserveState = 'none';
  /** Epoch ms of the last SQLITE_FULL seen since the reserve was last made. */
  #fullAt: number | undefined;

  /** `databaseFile`: the database's path (`:memory:` or '': no reserve). */
  constructor(databaseFile: string, bytes = RESERVE_BYTES) {
    this.file =
      databaseFile === ':memory:' || databaseFile === ''
        ? undefined
        : `${path.resolve(databaseFile)}-reserve`;
    this.#bytes = bytes;
  }

  get state(): ReserveState {
    return this.#state;
  }

  /** True when a write met a full database since the reserve was last made (/health). */
  get full(): boolean {
    return this.#fullAt !== undefined;
  }

  /**
   * Makes the reserve when it is not there and the disk has twice its size free;
   * a reserve file left by an earlier run is kept. Never throws (no room: stays as it is).
   * Returns the state.
   */
  ensure(): ReserveState {
    const file = this.file;
    if (file === undefined || this.#state === 'held') return this.#state;
    try {
      const room = fs.statfsSync(path.dirname(file));
      const size = Math.min(this.#bytes, Math.floor((room.blocks * room.bsize) / 8 / 4096) * 4096);
      const existing = fs.statSync(file, { throwIfNoEntry: false });
      if (existing !== undefined && existing.size >= size) {
        this.#held();
        return this.#state;
      }
      // Twice its size free: the reserve never takes a disk's last bytes.
      if (size <= 0 || room.bavail * room.bsize < 2 * size) return this.#state;
      // Real blocks (zeros written, not a sparse file): removing it frees them. Not synced: the
      // file system counts the blocks as used at once, and one lost in a crash is made again.
      const temp = `${file}.tmp`;
      const fd = fs.openSync(temp, 'w');
      try {
        const chunk = Buffer.alloc(1024 * 1024);
        for (let written = 0; written < size; written += chunk.length) {
          fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - written));
        }
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, file);
      this.#held();
    } catch {
      fs.rmSync(`${file}.tmp`, { force: true });
    }
    return this.#state;
  }

  #held(): void {
    this.#state = 'held';
    this.#fullAt = undefined;
  }

  /**
   * A write met SQLITE_FULL: removes the reserve when the write frees space (`freesSpace`),
   * synchronously (the caller retries its write right after). True when space was freed, so
   * one retry is worth it.
   */
  release(): boolean {
    this.#fullAt = Date.now();
    if (freeing.getStore() !== true) return false;
    return this.#remove();
  }

  /**
   * Before work that frees space: releases the reserve when the disk has less than
   * LOW_WATER_BYTES free, so the work's writes (whatever their path: Kysely transactions are
   * rolled back by SQLite at a full COMMIT) find room. True when it released it.
   */
  releaseIfLow(): boolean {
    if (this.#state !== 'held' || this.file === undefined) return false;
    try {
      const room = fs.statfsSync(path.dirname(this.file));
      if (room.bavail * room.bsize >= LOW_WATER_BYTES) return false;
    } catch {
      return false;
    }
    this.#fullAt = Date.now();
    return this.#remove();
  }

  #remove(): boolean {
    if (this.#state !== 'held' || this.file === undefined) return false;
    this.#state = 'released';
    try {
      fs.rmSync(this.file, { force: true });
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Runs `work` that frees space (a DELETE request's handling, a gc pass) where the reserve may
 * be used for its writes; releases the reserve first when the disk is nearly full.
 */
export function freesSpace<R>(reserve: SpaceReserve | undefined, work: () => R): R {
  reserve?.releaseIfLow();
  return freeing.run(true, work);
}

/**
 * Runs `run` (a whole transaction — BEGIN to COMMIT, rolled back on failure — or one statement
 * outside a transaction) and, when it fails with SQLITE_FULL in work that frees space while the
 * reserve is held, releases the reserve and runs it once more, when that is the same work again:
 * the transaction state is what it was before (nothing of the failed attempt is left). A
 * statement inside a transaction that SQLite rolled back is not retried (its transaction is
 * gone): the error goes up (507). Anything else is thrown as it is.
 */
export function retryOnFull<R>(
  db: { readonly isTransaction: boolean },
  reserve: SpaceReserve | undefined,
  run: () => R,
): R {
  const before = db.isTransaction;
  try {
    return run();
  } catch (err) {
    if (reserve === undefined || !isSqliteFull(err)) throw err;
    if (!reserve.release() || db.isTransaction !== before) throw err;
    return run();
  }
}

/** SQLite's primary result code SQLITE_FULL (node:sqlite `errcode`, low byte). */
const SQLITE_FULL = 13;

/** True for a node:sqlite error that says the database or disk is full. */
export function isSqliteFull(err: unknown): boolean {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' && (errcode & 0xff) === SQLITE_FULL;
}
