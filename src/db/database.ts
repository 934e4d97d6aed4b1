/**
 * The metadata store: SQL is the source of truth for everything that is not bytes. SQLite through
 * `node:sqlite` is the embedded default (WAL, busy timeout, foreign keys). Queries go through
 * Kysely so the same code can later run on PostgreSQL. Each module contributes its own versioned
 * migrations (name-ordered: `0000_core`, `0100_oci_…`, `0200_npm_…`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { Kysely, SqliteDialect } from 'kysely';
import type { Migration } from 'kysely/migration';
import { makeDirLevelsSync } from '../storage/make-dir.ts';
import { adaptNodeSqlite } from './node-sqlite-dialect.ts';
import { coreMigrations } from './core-migrations.ts';
import { runMigrations } from './migrate.ts';
import { RESERVE_BYTES, SpaceReserve } from './reserve.ts';
import { registerSqliteHandle, SqliteHandle, sqliteHandleOf } from './sqlite-handle.ts';
import type { CoreTables } from './tables.ts';

export type Db = Kysely<CoreTables>;
export type Migrations = Readonly<Record<string, Migration>>;

export interface OpenDatabaseOptions {
  /** File path, or ':memory:'. */
  readonly file: string;
  readonly migrations?: Migrations;
  /** Called after every statement that may write (node-sqlite-dialect.ts `mayWrite`). */
  readonly onWrite?: () => void;
  /**
   * Bytes of disk kept free next to the database (`<file>-reserve`, db/reserve.ts) for writes
   * on a full disk; 0: none. Default RESERVE_BYTES for a file, none in memory.
   */
  readonly reserveBytes?: number;
  /**
   * `nora serve` only: when the database cannot be opened for writing because its directory
   * cannot be written (SQLite makes the `-wal` and `-shm` there), open it read-only
   * (openReadOnly: reads go on, every write fails SQLITE_READONLY) instead of failing. Without
   * it, or when a read-only open is not safe, openDatabase throws DatabaseUnusableError.
   */
  readonly readOnlyFallback?: boolean;
  /**
   * Told what start-up repaired (db/migrate.ts: the leftovers of a migration a process stopped
   * inside, before migrations ran in transactions).
   */
  readonly warn?: (message: string) => void;
  /**
   * A dry run (`nora re-pin` without --yes): open read-only from the start and write nothing —
   * no `-wal`/`-shm`/`-reserve` made, no checkpoint at close, no migration (pending ones are
   * refused). `immutable` when no `-wal` holds commits; beside a running server's `-wal`, a
   * read-only WAL reader of the files it keeps that writes not even the `-shm` (walReader).
   */
  readonly readOnly?: boolean;
}

/** The metadata database cannot be opened at all: the message names the file and what to do. */
export class DatabaseUnusableError extends Error {
  override readonly name = 'DatabaseUnusableError';
}

