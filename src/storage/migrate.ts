/**
 * `nora migrate --from local|s3 --to local|s3`: copies every stored object (`blobs/…`, the only
 * keys NORA stores, keys.ts) from one storage backend to another, offline, through the drivers'
 * streaming interfaces. NORA §3.2 / §3.9; docs/storage.md "Moving to another backend".
 *
 * Each object is streamed from the source into a spool file of the target (`spoolDir()`), hashed
 * on the way, and moved in with `writeFile` only once its size and — for a content-addressed key,
 * `blobs/<algorithm>/<xx>/<hex>` — its digest match: the target never holds a partial or damaged
 * copy (the drivers' writes are atomic), so an interrupted run is resumed by running it again:
 * what is at the target with the source's size is skipped (for a content-addressed key the name
 * is the content; any other key is compared by hashing both sides). The source is only read.
 *
 * Refused while a NORA server uses the storage or its database (the checks `nora restore` and the
 * offline retention commands make: `liveServers`, `databaseInUse`): a server writing to the
 * source during the copy would record blobs the target never receives. For the whole copy the
 * run then holds the storage the way a server does (trial 28 newO F1): a `.nora-serve/<pid>`
 * marker saying `"command": "migrate"` (holdStorage) in the source's and a local target's
 * `[storage] path` and beside the database, which `nora serve`, `nora gc`, the retention
 * commands and `nora restore` refuse to start beside (app.ts refuseWhileMigrating), and the
 * database held open, which every `databaseInUse` probe sees. At the end it looks again: a server
 * that slipped in anyway (a build without that check) makes the run fail. The metadata database
 * is not copied: it stays where it is (`[database] path`, default `<[storage] path>/nora.db`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { databaseFile, type ServingMarker, type StorageHolder, storageHolders } from '../app.ts';
import type { AppConfig, StorageConfig } from '../config/schema.ts';
import { errnoCode } from '../core/errors.ts';
import { InterruptedError, watchInterrupts } from '../core/interrupts.ts';
import { databaseInUse } from '../db/in-use.ts';
import type { ObjectInfo, StorageDriver, StorageKey } from './driver.ts';
import { createStorageDriver } from './drivers/index.ts';
import { BLOBS_PREFIX } from './keys.ts';

/** The backends `nora migrate` copies between. */
export const MIGRATE_BACKENDS = ['local', 's3'] as const;
export type MigrateBackend = (typeof MIGRATE_BACKENDS)[number];

export interface MigrateOptions {
  readonly from: MigrateBackend;
  readonly to: MigrateBackend;
  /** local target: its directory instead of `[storage] path`. */
  readonly toPath?: string;
  /** s3 target: its bucket instead of `[storage] bucket`. */
  readonly toBucket?: string;
  /** List what would be copied; write nothing. */
  readonly dryRun: boolean;
  /** Objects copied at once (1–64). */
  readonly concurrency: number;
  /** Called for each object copied, skipped, failed or (dry run) to copy, as it happens. */
  readonly onObject?: (event: MigrateEvent) => void;
}

export interface MigrateEvent {
  readonly outcome: 'copied' | 'skipped' | 'failed' | 'would copy';
  readonly key: string;
  readonly size: number;
  readonly error?: string;
}

export interface MigrateTally {
  objects: number;
  bytes: number;
}

export interface MigrateReport {
  /** `local /abs/dir` or `s3 <url> bucket "<name>"` (never a credential). */
  readonly from: string;
  readonly to: string;
  readonly dryRun: boolean;
  readonly copied: MigrateTally;
  readonly skipped: MigrateTally;
  /**
   * Of `skipped`, the content-addressed ones taken as the same by name and size, not hashed
   * (`nora verify` on the target hashes them).
   */
  readonly skippedUnhashed: MigrateTally;
  readonly failed: MigrateTally;
  /** Dry run: what a run would copy. */
  readonly wouldCopy: MigrateTally;
  readonly failures: { readonly key: string; readonly error: string }[];
  /** The config change that makes a server use the target (empty for a dry run or failures). */
  readonly configChange: string[];
}

