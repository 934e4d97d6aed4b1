/**
 * Incomplete S3 multipart uploads left by a crash (a `kill -9` mid-upload): S3 keeps, and bills,
 * their parts forever. NORA's own, under `blobs/`, begun longer ago than STALE_UPLOAD_SECONDS (no
 * upload of NORA's takes that long) are aborted at start and then on a timer while serving
 * (unref'd: it never keeps the process alive), at most STALE_UPLOADS_PER_PASS per pass so one
 * pass stays short; the rest wait for the next. Best effort: a store refusing the list (no
 * s3:ListBucketMultipartUploads) is a warning, never a failed start or a crash.
 */
import { type PeriodicPass, startEveryInterval } from '../core/periodic-pass.ts';
import type { StorageDriver, StorageKey } from './driver.ts';

/** Multipart uploads begun longer ago than this (seconds) are a crash's. */
export const STALE_UPLOAD_SECONDS = 24 * 3600;
/** Seconds between the passes of a running server. */
export const STALE_UPLOAD_PASS_SECONDS = 3600;
/** Uploads aborted per pass, at most. */
export const STALE_UPLOADS_PER_PASS = 1000;

/** One pass over `prefix`: aborts the stale uploads (bounded), reports through `warn`. */
export async function abortStaleUploadsOnce(
  driver: StorageDriver,
  prefix: StorageKey,
  warn: (message: string) => void,
  now = Date.now(),
): Promise<number> {
  const before = new Date(now - STALE_UPLOAD_SECONDS * 1000);
  return (
    (await driver.abortStaleUploads?.(prefix, before, STALE_UPLOADS_PER_PASS).then(
      (count) => {
        if (count > 0) {
          warn(
            `aborted ${count} incomplete multipart upload(s) older than 24 h in the S3 bucket (left by a crash mid-upload)`,
          );
        }
        return count;
      },
      (err: unknown) => {
        warn(
          `could not list the S3 bucket's incomplete multipart uploads: ${(err as Error).message}`,
        );
        return 0;
      },
    )) ?? 0
  );
}

/**
 * The running server's passes after the start's own: every `intervalSeconds` (default
 * STALE_UPLOAD_PASS_SECONDS), never two at once. `stop()` at close.
 */
export function sweepStaleUploads(
  driver: StorageDriver,
  prefix: StorageKey,
  warn: (message: string) => void,
  intervalSeconds = STALE_UPLOAD_PASS_SECONDS,
): PeriodicPass {
  return startEveryInterval(intervalSeconds, () => abortStaleUploadsOnce(driver, prefix, warn));
}
