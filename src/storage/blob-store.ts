/**
 * Content-addressed blob store shared by every format and repository: bytes are stored once under
 * `blobs/<alg>/<xx>/<hex>`. Ingest streams to a spool file while hashing, verifies the expected
 * digest and size, then commits atomically — or discards. Nothing unverified is ever visible.
 * Which repository may see a blob is metadata (SQL), not this module's concern.
 */
import { randomUUID } from 'node:crypto';
import {
  close as closeCallback,
  createReadStream,
  createWriteStream,
  existsSync,
  fstat,
  open as openCallback,
  read as readCallback,
} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { finished, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, type Hash } from 'node:crypto';
import { type Digest, type DigestAlgorithm, formatDigest } from '../core/digest.ts';
import {
  hostedContentDamaged,
  hostedContentGone,
  type HostedRepairFormat,
  RegistryError,
} from '../core/errors.ts';
import { limitBytes, overLimit } from '../core/streams.ts';
import type { ObjectInfo, ReadOptions, StorageDriver, StorageKey } from './driver.ts';
import { blobKey, QUARANTINE_PREFIX, quarantineKey } from './keys.ts';
import {
  bytesOf,
  identityOf,
  lengthOf,
  localFileOf,
  tagLocalFile,
  type ReadVerifier,
} from './local-file.ts';
import { makeDirUnder } from './make-dir.ts';

/**
 * Blobs whose verified identity is kept (see BlobStore.#verified): ~190 bytes each as stored
 * (measured: the hex key ~80, the flat identity ~110), ~10 MB at most.
 */
const VERIFIED_KEEP = 50_000;

/**
 * A flat copy of `text`: an identity built by a template literal is a tree of pieces (a V8
 * cons string, ~365 bytes measured for ~55 characters) where its flat copy takes ~110.
 */
function flatCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * Local files up to this size are hashed before open() returns, not as they are sent. Found
 * while sending, a mismatch can only cut the connection: a file of ≤ 1 MiB goes out in one
 * write held back for the check, so the client gets an empty reply (curl exit 52, which Cargo
 * does not retry), and npm and pip do not retry a short body either. Checked here, it is a 503
 * in the protocol's shape, which they all retry, by when a proxy has the bytes to fetch again.
 * The cost, at a blob's first read in a process only: one more read of the file (from the page
 * cache, or the disk when cold) before the first byte, ~40 ms at 64 MiB here. Larger blobs
 * (image layers) are checked as they are sent rather than delay their first byte more.
 */
export const PRECHECK_FILE_BYTES = 64 * 1024 * 1024;
/** Read size of that check (one buffer per check). */
const PRECHECK_CHUNK_BYTES = 256 * 1024;

/**
 * A blob's bytes read whole did not hash to its digest; the damaged file has been moved out of
 * `blobs/` (kept under `quarantine/`, see DamagedBlob).
 */
export class BlobIntegrityError extends Error {
  constructor(digest: Digest) {
    super(`stored blob ${formatDigest(digest)} failed its integrity check`);
    this.name = 'BlobIntegrityError';
  }
}

/** A hosted artifact's stored bytes, as `BlobStore.hosted` reads them. */
export interface HostedBytes {
  /** The bytes (`range` inclusive); gone from a reachable storage: throws a 410 (hostedContentGone). */
  open(range?: ReadOptions): Promise<Readable>;
  /** Whether a GET would find them (a HEAD's question); throws when the storage is unreachable. */
  present(): Promise<boolean>;
}

/**
 * What became of a damaged blob's file: `removed` from `blobs/` (false: already gone, or
 * replaced by a good copy since it was read), and when removed, `kept`: the key under
 * `quarantine/` it was moved to (storage/keys.ts quarantineKey), kept as evidence for the
 * operator; undefined when it could not be kept (`keepError`: the copy's error, e.g. a full disk
 * or an S3 object over CopyObject's 5 GiB), when it was removed all the same (a damaged file
 * left in place would be refused at every read, and a proxy could never fetch it again).
 */
export interface DamagedBlob {
  readonly removed: boolean;
  readonly kept?: StorageKey | undefined;
  readonly keepError?: unknown;
}

/**
 * Told of each damaged blob found by a read: `removal` settles once its file is moved aside (or
 * was already gone or replaced), and rejects when the removal failed.
 */
export type ReadObserver = (event: { digest: Digest; removal: Promise<DamagedBlob> }) => void;

/** One whole read's check against the digest (local-file.ts ReadVerifier). */
class ReadCheck implements ReadVerifier {
  readonly #store: BlobStore;
  readonly #digest: Digest;
  readonly #identity: string | undefined;
  readonly #hash: Hash;
  #outcome: boolean | undefined;
  #removal: Promise<DamagedBlob> | undefined;

  constructor(store: BlobStore, digest: Digest, identity: string | undefined) {
    this.#store = store;
    this.#digest = digest;
    this.#identity = identity;
    this.#hash = createHash(digest.algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }

  finish(): boolean {
    if (this.#outcome !== undefined) return this.#outcome;
    this.#outcome = this.#hash.digest('hex') === this.#digest.hex;
    this.#removal = this.#store.settleRead(this.#digest, this.#identity, this.#outcome);
    return this.#outcome;
  }

  /**
   * Settles once a damaged file found by finish() is removed (or its removal failed): a read
   * refused before answering waits for it, so the upload that the 503 or 410 asks for finds the bytes
   * missing and stores them again, instead of racing the removal.
   */
  async removed(): Promise<void> {
    await this.#removal?.catch(() => undefined);
  }
}

/**
 * `stream` (a whole blob) checked as it is consumed: each chunk is passed on once the next one
 * has arrived, and the last only after the digest matched; a mismatch errors the stream
 * instead. A local file's tag is carried over with the check attached, for send-body.ts's
 * direct send (which then feeds the check itself). Destroying the result closes `stream`.
 */
function verifying(stream: Readable, digest: Digest, check: ReadCheck): Readable {
  async function* checked(): AsyncGenerator<Buffer> {
    let held: Buffer | undefined;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (held !== undefined) yield held;
      check.update(chunk);
      held = chunk;
    }
    if (!check.finish()) {
      await check.removed();
      throw new BlobIntegrityError(digest);
    }
    if (held !== undefined) yield held;
  }
  const result = Readable.from(checked(), { objectMode: false });
  result.once('close', () => stream.destroy());
  const file = localFileOf(stream);
  return file === undefined ? result : tagLocalFile(result, { ...file, verifier: check });
}

function fileSize(fd: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fstat(fd, (err, stats) => {
      if (err) reject(err);
      else resolve(stats.size);
    });
  });
}

