/**
 * Direct access to the `node:sqlite` database under a Kysely instance, for the few hot write
 * paths that run a whole transaction as synchronous prepared statements (no query compilation,
 * no promise per statement), and group commit: the durability of the write-ahead log.
 *
 * Durability (SQLite WAL, `synchronous = NORMAL`, set by openDatabase): a commit appends its
 * frames to the `-wal` file with write() and returns without fsync; SQLite syncs the WAL before
 * each checkpoint copies it into the database, syncs the database after, and syncs the WAL header
 * when the log restarts. So what NORMAL leaves unsynced is exactly the frames of the commits
 * since the last sync, and `syncWal()` closes that gap: an fdatasync of the `-wal` file through
 * libuv's thread pool (off the event loop, unlike `synchronous = FULL`, which would fsync inside
 * every COMMIT on the main thread). Every transaction committed before `syncWal()` was called
 * survives a power loss once it resolves (recovery replays the log's checksummed frames up to the
 * last complete commit). Concurrent callers share one fdatasync (group commit): a sync that has
 * not started yet covers every commit made before it starts.
 *
 * The `-wal` descriptor stays open: SQLite keeps that file (same inode, maybe truncated) while a
 * connection is open and deletes it only when the last connection closes; NORA holds its one
 * connection for its whole life. The directory is fsynced once after the descriptor is opened, so
 * the log's own directory entry is durable too.
 */
import {
  close as closeCallback,
  fdatasync as fdatasyncCallback,
  fsync as fsyncCallback,
  open as openCallback,
} from 'node:fs';
import path from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Kysely } from 'kysely';
import { SharedSync } from '../core/shared-sync.ts';
import type { SpaceReserve } from './reserve.ts';

export class SqliteHandle {
  /** The connection Kysely uses: run statements on it only inside `exclusive()`. */
  readonly db: DatabaseSync;
  readonly #wal: string | undefined;
  readonly #statements = new Map<string, StatementSync>();
  readonly #syncs = new SharedSync(
    () => this.#sync(),
    () => {
      if (this.#closed) this.#release();
    },
  );
  #fd: number | undefined;
  #closed = false;

  /** The store's write generation (core/write-generation.ts), bumped after `exclusive()` work. */
  readonly onWrite: (() => void) | undefined;

  /** The disk space kept for writes on a full disk (db/reserve.ts); none in memory. */
  readonly reserve: SpaceReserve | undefined;

  /**
   * Opened read-only (database.ts openReadOnly: its directory could not be written at start):
   * every write fails SQLITE_READONLY until a restart.
   */
  readonly readOnly: boolean;

  constructor(
    db: DatabaseSync,
    file: string,
    onWrite?: () => void,
    reserve?: SpaceReserve,
    readOnly = false,
  ) {
    this.db = db;
    this.readOnly = readOnly;
    this.onWrite = onWrite;
    this.reserve = reserve;
    this.#wal = file === ':memory:' || file === '' ? undefined : `${path.resolve(file)}-wal`;
  }

