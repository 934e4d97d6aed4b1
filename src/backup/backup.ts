/**
 * `nora backup -o FILE.tar.gz`: one gzip'd tar of the configured storage and database
 * (src/backup/archive.ts has the layout), safe while `nora serve` runs on them:
 *
 * 1. a consistent snapshot of the SQLite database (`VACUUM INTO`, one read transaction: WAL
 *    writers go on meanwhile) into a work directory under the storage's spool directory;
 * 2. in that snapshot, the rows that name files the archive does not hold are dropped: index
 *    rows (`blobs`) of blobs nothing references (garbage `nora gc` would remove; it may be doing
 *    so right now) and open upload sessions (their spool files under `.tmp/` are not archived);
 * 3. the archive, streamed (one read chunk in memory, never a whole blob): metadata.json, the
 *    snapshot, then every blob the snapshot references, each hashed as it is archived and
 *    compared to its name. Blobs are content-addressed and never rewritten in place, so copying
 *    them live is safe; one removed meanwhile (`nora gc` after a delete) or damaged fails the
 *    backup, naming it.
 *
 * Written to `FILE.<pid>.<random>.tmp` (one per backup: two at once to the same FILE never write
 * into one temp file) and renamed to FILE at the end (fsynced first): a failed backup removes its
 * temp file and leaves no file that looks whole. `-o -` writes to stdout (then a failure shows as
 * the same one-line error and exit 1, and a truncated stream, which `nora restore` refuses).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { sql } from 'kysely';
import tar from 'tar-stream';
import { allMigrations, existingDatabase } from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import { createHasher, type Digest, formatDigest, parseDigest } from '../core/digest.ts';
import { openDatabase } from '../db/database.ts';
import type { FormatModule } from '../formats/format.ts';
import { FORMATS } from '../formats/index.ts';
import { describeReferences, mark } from '../gc/collector.ts';
import { type StorageDriver, StorageNotFoundError } from '../storage/driver.ts';
import { createStorageDriver } from '../storage/drivers/index.ts';
import { blobKey } from '../storage/keys.ts';
import { VERSION } from '../version.ts';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  type BackupMetadata,
  blobEntryName,
  DATABASE_ENTRY,
  METADATA_ENTRY,
} from './archive.ts';

/** Why `nora backup` wrote no archive (exit 1); the message says what to do. */
export class BackupCommandError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupCommandError';
  }
}

export interface BackupOptions {
  /** The archive's path, or `-` for stdout. */
  readonly output: string;
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
}

/** How many missing blobs an error names. */
const NAMED = 10;

/**
 * Writes the archive. Throws BackupCommandError when there is nothing to back up (memory
 * storage, no database), a reference cannot be read, a referenced blob is missing or damaged, or
 * the archive cannot be written; FILE is then untouched and its temp file removed.
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
  const formats = options.formats ?? FORMATS;
  const driver = await createStorageDriver(config.storage);
  // On the storage's disk (the snapshot is as large as the database), removed at the end.
  const work = path.join(driver.spoolDir(), `backup-${randomUUID()}`);
  try {
    await fs.mkdir(work, { recursive: true });
    const snapshot = path.join(work, DATABASE_ENTRY);
    snapshotDatabase(file, snapshot);
    const blobs = await prepareSnapshot(snapshot, formats, driver);
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
    const entries = (pack: tar.Pack) => writeEntries(pack, metadata, snapshot, blobs, driver);
    if (options.output === '-') {
      await writeArchive(borrowed(options.stdout ?? process.stdout), entries);
      return { output: '-', metadata, seconds: (performance.now() - started) / 1000 };
    }
    const output = path.resolve(options.output);
    // Its own name: two backups to one FILE at once (two cron entries, a manual run beside the
    // timer's) wrote into one `FILE.tmp` and renamed each other's half-written bytes.
    const temp = `${output}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      // flush: fsynced before the rename, so a crash after it never leaves a short archive.
      await writeArchive(createWriteStream(temp, { flush: true }), entries);
      await fs.rename(temp, output);
    } catch (err) {
      await fs.rm(temp, { force: true });
      if (err instanceof BackupCommandError) throw err;
      throw new BackupCommandError(
        `could not write ${output}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    return {
      output,
      metadata,
      archiveBytes: (await fs.stat(output)).size,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
    await driver.close();
  }
}

/**
 * A consistent copy of the live database: `VACUUM INTO` reads it in one transaction (a WAL
 * reader: the server's writes go on meanwhile and are not in the copy) and writes a compact file.
 * The source is only read; no migration is run on it.
 */
function snapshotDatabase(source: string, target: string): void {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(source, { timeout: 5000 });
    db.prepare('VACUUM INTO ?').run(target);
  } catch (err) {
    throw new BackupCommandError(
      `could not snapshot the database ${path.resolve(source)}: ${err instanceof Error ? err.message : String(err)}`,
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
 * (an entry's, or the sink's: a full disk), the packer then destroyed.
 */
async function writeArchive(
  sink: Writable,
  entries: (pack: tar.Pack) => Promise<void>,
): Promise<void> {
  const pack = tar.pack();
  const gzip = createGzip();
  const done = pipeline(pack, gzip, sink);
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

async function writeEntries(
  pack: tar.Pack,
  metadata: BackupMetadata,
  snapshot: string,
  blobs: readonly { digest: Digest; size: number; modifiedAt: Date }[],
  driver: StorageDriver,
): Promise<void> {
  const json = Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`);
  await new Promise<void>((resolve, reject) => {
    pack.entry({ name: METADATA_ENTRY, size: json.length, mode: 0o644 }, json, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
  const db = await fs.open(snapshot);
  await pipeline(
    db.createReadStream(),
    pack.entry({ name: DATABASE_ENTRY, size: metadata.database_bytes, mode: 0o644 }),
  );
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
  const entry = pack.entry({
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