/**
 * Feeds the first `size` bytes of `fd` to `check` (positional reads: the fd's own offset, which
 * its stream reads from, is not moved) and returns its verdict; a file shorter than `size` fails.
 */
async function hashFile(fd: number, size: number, check: ReadCheck): Promise<boolean> {
  const buffer = Buffer.allocUnsafe(Math.min(PRECHECK_CHUNK_BYTES, Math.max(size, 1)));
  let position = 0;
  while (position < size) {
    const count = await new Promise<number>((resolve, reject) => {
      readCallback(fd, buffer, 0, Math.min(buffer.length, size - position), position, (err, n) => {
        if (err) reject(err);
        else resolve(n);
      });
    });
    if (count === 0) break;
    check.update(buffer.subarray(0, count));
    position += count;
  }
  return check.finish();
}

/**
 * What `quarantine/` holds (damaged blob files moved aside, see BlobStore's #removeDamaged):
 * for `nora gc` and `nora verify`, which never remove them (the operator does: docs/storage.md).
 * One listing of that folder; errors: the driver's.
 */
export async function quarantineSummary(
  driver: StorageDriver,
): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const object of driver.list(QUARANTINE_PREFIX)) {
    files += 1;
    bytes += object.size;
  }
  return { files, bytes };
}

/**
 * The report line of a non-empty `quarantine/` (`nora gc`, `nora verify`); undefined when empty.
 */
export function describeQuarantine(summary: { files: number; bytes: number }): string | undefined {
  if (summary.files === 0) return undefined;
  const n = summary.files;
  return `quarantine/ holds ${n} damaged blob ${n === 1 ? 'file' : 'files'} (${summary.bytes} bytes) moved aside by reads or nora verify --remove, kept as evidence: compare ${n === 1 ? 'it' : 'each'} with a good copy, then delete ${n === 1 ? 'it' : 'them'} (docs/storage.md, Integrity of stored bytes)`;
}

/** Hashes a format may want besides the content address (npm shasum = sha1, Maven md5/sha1). */
export type HashName = DigestAlgorithm | 'sha1' | 'md5';

export interface IngestOptions {
  /** When given, the content must hash to it; its algorithm becomes the content address. */
  readonly expected?: Digest;
  readonly expectedSize?: number;
  /** Extra hashes to compute while streaming. */
  readonly hashes?: readonly HashName[];
  /** Fail with 413 past this many bytes. */
  readonly maxBytes?: number;
  /** The setting behind maxBytes, named in the 413 (`[raw] max_file_size`). */
  readonly limitName?: string;
  /**
   * Leave the blob-index row to the caller, who records it in its own metadata transaction
   * (raw PUT: one commit for the file row and the blob's bookkeeping).
   */
  readonly deferIndex?: boolean;
}

export interface IngestResult {
  readonly digest: Digest;
  readonly size: number;
  /** Hex of every hash computed (always includes the content address's algorithm). */
  readonly hashes: Readonly<Partial<Record<HashName, string>>>;
  /** false when identical content was already stored (dedup). */
  readonly created: boolean;
}

/** Bookkeeping of stored blobs (sizes for /health and GC); implemented over SQL. */
export interface BlobIndex {
  record(digest: string, size: number): Promise<void>;
  remove(digest: string): Promise<void>;
  /**
   * Removes the row of `digest` only if it was last recorded before `before` (epoch ms), in one
   * statement: 'kept' when it was recorded since, 'absent' when there is none. For `nora gc`;
   * without it, BlobStore.collect removes the row unconditionally.
   */
  removeIfOlder?(digest: string, before: number): Promise<'removed' | 'absent' | 'kept'>;
  /** Whether a row of `digest` exists (`nora gc`'s check after a removal; see collect). */
  has?(digest: string): Promise<boolean>;
  /**
   * When the row of `digest` was last recorded (epoch ms), undefined without one: read only, so
   * `nora gc` can still decide when the row cannot be removed (a full disk; see collect).
   */
  storedAt?(digest: string): Promise<number | undefined>;
  totalSize(): Promise<number>;
}

export interface CollectOptions {
  /**
   * Told when the index row could not be removed (`error`: the database's own), whether or not
   * the file then was: the database is full or read-only. Without it the error is not reported.
   */
  readonly rowLeft?: (error: unknown) => void;
}

/**
 * The hashes one pass over a body computes: the content address's algorithm plus any extras.
 * Shared by ingest and the proxy engine's stream-through fill.
 */
export class HashSet {
  readonly primary: DigestAlgorithm;
  readonly #hashes: Map<HashName, Hash>;