/**
 * Opens (creating when absent) and migrates the database. Throws DatabaseUnusableError when its
 * directory cannot be written and a read-only open is not allowed (`readOnlyFallback`) or not
 * safe, else SQLite's own error (a damaged file) or a migration's.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Db> {
  if (options.readOnly === true && options.file !== ':memory:') {
    const resolved = path.resolve(options.file);
    const walBytes = fileSize(`${resolved}-wal`);
    const readOnly =
      walBytes !== undefined && walBytes > 0
        ? walReader(resolved)
        : openReadOnly(resolved, { path: 'opened read-only (a dry run writes nothing)' });
    refusePendingMigrations(readOnly, options.file, {
      ...coreMigrations,
      ...options.migrations,
    });
    const handle = new SqliteHandle(readOnly, options.file, options.onWrite, undefined, true);
    return kyselyOn(readOnly, handle, options.onWrite, undefined);
  }
  if (options.file !== ':memory:')
    // One level at a time: Node's recursive mkdir spins forever under /proc (trial 28 newU F14).
    makeDirLevelsSync(path.dirname(path.resolve(options.file)));
  let sqlite: DatabaseSync | undefined;
  try {
    sqlite = new DatabaseSync(options.file, {
      timeout: 5000,
      enableForeignKeyConstraints: true,
    });
    sqlite.exec('PRAGMA journal_mode = WAL');
  } catch (err) {
    sqlite?.close();
    const primary = sqlitePrimary(err);
    // SQLITE_CANTOPEN / SQLITE_READONLY: a database in a directory this process cannot write has
    // no `-wal` / `-shm` and cannot get them ("unable to open database file", trial 25 devA F2).
    if (options.file === ':memory:' || (primary !== 14 && primary !== 8)) throw err;
    const blocker = databaseWriteBlocker(options.file);
    if (blocker === undefined) throw err;
    if (options.readOnlyFallback !== true) {
      throw new DatabaseUnusableError(
        `the metadata database ${path.resolve(options.file)} cannot be opened: ${blocker.path}; SQLite keeps its -wal and -shm files beside it: make the directory writable for this user`,
        { cause: err },
      );
    }
    const readOnly = openReadOnly(options.file, blocker);
    refusePendingMigrations(readOnly, options.file, {
      ...coreMigrations,
      ...options.migrations,
    });
    const handle = new SqliteHandle(readOnly, options.file, options.onWrite, undefined, true);
    return kyselyOn(readOnly, handle, options.onWrite, undefined);
  }
  sqlite.exec('PRAGMA synchronous = NORMAL');
  sqlite.exec('PRAGMA foreign_keys = ON');
  // NORMAL in WAL mode: commits are atomic and consistent but not synced; writers that answer
  // "stored" call SqliteHandle.syncWal() (an off-thread fdatasync shared by concurrent commits)
  // before they answer. See sqlite-handle.ts for what holds across a power loss.
  const reserveBytes = options.reserveBytes ?? RESERVE_BYTES;
  const reserve =
    options.file === ':memory:' || reserveBytes <= 0
      ? undefined
      : new SpaceReserve(options.file, reserveBytes);
  // Made now when the disk has room (kept when an earlier run left it).
  reserve?.ensure();
  const handle = new SqliteHandle(sqlite, options.file, options.onWrite, reserve);
  const db = kyselyOn(sqlite, handle, options.onWrite, reserve);
  try {
    // Each migration and its bookkeeping row in one transaction (trial 25 ops F14).
    const applied = await runMigrations(
      db as unknown as Kysely<unknown>,
      { ...coreMigrations, ...options.migrations },
      options.warn,
    );
    // Migrations rewrite the same schema pages once per transaction: a new database's WAL holds
    // ~1.3 MB of page versions for ~0.3 MB of database until the first automatic checkpoint.
    // Folded now, so a new (or upgraded) installation does not start with that much disk taken
    // (a small volume then refused the first upload as full: test/integration/gc/full-disk).
    // Best effort: a reader in another process holding the WAL only delays it.
    if (applied.length > 0) {
      try {
        sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {
        // The next automatic checkpoint does it.
      }
    }
  } catch (err) {
    // Not left open: a caller that reports the error and goes on would keep the file locked.
    await db.destroy().catch(() => undefined);
    throw err;
  }
  return db;
}

function kyselyOn(
  sqlite: DatabaseSync,
  handle: SqliteHandle,
  onWrite: (() => void) | undefined,
  reserve: SpaceReserve | undefined,
): Db {
  const database = adaptNodeSqlite(sqlite, onWrite, reserve);
  const db = new Kysely<CoreTables>({
    dialect: new SqliteDialect({
      database: {
        ...database,
        close: () => {
          handle.close();
          database.close();
        },
      },
    }),
  });
  registerSqliteHandle(db as unknown as Kysely<never>, handle);
  return db;
}

/** SQLite's primary result code of an error of node:sqlite, else undefined. */
function sqlitePrimary(err: unknown): number | undefined {
  const errcode = (err as { errcode?: unknown } | undefined)?.errcode;
  return typeof errcode === 'number' ? errcode & 0xff : undefined;
}

/**
 * A dry run's reader of a WAL database whose `-wal` holds commits (beside a running server):
 * `readonly_shm=1` maps the `-shm` (SQLite's WAL index, https://sqlite.org/walformat.html) without
 * write access, so not even that file is written — an ordinary read-only connection updates it
 * (its read marks; trial 31). Where SQLite cannot read that way (no `-shm` beside the `-wal` an
 * unclean stop left), an ordinary read-only connection, which may write the `-shm` (only it).
 */
function walReader(file: string): DatabaseSync {
  const url = pathToFileURL(file);
  url.searchParams.set('readonly_shm', '1');
  const reader = new DatabaseSync(url, { readOnly: true, timeout: 5000 });
  try {
    // The first read opens the WAL index: an error here means the fallback.
    reader.prepare('SELECT count(*) FROM sqlite_master').get();
    return reader;
  } catch {
    reader.close();
    return new DatabaseSync(file, { readOnly: true, timeout: 5000 });
  }
}

/**
 * The database of a directory this process cannot write, opened read-only. SQLite opens a WAL
 * database read-only only when its `-wal` and `-shm` exist or can be made, or when it is opened
 * `immutable=1` (no locks, no `-wal`: it trusts the file not to change;
 * https://sqlite.org/uri.html). That is safe here when every commit is in the file itself: no
 * `-wal` with content beside it (a clean stop leaves none), and no writer can add one, since the
 * directory cannot be written (a writer with more rights, or one after a `chmod`, is the
 * operator's to keep away: docs/storage.md, "Read-only data directory"). Throws
 * DatabaseUnusableError naming the file and what to do when the database is missing or its
 * `-wal` holds commits not yet in it (replaying them needs a writable directory).
 */
