/**
 * `nora restore -i FILE.tar.gz [--force]`: puts an archive of `nora backup`
 * (src/backup/archive.ts) into the configured storage and database.
 *
 * Refused (RestoreRefusedError, exit 2) while a NORA server runs on that storage (a live process
 * named in `.nora-serve/`), and when the target already holds data (a database, or any file
 * under `blobs/`) unless `--force`. The archive is streamed (gunzip, tar), and only the entries
 * this build writes are accepted: `metadata.json` first (at most 64 KiB, its format version
 * checked), `nora.db`, and `blobs/<alg>/<xx>/<hex>`, whose storage key is derived again from the
 * validated digest (an entry name is never used as a path: nothing lands outside the storage).
 * Each blob is spooled, hashed and compared to its name before it is moved into storage. The
 * database is spooled beside its final place, checked (SQLite's quick_check; every blob it
 * references is in storage) and renamed into place last, so an interrupted restore never leaves
 * a database that names blobs that were not restored. On any failure the spool files, the
 * spooled database and the blobs this restore added are removed again; so too on SIGINT or
 * SIGTERM before the database is put in place (RestoreInterruptedError: exit 130 / 143).
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { sql } from 'kysely';
import tar from 'tar-stream';
import {
  allMigrations,
  auditSettings,
  databaseFile,
  liveServers,
  refuseWhileMigrating,
} from '../app.ts';
import { AUDIT_FILE_MODE } from '../audit/sink.ts';
import type { AppConfig } from '../config/schema.ts';
import { createHasher, type Digest, formatDigest, parseDigest } from '../core/digest.ts';
import { errnoCode } from '../core/errors.ts';
import { InterruptedError, watchInterrupts } from '../core/interrupts.ts';
import { databaseInUse } from '../db/in-use.ts';
import { readAllBounded } from '../core/streams.ts';
import { openDatabase } from '../db/database.ts';
import { renewInstallation } from '../db/installation.ts';
import type { FormatModule } from '../formats/format.ts';
import { FORMATS } from '../formats/index.ts';
import { mark } from '../gc/collector.ts';
import type { StorageDriver, StorageKey } from '../storage/driver.ts';
import { createStorageDriver } from '../storage/drivers/index.ts';
import { blobKey } from '../storage/keys.ts';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  type BackupMetadata,
  AUDIT_ENTRY,
  auditSuffixOfEntryName,
  DATABASE_ENTRY,
  digestOfEntryName,
  MAX_METADATA_BYTES,
  METADATA_ENTRY,
} from './archive.ts';

/** The restore would overwrite data or race a server: nothing was touched (exit 2). */
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

/** The archive is unusable or the restore failed; what it had written is removed (exit 1). */
export class RestoreCommandError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RestoreCommandError';
  }
}

/**
 * SIGINT or SIGTERM arrived before the restore put its database in place: what it had written
 * was removed. `exitCode` is the shell's for that signal (130, 143).
 */
export class RestoreInterruptedError extends InterruptedError {
  constructor(signal: NodeJS.Signals) {
    super(
      'restore',
      signal,
      'the blobs and the database it had written so far were removed; nothing was restored',
    );
    this.name = 'RestoreInterruptedError';
  }
}

export interface RestoreOptions {
  /** The archive's path, or `-` for stdin. */
  readonly input: string;
  /** Restore over a storage or database that already holds data. */
  readonly force: boolean;
  /** Where `-` reads (default process.stdin). */
  readonly stdin?: Readable;
  readonly formats?: readonly FormatModule[];
}

export interface RestoreReport {
  readonly metadata: BackupMetadata;
  /** Blobs restored, and those already in storage with the same bytes' name (--force). */
  readonly blobs: number;
  readonly bytes: number;
  /** Audit log files restored (the log and its rotated files), put at `[audit] path`. */
  readonly auditFiles: number;
  readonly database: string;
  readonly seconds: number;
}

/**
 * Restores `options.input` into `config`'s storage and database. Throws RestoreRefusedError
 * (nothing touched), RestoreCommandError (what it wrote removed again) or, on SIGINT / SIGTERM
 * before the database is in place, RestoreInterruptedError (what it wrote removed again).
 */
