/**
 * Garbage collection of the blob store (mark and sweep), shared by `nora gc` (src/gc/cli.ts) and
 * the in-server scheduler (src/gc/scheduler.ts): NORA's `[gc]` (reference §3.7).
 *
 * Mark: every column a format declares in `FormatModule.blobReferences`, plus the shared
 * `proxy_entries` of the proxy engine, read page by page (rowid order) into one Set of digests. A format that
 * declares nothing, a column that cannot be read or a value that is no digest aborts the whole
 * pass before anything is removed: safety over completeness.
 *
 * Sweep: the blob files in storage (`blobs/<alg>/<xx>/<hex>`) and the rows of `blobs` whose
 * digest no reference names and that were last stored (the row's time, refreshed on every
 * store, or the file's mtime, whichever is later) before `now - grace`; then spool files under
 * the driver's spool directory older than that (a crashed or abandoned upload), except those an
 * open session owns (`FormatModule.spoolReferences`).
 *
 * Why the grace makes a pass safe next to a running server: a write stores its blob before it
 * records the reference, so a blob whose reference the mark missed was stored after the mark
 * began or is in flight; either way its time is within the grace and it is kept. Removal itself
 * re-checks the time atomically (BlobStore.collect), so a store that lands between the decision
 * and the removal keeps the blob too.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { tryParseDigest } from '../core/digest.ts';
import { errnoCode, storageFault } from '../core/errors.ts';
import type { Db } from '../db/database.ts';
import { exclusive, sqliteHandleOf } from '../db/sqlite-handle.ts';
import type { BlobReference, FormatModule } from '../formats/format.ts';
import { type BlobStore, quarantineSummary } from '../storage/blob-store.ts';
import { BLOBS_PREFIX, digestFromBlobKey } from '../storage/keys.ts';

/** References the collector reads itself: the proxy engine's cache rows (every format's). */
export const CORE_BLOB_REFERENCES: readonly BlobReference[] = [
  { table: 'proxy_entries', column: 'digest' },
];

/** How many removable blobs a report names. */
const EXAMPLES = 5;

/**
 * Directories under the spool directory that a live process owns whatever their age (the fs
 * driver's pre-created temp files, `ready-<pid>-<n>`: removed by the driver itself).
 */
const OWNED_SPOOL_DIR = /^ready-\d+-\d+$/;

export interface GcOptions {
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly formats: readonly FormatModule[];
  /** Seconds an unreferenced blob or spool file is kept after it was last written. */
  readonly graceSeconds: number;
  /** false: a dry run (report only). */
  readonly apply: boolean;
  /** Epoch ms the grace counts back from (default: now, when the pass starts). */
  readonly now?: number;
  /** Called before the mark (the server: write its queued proxy-cache rows first). */
  readonly beforeMark?: () => Promise<void>;
  /** Called between mark and sweep (tests: a write landing there). */
  readonly afterMark?: () => Promise<void>;
}

export interface GcCandidate {
  readonly digest: string;
  /** Bytes of the file (or of the row when the file is gone). */
  readonly size: number;
  /** Epoch ms it was last stored. */
  readonly storedAt: number;
}

export interface GcReport {
  readonly apply: boolean;
  readonly graceSeconds: number;
  /** Distinct digests referenced. */
  readonly referenced: number;
  /** Reference columns read. */
  readonly columns: number;
  /** Blob files listed in storage. */
  readonly scanned: number;
  /**
   * Referenced digests with no file in storage (removed by the read check, or deleted behind
   * NORA's back): hosted artifacts answer 410 until re-uploaded. Nothing a pass can repair.
   */
  readonly missing: number;
  /** A few of them. */
  readonly missingExamples: readonly string[];
  /** Unreferenced blobs past the grace: removed (apply) or that would be (dry run). */
  readonly blobs: number;
  readonly bytes: number;
  /**
   * Blobs counted in `blobs` whose index row the database could not remove (full or read-only):
   * their files went all the same; the rows, naming no file, go at a later pass. With the
   * database's reason (its first error).
   */
  readonly rowsLeft: number;
  readonly rowsLeftReason?: string;
  /** Unreferenced blobs kept because they are younger than the grace (or stored again). */
  readonly young: number;
  /** Stale spool files removed (or that would be). */
  readonly spoolFiles: number;
  readonly spoolBytes: number;
  /** Damaged blob files kept under `quarantine/` (never removed by gc: the operator's). */
  readonly quarantine?: { readonly files: number; readonly bytes: number };
  /** A few of the blobs counted in `blobs`, largest first. */
  readonly examples: readonly GcCandidate[];
  readonly seconds: number;
}