function openReadOnly(
  file: string,
  blocker: { path: string },
  again = 'start NORA again',
): DatabaseSync {
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved);
  const fix = `make ${dir} writable for this user (chmod u+w, chown, chattr -i, or mount it read-write) and ${again}`;
  if (!fs.existsSync(resolved)) {
    throw new DatabaseUnusableError(
      `the metadata database ${resolved} does not exist and cannot be created: ${blocker.path}; ${fix}`,
    );
  }
  const walBytes = fileSize(`${resolved}-wal`);
  if (walBytes !== undefined && walBytes > 0) {
    throw new DatabaseUnusableError(
      `the metadata database ${resolved} cannot be opened: ${blocker.path}, and its ${path.basename(resolved)}-wal holds ${walBytes} bytes of commits not yet in the database (the last stop was not clean), which SQLite can only apply in a writable directory; ${fix}`,
    );
  }
  const url = pathToFileURL(resolved);
  url.searchParams.set('immutable', '1');
  return new DatabaseSync(url, {
    readOnly: true,
    timeout: 5000,
    enableForeignKeyConstraints: true,
  });
}

/**
 * A connection for a command that only reads the database and never migrates it (`nora backup`'s
 * `VACUUM INTO`): an ordinary one (a WAL reader beside a running server's writes), or, when
 * that cannot read because the database's directory cannot be written (SQLite makes no `-wal` /
 * `-shm` there: "unable to open database file"), the read-only `immutable` open `nora serve`
 * falls back to there (openReadOnly), under the same conditions: no `-wal` with commits beside
 * it. Throws DatabaseUnusableError naming the file and what to do when that is not safe (`again`
 * ends its advice, e.g. "run the backup again"), else SQLite's own error (not a database).
 */
export function openForReading(file: string, again: string): DatabaseSync {
  const sqlite = new DatabaseSync(file, { timeout: 5000 });
  try {
    // The open is lazy: the first read is what needs the -shm.
    sqlite.prepare('SELECT count(*) FROM sqlite_schema').get();
    return sqlite;
  } catch (err) {
    sqlite.close();
    const primary = sqlitePrimary(err);
    if (primary !== 14 && primary !== 8) throw err;
    const blocker = databaseWriteBlocker(file);
    if (blocker === undefined) throw err;
    return openReadOnly(file, blocker, again);
  }
}

