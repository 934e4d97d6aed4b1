/**
 * `nora backup -o FILE.tar.gz`: one gzip'd tar of the configured storage and database
 * (src/backup/archive.ts has the layout), safe while `nora serve` runs on them:
 *
 * 1. a consistent snapshot of the SQLite database (`VACUUM INTO`, one read transaction: WAL
 *    writers go on meanwhile) into a work directory beside FILE (`--snapshot-dir` names another
 *    place; the storage's spool directory for `-o -`): not the storage's disk, which may be the
 *    full one;
 * 2. in that snapshot, the rows that name files the archive does not hold are dropped: index
 *    rows (`blobs`) of blobs nothing references (garbage `nora gc` would remove; it may be doing
 *    so right now) and open upload sessions (their spool files under `.tmp/` are not archived);
 * 3. the archive, streamed (one read chunk in memory, never a whole blob): metadata.json, the
 *    snapshot, then every blob the snapshot references, each hashed as it is archived and
 *    compared to its name. Blobs are content-addressed and never rewritten in place, so copying
 *    them live is safe; one removed meanwhile (`nora gc` after a delete) or damaged fails the
 *    backup, naming it.
 *
 * Written into the work directory `FILE.<pid>.<random>.tmp/` (one per backup: two at once to the
 * same FILE never share one) and renamed to FILE at the end (fsynced first): a failed backup
 * removes that directory and leaves no file that looks whole; so does one stopped by SIGINT or
 * SIGTERM (exit 130 / 143). `-o -` writes to stdout (then a failure shows as the same one-line
 * error and exit 1, and a truncated stream, which `nora restore` refuses).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, statfsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { sql } from 'kysely';
import tar from 'tar-stream';
import { allMigrations, auditSettings, existingDatabase } from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import { createHasher, type Digest, formatDigest, parseDigest } from '../core/digest.ts';
import { errnoCode } from '../core/errors.ts';
import { InterruptedError, watchInterrupts } from '../core/interrupts.ts';
import { DatabaseUnusableError, openDatabase, openForReading } from '../db/database.ts';
import type { FormatModule } from '../formats/format.ts';
import { FORMATS } from '../formats/index.ts';
import { describeReferences, mark } from '../gc/collector.ts';
import { type StorageDriver, StorageNotFoundError } from '../storage/driver.ts';
import { createStorageDriver } from '../storage/drivers/index.ts';
import { blobKey } from '../storage/keys.ts';
import { VERSION } from '../version.ts';
import {
  AUDIT_ENTRY,
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  type BackupMetadata,
  blobEntryName,
  DATABASE_ENTRY,
  MAX_AUDIT_ROTATIONS,
  METADATA_ENTRY,
} from './archive.ts';

/** Why `nora backup` wrote no archive (exit 1); the message says what to do. */
export class BackupCommandError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupCommandError';
  }
}

/**
 * SIGINT or SIGTERM arrived before the archive was complete: the unfinished archive and the
 * database snapshot were removed (exit 130 / 143). `output` is FILE's absolute path, undefined
 * for stdout.
 */
export class BackupInterruptedError extends InterruptedError {
  constructor(signal: NodeJS.Signals, output: string | undefined) {
    super(
      'backup',
      signal,
      output === undefined
        ? 'the database snapshot was removed; the archive on stdout is incomplete (nora restore refuses it)'
        : `the unfinished archive and the database snapshot were removed; nothing was written to ${output}`,
    );
    this.name = 'BackupInterruptedError';
  }
}

/** True when something (a file, a directory, a dangling link's target aside) is at `file`. */
async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new BackupCommandError(`could not write ${file}: ${message(err)}`, { cause: err });
    },
  );
}

export interface BackupOptions {
  /** The archive's path, or `-` for stdout. */
  readonly output: string;
  /**
   * The directory the database snapshot is made in (it needs the database's size free there).
   * Default: beside the archive (FILE's directory), or the storage's `.tmp/` for stdout.
   */
  readonly snapshotDir?: string;
  /** Where `-` writes (default process.stdout). */
  readonly stdout?: Writable;
  readonly formats?: readonly FormatModule[];
}

