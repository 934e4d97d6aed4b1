/**
 * The storage driver: a dumb object store (fs | s3 | memory). It knows nothing about digests,
 * formats or repositories — the blob store and metadata store above it do. Writes are atomic:
 * an object is visible only when complete. Keys come only from `keys.ts` and are validated by
 * `GuardedDriver` before any driver sees them.
 */
import type { Readable } from 'node:stream';

export type StorageKey = string & { readonly __brand: 'StorageKey' };

export interface ObjectInfo {
  readonly key: StorageKey;
  readonly size: number;
  readonly modifiedAt: Date;
  /**
   * Which stored file this is, when the driver can tell (fs: device, inode, size, mtime and
   * ctime): the same string means the bytes were not rewritten since. The blob store keeps the
   * identity of each blob it has verified and hashes a blob again when it changes.
   */
  readonly identity?: string;
}

/**
 * A conditional write's condition: `ifNoneMatch: '*'`: only when the key does not exist;
 * `ifMatch`: only while the object's ObjectInfo.identity is this one (not rewritten since).
 */
export type WriteCondition = { readonly ifNoneMatch: '*' } | { readonly ifMatch: string };

/** A conditional write's outcome: the written object's identity, or why it was not written. */
export type ConditionalWrite = { readonly identity: string } | 'conflict' | 'unsupported';

/** StorageDriver.moveIfSame's outcome. */
export type MoveOutcome = 'moved' | 'changed' | 'absent';

export interface ReadOptions {
  /** Inclusive byte offsets. */
  readonly start?: number;
  readonly end?: number;
}

export interface WriteFileOptions {
  /** The caller has fsynced the file already (see StorageDriver.syncsSpool). */
  readonly synced?: boolean;
}

export interface StorageDriver {
  readonly name: string;
  /** undefined when absent; never throws for a missing key. */
  stat(key: StorageKey): Promise<ObjectInfo | undefined>;
  /** Throws StorageNotFoundError when absent. */
  read(key: StorageKey, options?: ReadOptions): Promise<Readable>;
  /**
   * Atomically stores a whole stream or buffer; an array is the buffer in pieces, in order (a
   * body as it arrived: written with one gathering write, never concatenated first).
   */
  write(key: StorageKey, body: Readable | Uint8Array | readonly Uint8Array[]): Promise<ObjectInfo>;
  /**
   * Atomically moves a finished local file (created under `spoolDir()`) into the store. The file
   * is consumed. fs: fsync + rename + fsync dir; object stores: upload then unlink.
   */
  writeFile(key: StorageKey, localPath: string, options?: WriteFileOptions): Promise<ObjectInfo>;
  /**
   * True when `writeFile` fsyncs the file it moves in (fs with `[storage] fsync = true`): a
   * spool writer may then fsync the file itself before closing it (write stream `flush`) and
   * pass `{ synced: true }`, sparing the driver a reopen. Absent/false: nothing to sync.
   */
  readonly syncsSpool?: boolean;
  /** Idempotent; true when something was deleted. */
  delete(key: StorageKey): Promise<boolean>;
  /**
   * Moves the object out of the store into a new local file under `spoolDir()` and returns its
   * path (undefined when absent), for a removal that may have to be undone (`writeFile` puts it
   * back; else the caller removes the file). fs: one rename on the same file system, which needs
   * no free space (`nora gc` on a full disk); the file's mtime is set to now, so a crash leaves
   * a fresh spool file that gc's spool sweep removes after its grace.
   */
  setAside(key: StorageKey): Promise<string | undefined>;
  /**
   * Moves the object at `from` to the new key `to` only while it is the object `identity` names
   * (ObjectInfo.identity, as read earlier): the blob store's removal of a damaged file, which must
   * never take a good copy written there since (an upload's retry, a proxy fill). 'moved': it was
   * that object and is now at `to`; 'changed': `from` holds another object (left in place, nothing
   * at `to`); 'absent': nothing at `from`. fs: one rename, then the moved file's identity checked
   * (put back without clobbering when it is another file); S3: CopyObject with
   * `x-amz-copy-source-if-match`, then DeleteObject with `If-Match` on the ETag (a HEAD first, for
   * stores that ignore the header). Errors: the store's (the object then left in place).
   * Absent, or 'unsupported' (a wrapper over a driver without it): the caller checks identity
   * itself before the copy and again before the delete.
   */
  moveIfSame?(
    from: StorageKey,
    to: StorageKey,
    identity: string,
  ): Promise<MoveOutcome | 'unsupported'>;
  /** Every object under a prefix, recursively. */
  list(prefix: StorageKey): AsyncIterable<ObjectInfo>;
  /**
   * Optional server-side copy (fs: hard link or copy; S3: CopyObject) so callers need not stream
   * bytes through the process. Callers fall back to read + write when absent.
   */
  copy?(from: StorageKey, to: StorageKey): Promise<ObjectInfo>;
  /** Optional time-limited direct URL (S3 presigned GET); undefined when not supported. */
  signedUrl?(key: StorageKey, expiresInSeconds: number): Promise<string | undefined>;
  /** A local directory for spool files, on the same filesystem as the store when possible. */
  spoolDir(): string;
  /** Readiness probe: throws when the backend is unreachable. */
  check(): Promise<void>;
  /**
   * Write probe (`/health`): stores a one-byte object under `prefix` the way a write does and
   * removes it; throws the store's error when it cannot (EROFS, EPERM, ENOSPC, …). The object's
   * name is one no `list` shows. Absent: writes are not probed.
   */
  probeWrite?(prefix: StorageKey): Promise<void>;
  /**
   * Opens `key` for reading and closes it, reading nothing: throws what a read would meet at
   * open (EACCES for a file this user may not read), so a HEAD answers as its GET does. Absent:
   * not checked.
   */
  probeRead?(key: StorageKey): Promise<void>;
  /**
   * Object stores: aborts the incomplete multipart uploads under `prefix` begun before `before`
   * (left by a crash, a `kill -9` mid-upload: S3 keeps and bills their parts forever). Returns how
   * many were aborted. Absent: nothing of the kind exists (fs, memory).
   */
  abortStaleUploads?(prefix: StorageKey, before: Date, limit?: number): Promise<number>;
  /**
   * Object stores with conditional writes (S3 PutObject `If-None-Match: *` / `If-Match`): writes
   * the small object `body` only when `condition` holds, atomically (the bucket lease,
   * src/storage/bucket-lease.ts). 'conflict': the condition failed (another writer was first);
   * 'unsupported': the store has no conditional writes (the caller falls back to plain writes).
   * Absent: no such stores (fs, memory).
   */
  writeIf?(key: StorageKey, body: Uint8Array, condition: WriteCondition): Promise<ConditionalWrite>;
  close(): Promise<void>;
}

export class StorageNotFoundError extends Error {
  constructor(key: string) {
    super(`storage object not found: ${key}`);
    this.name = 'StorageNotFoundError';
  }
}
