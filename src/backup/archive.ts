/**
 * What `nora backup` writes and `nora restore` reads: one gzip'd tar (docs/storage.md, "Backup
 * and restore"), entries in this order:
 *
 *   metadata.json                     BackupMetadata (first, small)
 *   nora.db                           a consistent snapshot of the metadata database
 *   audit.jsonl, audit.jsonl.<n>      the audit log and its rotated files, those that exist
 *                                     (`[audit] path`, whatever its name; `.1` newest)
 *   blobs/<alg>/<xx>/<hex>            every blob the snapshot references (blobKey layout)
 *
 * Nothing else is written, and restore accepts nothing else (an archive of an older build has
 * no audit entries: restored all the same).
 */
import { type Digest, tryParseDigest } from '../core/digest.ts';

/** The archive layout this build writes and reads (metadata.json `format_version`). */
export const BACKUP_FORMAT_VERSION = 1;
/** metadata.json `format`: tells a NORA backup from another tar.gz. */
export const BACKUP_FORMAT = 'nora-backup';
export const METADATA_ENTRY = 'metadata.json';
export const DATABASE_ENTRY = 'nora.db';
/** A metadata.json larger than this is no archive of ours (ours is a few hundred bytes). */
export const MAX_METADATA_BYTES = 64 * 1024;

/** metadata.json. Sizes in bytes; `created_at` ISO 8601 (UTC). */
export interface BackupMetadata {
  readonly format: typeof BACKUP_FORMAT;
  readonly format_version: number;
  readonly nora_version: string;
  readonly created_at: string;
  readonly database_bytes: number;
  readonly blobs: number;
  readonly blob_bytes: number;
  /** database_bytes + blob_bytes. */
  readonly total_bytes: number;
}

/** The entry name of a blob: the storage key's layout (keys.ts blobKey). */
export function blobEntryName(digest: Digest): string {
  return `blobs/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}`;
}

/**
 * The digest an entry name stands for, or undefined when the name is not exactly a blob entry
 * (`blobs/sha256/ab/ab…` with the full hex of its algorithm, lower case, its shard its first two
 * characters). The caller never uses the name itself as a path: it derives the key from this.
 */
export function digestOfEntryName(name: string): Digest | undefined {
  const match = /^blobs\/(sha256|sha512)\/([0-9a-f]{2})\/([0-9a-f]+)$/.exec(name);
  if (match === null) return undefined;
  const digest = tryParseDigest(`${match[1] ?? ''}:${match[3] ?? ''}`);
  if (digest === undefined || digest.hex.slice(0, 2) !== match[2]) return undefined;
  return digest;
}

/** The entry name of the audit log: its rotated files are `audit.jsonl.<n>`. */
export const AUDIT_ENTRY = 'audit.jsonl';

/** Rotated audit files a backup takes at most (`[audit] keep` is far below it in practice). */
export const MAX_AUDIT_ROTATIONS = 9_999;

/**
 * The suffix an audit entry name stands for (`''` for the log itself, `.3` for its third
 * rotated file), or undefined when the name is no audit entry. The caller appends it to the
 * configured `[audit] path`: the name itself is never used as a path.
 */
export function auditSuffixOfEntryName(name: string): string | undefined {
  const match = /^audit\.jsonl(\.[1-9][0-9]{0,3})?$/.exec(name);
  if (match === null) return undefined;
  return match[1] ?? '';
}