/** A usage mistake found before anything was read (main.ts: exit 2). */
export class MigrateUsageError extends Error {
  override readonly name = 'MigrateUsageError';
}

/** Refused: a server holds the storage or database (nothing read or written; exit 2). */
export class MigrateRefusedError extends Error {
  override readonly name = 'MigrateRefusedError';
}

/**
 * The copy could not run (a store unreachable, a listing failed), or a server started on the
 * storage during it: exit 1.
 */
export class MigrateCommandError extends Error {
  override readonly name = 'MigrateCommandError';
}

/**
 * Reads `value` (a `--from`/`--to` argument, `flag` names which) as a backend name. Throws
 * MigrateUsageError for anything else; gcs (NORA's, not in this build) and memory (nothing to
 * copy) get their own sentence.
 */
export function migrateBackend(flag: string, value: string): MigrateBackend {
  if ((MIGRATE_BACKENDS as readonly string[]).includes(value)) return value as MigrateBackend;
  if (value === 'gcs') {
    throw new MigrateUsageError(
      `${flag} gcs: Google Cloud Storage is not supported by this build (local or s3)`,
    );
  }
  if (value === 'memory') {
    throw new MigrateUsageError(
      `${flag} memory: memory storage keeps nothing between processes (local or s3)`,
    );
  }
  throw new MigrateUsageError(`${flag} ${JSON.stringify(value)}: expected local or s3`);
}

/**
 * Both sides' `[storage]` settings: `config.storage` with `mode` set to each side's backend, the
 * target's `path` / `bucket` replaced by `--to-path` / `--to-bucket`. Throws MigrateUsageError
 * for an override of the other kind of target (`--to-path` with `--to s3`, `--to-bucket` with
 * `--to local`).
 */
export function migrateSides(
  config: AppConfig,
  options: Pick<MigrateOptions, 'from' | 'to' | 'toPath' | 'toBucket'>,
): { source: StorageConfig; target: StorageConfig } {
  if (options.toPath !== undefined && options.to !== 'local') {
    throw new MigrateUsageError(
      '--to-path is the directory of a local target (--to local); an s3 target is chosen with --to-bucket',
    );
  }
  if (options.toBucket !== undefined && options.to !== 's3') {
    throw new MigrateUsageError(
      '--to-bucket is the bucket of an s3 target (--to s3); a local target is chosen with --to-path',
    );
  }
  const source: StorageConfig = { ...config.storage, mode: options.from };
  const target: StorageConfig = {
    ...config.storage,
    mode: options.to,
    ...(options.toPath === undefined ? {} : { path: options.toPath }),
    ...(options.toBucket === undefined ? {} : { bucket: options.toBucket }),
  };
  return { source, target };
}

/** `local /abs/dir` or `s3 http://host:port bucket "b"`: for messages (no credential). */
export function describeSide(storage: StorageConfig): string {
  return storage.mode === 's3'
    ? `s3 ${storage.s3_url.replace(/\/+$/, '')} bucket "${storage.bucket}"`
    : `local ${path.resolve(storage.path)}`;
}

async function realOrResolved(dir: string): Promise<string> {
  return await fs.realpath(dir).catch(() => path.resolve(dir));
}

async function samePlace(a: StorageConfig, b: StorageConfig): Promise<boolean> {
  if (a.mode !== b.mode) return false;
  if (a.mode === 'local') return (await realOrResolved(a.path)) === (await realOrResolved(b.path));
  return (
    new URL(a.s3_url).href.replace(/\/+$/, '') === new URL(b.s3_url).href.replace(/\/+$/, '') &&
    a.bucket === b.bucket
  );
}

/**
 * Copies every object of `config`'s storage as `options.from` to `options.to`.
 * Returns the report (failures counted, not thrown: the caller exits 1 when `failed.objects > 0`).
 * Throws MigrateUsageError (flags that contradict each other, from == to), MigrateRefusedError
 * (a NORA server or another migrate on the storage, the database open elsewhere),
 * MigrateCommandError (no local source, a store unusable, the source listing failed, a server
 * found on the storage at the end), InterruptedError (SIGINT/SIGTERM: the objects in flight are
 * dropped, those copied stay; run again to resume).
 */
