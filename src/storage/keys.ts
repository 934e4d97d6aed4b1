/**
 * THE ONLY place storage keys are built, and where key validity is defined.
 *
 * Layout of the object store:
 *
 *   blobs/<algorithm>/<first 2 hex>/<hex>     content-addressed bytes of every format
 *   quarantine/<algorithm>/<hex>.<UTC time>   a blob's file a read (or `nora verify --remove`)
 *                                             found damaged, moved aside as evidence
 *
 * Everything else (which repository sees which blob, tags, packages, versions, upload sessions)
 * is metadata in SQL. Spool files live outside the key space (driver.spoolDir()).
 */
import type { Digest } from '../core/digest.ts';
import { RegistryError } from '../core/errors.ts';
import type { StorageKey } from './driver.ts';

export const MAX_KEY_LENGTH = 1024;
const SEGMENT = /^[A-Za-z0-9_@+=,~-][A-Za-z0-9._@+=,~-]*$/;

/**
 * A blob's key as blobKey builds it: every segment passes SEGMENT, so one test accepts it (a PUT
 * validates its blob key three times: built, stated, written; ~1% of a 1 KB PUT's main thread
 * went to splitting and testing segments).
 */
const BLOB_KEY = /^blobs\/sha(?:256|512)\/[0-9a-f]{2}\/[0-9a-f]{64,128}$/;

/** Validates a key: relative, no `.`/`..` segments, no NUL or backslash, bounded length. */
export function validateKey(key: string): StorageKey {
  if (BLOB_KEY.test(key)) return key as StorageKey;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw invalidKey(key, 'bad length');
  if (key.startsWith('/') || key.endsWith('/')) throw invalidKey(key, 'must be relative');
  for (const segment of key.split('/')) {
    if (segment === '.' || segment === '..' || !SEGMENT.test(segment)) {
      throw invalidKey(key, 'bad segment');
    }
  }
  return key as StorageKey;
}

/** A prefix for listing: like a key, but may end with `/`. */
export function validatePrefix(prefix: string): StorageKey {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  validateKey(trimmed);
  return prefix as StorageKey;
}

export function blobKey(digest: Digest): StorageKey {
  return validateKey(`blobs/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}`);
}

export const BLOBS_PREFIX = 'blobs/' as StorageKey;

/**
 * Where damaged blob files are kept (BlobStore's read check, `nora verify --remove`): outside
 * `blobs/`, so no read, `nora gc` sweep or `nora verify` pass takes them for blobs; removed only
 * by the operator (docs/storage.md, "Integrity of stored bytes").
 */
export const QUARANTINE_PREFIX = 'quarantine/' as StorageKey;

/**
 * The key a damaged file of `digest` is kept under, found at `at`:
 * `quarantine/sha256/<hex>.20261206T104832123Z` (UTC, to the millisecond: a blob damaged again
 * after a repair gets a second file, never overwrites the first).
 */
export function quarantineKey(digest: Digest, at: Date): StorageKey {
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  return validateKey(`quarantine/${digest.algorithm}/${digest.hex}.${stamp}`);
}

/** Inverse of blobKey, for GC sweeps over `list(BLOBS_PREFIX)`. */
export function digestFromBlobKey(key: string): string | undefined {
  const match = /^blobs\/(sha256|sha512)\/[a-f0-9]{2}\/([a-f0-9]+)$/.exec(key);
  return match ? `${match[1] ?? ''}:${match[2] ?? ''}` : undefined;
}

function invalidKey(key: string, why: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `invalid storage key (${why})`, {
    detail: { key: key.slice(0, 200) },
  });
}