function fileSize(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

/**
 * A read-only database must already be at this build's schema (no migration can run): throws
 * DatabaseUnusableError naming what is missing (a database of an older NORA), else nothing.
 */
function refusePendingMigrations(sqlite: DatabaseSync, file: string, migrations: Migrations): void {
  let applied: Set<string>;
  try {
    const rows = sqlite.prepare('SELECT name FROM kysely_migration').all() as { name: string }[];
    applied = new Set(rows.map((row) => row.name));
  } catch {
    applied = new Set();
  }
  const pending = Object.keys(migrations).filter((name) => !applied.has(name));
  if (pending.length > 0) {
    sqlite.close();
    throw new DatabaseUnusableError(
      `the metadata database ${path.resolve(file)} cannot be written (its directory is not writable) and lacks ${pending.length} migration${pending.length === 1 ? '' : 's'} this NORA needs (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', …' : ''}): make ${path.dirname(path.resolve(file))} writable for this user and start NORA again`,
    );
  }
}

/** Readiness probe. */
export async function checkDatabase(db: Db): Promise<void> {
  await db.selectFrom('blobs').select('digest').limit(1).execute();
}

/** SQLite primary result codes a write probe may meet, by name. */
const SQLITE_CODES: Readonly<Record<number, string>> = {
  5: 'SQLITE_BUSY',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
};

/** The metadata database cannot be written: what SQLite said and which file stops it. */
export class DatabaseWriteError extends Error {
  override readonly name = 'DatabaseWriteError';
  /** `SQLITE_READONLY`…, or the error's code. */
  readonly code: string;
  /** E.g. `nora.db-shm is not writable (EACCES)`: base names only (it goes into /health). */
  readonly blocker: string | undefined;
  /** The same with the full path, for the log. */
  readonly blockerPath: string | undefined;

  constructor(code: string, blocker: { name: string; path: string } | undefined, cause: unknown) {
    super(
      `the metadata database cannot be written (${code})${blocker === undefined ? '' : `: ${blocker.path}`}`,
      { cause },
    );
    this.code = code;
    this.blocker = blocker?.name;
    this.blockerPath = blocker?.path;
  }

  /** The short form /health reports: `SQLITE_READONLY: nora.db-shm is not writable (EACCES)`. */
  get summary(): string {
    return this.blocker === undefined ? this.code : `${this.code}: ${this.blocker}`;
  }
}

/**
 * Which of the database's files (the database, its `-wal` and `-shm`, and their directory, where
 * SQLite makes the other two) this process may not write, e.g. a `nora.db` restored with mode 444,
 * or a `nora.db-shm` SQLite made read-only beside it (it gives them the database's mode), an
 * immutable file (EPERM) or a read-only mount (EROFS). undefined when each can be written (or
 * for an in-memory database).
 */
export function databaseWriteBlocker(file: string): { name: string; path: string } | undefined {
  if (file === ':memory:' || file === '') return undefined;
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved);
  const checks: [string, string][] = [
    [resolved, path.basename(resolved)],
    [`${resolved}-wal`, `${path.basename(resolved)}-wal`],
    [`${resolved}-shm`, `${path.basename(resolved)}-shm`],
  ];
  for (const [candidate, name] of checks) {
    try {
      fs.accessSync(candidate, fs.constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      return {
        name: `${name} is not writable (${code ?? String(err)})`,
        path: `${candidate} is not writable (${code ?? String(err)})`,
      };
    }
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return {
      name: `its directory is not writable (${code})`,
      path: `its directory ${dir} is not writable (${code})`,
    };
  }
  return undefined;
}

/**
 * Write probe of the metadata database (/health's `database.writable`, and start-up): a write
 * transaction that sets `user_version` to its own value and commits, so SQLite refuses it as it
 * refuses every upload's row when the database, its `-wal` or its `-shm` cannot be written
 * (`BEGIN IMMEDIATE` alone passes on a read-only `nora.db`). It must commit: SQLite appends to
 * the `-wal` only at COMMIT, so a rolled-back probe passed while a `nora.db-wal` made immutable
 * at runtime failed every upload's commit with SQLITE_IOERR (the file is held open, so only an
 * immutable flag, a failing disk or a full one stops it, not its mode). The commit changes no
 * value; it appends one page (4 KiB) to the `-wal`, unsynced (synchronous = NORMAL), at most
 * once per /health probe interval. Another process holding the write lock (`nora gc`) is no
 * failure: the probe does not wait for it (busy timeout 0 for the probe). Throws
 * DatabaseWriteError naming the file that stops it.
 */
export async function probeDatabaseWrite(db: Db, file: string): Promise<void> {
  const handle = sqliteHandleOf(db);
  if (handle === undefined) return;
  if (handle.readOnly) {
    // Opened read-only at start (openReadOnly): no write can succeed until a restart, even once
    // the directory is writable again; say why, and that a restart is what ends it.
    const blocker = databaseWriteBlocker(file);
    const why = (text: string | undefined) =>
      `${text ?? 'it was not writable at start-up'}; opened read-only at start-up: restart NORA once it is writable`;
    throw new DatabaseWriteError(
      'SQLITE_READONLY',
      { name: why(blocker?.name), path: why(blocker?.path) },
      undefined,
    );
  }
  const probe = (): void => {
    const sqlite = handle.db;
    sqlite.exec('PRAGMA busy_timeout = 0');
    try {
      sqlite.exec('BEGIN IMMEDIATE');
      try {
        const row = sqlite.prepare('PRAGMA user_version').get() as { user_version?: number };
        sqlite.exec(`PRAGMA user_version = ${(row.user_version ?? 0) | 0}`);
        sqlite.exec('COMMIT');
      } finally {
        // A failed statement or COMMIT may leave the transaction open (or SQLite rolled it back
        // itself after an I/O error).
        if (sqlite.isTransaction) sqlite.exec('ROLLBACK');
      }
    } catch (err) {
      const errcode = (err as { errcode?: unknown }).errcode;
      const primary = typeof errcode === 'number' ? errcode & 0xff : undefined;
      if (primary === 5 /* BUSY */ || primary === 6 /* LOCKED */) return;
      const code =
        primary === undefined
          ? ((err as NodeJS.ErrnoException).code ?? 'error')
          : (SQLITE_CODES[primary] ?? `SQLITE_${primary}`);
      throw new DatabaseWriteError(code, databaseWriteBlocker(file), err);
    } finally {
      sqlite.exec('PRAGMA busy_timeout = 5000');
    }
  };
  // Not inside a Kysely transaction of another module (it holds the connection across awaits).
  if (!handle.db.isTransaction) {
    probe();
    return;
  }
  await db.connection().execute(() => {
    probe();
    return Promise.resolve();
  });
}