  /** A prepared statement, compiled once per SQL text. */
  prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * SQLite's `PRAGMA data_version`: a number that changes whenever another connection (another
   * process on the same file, e.g. a CLI command) committed since the last call; this
   * connection's own commits leave it as it is (core/write-generation.ts counts those).
   */
  dataVersion(): number {
    const row = this.prepare('PRAGMA data_version').get() as { data_version?: number } | undefined;
    return row?.data_version ?? 0;
  }

  /**
   * Makes every transaction committed before this call durable (see the module comment);
   * resolves at once for an in-memory database.
   */
  syncWal(): Promise<void> {
    if (this.#wal === undefined) return Promise.resolve();
    return this.#syncs.request();
  }

  async #sync(): Promise<void> {
    if (this.#closed) return;
    if (this.#fd === undefined) {
      let fd: number;
      try {
        fd = await openFd(this.#wal ?? '', 'r');
      } catch (err) {
        // No log yet: nothing was committed through it.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      const dir = await openFd(path.dirname(this.#wal ?? ''), 'r');
      try {
        await fsyncFd(dir, false);
      } finally {
        closeCallback(dir, () => undefined);
      }
      if (this.#isClosed()) {
        closeCallback(fd, () => undefined);
        return;
      }
      this.#fd = fd;
    }
    await fsyncFd(this.#fd, true);
  }

  /**
   * Closes the kept `-wal` descriptor once no sync runs (the database itself is closed by
   * Kysely); later syncs resolve at once.
   */
  close(): void {
    this.#closed = true;
    if (this.#syncs.idle) this.#release();
  }

  /** Methods, not fields, so the checks after an await are not narrowed away. */
  #isClosed(): boolean {
    return this.#closed;
  }

  #release(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeCallback(fd, () => undefined);
  }
}

const handles = new WeakMap<object, SqliteHandle>();

/** Called by openDatabase: `db` (and every `$extendTables` copy of it) runs on `handle`. */
export function registerSqliteHandle(db: Kysely<never>, handle: SqliteHandle): void {
  handles.set(db.getExecutor(), handle);
}

/**
 * The SQLite handle under `db`, or undefined when `db` runs on another dialect (callers then take
 * their portable Kysely path).
 */
export function sqliteHandleOf<T>(db: Kysely<T>): SqliteHandle | undefined {
  return handles.get(db.getExecutor());
}

/**
 * Runs `work` (synchronous statements on `handle.db`) while no Kysely transaction of another
 * module is open on the same connection: at once when none is (see below), else holding Kysely's
 * connection, once that transaction is over. Every write on
 * `handle.db` must run here: the write generation is bumped when `work` ends (in the same tick,
 * so no reader sees its rows under the old generation), as the dialect does for Kysely's writes.
 */
export async function exclusive<T, R>(db: Kysely<T>, work: () => R): Promise<R> {
  const handle = sqliteHandleOf(db);
  const onWrite = handle?.onWrite;
  // No transaction open on the connection: nothing else can run until `work` returns (it is
  // synchronous), so it needs no turn of Kysely's connection mutex (a few promises and objects
  // per statement, measured ~4% of a cold proxy fill's main thread). A Kysely transaction holds
  // the connection across awaits between its BEGIN and COMMIT: then wait for it.
  if (handle !== undefined && !handle.db.isTransaction) {
    let result: R;
    try {
      result = work();
    } finally {
      onWrite?.();
    }
    return result;
  }
  return db.connection().execute(() => {
    try {
      return Promise.resolve(work());
    } finally {
      onWrite?.();
    }
  });
}

/** One caller's work in a group transaction (see `grouped`). */
interface GroupItem {
  readonly work: () => unknown;
  /** `work` is one statement: alone in its group, it runs as an autocommit (no BEGIN/COMMIT). */
  readonly single: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** Per handle: the work queued for its next group transaction, and the Kysely db to run it on. */
const groups = new WeakMap<SqliteHandle, { db: Kysely<never>; items: GroupItem[] }>();

/**
 * Runs `work` (synchronous statements on the handle's connection, no other side effect: it may
 * run twice, see below; `options.single`: it is one statement) in the handle's next **group
 * transaction**: every `grouped` call of one event-loop turn joins one BEGIN IMMEDIATE … COMMIT,
 * run at the next `setImmediate` through `exclusive()` (so after any open Kysely transaction);
 * a group of one single statement runs as an autocommit. Resolves with `work`'s result once that
 * COMMIT has run (visible to every reader; durable as any commit under `synchronous = NORMAL`:
 * `syncWal()` makes it so); rejects with `work`'s own error.
 *
 * Why: a commit costs more than a small statement (the WAL lock, a frame per changed page, the
 * shared-memory index; the blob row's autocommit was timed at ~130 µs per fill in a cold Cargo
 * round), and a cold proxy fill wrote its blob row in a commit of its own. Callers that need their rows committed before they go on await the
 * promise, so no caller sees a difference but the one turn of delay.
 *
 * A failure of one caller's work must not fail the others': the group is rolled back and each
 * work then runs again in a transaction of its own, settling on its own outcome (rare: a full
 * disk, a constraint). Without SQLite (another dialect) callers take their Kysely path instead.
 */
export function grouped<T, R>(
  db: Kysely<T>,
  work: () => R,
  options: { readonly single?: boolean } = {},
): Promise<R> {
  const handle = sqliteHandleOf(db);
  if (handle === undefined) return Promise.reject(new Error('grouped() needs a SQLite database'));
  return new Promise<R>((resolve, reject) => {
    const item: GroupItem = {
      work,
      single: options.single === true,
      resolve: resolve as (value: unknown) => void,
      reject,
    };
    const group = groups.get(handle);
    if (group !== undefined) {
      group.items.push(item);
      return;
    }
    const fresh = { db: db as unknown as Kysely<never>, items: [item] };
    groups.set(handle, fresh);
    setImmediate(() => {
      // Work queued from now on (by this group's callers, say) forms the next group.
      if (groups.get(handle) === fresh) groups.delete(handle);
      void runGroup(handle, fresh.db, fresh.items);
    });
  });
}

async function runGroup(
  handle: SqliteHandle,
  db: Kysely<never>,
  items: readonly GroupItem[],
): Promise<void> {
  let results: unknown[] | undefined;
  try {
    // A group of one statement (a blob row alone in its turn, the usual case when fills are
    // sparse) needs no BEGIN and COMMIT of its own: two statements' worth of calls saved.
    results =
      items.length === 1 && items[0]?.single === true
        ? [await exclusive(db, items[0].work)]
        : await exclusive(db, () => inTransaction(handle, () => items.map((i) => i.work())));
  } catch (err) {
    if (items.length === 1) {
      items[0]?.reject(err);
      return;
    }
  }
  if (results !== undefined) {
    for (const [at, item] of items.entries()) item.resolve(results[at]);
    return;
  }
  // The whole group was rolled back: each work alone, so one failure stays its caller's.
  for (const item of items) {
    try {
      item.resolve(await exclusive(db, () => inTransaction(handle, item.work)));
    } catch (err) {
      item.reject(err);
    }
  }
}

/** `work` between BEGIN IMMEDIATE and COMMIT on the handle's connection; rolled back if it throws. */
function inTransaction<R>(handle: SqliteHandle, work: () => R): R {
  handle.db.exec('BEGIN IMMEDIATE');
  let result: R;
  try {
    result = work();
  } catch (err) {
    // SQLite rolls some errors back itself (SQLITE_FULL may): then there is nothing to end.
    if (handle.db.isTransaction) handle.db.exec('ROLLBACK');
    throw err;
  }
  try {
    handle.db.exec('COMMIT');
  } catch (err) {
    // A COMMIT that failed (SQLITE_FULL, SQLITE_IOERR) may leave the transaction open.
    if (handle.db.isTransaction) handle.db.exec('ROLLBACK');
    throw err;
  }
  return result;
}

function openFd(file: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => {
    openCallback(file, flags, (err, fd) => {
      if (err) reject(err);
      else resolve(fd);
    });
  });
}

function fsyncFd(fd: number, dataOnly: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    (dataOnly ? fdatasyncCallback : fsyncCallback)(fd, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}