/** The pass refused to sweep (a reference it could not read): nothing was removed. */
export class GcRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GcRefusedError';
  }
}

/**
 * A removal failed part-way through a sweep: the message says what had been removed, what failed
 * and what to do. Nothing is half-removed (a blob is removed whole or kept).
 */
export class GcFailedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GcFailedError';
  }
}

/** What to do about `err`, a storage or database failure, in words for an operator. */
export function storageAdvice(err: unknown): string {
  const code = errnoCode(err);
  const fault = storageFault(err);
  if (fault?.code === 'INSUFFICIENT_STORAGE') {
    return code === 'ERR_SQLITE_ERROR'
      ? 'the metadata database is full: free some space on its disk (docs/storage.md, A full or read-only disk) and run it again'
      : 'the disk is full: removing blobs needs no free space, this step did; free a little space on that disk (docs/storage.md, A full or read-only disk) and run it again';
  }
  if (code === 'EROFS') return 'the storage is read-only: mount it read-write and run it again';
  if (code === 'EACCES' || code === 'EPERM') {
    return 'this user may not change the storage (ownership, mode, or an immutable file: lsattr): run it as the user the server runs as';
  }
  if (code === 'ENOENT') {
    return 'the storage directory is gone (a volume unmounted?): mount it again and run it again';
  }
  if (fault !== undefined) return `${fault.message}: fix the storage and run it again`;
  return 'run it again; a blob is removed whole or kept, never half';
}

/**
 * One pass: mark, then sweep (or only report, when `apply` is false). Throws GcRefusedError,
 * having removed nothing, when a reference cannot be read.
 */