export async function runMigrate(
  config: AppConfig,
  options: MigrateOptions,
): Promise<MigrateReport> {
  const { source, target } = migrateSides(config, options);
  if (await samePlace(source, target)) {
    throw new MigrateUsageError(
      `source and target are the same storage (${describeSide(source)}): name another with ${
        options.to === 'local' ? '--to-path <dir>' : '--to-bucket <name>'
      }`,
    );
  }
  await refuseWhileServed(config, source, target);
  if (source.mode === 'local') {
    const found = await fs.stat(source.path).then(
      (stats) => stats.isDirectory(),
      () => false,
    );
    if (!found) {
      throw new MigrateCommandError(
        `no local storage at ${path.resolve(source.path)} ([storage] path, NORA_STORAGE_PATH): nothing to copy`,
      );
    }
  }
  // A dry run writes nothing, so nothing to guard (and it makes no target directory).
  const hold = options.dryRun ? undefined : await holdStorage(config, source, target);
  try {
    const from = await openSide(source, 'source', false);
    let to: StorageDriver | undefined;
    let report: MigrateReport;
    try {
      // A dry run makes no target directory: a missing one holds nothing.
      to = await openSide(target, 'target', options.dryRun);
      report = await copyAll(from, to, source, target, config, options);
    } finally {
      await from.close();
      await to?.close();
    }
    if (hold !== undefined) {
      hold.releaseDatabase();
      await refuseLateServers(config, source, target, report);
    }
    return report;
  } finally {
    await hold?.release();
  }
}

/** The directories whose `.nora-serve/` name who uses the storage: source, local target, beside the database. */
function holderDirs(config: AppConfig, source: StorageConfig, target: StorageConfig): string[] {
  const dirs = [path.resolve(source.path)];
  const add = (dir: string): void => {
    if (!dirs.includes(path.resolve(dir))) dirs.push(path.resolve(dir));
  };
  if (target.mode === 'local') add(target.path);
  const database = databaseFile(config);
  if (database !== ':memory:') add(path.dirname(database));
  return dirs;
}

interface StorageHold {
  /** Closes the database connection held (before the closing databaseInUse probe). */
  releaseDatabase(): void;
  /** Removes the markers and closes the database. */
  release(): Promise<void>;
}

/**
 * Holds the storage for the copy as a server does (app.ts openStorage): a `.nora-serve/<pid>`
 * marker with `"command": "migrate"` in every holderDirs directory — `nora serve`, `nora gc`,
 * the retention commands and `nora restore` refuse to start beside it (refuseWhileMigrating) —
 * and the database, when it exists, held open in a read transaction: a SHARED lock in any
 * journal mode, which every `databaseInUse` probe (that of an older build too) reports as in
 * use. Best effort, as for a server: a directory that cannot take the marker is left out.
 */
