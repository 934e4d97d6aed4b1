/**
 * `nora verify [--remove]`: hashes every stored blob against its digest, and looks for the blobs
 * the metadata refers to that are missing from storage, offline, on the storage
 * the configuration names (next to a running server or not). A read already checks a blob the
 * first time a process serves it (docs/storage.md, Integrity of stored bytes); this finds damage
 * before a client does, including bit rot under a file a running server trusts since its first
 * read. Reports only, unless `--remove`: then damaged files are removed as a read removes them,
 * so an upload or a proxy fill of the same bytes stores them again.
 */
import { parseDigest } from '../core/digest.ts';
import { errnoCode } from '../core/errors.ts';
import type { AppConfig } from '../config/schema.ts';
import { SqlBlobIndex } from '../db/blob-index.ts';
import { openDatabase } from '../db/database.ts';
import { allMigrations, existingDatabase } from '../app.ts';
import { BlobStore, describeQuarantine, quarantineSummary } from '../storage/blob-store.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { BucketLeaseHeldError, refuseForeignLease } from '../storage/bucket-lease.ts';
import { createStorageDriver } from '../storage/drivers/index.ts';
import { BLOBS_PREFIX, blobKey, digestFromBlobKey } from '../storage/keys.ts';
import type { Db } from '../db/database.ts';
import type { ConsistencyFinding, FormatModule } from '../formats/format.ts';
import { FORMATS } from '../formats/index.ts';
import { describeReferences, mark } from './collector.ts';

/** A reason `nora verify` would not run at all (nothing was read or removed). */
export class VerifyCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyCommandError';
  }
}

/** What one `nora verify` pass found. Sizes in bytes, time in seconds. */
export interface VerifyReport {
  readonly remove: boolean;
  /** Blob files hashed, and their bytes. */
  readonly checked: number;
  readonly bytes: number;
  /**
   * Damaged blobs: `sha256:<hex>` and the size found, and whether the file was removed; the
   * first few name the rows that refer to them.
   */
  readonly damaged: readonly {
    digest: string;
    size: number;
    removed: boolean;
    /** Where the removed file was kept (`quarantine/sha256/<hex>.<time>`). */
    kept?: string | undefined;
    references?: readonly string[];
  }[];
  /**
   * Blob files that could not be read (EACCES: a restore with the wrong owner, EIO: a failing
   * disk…): not hashed, never removed, and the pass goes on. The first few name the rows that
   * refer to them.
   */
  readonly unreadable: readonly { digest: string; error: string; references?: readonly string[] }[];
  /** Files under `blobs/` whose name is no digest (left alone). */
  readonly foreign: number;
  /** Damaged blob files kept under `quarantine/` after this pass (never removed by it). */
  readonly quarantine?: { readonly files: number; readonly bytes: number };
  /**
   * Referenced blobs with no file in storage (deleted behind NORA's back, or removed as damaged
   * earlier): hosted artifacts answer 410 until uploaded again. Undefined when not looked for.
   */
  readonly missing?: number;
  /** A few of them, each with the rows that refer to it (`raw_files repo=… path=…`). */
  readonly missingExamples?: readonly { digest: string; references: readonly string[] }[];
  /** Why the references could not be read (then missing blobs were not looked for). */
  readonly referencesError?: string;
  /**
   * What the formats' own checks of their rows found (FormatModule.consistency: a Helm version
   * stored as both `1.2.3` and `v1.2.3`…), each with what to do; [] when all agree. Undefined
   * when not looked for (no references given).
   */
  readonly inconsistencies?: readonly ConsistencyFinding[];
  /** Why a format's check could not run (`<format>: <message>`). */
  readonly consistencyError?: string;
  readonly seconds: number;
}

/**
 * Hashes every blob of `blobs` (listed through `driver`), one at a time, streamed: memory is one
 * read chunk whatever the store's size; time is a read of every byte. Files whose name is no
 * digest are counted, never touched. Vanished between listing and reading: skipped.
 */