/** What a backup wrote. Sizes in bytes (uncompressed), time in seconds. */
export interface BackupReport {
  /** The absolute path written, or `-`. */
  readonly output: string;
  readonly metadata: BackupMetadata;
  /** The archive's size on disk (undefined for stdout). */
  readonly archiveBytes?: number;
  readonly seconds: number;
  /** FILE existed before and was replaced by the new archive. */
  readonly replaced?: boolean;
}

/** How many missing blobs an error names. */
const NAMED = 10;

/**
 * Writes the archive. Throws BackupCommandError when there is nothing to back up (memory
 * storage, no database), the snapshot cannot be made (a full disk: which one, and what to do),
 * a reference cannot be read, a referenced blob is missing or damaged, or the archive cannot be
 * written; BackupInterruptedError on SIGINT / SIGTERM before the archive is in place. FILE is
 * then untouched, and the work directories (the unfinished archive, the snapshot) are removed.
 */
export async function runBackup(config: AppConfig, options: BackupOptions): Promise<BackupReport> {
  const started = performance.now();
  if (config.storage.mode === 'memory') {
    throw new BackupCommandError('storage.mode = "memory" keeps nothing between processes');
  }
  const file = await existingDatabase(
    config,
    "nothing to back up (is this NORA's storage? check NORA_STORAGE_PATH / [database] path)",
  ).catch((err: unknown) => {
    throw new BackupCommandError((err as Error).message);
  });
  const output = options.output === '-' ? undefined : path.resolve(options.output);
  // An earlier archive is replaced (once the new one is whole: scheduled `-o FILE` runs rely on
  // it), but not silently: the report says so (trial 32 ops).
  const replaces = output !== undefined && (await exists(output));
  const formats = options.formats ?? FORMATS;
  const driver = await createStorageDriver(config.storage);
  // FILE's own work directory (two backups to one FILE at once, two cron entries or a manual run
  // beside the timer's, never share one): the archive while it is written, and the database
  // snapshot. Beside FILE, not in the storage: a backup is what an operator wants when the
  // storage disk is full (trial 25 ops F11), and `-o` then names another disk.
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const temp = output === undefined ? undefined : `${output}.${tag}.tmp`;
  const snapshotDir =
    options.snapshotDir !== undefined
      ? path.join(path.resolve(options.snapshotDir), `nora-backup-${tag}.tmp`)
      : (temp ?? path.join(driver.spoolDir(), `backup-${randomUUID()}`));
  const made: string[] = [];
  // A signal aborts the archive's pipeline; the failure path removes what was written (the
  // default action ended the process with both left behind: trial 25 ops F13).
  const abort = new AbortController();
  using interrupts = watchInterrupts(
    (signal) => new BackupInterruptedError(signal, output),
    (signal) => {
      abort.abort(new BackupInterruptedError(signal, output));
    },
  );
  try {
    if (temp !== undefined) {
      await fs.mkdir(temp, { mode: 0o700 }).catch((err: unknown) => {
        throw new BackupCommandError(`could not write ${output}: ${directoryProblem(err, temp)}`, {
          cause: err,
        });
      });
      made.push(temp);
    }
    if (snapshotDir !== temp) {
      await makeSnapshotDir(snapshotDir, file, options.snapshotDir !== undefined);
      made.push(snapshotDir);
    }
    interrupts.throwIfInterrupted();
    const snapshot = path.join(snapshotDir, DATABASE_ENTRY);
    snapshotDatabase(file, snapshot, output);
    interrupts.throwIfInterrupted();
    const blobs = await prepareSnapshot(snapshot, formats, driver).catch((err: unknown) => {
      throw isDiskFull(err) ? snapshotDiskFull(file, snapshot, output, err) : err;
    });
    interrupts.throwIfInterrupted();
    const databaseBytes = (await fs.stat(snapshot)).size;
    const blobBytes = blobs.reduce((sum, blob) => sum + blob.size, 0);
    const metadata: BackupMetadata = {
      format: BACKUP_FORMAT,
      format_version: BACKUP_FORMAT_VERSION,
      nora_version: VERSION,
      created_at: new Date().toISOString(),
      database_bytes: databaseBytes,
      blobs: blobs.length,
      blob_bytes: blobBytes,
      total_bytes: databaseBytes + blobBytes,
    };
    const audit = auditFiles(config);
    const entries = (pack: tar.Pack) =>
      writeEntries(pack, metadata, snapshot, audit, blobs, driver);
    if (output === undefined || temp === undefined) {
      await writeArchive(borrowed(options.stdout ?? process.stdout), entries, abort.signal);
      return { output: '-', metadata, seconds: (performance.now() - started) / 1000 };
    }
    const unfinished = path.join(temp, path.basename(output));
    // flush: fsynced before the rename, so a crash after it never leaves a short archive.
    // The archive holds the signing key and token hashes: readable by its owner only (trial 26
    // opsR F1).
    const sink = createWriteStream(unfinished, { flush: true, mode: 0o600 });
    try {
      await writeArchive(sink, entries, abort.signal);
      interrupts.throwIfInterrupted();
      // The archive is whole: the rename completes it a moment later.
      interrupts.commit();
      await fs.rename(unfinished, output);
    } catch (err) {
      // Closed before the directory is removed: a stream still opening its file would make it
      // again inside the directory being removed.
      await closed(sink);
      if (interrupts.signal !== undefined || err instanceof BackupCommandError) throw err;
      throw isDiskFull(err)
        ? new BackupCommandError(
            `could not write ${output}: ${diskFull(path.dirname(output))}; free space there, or write the backup to another disk with -o`,
            { cause: err },
          )
        : new BackupCommandError(`could not write ${output}: ${message(err)}`, { cause: err });
    }
    return {
      output,
      metadata,
      archiveBytes: (await fs.stat(output)).size,
      seconds: (performance.now() - started) / 1000,
      ...(replaces ? { replaced: true } : {}),
    };
  } catch (err) {
    // Whatever the signal tore down (an aborted pipeline) is its doing.
    throw interrupts.errorFor(err);
  } finally {
    for (const dir of made) await fs.rm(dir, { recursive: true, force: true });
    await driver.close();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why a file could not be made in the directory of `file` (the work directory beside `-o FILE`),
 * in the operator's terms: the bare errno named the temporary path and `mkdir` (trial 33).
 */
function directoryProblem(err: unknown, file: string): string {
  const dir = path.dirname(file);
  switch (errnoCode(err)) {
    case 'ENOENT':
      return `directory ${dir} does not exist (create it first)`;
    case 'ENOTDIR':
      return `${dir} is not a directory`;
    case 'EACCES':
    case 'EPERM':
      return `directory ${dir} is not writable by this user`;
    case 'EROFS':
      return `directory ${dir} is on a read-only file system`;
    case undefined:
    default:
      return message(err);
  }
}

/**
 * Makes the directory the snapshot is written in (the storage's `.tmp/` for `-o -`, or the one
 * `--snapshot-dir` names), mode 0700 (the snapshot holds users, token hashes and the signing
 * key). Throws BackupCommandError naming it and the way out (a read-only storage, `.tmp/`
 * immutable: the bare EPERM said neither).
 */
async function makeSnapshotDir(dir: string, database: string, chosen: boolean): Promise<void> {
  try {
    // The storage's .tmp/ may be missing (removed by hand); a directory the operator named must
    // exist, as -o's must.
    await fs.mkdir(chosen ? dir : path.dirname(dir), { recursive: !chosen, mode: 0o700 });
    if (!chosen) await fs.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    throw new BackupCommandError(
      `cannot make ${dir} for the database snapshot (${message(err)}): it needs about ${fileBytes(database)} bytes (the database's size) in a writable directory; pass --snapshot-dir DIR naming one${chosen ? '' : ' (with -o FILE the snapshot is made beside FILE)'}`,
      { cause: err },
    );
  }
}

/** Waits until `stream` has closed its file (destroying it first when it is still open). */
async function closed(stream: Writable): Promise<void> {
  if (stream.closed) return;
  const done = new Promise<void>((resolve) => stream.once('close', resolve));
  stream.on('error', () => undefined);
  stream.destroy();
  await done;
}

/** A full disk: ENOSPC from Node's fs, SQLITE_FULL from SQLite, through any `cause`. */
function isDiskFull(err: unknown): boolean {
  let e = err;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth += 1) {
    const { code, errcode, cause } = e as { code?: unknown; errcode?: unknown; cause?: unknown };
    if (code === 'ENOSPC' || (typeof errcode === 'number' && (errcode & 0xff) === 13)) return true;
    e = cause;
  }
  return false;
}

/**
 * Which disk is full, in words: the directory, the mount point of its file system and what is
 * free there (df's answer), e.g. "the disk holding /srv/b (the file system mounted at /srv) is
 * full (131072 bytes free)".
 */
function diskFull(dir: string): string {
  let free = '';
  try {
    const stats = statfsSync(dir);
    free = ` (${stats.bavail * stats.bsize} bytes free)`;
  } catch {
    // The directory is gone: the mount point still says which disk.
  }
  return `the disk holding ${dir} (the file system mounted at ${mountPoint(dir)}) is full${free}`;
}

/** The mount point of the file system `dir` is on: its highest ancestor on the same device. */
function mountPoint(dir: string): string {
  let current = path.resolve(dir);
  let device: number | undefined;
  while (device === undefined) {
    try {
      device = statSync(current).dev;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
  for (;;) {
    const parent = path.dirname(current);
    if (parent === current) return current;
    try {
      if (statSync(parent).dev !== device) return current;
    } catch {
      return current;
    }
    current = parent;
  }
}

function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The snapshot did not fit: which disk, how much it needs, and the ways out. */
function snapshotDiskFull(
  source: string,
  snapshot: string,
  output: string | undefined,
  err: unknown,
): BackupCommandError {
  const dir = path.dirname(snapshot);
  const elsewhere =
    output === undefined
      ? 'pass --snapshot-dir DIR naming a directory on a disk with room'
      : 'write the backup to another disk with -o (the snapshot is made beside it), or pass --snapshot-dir DIR naming a directory on a disk with room';
  return new BackupCommandError(
    `could not snapshot the database ${path.resolve(source)}: ${diskFull(path.dirname(dir))}; the snapshot needs about ${fileBytes(source)} bytes (the database's size) there: free space on it, or ${elsewhere}`,
    { cause: err },
  );
}

/**
 * A consistent copy of the live database: `VACUUM INTO` reads it in one transaction (a WAL
 * reader: the server's writes go on meanwhile and are not in the copy) and writes a compact file.
 * The source is only read; no migration is run on it. A database whose directory cannot be
 * written (a stopped server's volume mounted read-only) is read the way `nora serve` reads it
 * there (db/database.ts openForReading). Throws BackupCommandError (a full disk: which one).
 */
function snapshotDatabase(source: string, target: string, output: string | undefined): void {
  let db: DatabaseSync | undefined;
  try {
    db = openForReading(source, 'run the backup again');
    db.prepare('VACUUM INTO ?').run(target);
  } catch (err) {
    if (err instanceof DatabaseUnusableError) throw new BackupCommandError(err.message);
    if (isDiskFull(err)) throw snapshotDiskFull(source, target, output, err);
    throw new BackupCommandError(
      `could not snapshot the database ${path.resolve(source)}: ${message(err)}`,
      { cause: err },
    );
  } finally {
    db?.close();
  }
}

/**
 * Reads the snapshot's references (the columns `nora gc` marks), drops its rows naming files the
 * archive will not hold (unreferenced `blobs` rows, open upload sessions), compacts it to one
 * file (rollback journal: no -wal beside it) and returns the referenced blobs with their sizes
 * in storage, sorted by digest. Throws BackupCommandError naming the referenced blobs storage
 * lacks.
 */
async function prepareSnapshot(
  snapshot: string,
  formats: readonly FormatModule[],
  driver: StorageDriver,
): Promise<{ digest: Digest; size: number; modifiedAt: Date }[]> {
  // No space reserve beside a snapshot; migrations bring one made by an older NORA (a server not
  // restarted since an upgrade) to this build's schema, which is what a restore opens.
  const db = await openDatabase({
    file: snapshot,
    migrations: allMigrations(formats),
    reserveBytes: 0,
  });
  const found: { digest: Digest; size: number; modifiedAt: Date }[] = [];
  try {
    const referenced = await mark(db, formats).then(
      (marked) => [...marked.referenced].sort(),
      (err: unknown) => {
        throw new BackupCommandError(
          `could not read the references: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      },
    );
    const missing: string[] = [];
    for (const name of referenced) {
      const digest = parseDigest(name);
      const info = await driver.stat(blobKey(digest));
      if (info === undefined) missing.push(name);
      else found.push({ digest, size: info.size, modifiedAt: info.modifiedAt });
    }
    if (missing.length > 0) {
      const rows = await describeReferences(db, formats, missing.slice(0, NAMED));
      throw missingBlobs(missing, rows);
    }
    await db.transaction().execute(async (trx) => {
      const keep = new Set(referenced);
      const indexed = await trx.selectFrom('blobs').select('digest').execute();
      const drop = indexed.map((row) => row.digest).filter((digest) => !keep.has(digest));
      for (let i = 0; i < drop.length; i += 500) {
        await trx
          .deleteFrom('blobs')
          .where('digest', 'in', drop.slice(i, i + 500))
          .execute();
      }
      for (const format of formats) {
        for (const { table, column } of format.spoolReferences ?? []) {
          await sql`DELETE FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NOT NULL`.execute(
            trx,
          );
        }
      }
    });
  } finally {
    await db.destroy();
  }
  const compact = new DatabaseSync(snapshot);
  try {
    compact.exec('PRAGMA journal_mode = DELETE');
    compact.exec('VACUUM');
  } finally {
    compact.close();
  }
  return found;
}

function missingBlobs(missing: readonly string[], rows: Map<string, string[]>): BackupCommandError {
  const n = missing.length;
  const named = missing
    .slice(0, NAMED)
    .map((digest) => {
      const by = rows.get(digest);
      return `  ${digest}${by === undefined ? '' : `, referenced by ${by.join('; ')}`}`;
    })
    .join('\n');
  return new BackupCommandError(
    `${n} referenced ${n === 1 ? 'blob is' : 'blobs are'} missing from storage, so the backup would not restore whole; nothing was written:\n${named}${n > NAMED ? `\n  … and ${n - NAMED} more` : ''}\n` +
      'if a delete and a gc pass just removed them, run the backup again; else `nora verify` lists them and docs/storage.md (Integrity of stored bytes) says how to put them back',
  );
}

/**
 * Streams `entries` through a tar packer and gzip into `sink`; rejects with the first failure
 * (an entry's, or the sink's: a full disk; or `signal` aborted: SIGINT / SIGTERM), the packer
 * then destroyed.
 */
async function writeArchive(
  sink: Writable,
  entries: (pack: tar.Pack) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const pack = tar.pack();
  const gzip = createGzip();
  const done = pipeline(pack, gzip, sink, { signal });
  // Only a failure of the sink side settles this race: a resolved `done` never wins it.
  const failed = done.then(() => new Promise<never>(() => undefined));
  try {
    await Promise.race([entries(pack), failed]);
    pack.finalize();
    await done;
  } catch (err) {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    await done.catch(() => undefined);
    throw err;
  }
}

/**
 * A writable that passes its bytes on to `out` (stdout) without owning it: a failed backup
 * destroys this, not `out`. pipeline() destroys its last stream with the failure, and
 * process.stdout destroyed with an error emits it as an 'error' event, which the CLI's
 * broken-pipe listener rethrows: a damaged blob under `-o -` printed a stack trace instead of the
 * one-line message `-o FILE` gives (trial 25 devA F3). `out`'s own failure (a closed pipe) fails
 * the backup.
 */
function borrowed(out: Writable): Writable {
  const onError = (err: Error): void => {
    wrapper.destroy(err);
  };
  const wrapper: Writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (out.write(chunk)) callback();
      else
        out.once('drain', () => {
          callback();
        });
    },
    final(callback) {
      out.off('error', onError);
      callback();
    },
    destroy(err, callback) {
      out.off('error', onError);
      callback(err);
    },
  });
  out.on('error', onError);
  return wrapper;
}

/**
 * `pack.entry(header)` with its own 'error' listener. Destroying the packer (a signal's abort, a
 * failed sink) destroys an entry it still holds, which then emits 'error'; once the pipeline that
 * wrote it has settled nothing listens, and the process died on an unhandled 'error' instead of
 * exiting 130 (seen on a loaded machine). The failure is reported by that pipeline or the
 * archive's own.
 */
function packEntry(
  pack: tar.Pack,
  header: Parameters<tar.Pack['entry']>[0],
  buffer?: Buffer,
  callback?: (err?: Error | null) => void,
): ReturnType<tar.Pack['entry']> {
  const entry = buffer === undefined ? pack.entry(header) : pack.entry(header, buffer, callback);
  entry.on('error', () => undefined);
  return entry;
}

/**
 * The audit log's files a backup takes, as entry name and path: `[audit] path` and its rotated
 * files `.1` … `.<keep>` (those missing are skipped when written). The log is the record of what
 * happened to the artifacts the archive holds: a restore without it would start the history
 * over.
 */
function auditFiles(config: AppConfig): { entry: string; file: string }[] {
  const { path: file } = auditSettings(config);
  const keep = Math.min(config.audit.keep, MAX_AUDIT_ROTATIONS);
  const files = [{ entry: AUDIT_ENTRY, file }];
  for (let n = 1; n <= keep; n++)
    files.push({ entry: `${AUDIT_ENTRY}.${n}`, file: `${file}.${n}` });
  return files;
}

/**
 * One audit file's entry, as it is when opened: the server may append to it (the entry takes
 * the bytes up to that moment's size) or rotate it (the open file is still the one read); one
 * missing is skipped.
 */
async function writeAuditFile(pack: tar.Pack, entry: string, file: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw new BackupCommandError(`cannot read the audit log ${file}: ${message(err)}`, {
      cause: err,
    });
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) {
      await new Promise<void>((resolve, reject) => {
        packEntry(pack, { name: entry, size, mode: 0o600 }, Buffer.alloc(0), (err) => {
          if (err) reject(err);
          else resolve();
        });
      });
      return;
    }
    await pipeline(
      handle.createReadStream({ start: 0, end: size - 1, autoClose: false }),
      packEntry(pack, { name: entry, size, mode: 0o600 }),
    );
  } finally {
    await handle.close();
  }
}

async function writeEntries(
  pack: tar.Pack,
  metadata: BackupMetadata,
  snapshot: string,
  audit: readonly { entry: string; file: string }[],
  blobs: readonly { digest: Digest; size: number; modifiedAt: Date }[],
  driver: StorageDriver,
): Promise<void> {
  const json = Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`);
  await new Promise<void>((resolve, reject) => {
    packEntry(pack, { name: METADATA_ENTRY, size: json.length, mode: 0o644 }, json, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
  const db = await fs.open(snapshot);
  await pipeline(
    db.createReadStream(),
    packEntry(pack, { name: DATABASE_ENTRY, size: metadata.database_bytes, mode: 0o644 }),
  );
  for (const { entry, file } of audit) await writeAuditFile(pack, entry, file);
  for (const blob of blobs) await writeBlob(pack, blob, driver);
}

/** One blob's entry, hashed as it is read; a short, long or damaged blob fails the backup. */
async function writeBlob(
  pack: tar.Pack,
  blob: { digest: Digest; size: number; modifiedAt: Date },
  driver: StorageDriver,
): Promise<void> {
  const name = formatDigest(blob.digest);
  const hash = createHasher(blob.digest.algorithm);
  let read = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      read += chunk.length;
      callback(null, chunk);
    },
  });
  let body;
  try {
    body = await driver.read(blobKey(blob.digest));
  } catch (err) {
    if (!(err instanceof StorageNotFoundError)) throw err;
    throw new BackupCommandError(
      `blob ${name} was removed from storage while the backup ran (a delete, then a gc pass?): run the backup again`,
    );
  }
  const entry = packEntry(pack, {
    name: blobEntryName(blob.digest),
    size: blob.size,
    mode: 0o644,
    mtime: blob.modifiedAt,
  });
  try {
    await pipeline(body, tap, entry);
  } catch (err) {
    if (read !== blob.size) {
      throw new BackupCommandError(
        `blob ${name} changed size while it was archived (${blob.size} bytes listed, ${read} read): damaged or replaced behind NORA's back; run \`nora verify\``,
        { cause: err },
      );
    }
    throw err;
  }
  const actual = hash.digest('hex');
  if (actual !== blob.digest.hex) {
    throw new BackupCommandError(
      `blob ${name} is damaged (its ${blob.size} bytes hash to ${blob.digest.algorithm}:${actual}): \`nora verify --remove\` removes it and docs/storage.md (Integrity of stored bytes) says how to store it again`,
    );
  }
}
