/**
 * What `nora backup` writes and `nora restore` reads: one gzip'd tar (docs/storage.md, "Backup
 * and restore"), entries in this order:
 *
 *   metadata.json                     BackupMetadata (first, small)
 *   nora.db                           a consistent snapshot of the metadata database
 *   blobs/<alg>/<xx>/<hex>            every blob the snapshot references (blobKey layout)
 *
 * Nothing else is written, and restore accepts nothing else.
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