export async function collectGarbage(options: GcOptions): Promise<GcReport> {
  const started = performance.now();
  const now = options.now ?? Date.now();
  const before = now - options.graceSeconds * 1000;
  await options.beforeMark?.();
  const { referenced, columns } = await mark(options.db, options.formats);
  const ownedSpools = await openSessionSpools(options.db, options.formats);
  await options.afterMark?.();

  // Unreferenced blobs: the files in storage, then the rows (a row whose file is gone).
  const candidates = new Map<string, { size: number; fileAt?: number; rowAt?: number }>();
  let scanned = 0;
  // Referenced digests whose file is in storage: the others are artifacts that answer 503.
  const present = new Set<string>();
  for await (const object of options.blobs.driver.list(BLOBS_PREFIX)) {
    const digest = digestFromBlobKey(object.key);
    if (digest === undefined) continue; // not a blob (left alone)
    scanned++;
    if (referenced.has(digest)) {
      present.add(digest);
      continue;
    }
    candidates.set(digest, { size: object.size, fileAt: object.modifiedAt.getTime() });
  }
  await forEachRow(options.db, 'blobs', 'digest, size, created_at', (row) => {
    const digest = String(row['digest']);
    if (referenced.has(digest)) return;
    const known = candidates.get(digest);
    const rowAt = Number(row['created_at']);
    if (known) known.rowAt = rowAt;
    else candidates.set(digest, { size: Number(row['size']), rowAt });
  });

  let blobs = 0;
  let bytes = 0;
  let young = 0;
  let rowsLeft = 0;
  let rowsLeftReason: string | undefined;
  const noteRowLeft = (err: unknown) => {
    rowsLeft++;
    rowsLeftReason ??= err instanceof Error ? err.message : String(err);
  };
  const examples: GcCandidate[] = [];
  for (const [digest, found] of candidates) {
    const storedAt = Math.max(found.fileAt ?? 0, found.rowAt ?? 0);
    const address = tryParseDigest(digest);
    // A row or file whose name is no digest this build reads: not ours to judge, kept.
    if (address === undefined || storedAt >= before) {
      young++;
      continue;
    }
    let freed: number | undefined = found.fileAt === undefined ? 0 : found.size;
    if (options.apply) {
      try {
        freed = await options.blobs.collect(address, before, { rowLeft: noteRowLeft });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new GcFailedError(
          `removed ${blobs} unreferenced blobs (${bytes} bytes), then could not remove ${digest}: ${why}; ${storageAdvice(err)}`,
          { cause: err },
        );
      }
      if (freed === undefined) {
        young++;
        continue;
      }
    }
    blobs++;
    bytes += freed;
    examples.push({ digest, size: found.size, storedAt });
    examples.sort((a, b) => b.size - a.size);
    if (examples.length > EXAMPLES) examples.pop();
  }

  const missingExamples: string[] = [];
  let missing = 0;
  for (const digest of referenced) {
    if (present.has(digest)) continue;
    missing++;
    if (missingExamples.length < EXAMPLES) missingExamples.push(digest);
  }

  const spool = await sweepSpools(options, ownedSpools, before);
  return {
    missing,
    missingExamples,
    apply: options.apply,
    graceSeconds: options.graceSeconds,
    referenced: referenced.size,
    columns,
    scanned,
    blobs,
    bytes,
    young,
    rowsLeft,
    ...(rowsLeftReason === undefined ? {} : { rowsLeftReason }),
    spoolFiles: spool.files,
    spoolBytes: spool.bytes,
    quarantine: await quarantineSummary(options.blobs.driver),
    examples,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Every digest any reference column names (`nora verify`'s look for missing blobs too). */
export async function mark(
  db: Db,
  formats: readonly FormatModule[],
): Promise<{ referenced: Set<string>; columns: number }> {
  const references: BlobReference[] = [...CORE_BLOB_REFERENCES];
  for (const format of formats) {
    if (format.blobReferences === undefined) {
      throw new GcRefusedError(
        `the ${format.format} format does not declare which blobs it references: nothing was swept`,
      );
    }
    references.push(...format.blobReferences);
  }
  const referenced = new Set<string>();
  for (const reference of references) {
    const { table, column } = reference;
    try {
      await forEachRow(db, table, `${referenceValue(reference)} AS value`, (row) => {
        const value = row['value'];
        if (value === null) return;
        if (typeof value !== 'string' || digestFromBlobKey(blobPath(value)) !== value) {
          throw new GcRefusedError(
            `${table}.${column} holds ${typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : `a ${typeof value}`}, not a digest: nothing was swept`,
          );
        }
        referenced.add(value);
      });
    } catch (err) {
      if (err instanceof GcRefusedError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new GcRefusedError(
        `could not read the references in ${table}.${column} (${why}): nothing was swept`,
      );
    }
  }
  return { referenced, columns: references.length };
}

/** The SQL expression of a reference's digest: NULL (no reference) in a tombstone row. */
function referenceValue({ column, tombstone }: BlobReference): string {
  if (tombstone === undefined) return quote(column);
  return `CASE WHEN ${quote(tombstone)} IS NULL THEN ${quote(column)} END`;
}

/**
 * Columns that name what a reference row is, in this order, where a table has them, each with
 * the label a report line gives it (Cargo's `crate`/`vers` are a crate's name and version; Go's
 * `module` is the module path).
 */
const NAMING_COLUMNS: readonly (readonly [column: string, label: string])[] = [
  ['repo', 'repo'],
  ['repository', 'repository'],
  ['name', 'name'],
  ['crate', 'name'],
  ['module', 'module'],
  ['version', 'version'],
  ['vers', 'version'],
  ['path', 'path'],
  ['key', 'key'],
  ['filename', 'filename'],
];

/**
 * For each of `digests` (a few: one statement per reference column, however many), the rows that
 * refer to it, each as `<table> repo=… path=…` (the naming columns the table has, then the
 * reference's `file=` when it says which of the row's files the column holds); a digest no
 * row names any more is absent from the result.
 */
export async function describeReferences(
  db: Db,
  formats: readonly FormatModule[],
  digests: readonly string[],
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  if (digests.length === 0) return found;
  const references = [
    ...CORE_BLOB_REFERENCES,
    ...formats.flatMap((format) => format.blobReferences ?? []),
  ];
  for (const { table, column, file, tombstone } of references) {
    const live = tombstone === undefined ? '' : ` AND ${quote(tombstone)} IS NULL`;
    const { rows } = await sql<
      Record<string, unknown>
    >`SELECT * FROM ${sql.raw(quote(table))} WHERE ${sql.raw(quote(column))} IN (${sql.join(digests)})${sql.raw(live)} LIMIT ${digests.length * 5}`.execute(
      db,
    );
    for (const row of rows) {
      const digest = row[column];
      if (typeof digest !== 'string') continue;
      const names = NAMING_COLUMNS.filter(([name]) => typeof row[name] === 'string').map(
        ([name, label]) => `${label}=${String(row[name])}`,
      );
      const list = found.get(digest) ?? [];
      list.push([table, ...names, ...(file === undefined ? [] : [`file=${file}`])].join(' '));
      found.set(digest, list);
    }
  }
  return found;
}

/** Rows read per statement: a page costs the event loop ~15 ms (~7 µs per row, node:sqlite). */
const PAGE_ROWS = 2_000;

/**
 * Reads `columns` (an SQL select list) of every row of `table`, page by page in rowid order, and
 * hands each row to `each`; the event loop is free between pages. Rows written during the scan
 * get higher rowids and are read too; a reference the scan misses anyway (written after it
 * passed) names a blob stored since, which the grace keeps (see the module comment).
 */
async function forEachRow(
  db: Db,
  table: string,
  columns: string,
  each: (row: Record<string, unknown>) => void,
): Promise<void> {
  const sqlite = sqliteHandleOf(db);
  const head = `SELECT rowid AS "_rowid", ${columns} FROM ${quote(table)} WHERE rowid > `;
  const tail = ` ORDER BY rowid LIMIT ${PAGE_ROWS}`;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const from = after;
    const rows =
      sqlite !== undefined
        ? await exclusive(
            db,
            () => sqlite.prepare(`${head}?${tail}`).all(from) as Record<string, unknown>[],
          )
        : (await sql<Record<string, unknown>>`${sql.raw(head)}${from}${sql.raw(tail)}`.execute(db))
            .rows;
    for (const row of rows) each(row);
    const last = rows.at(-1);
    if (rows.length < PAGE_ROWS || last === undefined) return;
    after = Number(last['_rowid']);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The spool files open sessions own (`FormatModule.spoolReferences`), as absolute paths. */
async function openSessionSpools(db: Db, formats: readonly FormatModule[]): Promise<Set<string>> {
  const owned = new Set<string>();
  for (const format of formats) {
    for (const { table, column } of format.spoolReferences ?? []) {
      try {
        await forEachRow(db, table, `${quote(column)} AS value`, (row) => {
          if (typeof row['value'] === 'string') owned.add(path.resolve(row['value']));
        });
      } catch (err) {
        if (err instanceof GcRefusedError) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new GcRefusedError(
          `could not read the open sessions in ${table}.${column} (${why}): nothing was swept`,
        );
      }
    }
  }
  return owned;
}

/** Spool files (crashed or abandoned writes) older than `before` that no open session owns. */
async function sweepSpools(
  options: GcOptions,
  owned: ReadonlySet<string>,
  before: number,
): Promise<{ files: number; bytes: number }> {
  const root = options.blobs.driver.spoolDir();
  let files = 0;
  let bytes = 0;
  const walk = async (dir: string, top: boolean): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!(top && OWNED_SPOOL_DIR.test(entry.name))) await walk(full, false);
        continue;
      }
      if (!entry.isFile() || owned.has(path.resolve(full))) continue;
      const info = await fs.stat(full).catch(() => undefined);
      if (info === undefined || info.mtimeMs >= before) continue;
      if (options.apply) await fs.rm(full, { force: true });
      files++;
      bytes += info.size;
    }
  };
  await walk(root, true);
  return { files, bytes };
}

function quote(identifier: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(identifier)) {
    throw new GcRefusedError(`bad reference column name ${JSON.stringify(identifier)}`);
  }
  return `"${identifier}"`;
}

/** The storage key a digest would have (for the one digest check, digestFromBlobKey). */
function blobPath(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `blobs/${algorithm ?? ''}/${hex.slice(0, 2)}/${hex}`;
}