export async function verifyBlobs(
  driver: StorageDriver,
  blobs: BlobStore,
  options: { remove: boolean; references?: { db: Db; formats: readonly FormatModule[] } },
): Promise<VerifyReport> {
  const started = performance.now();
  let checked = 0;
  let bytes = 0;
  let foreign = 0;
  const damaged: {
    digest: string;
    size: number;
    removed: boolean;
    kept?: string | undefined;
    references?: readonly string[];
  }[] = [];
  const unreadable: { digest: string; error: string; references?: readonly string[] }[] = [];
  // The references are read first: a blob is stored before its reference is recorded, so one
  // referenced now has its file in place when the listing below passes, unless it is missing.
  let referenced: Set<string> | undefined;
  let referencesError: string | undefined;
  if (options.references !== undefined) {
    try {
      referenced = (await mark(options.references.db, options.references.formats)).referenced;
    } catch (err) {
      referencesError = err instanceof Error ? err.message : String(err);
    }
  }
  const present = new Set<string>();
  for await (const object of driver.list(BLOBS_PREFIX)) {
    const name = digestFromBlobKey(object.key);
    if (name === undefined) {
      foreign += 1;
      continue;
    }
    let result;
    try {
      result = await blobs.scrub(parseDigest(name), options);
    } catch (err) {
      // One file this user may not read (or a disk error on it) must not hide the damage in
      // every blob listed after it: report it as such and go on.
      const code = errnoCode(err);
      if (code === undefined || !/^E[A-Z]+$/.test(code)) throw err;
      present.add(name);
      unreadable.push({ digest: name, error: err instanceof Error ? err.message : code });
      continue;
    }
    if (result.outcome === 'missing') continue;
    // A damaged file just removed (--remove) is missing now, as the next pass would find it:
    // left out of `present`, findMissing counts it with the rows that refer to it.
    if (!result.removed) present.add(name);
    checked += 1;
    bytes += result.size;
    if (result.outcome === 'damaged') {
      damaged.push({ digest: name, size: result.size, removed: result.removed, kept: result.kept });
    }
  }
  const missing =
    referenced === undefined || options.references === undefined
      ? undefined
      : await findMissing(driver, options.references, referenced, present);
  let inconsistencies: ConsistencyFinding[] | undefined;
  let consistencyError: string | undefined;
  if (options.references !== undefined) {
    inconsistencies = [];
    for (const format of options.references.formats) {
      try {
        inconsistencies.push(...((await format.consistency?.(options.references.db)) ?? []));
      } catch (err) {
        consistencyError = `${format.format}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  }
  if (options.references !== undefined && referencesError === undefined) {
    // The first few unreadable and damaged blobs name what refers to them (a removal line says
    // which artifacts it left without bytes), as the missing ones do.
    const first = [...unreadable.slice(0, MISSING_EXAMPLES), ...damaged.slice(0, MISSING_EXAMPLES)];
    const rows = await describeReferences(
      options.references.db,
      options.references.formats,
      first.map((blob) => blob.digest),
    );
    for (const blob of first) {
      const names = rows.get(blob.digest);
      if (names !== undefined) blob.references = names;
    }
  }
  return {
    remove: options.remove,
    checked,
    bytes,
    damaged,
    unreadable,
    foreign,
    quarantine: await quarantineSummary(driver),
    ...(missing === undefined ? {} : { missing: missing.count, missingExamples: missing.examples }),
    ...(referencesError === undefined ? {} : { referencesError }),
    ...(inconsistencies === undefined ? {} : { inconsistencies }),
    ...(consistencyError === undefined ? {} : { consistencyError }),
    seconds: (performance.now() - started) / 1000,
  };
}

/** How many missing blobs a report names, with what refers to them. */
const MISSING_EXAMPLES = 10;

/**
 * The referenced digests whose file the listing did not find and that are still absent now (one
 * stat each: a file stored meanwhile is not missing); the first few named with the rows that
 * refer to them (one statement per reference column), dropped if none does any more.
 */
async function findMissing(
  driver: StorageDriver,
  references: { db: Db; formats: readonly FormatModule[] },
  referenced: ReadonlySet<string>,
  present: ReadonlySet<string>,
): Promise<{ count: number; examples: { digest: string; references: string[] }[] }> {
  const absent: string[] = [];
  for (const digest of referenced) {
    if (present.has(digest)) continue;
    if ((await driver.stat(blobKey(parseDigest(digest)))) !== undefined) continue;
    absent.push(digest);
  }
  absent.sort();
  const first = absent.slice(0, MISSING_EXAMPLES);
  const rows = await describeReferences(references.db, references.formats, first);
  let count = absent.length;
  const examples: { digest: string; references: string[] }[] = [];
  for (const digest of first) {
    const names = rows.get(digest);
    // No row refers to it any more (deleted since the references were read): not missing.
    if (names === undefined) count -= 1;
    else examples.push({ digest, references: names });
  }
  return { count, examples };
}

/**
 * One pass on `config`'s storage. Throws VerifyCommandError for memory storage (nothing persists)
 * and when the configured database does not exist (not NORA's storage: nothing is created). The
 * database keeps the blob index in step when a damaged blob is removed.
 */
export async function runVerifyOffline(
  config: AppConfig,
  options: { remove: boolean },
): Promise<VerifyReport> {
  if (config.storage.mode === 'memory') {
    throw new VerifyCommandError(
      'storage.mode = "memory" keeps nothing between processes to verify',
    );
  }
  // An unmounted storage volume is not an empty storage: every blob would be "missing", and
  // --remove would drop them all.
  const file = await existingDatabase(
    config,
    "is this NORA's storage? (check NORA_STORAGE_PATH / [database] path)",
  ).catch((err: unknown) => {
    throw new VerifyCommandError((err as Error).message);
  });
  const driver = await createStorageDriver(config.storage);
  try {
    // Another installation's bucket: its blobs are not in this database's index.
    if (options.remove) {
      await refuseForeignLease(driver, config.storage, 'nora verify --remove').catch(
        (err: unknown) => {
          throw err instanceof BucketLeaseHeldError ? new VerifyCommandError(err.message) : err;
        },
      );
    }
    const db = await openDatabase({ file, migrations: allMigrations() });
    try {
      return await verifyBlobs(driver, new BlobStore(driver, new SqlBlobIndex(db)), {
        ...options,
        references: { db, formats: FORMATS },
      });
    } finally {
      await db.destroy();
    }
  } finally {
    await driver.close();
  }
}

/** Lines describing `report` (no trailing newline on each). */
export function describeVerifyReport(report: VerifyReport): string[] {
  const lines = [
    `nora verify: ${report.checked} blobs, ${report.bytes} bytes hashed in ${report.seconds.toFixed(3)} s`,
  ];
  if (report.damaged.length === 0) {
    lines.push('no damaged blob');
  } else {
    const n = report.damaged.length;
    const damaged =
      n === 1
        ? '1 damaged blob (its bytes do not match its digest)'
        : `${n} damaged blobs (their bytes do not match their digest)`;
    lines.push(
      report.remove
        ? `${damaged}, removed (moved to quarantine/): uploads and proxy fills of the same bytes store ${n === 1 ? 'it' : 'them'} again`
        : `${damaged}; --remove removes ${n === 1 ? 'it' : 'them'} so uploads and proxy fills store ${n === 1 ? 'it' : 'them'} again`,
    );
    for (const blob of report.damaged) {
      lines.push(
        `  ${blob.digest} ${blob.size} bytes${blob.removed ? (blob.kept === undefined ? ', removed' : `, removed, kept as ${blob.kept}`) : ''}${referencedBy(blob.references)}`,
      );
    }
  }
  if (report.unreadable.length > 0) {
    const n = report.unreadable.length;
    lines.push(
      `${n} ${n === 1 ? 'blob' : 'blobs'} could not be read, so ${n === 1 ? 'it was' : 'they were'} not checked (nor removed): ${n === 1 ? 'its artifacts answer' : 'their artifacts answer'} 503 until the file can be read (fix its owner or mode)`,
    );
    for (const blob of report.unreadable) {
      lines.push(`  ${blob.digest}: ${blob.error}${referencedBy(blob.references)}`);
    }
  }
  if (report.referencesError !== undefined) {
    lines.push(
      `could not read the references, so missing blobs were not looked for: ${report.referencesError}`,
    );
  } else if (report.missing !== undefined && report.missing === 0) {
    lines.push('no referenced blob missing from storage');
  } else if (report.missing !== undefined) {
    const n = report.missing;
    lines.push(
      `${n} referenced ${n === 1 ? 'blob is' : 'blobs are'} missing from storage: hosted artifacts answer 410 until uploaded again, a proxy fetches its own again (docs/storage.md, Integrity of stored bytes)`,
    );
    for (const example of report.missingExamples ?? []) {
      lines.push(`  ${example.digest}${referencedBy(example.references)}`);
    }
    const named = report.missingExamples?.length ?? 0;
    if (n > named) lines.push(`  … and ${n - named} more`);
  }
  for (const finding of report.inconsistencies ?? []) {
    lines.push(finding.summary);
    for (const example of finding.examples) lines.push(`  ${example}`);
    if (finding.count > finding.examples.length) {
      lines.push(`  … and ${finding.count - finding.examples.length} more`);
    }
  }
  if (report.consistencyError !== undefined) {
    lines.push(`could not check the metadata's consistency: ${report.consistencyError}`);
  }
  if (report.foreign > 0) {
    lines.push(`${report.foreign} files under blobs/ are not named by a digest (left alone)`);
  }
  const quarantine =
    report.quarantine === undefined ? undefined : describeQuarantine(report.quarantine);
  if (quarantine !== undefined) lines.push(quarantine);
  return lines;
}

/** `, referenced by raw_files repo=… path=…; …` for a report line, '' when none is known. */
function referencedBy(references: readonly string[] | undefined): string {
  return references === undefined ? '' : `, referenced by ${references.join('; ')}`;
}