export async function runRestore(
  config: AppConfig,
  options: RestoreOptions,
): Promise<RestoreReport> {
  const started = performance.now();
  if (config.storage.mode !== 'local') {
    throw new RestoreCommandError(
      `storage.mode = "${config.storage.mode}": restore writes to a local storage directory only`,
    );
  }
  const formats = options.formats ?? FORMATS;
  const storage = path.resolve(config.storage.path);
  const database = path.resolve(databaseFile(config));
  const input =
    options.input === '-' ? (options.stdin ?? process.stdin) : await open(options.input);
  try {
    await refuseLiveServer(storage, database);
    const holds = await holdsData(storage, database);
    if (holds !== undefined && !options.force) {
      throw new RestoreRefusedError(
        `the target already holds data (${holds}): restoring would mix or replace it; restore into an empty storage, or pass --force to replace its database (blobs already there are kept; \`nora gc\` removes those nothing references)`,
      );
    }
  } catch (err) {
    input.destroy();
    throw err;
  }
  // Directories this restore creates (the storage, its `.tmp/`, the database's folder): a failed
  // restore removes them again, leaving nothing it made (trial 32 ops: an empty `.tmp` stayed).
  const created = await absentDirs([storage, path.join(storage, '.tmp'), path.dirname(database)]);
  const driver = await createStorageDriver(config.storage);
  const restore = new Restore(driver, database, formats, auditSettings(config).path);
  // Until the database is in place, a signal must not end the process with the spooled database
  // and the blobs added so far left in the target (Node's default action for both): it stops
  // the reading, and the failure path below removes them, as for any failure.
  using interrupts = watchInterrupts(
    (signal) => new RestoreInterruptedError(signal),
    (signal) => {
      input.destroy(new RestoreInterruptedError(signal));
    },
  );
  try {
    const metadata = await restore.read(input);
    interrupts.throwIfInterrupted();
    await restore.check(metadata);
    interrupts.throwIfInterrupted();
    // A server started meanwhile would keep the old database's -wal open beside the new file.
    await refuseLiveServer(storage, database);
    interrupts.throwIfInterrupted();
    // Once the rename is under way the restore is complete a moment later.
    interrupts.commit();
    await restore.commit();
    return {
      metadata,
      blobs: restore.blobs,
      bytes: restore.bytes,
      auditFiles: restore.auditFiles,
      database,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    input.destroy();
    await restore.undo();
    await driver.close();
    await removeEmptyDirs(created);
    // Whatever the signal broke (a stream torn down mid-entry) is its doing, not the archive's.
    const error = interrupts.errorFor(err);
    if (
      error instanceof RestoreInterruptedError ||
      error instanceof RestoreCommandError ||
      error instanceof RestoreRefusedError
    )
      throw error;
    throw new RestoreCommandError(archiveError(err), { cause: err });
  } finally {
    await driver.close();
  }
}

/** Each of `dirs` and their ancestors that do not exist now, deepest first. */
async function absentDirs(dirs: readonly string[]): Promise<string[]> {
  const absent = new Set<string>();
  for (const dir of dirs) {
    for (let at = dir; path.dirname(at) !== at; at = path.dirname(at)) {
      if (
        await fs.stat(at).then(
          () => true,
          () => false,
        )
      )
        break;
      absent.add(at);
    }
  }
  return [...absent].sort((a, b) => b.length - a.length);
}

/** Removes `dirs` (deepest first) that are empty; one something else filled is kept. */
async function removeEmptyDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await fs.rmdir(dir).catch(() => undefined);
}