async function holdStorage(
  config: AppConfig,
  source: StorageConfig,
  target: StorageConfig,
): Promise<StorageHold> {
  const database = databaseFile(config);
  const content = JSON.stringify({
    storage: await realOrResolved(source.path),
    database: database === ':memory:' ? database : path.resolve(database),
    command: 'migrate',
  } satisfies ServingMarker);
  const markers: string[] = [];
  for (const dir of holderDirs(config, source, target)) {
    const serving = path.join(dir, '.nora-serve');
    const own = path.join(serving, String(process.pid));
    const made = await fs
      .mkdir(serving, { recursive: true })
      .then(() => fs.writeFile(own, content))
      .then(
        () => true,
        () => false,
      );
    if (made) markers.push(own);
  }
  let db: DatabaseSync | undefined;
  if (database !== ':memory:' && existsSync(database)) {
    try {
      db = new DatabaseSync(database);
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch {
      // Not a database NORA could open either: the markers still hold the storage.
      db?.close();
      db = undefined;
    }
  }
  const releaseDatabase = (): void => {
    if (db?.isOpen === true) db.close();
  };
  return {
    releaseDatabase,
    async release() {
      releaseDatabase();
      for (const marker of markers) await fs.rm(marker, { force: true }).catch(() => undefined);
    },
  };
}

/**
 * The holders of `dir` as a sentence: a `nora migrate`, a server on this storage, or a server of
 * another storage whose database is kept in `dir` (trial 28 newO F3: that one was said to run on
 * `dir`). Undefined when `holders` is empty.
 */
async function describeHolders(
  dir: string,
  holders: readonly StorageHolder[],
): Promise<string | undefined> {
  if (holders.length === 0) return undefined;
  const migrating = holders.filter((h) => h.marker?.command === 'migrate');
  if (migrating.length > 0) {
    return `nora migrate (pid ${migrating.map((h) => h.pid).join(', ')}) is already copying the storage ${migrating[0]?.marker?.storage ?? dir}`;
  }
  const here = await realOrResolved(dir);
  const elsewhere = holders.filter(
    (h) => h.marker?.storage !== undefined && h.marker.storage !== here,
  );
  const first = elsewhere[0];
  if (first !== undefined) {
    return `the database ${first.marker?.database ?? dir} is open in a NORA server (pid ${elsewhere.map((h) => h.pid).join(', ')}) that runs on the storage ${first.marker?.storage ?? ''}`;
  }
  return `a NORA server (pid ${holders.map((h) => h.pid).join(', ')}) is running on ${dir}`;
}

/**
 * After the copy: a server (or gc, …) that started on the storage during it — a build without
 * refuseWhileMigrating, or one that raced the markers — may have stored objects the listing had
 * passed. Throws MigrateCommandError (exit 1) saying so, with the counts; nothing is undone.
 */
async function refuseLateServers(
  config: AppConfig,
  source: StorageConfig,
  target: StorageConfig,
  report: MigrateReport,
): Promise<void> {
  let found: string | undefined;
  for (const dir of holderDirs(config, source, target)) {
    const holders = (await storageHolders(dir)).filter((h) => h.marker?.command !== 'migrate');
    found = await describeHolders(dir, holders);
    if (found !== undefined) break;
  }
  const database = databaseFile(config);
  if (found === undefined && databaseInUse(database)) {
    found = `the database ${path.resolve(database)} is open in another process (a NORA server, nora gc, …)`;
  }
  if (found === undefined) return;
  throw new MigrateCommandError(
    `${found}, started during the copy (copied ${report.copied.objects}, skipped ${report.skipped.objects}, failed ${report.failed.objects}): what it stored meanwhile may be missing from the target. Stop it, then run the same command again (what was copied is skipped) before switching`,
  );
}

/**
 * The same checks as `nora retention-apply` and `nora restore`: a NORA server named in the
 * storage's `.nora-serve/` (local and s3 alike keep it in `[storage] path`), or in a local
 * target's, and the database held open by another process.
 */
async function refuseWhileServed(
  config: AppConfig,
  source: StorageConfig,
  target: StorageConfig,
): Promise<void> {
  for (const dir of holderDirs(config, source, target)) {
    const holders = await describeHolders(dir, await storageHolders(dir));
    if (holders !== undefined) {
      throw new MigrateRefusedError(
        `${holders}: stop it first (objects it stores during the copy would be missing from the target)`,
      );
    }
  }
  const database = databaseFile(config);
  if (databaseInUse(database)) {
    throw new MigrateRefusedError(
      `the database ${path.resolve(database)} is open in another process (a NORA server, nora gc, …): stop it first (objects it stores during the copy would be missing from the target)`,
    );
  }
}

async function openSide(
  storage: StorageConfig,
  role: 'source' | 'target',
  dryRun: false,
): Promise<StorageDriver>;
async function openSide(
  storage: StorageConfig,
  role: 'source' | 'target',
  dryRun: boolean,
): Promise<StorageDriver | undefined>;
async function openSide(
  storage: StorageConfig,
  role: 'source' | 'target',
  dryRun: boolean,
): Promise<StorageDriver | undefined> {
  if (dryRun && storage.mode === 'local') {
    const exists = await fs.stat(storage.path).then(
      () => true,
      (err: unknown) => errnoCode(err) !== 'ENOENT',
    );
    if (!exists) return undefined;
  }
  let driver: StorageDriver;
  try {
    driver = await createStorageDriver(storage);
  } catch (err) {
    throw new MigrateCommandError(
      `the ${role} (${describeSide(storage)}) cannot be opened: ${(err as Error).message}`,
    );
  }
  try {
    await driver.check();
  } catch (err) {
    await driver.close();
    throw new MigrateCommandError(`the ${role}: ${(err as Error).message}`);
  }
  return driver;
}

function emptyTally(): MigrateTally {
  return { objects: 0, bytes: 0 };
}

async function copyAll(
  from: StorageDriver,
  to: StorageDriver | undefined,
  source: StorageConfig,
  target: StorageConfig,
  config: AppConfig,
  options: MigrateOptions,
): Promise<MigrateReport> {
  const report = {
    from: describeSide(source),
    to: describeSide(target),
    dryRun: options.dryRun,
    copied: emptyTally(),
    skipped: emptyTally(),
    skippedUnhashed: emptyTally(),
    failed: emptyTally(),
    wouldCopy: emptyTally(),
    failures: [] as { key: string; error: string }[],
    configChange: [] as string[],
  };
  const abort = new AbortController();
  using interrupts = watchInterrupts(
    (signal) =>
      new InterruptedError(
        'migrate',
        signal,
        `${report.copied.objects} objects copied so far stay at the target; run the same command again to copy the rest`,
      ),
    () => {
      abort.abort();
    },
  );
  // A function, not the property: TypeScript would keep its narrowing across the awaits.
  const stopped = (): boolean => abort.signal.aborted;
  const count = (tally: MigrateTally, size: number): void => {
    tally.objects += 1;
    tally.bytes += size;
  };
  // One listing shared by the workers: an async generator queues concurrent next() calls.
  const listing = from.list(BLOBS_PREFIX)[Symbol.asyncIterator]();
  let listError: unknown;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (abort.signal.aborted) return;
      let next: IteratorResult<ObjectInfo>;
      try {
        next = await listing.next();
      } catch (err) {
        listError ??= err;
        return;
      }
      if (next.done === true || listError !== undefined) return;
      const info = next.value;
      try {
        // One that completed as the signal came is at the target: it counts as copied.
        const outcome = await copyOne(from, to, info, options.dryRun, abort.signal);
        count(
          outcome === 'copied'
            ? report.copied
            : outcome === 'skipped'
              ? report.skipped
              : report.wouldCopy,
          info.size,
        );
        // Skipped by name and size alone (copyOne): not hashed.
        if (outcome === 'skipped' && contentDigest(info.key) !== undefined) {
          count(report.skippedUnhashed, info.size);
        }
        options.onObject?.({ outcome, key: info.key, size: info.size });
      } catch (err) {
        // Torn down by the signal: not a failure of this object.
        if (stopped()) return;
        const error = (err as Error).message;
        count(report.failed, info.size);
        report.failures.push({ key: info.key, error });
        options.onObject?.({ outcome: 'failed', key: info.key, size: info.size, error });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  interrupts.throwIfInterrupted();
  if (listError !== undefined) {
    throw new MigrateCommandError(
      `listing the source (${report.from}) failed after ${report.copied.objects + report.skipped.objects} objects: ${(listError as Error).message}; run it again to resume`,
    );
  }
  if (!options.dryRun && report.failed.objects === 0) {
    report.configChange.push(...configChange(config, source, target));
  }
  return report;
}

type Outcome = 'copied' | 'skipped' | 'would copy';

/** `sha256:<hex>` → ['sha256', hex] for a content-addressed key, else undefined. */
function contentDigest(key: string): { algorithm: string; hex: string } | undefined {
  const match = /^blobs\/(sha256|sha512)\/([a-f0-9]{2})\/([a-f0-9]+)$/.exec(key);
  if (match === null || !(match[3] ?? '').startsWith(match[2] ?? '')) return undefined;
  return { algorithm: match[1] ?? '', hex: match[3] ?? '' };
}

async function hashOf(
  driver: StorageDriver,
  key: StorageKey,
  signal: AbortSignal,
): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(await driver.read(key), hash, { signal });
  return hash.digest('hex');
}

/**
 * One object: skipped when the target has it (same size; for a key that is not content-addressed
 * also the same sha256), else streamed into a target spool file while hashed, checked (size,
 * digest of a content-addressed key) and moved in. Throws the reason it was not copied.
 */
async function copyOne(
  from: StorageDriver,
  to: StorageDriver | undefined,
  info: ObjectInfo,
  dryRun: boolean,
  signal: AbortSignal,
): Promise<Outcome> {
  const key = info.key;
  const digest = contentDigest(key);
  const present = to === undefined ? undefined : await to.stat(key);
  if (present !== undefined && present.size === info.size) {
    // A content-addressed key names its bytes, and every driver write is atomic and was
    // verified: the same size is the same object. `nora verify` on the target hashes them all.
    if (digest !== undefined) return 'skipped';
    if (to !== undefined && (await hashOf(from, key, signal)) === (await hashOf(to, key, signal))) {
      return 'skipped';
    }
  }
  if (dryRun || to === undefined) return 'would copy';
  const spool = path.join(to.spoolDir(), `migrate-${randomUUID()}`);
  const hash = createHash(digest?.algorithm ?? 'sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(await from.read(key), counter, createWriteStream(spool, { flags: 'wx' }), {
      signal,
    });
    if (size !== info.size) {
      throw new Error(`read ${size} bytes where the source lists ${info.size}: not copied`);
    }
    if (digest !== undefined) {
      const actual = hash.digest('hex');
      if (actual !== digest.hex) {
        throw new Error(
          `the source's bytes hash to ${digest.algorithm}:${actual}, not the digest the key names: damaged at the source, not copied (see nora verify)`,
        );
      }
    }
    const written = await to.writeFile(key, spool);
    if (written.size !== info.size) {
      throw new Error(`the target stored ${written.size} bytes of ${info.size}`);
    }
    return 'copied';
  } finally {
    await fs.rm(spool, { force: true });
  }
}

