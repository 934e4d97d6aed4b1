/**
 * `nora gc [--apply] [--grace <seconds>]`: one garbage-collection pass offline, on the storage
 * and database the configuration names (as `nora token` does), next to a running server or not.
 * A dry run unless `--apply`. The pass is the server's (src/gc/collector.ts).
 */
import path from 'node:path';
import { allMigrations, existingDatabase, refuseWhileMigrating } from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import { SqlBlobIndex } from '../db/blob-index.ts';
import { openDatabase } from '../db/database.ts';
import type { FormatModule } from '../formats/format.ts';
import { FORMATS } from '../formats/index.ts';
import { BlobStore } from '../storage/blob-store.ts';
import { BucketLeaseHeldError, refuseForeignLease } from '../storage/bucket-lease.ts';
import { createStorageDriver } from '../storage/drivers/index.ts';
import { collectGarbage, GcFailedError, type GcReport, storageAdvice } from './collector.ts';

/** A reason `nora gc` would not run at all (nothing was read or removed). */
export class GcCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GcCommandError';
  }
}

export interface GcCommandOptions {
  readonly apply: boolean;
  /** Seconds; default `[gc] grace` (NORA_GC_GRACE). */
  readonly graceSeconds?: number;
  readonly formats?: readonly FormatModule[];
}

/** A failure to open `what` (nothing was read or removed), with what to do about it. */
function opening(what: string, err: unknown): GcFailedError {
  const why = err instanceof Error ? err.message : String(err);
  return new GcFailedError(`could not open ${what} (${why}): ${storageAdvice(err)}`, {
    cause: err,
  });
}

/**
 * Runs one pass on `config`'s storage and database. Throws GcCommandError when there is nothing
 * it may judge (memory storage; no database, where every blob would look unreferenced), and
 * GcRefusedError (collector) when a reference cannot be read.
 */
export async function runGcOffline(
  config: AppConfig,
  options: GcCommandOptions,
): Promise<GcReport> {
  if (config.storage.mode === 'memory') {
    throw new GcCommandError(
      'storage.mode = "memory" keeps nothing between processes: enable [gc] in the server instead',
    );
  }
  // A wrong database.path would make every blob look unreferenced, and an unmounted storage
  // volume is not an empty storage: refuse rather than sweep.
  const file = await existingDatabase(
    config,
    'refusing to sweep (every blob would look unreferenced)',
  ).catch((err: unknown) => {
    throw new GcCommandError((err as Error).message);
  });
  // A sweep during `nora migrate` would remove objects the copy has listed (trial 28 newO F1).
  await refuseWhileMigrating(config.storage.path, file, 'nora gc').catch((err: unknown) => {
    throw new GcCommandError((err as Error).message);
  });
  const formats = options.formats ?? FORMATS;
  const driver = await createStorageDriver(config.storage).catch((err: unknown) => {
    throw opening(`the storage at ${path.resolve(config.storage.path)}`, err);
  });
  try {
    // Another installation's bucket: its blobs would all look unreferenced here.
    if (options.apply) {
      await refuseForeignLease(driver, config.storage, 'nora gc --apply').catch((err: unknown) => {
        throw err instanceof BucketLeaseHeldError ? new GcCommandError(err.message) : err;
      });
    }
    const db = await openDatabase({ file, migrations: allMigrations(formats) }).catch(
      (err: unknown) => {
        throw opening(`the database at ${path.resolve(file)}`, err);
      },
    );
    try {
      return await collectGarbage({
        db,
        blobs: new BlobStore(driver, new SqlBlobIndex(db)),
        formats,
        graceSeconds: options.graceSeconds ?? config.gc.grace,
        apply: options.apply,
      });
    } finally {
      await db.destroy();
    }
  } finally {
    await driver.close();
  }
}