async function open(file: string): Promise<Readable> {
  const handle = await fs.open(file).catch((err: unknown) => {
    throw new RestoreCommandError(
      `cannot read ${path.resolve(file)}: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  return handle.createReadStream();
}

/**
 * Refuses while a server uses the target: one named in the storage's `.nora-serve/`, or any
 * process holding the database open — a server whose storage is elsewhere but whose `[database]
 * path` is this one (trial 24 opsA F5: `--force` replaced a live database under it). In WAL mode
 * every open connection holds a SHARED lock on the database file for as long as it is open, so an
 * EXCLUSIVE lock taken without waiting fails exactly when some process has it open.
 */
async function refuseLiveServer(storage: string, database: string): Promise<void> {
  // Named before the server check, which would call the migrate "a NORA server" (trial 28 newO F1).
  await refuseWhileMigrating(storage, database, 'nora restore').catch((err: unknown) => {
    throw new RestoreRefusedError((err as Error).message);
  });
  const live = await liveServers(storage);
  if (live.length > 0) {
    throw new RestoreRefusedError(
      `a NORA server (pid ${live.join(', ')}) is running on ${storage} (named in .nora-serve/): stop it first, then restore`,
    );
  }
  if (databaseInUse(database)) {
    throw new RestoreRefusedError(
      `the database ${database} is open in another process (a NORA server using it as [database] path, or nora gc): stop it first, then restore`,
    );
  }
}

/** What data the target holds (for the refusal), or undefined when it holds none. */
async function holdsData(storage: string, database: string): Promise<string | undefined> {
  const stat = await fs.stat(database).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (stat !== undefined) return `a database at ${database}`;
  const blob = await firstFile(path.join(storage, 'blobs'));
  return blob === undefined ? undefined : `blob files under ${path.join(storage, 'blobs')}`;
}

/** The first regular file under `dir`, depth first; undefined when none (or no `dir`). */
async function firstFile(dir: string): Promise<string | undefined> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  });
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = await firstFile(full);
      if (found !== undefined) return found;
    } else {
      return full;
    }
  }
  return undefined;
}

/** One restore's state: what it wrote, so that a failure can remove it again. */
class Restore {
  readonly #driver: StorageDriver;
  readonly #database: string;
  readonly #formats: readonly FormatModule[];
  /** The archive's database, spooled beside its final place (a rename puts it there). */
  readonly #spooledDatabase: string;
  #sawDatabase = false;
  /** Blob keys this restore added (not there before): removed on failure. */
  readonly #added: StorageKey[] = [];
  readonly #restored = new Set<string>();
  /** A blob spool file being written, removed on failure. */
  #spool: string | undefined;
  /** The file stream an entry is being spooled into (closed before undo removes its file). */
  #writing: WriteStream | undefined;
  /**
   * Rejects when the archive stream fails (not gzip, truncated): an entry cut short may never
   * end (its stream torn down before a pipeline was attached to it), so each entry's work races
   * this. Never resolves.
   */
  #failed: Promise<never> = new Promise<never>(() => undefined);
  /** `[audit] path`: where the archive's audit files go. */
  readonly #auditPath: string;
  /** The archive's audit files, spooled beside their places: target path → spool path. */
  readonly #audit = new Map<string, string>();
  blobs = 0;
  bytes = 0;

  get auditFiles(): number {
    return this.#audit.size;
  }

  constructor(
    driver: StorageDriver,
    database: string,
    formats: readonly FormatModule[],
    auditPath: string,
  ) {
    this.#driver = driver;
    this.#database = database;
    this.#formats = formats;
    this.#auditPath = auditPath;
    this.#spooledDatabase = `${database}.restore-${randomUUID()}`;
  }

  /** Reads the whole archive; returns its metadata. Throws on any entry it does not expect. */
  async read(input: Readable): Promise<BackupMetadata> {
    const extract = tar.extract();
    const feeding = pipeline(input, createGunzip(), extract);
    this.#failed = feeding.then(() => new Promise<never>(() => undefined));
    // Its failure is the loop's too (extract is destroyed with it); surfaced below.
    this.#failed.catch(() => undefined);
    let metadata: BackupMetadata | undefined;
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      if (metadata === undefined) {
        if (name !== METADATA_ENTRY) {
          throw new RestoreCommandError(
            `not a NORA backup: its first entry is ${JSON.stringify(name.slice(0, 200))}, not ${METADATA_ENTRY}`,
          );
        }
        metadata = parseMetadata(
          await Promise.race([readSmall(entry as unknown as Readable, size), this.#failed]),
        );
        continue;
      }
      if (type !== 'file') {
        throw new RestoreCommandError(
          `unexpected ${type} entry ${JSON.stringify(name.slice(0, 200))} in the archive (a NORA backup holds files only): nothing was restored`,
        );
      }
      if (name === DATABASE_ENTRY) {
        if (this.#sawDatabase) throw new RestoreCommandError(`two ${DATABASE_ENTRY} entries`);
        this.#sawDatabase = true;
        await fs.mkdir(path.dirname(this.#database), { recursive: true });
        await this.#spoolTo(entry as unknown as Readable, this.#spooledDatabase);
        continue;
      }
      const suffix = auditSuffixOfEntryName(name);
      if (suffix !== undefined) {
        // The configured path plus the validated suffix: the entry name is never the path.
        const target = `${this.#auditPath}${suffix}`;
        if (this.#audit.has(target)) throw new RestoreCommandError(`two ${name} entries`);
        const spool = `${target}.restore-${randomUUID()}`;
        this.#audit.set(target, spool);
        await fs.mkdir(path.dirname(target), { recursive: true });
        // The server's mode, not the umask's default: the log names users and addresses.
        await this.#spoolTo(entry as unknown as Readable, spool, undefined, AUDIT_FILE_MODE);
        continue;
      }
      const digest = digestOfEntryName(name);
      if (digest === undefined) {
        throw new RestoreCommandError(
          `unknown entry ${JSON.stringify(name.slice(0, 200))} in the archive (a NORA backup holds ${METADATA_ENTRY}, ${DATABASE_ENTRY}, ${AUDIT_ENTRY}[.<n>] and blobs/<alg>/<xx>/<hex>): nothing was restored`,
        );
      }
      await this.#blob(digest, entry as unknown as Readable);
    }
    await feeding;
    if (metadata === undefined) throw new RestoreCommandError('the archive is empty');
    if (!this.#sawDatabase) {
      throw new RestoreCommandError(`the archive holds no ${DATABASE_ENTRY}: nothing was restored`);
    }
    if (this.blobs !== metadata.blobs) {
      throw new RestoreCommandError(
        `the archive holds ${this.blobs} blobs where its metadata.json says ${metadata.blobs}: incomplete, nothing was restored`,
      );
    }
    return metadata;
  }

  /** Spools one blob, hashing it; moves it into storage only when its bytes match its name. */
  async #blob(digest: Digest, entry: Readable): Promise<void> {
    const name = formatDigest(digest);
    if (this.#restored.has(name)) {
      throw new RestoreCommandError(`blob ${name} appears twice in the archive`);
    }
    const hash = createHasher(digest.algorithm);
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const spool = path.join(this.#driver.spoolDir(), `restore-${randomUUID()}`);
    this.#spool = spool;
    await fs.mkdir(this.#driver.spoolDir(), { recursive: true });
    await this.#spoolTo(entry, spool, tap);
    const actual = hash.digest('hex');
    if (actual !== digest.hex) {
      throw new RestoreCommandError(
        `blob entry ${name} is damaged: its bytes hash to ${digest.algorithm}:${actual}; nothing was restored`,
      );
    }
    const key = blobKey(digest);
    const existed = (await this.#driver.stat(key)) !== undefined;
    // The file is moved in (fsynced as the driver stores any blob); one there already (--force)
    // is replaced by these verified bytes of the same name.
    await this.#driver.writeFile(key, spool);
    this.#spool = undefined;
    if (!existed) this.#added.push(key);
    this.#restored.add(name);
    this.blobs += 1;
    this.bytes += size;
  }

  /**
   * Writes an entry (through `tap`) to a new file (`mode` before the umask; default 0666),
   * fsynced; fails when the archive does.
   */
  async #spoolTo(entry: Readable, file: string, tap?: Transform, mode?: number): Promise<void> {
    const out = createWriteStream(file, { flags: 'wx', flush: true, mode });
    this.#writing = out;
    await Promise.race([
      tap === undefined ? pipeline(entry, out) : pipeline(entry, tap, out),
      this.#failed,
    ]);
    this.#writing = undefined;
  }

  /**
   * The spooled database opens as a SQLite database this build can migrate, passes quick_check,
   * and every blob it references is in storage; then it gets a new installation id.
   */
  async check(metadata: BackupMetadata): Promise<void> {
    let db;
    try {
      db = await openDatabase({
        file: this.#spooledDatabase,
        migrations: allMigrations(this.#formats),
        reserveBytes: 0,
      });
    } catch (err) {
      throw new RestoreCommandError(
        `the archive's ${DATABASE_ENTRY} cannot be opened (made by NORA ${metadata.nora_version}): ${err instanceof Error ? err.message : String(err)}; nothing was restored`,
        { cause: err },
      );
    }
    try {
      const { rows } = await sql<{ quick_check: string }>`PRAGMA quick_check`.execute(db);
      const verdict = rows.map((row) => Object.values(row).join(' ')).join('; ');
      if (verdict !== 'ok') {
        throw new RestoreCommandError(
          `the archive's ${DATABASE_ENTRY} is damaged (quick_check: ${verdict.slice(0, 300)}); nothing was restored`,
        );
      }
      const { referenced } = await mark(db, this.#formats);
      const missing: string[] = [];
      for (const name of referenced) {
        if (this.#restored.has(name)) continue;
        if ((await this.#driver.stat(blobKey(parseDigest(name)))) === undefined) missing.push(name);
      }
      if (missing.length > 0) {
        throw new RestoreCommandError(
          `the archive's database references ${missing.length} blobs the archive does not hold (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); nothing was restored`,
        );
      }
      // The restored storage is not the one the archive was taken of (it lacks what was written
      // since): a new installation id, so a client that remembers the old one can tell
      // (`nora import run`'s resume state, db/installation.ts).
      await renewInstallation(db);
    } finally {
      await db.destroy();
    }
  }

  /**
   * Puts the database in place, last: a previous database's -wal and -shm go first (SQLite would
   * replay an old -wal into the new file), then one rename.
   */
  async commit(): Promise<void> {
    for (const suffix of ['-wal', '-shm', '-journal']) {
      await fs.rm(`${this.#spooledDatabase}${suffix}`, { force: true });
      await fs.rm(`${this.#database}${suffix}`, { force: true });
    }
    await fs.rename(this.#spooledDatabase, this.#database);
    // The audit history the archive holds replaces the files of the same names (a rotated file
    // of the target beyond the archive's is left: it is older history, not this one's).
    for (const [target, spool] of this.#audit) await fs.rename(spool, target);
  }

  /** Removes what this restore wrote (its spool files, the spooled database, the blobs it added). */
  async undo(): Promise<void> {
    const writing = this.#writing;
    if (writing !== undefined) {
      // Closed first: a stream still opening its file would create it after the removal below.
      // Not events.once: it rejects on the 'error' a write after the destroy emits.
      const closed = new Promise<void>((resolve) => {
        if (writing.closed) resolve();
        else writing.on('close', resolve);
      });
      writing.on('error', () => undefined);
      writing.destroy();
      await closed;
    }
    if (this.#spool !== undefined) await fs.rm(this.#spool, { force: true });
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      await fs.rm(`${this.#spooledDatabase}${suffix}`, { force: true });
    }
    for (const spool of this.#audit.values()) await fs.rm(spool, { force: true });
    for (const key of this.#added) await this.#driver.delete(key).catch(() => false);
  }
}

/** Reads an entry of at most MAX_METADATA_BYTES whole. */
async function readSmall(entry: Readable, size: number | undefined): Promise<Buffer> {
  if (size === undefined || size > MAX_METADATA_BYTES) {
    throw new RestoreCommandError(
      `${METADATA_ENTRY} is ${String(size)} bytes, more than a NORA backup's (at most ${MAX_METADATA_BYTES}): not a NORA backup`,
    );
  }
  // The header's size is checked above; the bound holds for the bytes too (the one reader of
  // small bodies the project has).
  return await readAllBounded(
    entry as AsyncIterable<Uint8Array>,
    MAX_METADATA_BYTES,
    METADATA_ENTRY,
  );
}

function parseMetadata(bytes: Buffer): BackupMetadata {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RestoreCommandError(`${METADATA_ENTRY} is not JSON: not a NORA backup`);
  }
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  if (record['format'] !== BACKUP_FORMAT) {
    throw new RestoreCommandError(`${METADATA_ENTRY} does not say format "${BACKUP_FORMAT}"`);
  }
  if (record['format_version'] !== BACKUP_FORMAT_VERSION) {
    throw new RestoreCommandError(
      `the archive's format version is ${JSON.stringify(record['format_version'])}; this NORA restores version ${BACKUP_FORMAT_VERSION} (made by NORA ${String(record['nora_version'])})`,
    );
  }
  for (const key of ['blobs', 'blob_bytes', 'database_bytes', 'total_bytes'] as const) {
    const n = record[key];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new RestoreCommandError(`${METADATA_ENTRY}: ${key} is not a count`);
    }
  }
  return record as unknown as BackupMetadata;
}

/** A stream failure in words (gunzip, tar), else the error's own message. */
function archiveError(err: unknown): string {
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'Z_DATA_ERROR' || /incorrect header check/.test(message)) {
    return `not a gzip file (${message}): nothing was restored`;
  }
  if (code === 'Z_BUF_ERROR' || /unexpected end of (file|data)/i.test(message)) {
    return `the archive is truncated (${message}): nothing was restored`;
  }
  if (/invalid tar header/i.test(message)) {
    return `not a tar archive inside the gzip (${message}): nothing was restored`;
  }
  return `${message}; nothing was restored`;
}