/** What to change in the config file so a server uses the target: TOML lines, then notes. */
function configChange(config: AppConfig, source: StorageConfig, target: StorageConfig): string[] {
  const lines = ['[storage]', `mode = ${JSON.stringify(target.mode)}`];
  const env = [`NORA_STORAGE_MODE=${target.mode}`];
  if (target.mode === 'local' && path.resolve(target.path) !== path.resolve(config.storage.path)) {
    lines.push(`path = ${JSON.stringify(path.resolve(target.path))}`);
    env.push(`NORA_STORAGE_PATH=${path.resolve(target.path)}`);
  }
  if (target.mode === 's3') {
    if (target.bucket !== config.storage.bucket) {
      lines.push(`bucket = ${JSON.stringify(target.bucket)}`);
      env.push(`NORA_STORAGE_BUCKET=${target.bucket}`);
    }
  }
  const database = path.resolve(databaseFile(config));
  // The default database is `<[storage] path>/nora.db`: a new local path would move it.
  const moves =
    config.database.path === undefined &&
    target.mode === 'local' &&
    path.resolve(target.path) !== path.resolve(config.storage.path);
  if (moves) {
    lines.push('', '[database]', `path = ${JSON.stringify(database)}`);
    env.push(`NORA_DATABASE_PATH=${database}`);
  }
  const notes = [
    `(or the variables: ${env.join(' ')})`,
    `The metadata database is not copied: it stays at ${database}${
      moves ? ' (the [database] path above keeps it there)' : ''
    }.`,
  ];
  if (target.mode === 's3' && source.mode === 'local') {
    notes.push(
      `[storage] path (${path.resolve(config.storage.path)}) stays the local directory of the database and the spool; the blobs under it are no longer read once the server runs on s3 (remove them when satisfied).`,
    );
  }
  if (target.mode === 's3' && source.mode === 's3') {
    notes.push('The S3 endpoint and keys stay those configured ([storage] s3_url, s3_*_key).');
  }
  return [...lines, '', ...notes];
}