  constructor(primary: DigestAlgorithm, extra: readonly HashName[] = []) {
    this.primary = primary;
    this.#hashes = new Map(
      [...new Set<HashName>([primary, ...extra])].map((n) => [n, createHash(n)]),
    );
  }

  update(chunk: Buffer): void {
    for (const hash of this.#hashes.values()) hash.update(chunk);
  }

  /** Finishes every hash: the content digest and the hex of each hash. */
  digest(): { digest: Digest; hashes: Partial<Record<HashName, string>> } {
    const hashes = Object.fromEntries([...this.#hashes].map(([n, h]) => [n, h.digest('hex')]));
    return { digest: { algorithm: this.primary, hex: hashes[this.primary] ?? '' }, hashes };
  }
}

/**
 * Bodies announced (expectedSize) at most this big are ingested from memory: one buffered write
 * instead of a spool file.
 */
export const SMALL_INGEST_BYTES = 1024 * 1024;

/**
 * All in-memory ingests together hold at most this many announced bytes; past it, a small body
 * streams through a spool file like a large one, so memory stays bounded under any number of
 * concurrent uploads.
 */
export const SMALL_INGEST_BUDGET_BYTES = 32 * 1024 * 1024;

/**
 * How long after an ingest of some bytes a refused upload of the same bytes leaves the blob in
 * place (discardCreated), ms: the other request may be about to record a reference to it.
 */
export const DISCARD_GRACE_MS = 60_000;

/** Most contents whose latest ingest time is remembered for discardCreated. */
const INGESTS_REMEMBERED = 65_536;

export class BlobStore {
  readonly #driver: StorageDriver;
  readonly #index: BlobIndex;
  /**
   * Per content (digest hex), the times (ms) of its two latest ingests: discardCreated removes a
   * blob only when no other ingest of it came within DISCARD_GRACE_MS. Ordered by latest ingest;
   * pruned from the oldest end (see #noteIngest).
   */
  readonly #ingestedAt = new Map<string, [number, number]>();
  /** Removals started by discardCreated, per digest hex, until done. */
  readonly #discarding = new Map<string, Promise<boolean>>();
  /** Spool directories made by this store (made once: spare a mkdir per ingest and fill). */
  readonly #spoolDirs = new Set<string>();
  /** Announced bytes of the in-memory ingests running now (≤ SMALL_INGEST_BUDGET_BYTES). */
  #smallBytes = 0;
  /**
   * Per digest hex, the identity (ObjectInfo.identity) of the stored file last read whole and
   * found good: read again unchanged, it is not hashed again. At most VERIFIED_KEEP entries, the
   * oldest verified forgotten first.
   */
  readonly #verified = new Map<string, string>();
  /**
   * Per digest hex, the removal of a damaged file in flight (#removeOnce) and the identity of
   * the file it removes: concurrent readers of one damaged blob share it. Entries go when it
   * settles.
   */
  readonly #removing = new Map<
    string,
    { identity: string | undefined; removal: Promise<DamagedBlob> }
  >();
  #readObserver: ReadObserver | undefined;
  #goneObserver: ((digest: Digest) => void) | undefined;

  /** Local files up to this many bytes are checked before open() returns (see PRECHECK_FILE_BYTES). */
  readonly #precheckBytes: number;

  /** `options.precheckBytes`: PRECHECK_FILE_BYTES unless a test needs the sent-as-checked path. */
  constructor(driver: StorageDriver, index: BlobIndex, options: { precheckBytes?: number } = {}) {
    this.#driver = driver;
    this.#index = index;
    this.#precheckBytes = options.precheckBytes ?? PRECHECK_FILE_BYTES;
  }

  get driver(): StorageDriver {
    return this.#driver;
  }

  /** Size and mtime of a blob, or undefined. */
  stat(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.#driver.stat(blobKey(digest));
  }

  /**
   * Counts the blob as stored now for `nora gc`'s grace (its index row's time; the row is
   * recorded when missing, as a store would), without writing any byte: for a blob a client was
   * told exists and is about to refer to, while nothing refers to it yet (OCI: a HEAD of a layer
   * whose manifests were deleted, then the manifest PUT). Call it before looking the file up:
   * a pass removing the blob meanwhile then either keeps it or puts it back (see collect), or
   * removed it before and the look finds it gone.
   */
  async touch(digest: Digest, size: number): Promise<void> {
    await this.#index.record(formatDigest(digest), size);
  }

  /**
   * Whether a GET would find the blob's file (a HEAD's question): false when it is gone; throws
   * what its read would meet at open (EACCES: a file this user may not read, answered 503
   * "storage is unavailable (EACCES)" as its GET is). Reads no byte.
   */
  async present(digest: Digest): Promise<boolean> {
    if ((await this.stat(digest)) === undefined) return false;
    try {
      await this.#driver.probeRead?.(blobKey(digest));
    } catch (err) {
      if (err instanceof Error && err.name === 'StorageNotFoundError') return false;
      throw err;
    }
    return true;
  }

  /**
   * The reads of a HOSTED artifact's blob (every format's hosted files go through here): as
   * `open` and `present`, except that bytes gone from storage answer 410 Gone
   * (core/errors.ts hostedContentGone) rather than the 503 of a proxy's cached file, which its
   * next request fetches again: nothing refills hosted content, so a client's retries would only
   * stall the build. Bytes a whole read finds damaged (removed before this answers) answer 410
   * at once as well (hostedContentDamaged), not the 503 a proxy's damaged file gets. Storage that is itself unreachable (a volume unmounted: `check` fails) still
   * answers its 503, which a retry after the remount does serve. `format` picks the repair its
   * 410 text names (core/errors.ts HOSTED_REPAIR).
   */
  hosted(digest: Digest, format?: HostedRepairFormat): HostedBytes {
    return {
      open: async (range) => {
        try {
          return await this.open(digest, range);
        } catch (err) {
          // Damaged bytes (removed by now): 410 at once too, with what happened to them.
          if (err instanceof BlobIntegrityError) throw hostedContentDamaged(err, format);
          if (!(err instanceof Error && err.name === 'StorageNotFoundError')) throw err;
          await this.#driver.check();
          this.#goneObserver?.(digest);
          throw hostedContentGone(err, format);
        }
      },
      present: async () => {
        if (await this.present(digest)) return true;
        await this.#driver.check();
        return false;
      },
    };
  }

  /**
   * The blob's bytes, `options` an inclusive byte range. A whole read is verified against the
   * digest unless this very file (ObjectInfo.identity) was verified before in this process: a
   * small blob (read whole by the driver), a local file of at most PRECHECK_FILE_BYTES (64 MiB)
   * or a remote object (S3) of at most that size (downloaded to a spool file, see #spooled)
   * before this returns, a larger one as it is sent, the
   * last chunk held back until the digest matches (send-body.ts for files, else the stream
   * errors instead of ending). Damaged bytes are removed from the store, so the next upload or
   * proxy fill of that content writes them again, and reported (observeReads). Ranged reads are
   * not verified (a part cannot be).
   *
   * Errors: StorageNotFoundError (driver.ts) when absent; BlobIntegrityError when the bytes of a
   * blob checked before returning do not match (core/errors.ts answers both 503).
   */
  async open(digest: Digest, options?: ReadOptions): Promise<Readable> {
    const stream = await this.#driver.read(blobKey(digest), options);
    const whole =
      options === undefined || ((options.start ?? 0) === 0 && options.end === undefined);
    if (!whole) return stream;
    const identity = identityOf(stream);
    if (identity !== undefined && this.#verified.get(digest.hex) === identity) return stream;
    const check = new ReadCheck(this, digest, identity);
    const bytes = bytesOf(stream);
    if (bytes !== undefined) {
      check.update(bytes);
      if (check.finish()) return stream;
      stream.destroy();
      await check.removed();
      throw new BlobIntegrityError(digest);
    }
    const file = localFileOf(stream);
    if (file !== undefined && file.start === 0) {
      let good: boolean | undefined;
      try {
        // The driver's own fstat when it passed it on (one syscall less per first read).
        const size = file.size ?? (await fileSize(file.fd));
        if (size <= this.#precheckBytes) good = await hashFile(file.fd, size, check);
      } catch (err) {
        stream.destroy();
        throw err;
      }
      if (good === true) return stream;
      if (good === false) {
        stream.destroy();
        await check.removed();
        throw new BlobIntegrityError(digest);
      }
    }
    const length = lengthOf(stream);
    if (file === undefined && length !== undefined && length <= this.#precheckBytes) {
      return this.#spooled(stream, digest, check, length);
    }
    return verifying(stream, digest, check);
  }

  /**
   * A remote store's whole blob (`stream`, at most the precheck size) downloaded to a spool file
   * while `check` hashes it, so a damaged one is refused (BlobIntegrityError, after its removal)
   * before any byte goes out, as a local file of that size is. Memory stays one chunk per read
   * (not the blob). The good bytes are answered from that file as a local file stream (sent by
   * send-body.ts with reused buffers); the file is unlinked as soon as it is open, so no path
   * (an error, a client that goes away, the stream never read) leaves it behind: the open fd
   * keeps its bytes until the stream closes. Only a crash mid-download leaves one, which gc's
   * spool sweep removes. Errors: those of the download or of the spool (ENOSPC), the damaged
   * object left in place for a download that did not finish.
   */
  async #spooled(
    stream: Readable,
    digest: Digest,
    check: ReadCheck,
    length: number,
  ): Promise<Readable> {
    let spool: string;
    try {
      spool = await this.spoolPath('read');
    } catch (err) {
      stream.destroy();
      throw err;
    }
    let fd: number;
    let received = 0;
    try {
      await pipeline(
        stream,
        hashingTap((chunk) => {
          received += chunk.length;
          check.update(chunk);
        }),
        createWriteStream(spool, { flags: 'wx' }),
      );
      // A body cut short is a failed download, not damage: the object is not judged (or removed).
      if (received !== length) {
        throw new Error(`stored blob ${formatDigest(digest)}: read ${received} of ${length} bytes`);
      }
      fd = await new Promise<number>((resolve, reject) => {
        openCallback(spool, 'r', (err, opened) => {
          if (err) reject(err);
          else resolve(opened);
        });
      });
    } finally {
      await fs.rm(spool, { force: true });
    }
    if (!check.finish()) {
      closeCallback(fd, () => undefined);
      await check.removed();
      throw new BlobIntegrityError(digest);
    }
    let size: number;
    try {
      size = await fileSize(fd);
    } catch (err) {
      closeCallback(fd, () => undefined);
      throw err;
    }
    const body = createReadStream('', {
      fd,
      autoClose: true,
      highWaterMark: Math.max(1, Math.min(1024 * 1024, size)),
      start: 0,
    });
    return tagLocalFile(body, { fd, start: 0, end: undefined, size });
  }

  /**
   * Told of every hosted read that found its blob gone (answered 410, a status no format's
   * error handler logs): the operator's trace of it. One observer, set by the app.
   */
  observeGone(observer: (digest: Digest) => void): void {
    this.#goneObserver = observer;
  }

  /** Told of every damaged blob a read finds (metrics, the log); one observer, set by the app. */
  observeReads(observer: ReadObserver): void {
    this.#readObserver = observer;
  }

  /**
   * ReadCheck's outcome: remembered when good; when damaged, reported and moved aside (the
   * returned promise settles with the removal, as ReadObserver's `removal`).
   */
  settleRead(
    digest: Digest,
    identity: string | undefined,
    good: boolean,
  ): Promise<DamagedBlob> | undefined {
    if (good) {
      if (identity === undefined) return undefined;
      this.#verified.delete(digest.hex);
      this.#verified.set(digest.hex, flatCopy(identity));
      if (this.#verified.size > VERIFIED_KEEP) {
        const oldest = this.#verified.keys().next();
        if (oldest.done !== true) this.#verified.delete(oldest.value);
      }
      return undefined;
    }
    this.#verified.delete(digest.hex);
    const { removal, fresh } = this.#removeOnce(digest, identity);
    // Told once per removal: concurrent readers of one damaged file share it (one metric count,
    // one log line and audit event, one copy), each still waiting for it before answering.
    if (fresh) this.#readObserver?.({ digest, removal });
    return removal;
  }

  /**
   * The removal of the damaged file `identity` of `digest`: the one in flight when there is one
   * for that same file (`fresh` false), else a new one, started after any in flight for another
   * file of that digest (a copy judged damaged after it was replaced).
   */
  #removeOnce(
    digest: Digest,
    identity: string | undefined,
  ): { removal: Promise<DamagedBlob>; fresh: boolean } {
    const hex = digest.hex;
    const current = this.#removing.get(hex);
    if (current !== undefined && current.identity === identity) {
      return { removal: current.removal, fresh: false };
    }
    const before = current?.removal.catch(() => undefined);
    const removal = (before ?? Promise.resolve()).then(() => this.#removeDamaged(digest, identity));
    const entry = { identity, removal };
    this.#removing.set(hex, entry);
    const done = (): void => {
      if (this.#removing.get(hex) === entry) this.#removing.delete(hex);
    };
    removal.then(done, done);
    return { removal, fresh: true };
  }

  /**
   * Hashes the whole stored blob `digest` (streamed: one chunk in memory at a time), for `nora
   * verify`: 'good', 'damaged' (its bytes do not hash to its digest, or it is not the size its
   * identity says), or 'missing'. With `remove`, a damaged file is moved aside as a read moves it
   * (unless replaced meanwhile; `kept`: its key under `quarantine/`), so an upload or proxy fill
   * of the same bytes stores them again. A good file is remembered as verified, as after a read.
   */
  async scrub(
    digest: Digest,
    options: { remove: boolean },
  ): Promise<{
    outcome: 'good' | 'damaged' | 'missing';
    size: number;
    removed: boolean;
    kept?: StorageKey | undefined;
  }> {
    let stream: Readable;
    try {
      stream = await this.#driver.read(blobKey(digest));
    } catch (err) {
      if (err instanceof Error && err.name === 'StorageNotFoundError') {
        return { outcome: 'missing', size: 0, removed: false };
      }
      throw err;
    }
    const identity = identityOf(stream);
    const hash = createHash(digest.algorithm);
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    if (hash.digest('hex') === digest.hex) {
      void this.settleRead(digest, identity, true);
      return { outcome: 'good', size, removed: false };
    }
    this.#verified.delete(digest.hex);
    if (!options.remove) return { outcome: 'damaged', size, removed: false };
    const { removed, kept } = await this.#removeOnce(digest, identity).removal;
    return { outcome: 'damaged', size, removed, kept };
  }

  /**
   * Moves the damaged file out of `blobs/` into `quarantine/` (storage/keys.ts quarantineKey),
   * unless it was replaced since it was read (an ingest that found it missing or short wrote it
   * again, a client's retry after the 410/503): then the new file is left for its own first read
   * to check. The one place damaged bytes leave the store (every read's check and `nora verify
   * --remove`), for hosted and proxy blobs alike: one file may back both, and the bytes are the
   * evidence of what damaged them (a disk, an edit, an intruder), which a proxy's fetch again
   * would not bring back.
   *
   * Only ever the file judged damaged goes (`identity`, as read): the driver's moveIfSame moves
   * it in one step checked against that identity (fs: a rename, put back if it was another file;
   * S3: a copy and a delete both conditional on the ETag). A copy, then a delete, checked by a
   * stat before each, without it (memory driver, no identity) or when the move failed
   * (`keepError`: a full disk, an S3 object over CopyObject's 5 GiB): the blob is then removed
   * all the same, since left in place it would be refused at every read and never fetched or
   * uploaded again. The index row goes with the file, and is recorded again when an ingest put
   * the file back meanwhile (its row may have been written before this removal's).
   */
  async #removeDamaged(digest: Digest, identity: string | undefined): Promise<DamagedBlob> {
    const key = blobKey(digest);
    const target = quarantineKey(digest, new Date());
    let keepError: unknown;
    if (identity !== undefined && this.#driver.moveIfSame !== undefined) {
      try {
        const outcome = await this.#driver.moveIfSame(key, target, identity);
        if (outcome === 'moved') {
          await this.#dropRow(digest);
          return { removed: true, kept: target };
        }
        if (outcome !== 'unsupported') return { removed: false };
      } catch (err) {
        keepError = err;
      }
    }
    const same = async (): Promise<boolean> => {
      const now = await this.#driver.stat(key);
      return now !== undefined && (identity === undefined || now.identity === identity);
    };
    if (!(await same())) return { removed: false };
    let kept: StorageKey | undefined;
    if (keepError === undefined && this.#driver.copy !== undefined) {
      try {
        await this.#driver.copy(key, target);
        kept = target;
      } catch (err) {
        // Gone meanwhile (another process's removal): nothing to keep, nothing to remove.
        if (err instanceof Error && err.name === 'StorageNotFoundError') return { removed: false };
        keepError = err;
      }
    }
    if (!(await same())) {
      if (kept !== undefined) await this.#driver.delete(kept);
      return { removed: false };
    }
    const removed = await this.#driver.delete(key);
    await this.#dropRow(digest);
    return { removed, kept, keepError };
  }

  /** Removes the index row of a blob just removed; recorded again if an ingest wrote it since. */
  async #dropRow(digest: Digest): Promise<void> {
    const name = formatDigest(digest);
    await this.#index.remove(name);
    const again = await this.#driver.stat(blobKey(digest));
    if (again !== undefined) await this.#index.record(name, again.size);
  }

  /**
   * A fresh spool path for callers that assemble a blob themselves (chunked uploads, fills). The
   * folder is made again when it went missing (an operator's `rm -rf .tmp/*` on a live server):
   * one cached stat (~2 µs) per call instead of every upload failing ENOENT until a restart.
   */
  async spoolPath(prefix: string): Promise<string> {
    const spool = this.#driver.spoolDir();
    const dir = path.join(spool, prefix);
    if (!this.#spoolDirs.has(dir) || !existsSync(dir)) {
      // Under the storage directory only: never made again when it is gone (see makeDirUnder).
      await makeDirUnder(path.dirname(spool), dir);
      this.#spoolDirs.add(dir);
    }
    return path.join(dir, randomUUID());
  }

  /**
   * Streams `body` through `stages` (size limits, checks) into a fresh spool file under
   * `prefix`, hashing what is written (SHA-256): for callers that inspect a file before storing
   * it (a module zip read through with yauzl), then store exactly those bytes with commitFile,
   * with no second pass. The file is removed when the stream fails; afterwards it is the
   * caller's (commitFile consumes it; remove it otherwise). Errors: those of the stream.
   */
  async spoolHashed(
    prefix: string,
    body: Readable,
    ...stages: Transform[]
  ): Promise<{ path: string; digest: Digest; size: number }> {
    const spool = await this.spoolPath(prefix);
    const hash = createHash('sha256');
    let size = 0;
    const tap = hashingTap((chunk) => {
      size += chunk.length;
      hash.update(chunk);
    });
    try {
      await pipeline([body, ...stages, tap, createWriteStream(spool, { flags: 'wx' })]);
    } catch (err) {
      await fs.rm(spool, { force: true });
      throw err;
    }
    return { path: spool, digest: { algorithm: 'sha256', hex: hash.digest('hex') }, size };
  }

  /**
   * Streams `body` into the store, verifying `expected` when given. A body whose `expectedSize`
   * is at most SMALL_INGEST_BYTES is collected in memory and written in one step (no spool
   * file: half the file-system trips) while the in-memory ingests stay within
   * SMALL_INGEST_BUDGET_BYTES; larger, unsized or over-budget bodies stream through a spool file.
   * Either way the size limit is enforced as bytes arrive and nothing is stored unverified.
   */
  async ingest(body: Readable, options: IngestOptions = {}): Promise<IngestResult> {
    const announced = options.expectedSize;
    if (
      announced !== undefined &&
      announced <= SMALL_INGEST_BYTES &&
      this.#smallBytes + announced <= SMALL_INGEST_BUDGET_BYTES
    ) {
      this.#smallBytes += announced;
      try {
        return await this.#ingestSmall(body, announced, options);
      } finally {
        this.#smallBytes -= announced;
      }
    }
    const hashSet = new HashSet(options.expected?.algorithm ?? 'sha256', options.hashes);
    let size = 0;
    const tap = hashingTap((chunk) => {
      size += chunk.length;
      hashSet.update(chunk);
    });
    const spool = await this.spoolPath('ingest');
    let created = false;
    try {
      const stages: (Readable | Transform)[] = [body];
      if (options.maxBytes !== undefined)
        stages.push(limitBytes(options.maxBytes, 'request body', options.limitName));
      // When the driver would fsync the spool anyway, the write stream does it before closing
      // (`flush`): one thread-pool trip instead of reopen + fsync + close.
      const synced = this.#driver.syncsSpool === true;
      await pipeline([...stages, tap, createWriteStream(spool, { flags: 'wx', flush: synced })]);
      const { digest, hashes } = hashSet.digest();
      verify(digest, size, options);
      created = await this.#commit(spool, digest, size, synced, options.deferIndex === true);
      return { digest, size, hashes, created };
    } finally {
      // A created blob is the spool file moved into place: nothing is left to remove.
      if (!created) await fs.rm(spool, { force: true });
    }
  }

  /** ingest() of a body announced as `expectedSize` ≤ SMALL_INGEST_BYTES bytes. */
  async #ingestSmall(
    body: Readable,
    expectedSize: number,
    options: IngestOptions,
  ): Promise<IngestResult> {
    const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
    // Hashed as they arrive and kept as they came: the driver writes the pieces with one
    // gathering write (no concatenated copy of the body: measured, Buffer.concat and the
    // garbage collection of its copy were ~10% of a 64 KB PUT's CPU).
    const hashSet = new HashSet(options.expected?.algorithm ?? 'sha256', options.hashes);
    let size = 0;
    const chunks = await collectPieces(body, (buffer) => {
      size += buffer.length;
      if (size > limit) {
        throw new RegistryError('TOO_LARGE', overLimit('request body', limit, options.limitName));
      }
      // More than announced: refused now rather than buffered (verify() would refuse it too).
      if (size > expectedSize) throw sizeMismatch(expectedSize, size);
      hashSet.update(buffer);
    });
    const { digest, hashes } = hashSet.digest();
    verify(digest, size, options);
    await this.#noteIngest(digest.hex);
    const created = await this.#place(digest, size, options.deferIndex === true, (key) =>
      this.#driver.write(key, chunks.length === 1 ? (chunks[0] as Buffer) : chunks),
    );
    return { digest, size, hashes, created };
  }

  /**
   * Stores bytes already in memory whose digest the caller computed over exactly these bytes and
   * checked (a fill verified against its expected digest, a document hashed as received):
   * `parts` in order, `size` bytes in all, written as they are (no joined copy, no second hash).
   * The caller must not change them meanwhile. Like ingest: skipped when the blob is stored
   * already (false), the index row recorded either way.
   */
  async storeVerified(
    parts: readonly Uint8Array[],
    digest: Digest,
    size: number,
  ): Promise<boolean> {
    let total = 0;
    for (const part of parts) total += part.length;
    if (total !== size) throw sizeMismatch(size, total);
    await this.#noteIngest(digest.hex);
    return this.#place(digest, size, false, (key) => this.#driver.write(key, parts));
  }

  /**
   * Commits a spool file whose digest the caller has already computed while writing it
   * (e.g. an OCI chunked upload). The file is consumed.
   */
  async commitFile(localPath: string, digest: Digest, size: number): Promise<boolean> {
    let created = false;
    try {
      created = await this.#commit(localPath, digest, size);
      return created;
    } finally {
      if (!created) await fs.rm(localPath, { force: true });
    }
  }

  async delete(digest: Digest): Promise<boolean> {
    const deleted = await this.#driver.delete(blobKey(digest));
    await this.#index.remove(formatDigest(digest));
    return deleted;
  }

  /**
   * Removes a blob that this request's ingest created (`created: true`) and that the request then
   * refused, unless another ingest of the same bytes came within DISCARD_GRACE_MS: two uploads of
   * the same bytes can both see the blob missing and both report it created, and the one refused
   * would otherwise delete the blob the other one has just stored or is about to refer to (its
   * file then answered 500). A blob left in place is `nora gc`'s when nothing refers to it.
   * Returns true when the blob was removed.
   */
  async discardCreated(digest: Digest): Promise<boolean> {
    const hex = digest.hex;
    const times = this.#ingestedAt.get(hex);
    if (times !== undefined && Date.now() - times[1] < DISCARD_GRACE_MS) return false;
    if (this.#discarding.has(hex)) return false;
    // Decided in the same tick as marked: an ingest of these bytes from now on waits for the
    // removal before it looks the blob up (it then stores the bytes again).
    const removal = this.delete(digest).finally(() => {
      this.#discarding.delete(hex);
      // Gone: the ingests noted so far are over; a refused retry of these bytes removes its own.
      this.#ingestedAt.delete(hex);
    });
    this.#discarding.set(hex, removal);
    return removal;
  }

  /**
   * `nora gc`'s removal of a blob its mark found unreferenced and last stored before `before`
   * (epoch ms; src/gc/collector.ts). Kept (undefined) when this process noted an ingest of these
   * bytes at or after `before` (a write whose reference is not recorded yet), when the index row
   * was recorded again at or after `before` (by any process: the row's time is refreshed on
   * every store), or when the file is that recent. Otherwise the index row goes first, then the
   * file; returns the bytes freed (0: a row without a file). Ingests of these bytes that start
   * meanwhile wait for the removal and store the bytes again (#noteIngest).
   *
   * Why the row first: the row's conditional delete is the one atomic check against a store of
   * these bytes by another process (which refreshes the row); once it is gone, the row never
   * names a file that is about to disappear, and a crash between the two steps leaves only a
   * file without a row, which the next pass finds in the listing and removes by its mtime.
   *
   * Nothing here needs free space: the file is moved aside (StorageDriver.setAside), not
   * copied, and a row the database cannot remove (full, read-only) is left, the file going all
   * the same (`options.rowLeft` is told). Errors: the driver's and the database's reads.
   */
  collect(
    digest: Digest,
    before: number,
    options: CollectOptions = {},
  ): Promise<number | undefined> {
    const hex = digest.hex;
    const times = this.#ingestedAt.get(hex);
    if (times !== undefined && times[0] >= before) return Promise.resolve(undefined);
    if (this.#discarding.has(hex)) return Promise.resolve(undefined);
    // Marked in the same tick as decided, like discardCreated.
    const removal = this.#collect(digest, before, options).finally(() => {
      this.#discarding.delete(hex);
    });
    // A failed removal is the caller's error (returned below); the ingests waiting on it go on.
    this.#discarding.set(
      hex,
      removal.then(
        (freed) => freed !== undefined,
        () => false,
      ),
    );
    return removal;
  }

  async #collect(
    digest: Digest,
    before: number,
    options: CollectOptions,
  ): Promise<number | undefined> {
    const key = blobKey(digest);
    const name = formatDigest(digest);
    let outcome: 'removed' | 'absent' | 'kept';
    /**
     * The row could not be removed (SQLite with no room for its journal on a full disk, or a
     * read-only database): the file is removed all the same, the row's time standing in for
     * its conditional delete (read before and after the file is set aside, below). The row
     * left names no file, which no read or store minds; the next pass removes it.
     */
    let rowLeft = false;
    if (this.#index.removeIfOlder !== undefined) {
      try {
        outcome = await this.#index.removeIfOlder(name, before);
      } catch (err) {
        if (this.#index.storedAt === undefined) throw err;
        const at = await this.#index.storedAt(name);
        options.rowLeft?.(err);
        rowLeft = at !== undefined;
        outcome = at === undefined ? 'absent' : at >= before ? 'kept' : 'removed';
      }
    } else {
      await this.#index.remove(name);
      outcome = 'removed';
    }
    if (outcome === 'kept') return undefined;
    const gone = outcome === 'removed' && !rowLeft ? 0 : undefined;
    const info = await this.#driver.stat(key);
    if (info === undefined) return gone;
    // Written since the mark (a file whose row is recorded with its reference, raw PUT): kept.
    if (info.modifiedAt.getTime() >= before) return undefined;
    if (this.#index.has === undefined && !rowLeft) {
      await this.#driver.delete(key);
      return info.size;
    }
    // A store of these bytes in another process (a server next to `nora gc`) may have found the
    // file in place just before the row went, and be about to record its reference: the file is
    // set aside (moved, not copied: no space needed, so this works on a full disk), then removed
    // unless the row was recorded again meanwhile, when it is put back (#place records first,
    // then looks the file up again: one of the two sees the other).
    const held = await this.#driver.setAside(key);
    if (held === undefined) return gone;
    const storedAgain = rowLeft
      ? ((await this.#index.storedAt?.(name)) ?? before) >= before
      : await this.#index.has?.(name);
    if (storedAgain !== true) {
      await fs.rm(held, { force: true });
      return info.size;
    }
    if ((await this.#driver.stat(key)) !== undefined) {
      await fs.rm(held, { force: true });
      return undefined;
    }
    try {
      await this.#driver.writeFile(key, held);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(
        `could not put ${name} back after a store recorded it again (${why}); its bytes are in ${held}: move that file to ${key} under the storage directory`,
        { cause: err },
      );
    }
    return undefined;
  }

  /**
   * Notes an ingest of `hex` before its blob is looked up (a commit in flight counts); waits
   * for a removal of that blob that discardCreated has started.
   */
  async #noteIngest(hex: string): Promise<void> {
    const removal = this.#discarding.get(hex);
    if (removal !== undefined) await removal.catch(() => false);
    const now = Date.now();
    const times = this.#ingestedAt.get(hex);
    // [latest, the one before]: a single recent ingest (the refused request's own) is [now, 0].
    // Deleted and set again, so the map stays ordered by latest ingest, oldest first.
    this.#ingestedAt.delete(hex);
    this.#ingestedAt.set(hex, [now, times?.[0] ?? 0]);
    // Pruned from the oldest end: entries past the grace period, then (a burst of distinct
    // uploads) the oldest past INGESTS_REMEMBERED. O(1) per ingest on average: a scan of the
    // whole map on every ingest cost raw PUTs a third of their rate.
    for (const [key, [latest]] of this.#ingestedAt) {
      if (now - latest < DISCARD_GRACE_MS && this.#ingestedAt.size <= INGESTS_REMEMBERED) break;
      this.#ingestedAt.delete(key);
    }
  }

  totalSize(): Promise<number> {
    return this.#index.totalSize();
  }

  async #commit(
    localPath: string,
    digest: Digest,
    size: number,
    synced = false,
    deferIndex = false,
  ): Promise<boolean> {
    await this.#noteIngest(digest.hex);
    return this.#place(digest, size, deferIndex, (key) =>
      this.#driver.writeFile(key, localPath, { synced }),
    );
  }

  /**
   * Puts verified bytes at their address unless they are there already, intact (dedup; false;
   * a damaged copy in place is replaced, still false: it was not created), and
   * records the index row (unless `deferIndex` and the bytes were written: the caller records it
   * with its metadata). Bytes found in place are recorded at once, then looked up again: a
   * `nora gc` in another process may have found that old blob unreferenced (this write's
   * reference is not recorded yet) and be removing it; its removal either sees the refreshed
   * row and keeps the blob (or puts it back, see #collect), or removed it before the row was
   * recorded, and the second look finds it gone and writes it again.
   */
  async #place(
    digest: Digest,
    size: number,
    deferIndex: boolean,
    write: (key: StorageKey) => Promise<unknown>,
  ): Promise<boolean> {
    const key = blobKey(digest);
    const name = formatDigest(digest);
    const existing = await this.#driver.stat(key);
    if (existing?.size !== size) {
      await write(key);
      if (!deferIndex) await this.#index.record(name, size);
      return true;
    }
    await this.#index.record(name, size);
    const inPlace = await this.#driver.stat(key);
    if (inPlace?.size !== size) {
      await write(key);
      return true;
    }
    if (await this.#intact(digest, inPlace)) return false;
    // The copy in place is damaged and no read has noticed yet: the verified bytes in hand
    // replace it (an atomic rename over it), so this upload's 201 is readable (trial 15 F8).
    await write(key);
    return false;
  }

  /**
   * Whether the file in place for `digest` (stat `inPlace`) holds its bytes: known good when its
   * identity is the one last verified, else hashed whole (streamed, `scrub`). A dedup pays this
   * read only for a copy no read has verified in this process; a good copy is never rewritten,
   * so concurrent stores of the same bytes do not replace each other's file.
   */
  async #intact(digest: Digest, inPlace: ObjectInfo): Promise<boolean> {
    if (inPlace.identity !== undefined && this.#verified.get(digest.hex) === inPlace.identity) {
      return true;
    }
    return (await this.scrub(digest, { remove: false })).outcome === 'good';
  }
}

function verify(actual: Digest, size: number, options: IngestOptions): void {
  const { expected, expectedSize } = options;
  if (expectedSize !== undefined && expectedSize !== size) throw sizeMismatch(expectedSize, size);
  if (expected && expected.hex !== actual.hex) {
    throw new RegistryError(
      'DIGEST_INVALID',
      `digest mismatch: expected ${formatDigest(expected)}, got ${formatDigest(actual)}`,
      { protocolCode: 'DIGEST_INVALID' },
    );
  }
}

/**
 * Reads `body` to its end and returns its pieces (Buffers, in order), showing `see` each one as it
 * arrives (hashing, limits). What `for await` over the stream did, with 'data' events and one
 * promise instead of an async iterator (its per-chunk promises and state machine were ~3% of a
 * 1 KB PUT's main thread, perf 2026-12-06). Settles as the loop did: rejects with the stream's
 * error, with ERR_STREAM_PREMATURE_CLOSE when it closes before its end (a client gone mid-body),
 * or with what `see` throws, after destroying the stream (as the loop's early exit did).
 */
function collectPieces(body: Readable, see: (chunk: Buffer) => void): Promise<Buffer[]> {
  return new Promise<Buffer[]>((resolve, reject) => {
    const pieces: Buffer[] = [];
    let settled = false;
    const onData = (chunk: Buffer | string): void => {
      if (settled) return;
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      try {
        see(buffer);
      } catch (err) {
        settled = true;
        body.off('data', onData);
        cleanup();
        body.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      pieces.push(buffer);
    };
    // `finished` covers a stream that ended or failed before this call, an error and a close
    // without an end; the 'data' listener starts the flow.
    const cleanup = finished(body, (err) => {
      cleanup();
      if (settled) return;
      settled = true;
      body.off('data', onData);
      if (err) reject(err);
      else resolve(pieces);
    });
    body.on('data', onData);
  });
}

/** A pass-through stage that shows `see` every chunk on its way (hashing and counting a body). */
function hashingTap(see: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      see(chunk);
      callback(null, chunk);
    },
  });
}

function sizeMismatch(expected: number, got: number): RegistryError {
  return new RegistryError('SIZE_INVALID', `size mismatch: expected ${expected}, got ${got}`, {
    protocolCode: 'SIZE_INVALID',
  });
}
