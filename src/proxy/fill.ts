/**
 * Stream-through cache fill. One upstream body is written to a spool file while it is hashed;
 * every client (the first one included) reads the growing fill, so
 * - a slow or disconnected client never stalls or aborts the fill (the write outlives it),
 * - received bytes go into reused 1 MiB slabs (see SlabPool), one spool write per slab; a client
 *   that keeps up is handed views of the newest received chunks (the last ~1 MiB), one a little
 *   behind copies from the slabs still in memory (the last ~8 MiB), others read the spool file:
 *   no read back from disk on the common path,
 * - any number of concurrent clients cost one upstream GET,
 * - only verified bytes are committed to the blob store (digest + size checked first), and a
 *   crash mid-fill leaves only a spool file under `<spool>/ingest`, wiped at start.
 * Readers use positional reads on the fill's own file handle, which stays valid after the commit
 * renames (or uploads and unlinks) the spool file.
 *
 * A body announced at most SMALL_INGEST_BYTES long (most `.crate`s, wheels, jars, small layers)
 * skips the spool file: its chunks are kept as they came, readers are handed views of them, and
 * once verified it is committed as those chunks (BlobStore.storeVerified: one O_DSYNC writev and
 * a rename, no joined copy, no second hash). That saves the spool's open/write/close, the
 * reopen + fsync + close and the stat of a file commit, and the slab copy: five thread-pool
 * trips fewer per fill. Memory: the body's
 * own bytes, while its readers last (the slab path holds a whole 1 MiB slab for it instead).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type Digest, formatDigest } from '../core/digest.ts';
import { RegistryError } from '../core/errors.ts';
import {
  answeredAbsent,
  isTransportFailure,
  toUpstreamError,
  type UpstreamResponse,
} from './upstream-client.ts';
import {
  type BlobStore,
  type HashName,
  HashSet,
  type IngestOptions,
  SMALL_INGEST_BYTES,
} from '../storage/blob-store.ts';

export interface FillSource {
  /** The upstream bytes. Its chunks are handed to readers as they are: it must not reuse them. */
  readonly body: Readable;
  /** Announced length (Content-Length), when known. */
  readonly size: number | undefined;
  /** The upstream's label (no host) for messages, e.g. `raw-proxy/0`. Default: "the upstream". */
  readonly label?: string | undefined;
}

/**
 * An upstream's answer to a GET of an immutable file, as a fill's source: undefined (the body
 * dropped) for a status in `absent`, the body with its announced length for a 200; any other
 * status is the upstream's failure (`upstream <label> answered <status> for <what>`).
 */
export function fillSourceOf(
  response: UpstreamResponse,
  label: string,
  what: string,
  absent: readonly number[],
): FillSource | undefined {
  if (answeredAbsent(response, label, what, absent)) return undefined;
  const length = Number(response.header('content-length'));
  return {
    body: response.body,
    size: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
    label,
  };
}

/** Same options as a blob store ingest (expected digest/size, extra hashes, byte cap), plus: */
export interface FillOptions extends IngestOptions {
  /**
   * A check of its own, run once every byte is received, hashed and matched against `expected`
   * and the size, before the fill counts as verified (readers finish, the commit starts); a
   * rejection fails the fill (nothing committed, readers get the error). `chunks`: the whole
   * body as received, when the fill still holds all of it (always for one of ≤ 1 MiB), for a
   * caller that keeps it (not to be changed). `ends`: the body's first and last bytes, whatever
   * its size (BodyEnds). Maven: the upstream's `.sha1` against the computed sha1, so its bytes
   * are hashed once, here; an archive no checksum verifies must have a zip end record.
   * `hashOf(name)`: the hex of a hash over the whole body, the one computed while it arrived when
   * `hashes` named it, else computed now over the body held (memory, or the spool file once
   * written): for a checksum needed only sometimes (Maven's `.sha512` when an upstream publishes
   * no `.sha1` nor `.sha256`), so it is not computed over every body.
   */
  readonly verify?: (
    result: FillResult,
    chunks: readonly Buffer[] | undefined,
    ends: BodyEnds,
    hashOf: (name: HashName) => Promise<string>,
  ) => Promise<void>;
  /** How long a body of at most HELD_WHOLE_BYTES is held back whole (default HELD_WHOLE_MS). */
  readonly heldWholeMs?: number;
}

/**
 * A received body's ends, for a verify step that judges a body it may no longer hold whole: no
 * extra copy of the body is made while it streams (the first FILL_HEAD_BYTES are kept aside; the
 * last bytes are the newest chunks the fill holds for its readers anyway, at least
 * FILL_TAIL_BYTES of them).
 */
export interface BodyEnds {
  /** The first min(size, FILL_HEAD_BYTES) bytes. */
  readonly head: Buffer;
  /** The last min(size, bytes) bytes, a copy; throws RangeError for bytes > FILL_TAIL_BYTES. */
  tail(bytes: number): Buffer;
}

/**
 * How many of a body's first bytes BodyEnds.head holds: enough for a zip's launch-script prefix
 * and the entry after it (Maven's archive check, formats/maven/zip-end.ts ZIP_PREFIX_SCAN), a
 * bounded 64 KiB kept only by a fill with a verify step, next to the RECENT_BYTES it holds anyway.
 */
export const FILL_HEAD_BYTES = 64 * 1024;

export interface FillResult {
  readonly digest: Digest;
  readonly size: number;
  readonly hashes: Readonly<Partial<Record<HashName, string>>>;
}

export interface ReadRange {
  /** Inclusive byte offsets. */
  readonly start?: number;
  readonly end?: number;
}

/** The hex `name` hash of `chunks`, in order. */
function hashOfChunks(chunks: readonly Buffer[], name: HashName): string {
  const hash = createHash(name);
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** The hex `name` hash of the first `size` bytes of an open file, read positionally. */
async function hashOfFile(handle: fs.FileHandle, size: number, name: HashName): Promise<string> {
  const hash = createHash(name);
  const buffer = Buffer.allocUnsafe(Math.min(size, READ_CHUNK));
  for (let at = 0; at < size;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - at), at);
    if (bytesRead === 0) throw new Error('spool file shrank while hashing');
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hash.digest('hex');
}

/**
 * The verdict on a body received whole, before anything is committed: `size` bytes where
 * `expectedSize` were announced, hashing to `expected` when a digest was expected.
 */
function checkReceived(
  size: number,
  expectedSize: number | undefined,
  digest: Digest,
  expected: Digest | undefined,
  label: string | undefined,
): void {
  if (expectedSize !== undefined && size < expectedSize) throw truncated(label, size, expectedSize);
  if (expectedSize !== undefined && expectedSize !== size) {
    throw new RegistryError(
      'UPSTREAM_FAILED',
      `${label === undefined ? 'the upstream' : `upstream ${label}`} sent ${size} bytes, expected ${expectedSize}`,
    );
  }
  if (expected !== undefined && expected.hex !== digest.hex) {
    throw new RegistryError(
      'UPSTREAM_FAILED',
      `upstream content does not match its digest: expected ${formatDigest(expected)}, got ${formatDigest(digest)}`,
    );
  }
}

/** `upstream <label> sent a truncated body: N of M bytes` (the reason a group's 404 names). */
function truncated(label: string | undefined, received: number, announced: number): RegistryError {
  return cutShort(label, `sent a truncated body: ${received} of ${announced} bytes`);
}

/** `upstream <label> <reason>` (`the upstream <reason>` without a label), reason in the detail. */
function cutShort(label: string | undefined, reason: string, cause?: unknown): RegistryError {
  const lead = label === undefined ? 'the upstream' : `upstream ${label}`;
  return new RegistryError('UPSTREAM_FAILED', `${lead} ${reason}`, {
    // Without a label a group's 404 names the member instead (describeFailure).
    detail: label === undefined ? { reason } : { upstream: label, reason },
    cause,
  });
}

/**
 * Why a fill failed, as its readers get it: an upstream body that broke off (connection closed
 * mid-body, no bytes within the read timeout) is the upstream's failure (502, 504 for the
 * timeout) in every format's error shape, never a 500; a local failure (the disk) stays as it is.
 * The upstream did answer, so a body cut short says so: `sent a truncated body: N of M bytes`
 * when its length was announced, else `closed the connection before the body was complete` (a
 * chunked body); never "unreachable" nor undici's error code alone.
 */
function failureOf(err: unknown, source: FillSource, received: number): Error {
  const { label } = source;
  if (isTransportFailure(err)) {
    const failure = toUpstreamError(err, label ?? 'connection');
    if (failure.code === 'UPSTREAM_TIMEOUT') return failure;
    if (isParserError(err)) return cutShort(label, 'sent a body with malformed framing', err);
    if (source.size !== undefined && received < source.size) {
      return truncated(label, received, source.size);
    }
    return cutShort(
      label,
      `closed the connection before the body was complete (${received} bytes received)`,
      err,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** A body undici could not parse (malformed chunked framing): not a body cut short. */
function isParserError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  return code.startsWith('HPE_') || (err instanceof Error && err.name === 'HTTPParserError');
}

const READ_CHUNK = 1024 * 1024;
/** Received bytes kept in memory once written, for readers that keep up with the upstream. */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Upstream reads pause while this much is waiting for the disk. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Received bytes are copied into slabs of this size; a full slab is one spool write. */
const SLAB_BYTES = 1024 * 1024;
/** Bodies up to this size reach readers only once verified, whole (see #readable)… */
const HELD_WHOLE_BYTES = 64 * 1024;
/**
 * …unless they take longer than this to arrive: then their bytes flow as they come, so a client
 * of a dripping upstream sees progress before its own read timeout (pip: 15 s without a byte).
 */
const HELD_WHOLE_MS = 5_000;
/** The newest received chunks kept as they came, for readers that keep up (see #recent). */
const RECENT_BYTES = 1024 * 1024;
/** How many of a body's last bytes BodyEnds.tail may give: what #recent holds at least. */
export const FILL_TAIL_BYTES = RECENT_BYTES;

/**
 * Reused slabs for received bytes. Why not keep the received chunks themselves: each is its own
 * 64 KiB buffer, and those that wait in the window or the write queue live long enough to be
 * promoted to V8's old space, where only a major GC frees them, and major GCs cost CPU on the
 * cores the client and the upstream need. Copied into reused slabs, the chunks die young, for
 * ~10 ms of copying per 100 MB: NORA's CPU per cold 100 MB pull went from a median of 0.53 s to
 * 0.48 s. A reader served from a slab gets a copy, since the slab is reused once written.
 */
class SlabPool {
  readonly #free: Buffer[] = [];
  /** Idle slabs kept; more are allocated while many fills run at once. */
  readonly #keep = 32;

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
  }

  give(slab: Buffer): void {
    if (this.#free.length < this.#keep) this.#free.push(slab);
  }
}

const slabPool = new SlabPool();

/** Received bytes at file offsets [start, start + filled). */
interface Slab {
  readonly buffer: Buffer;
  readonly start: number;
  filled: number;
}

export class BlobFill {
  /** Announced size (upstream Content-Length or expected size), when known. */
  readonly size: number | undefined;
  /** When the fill started, epoch ms (what its readers give as the bytes' stored time). */
  readonly startedAt = Date.now();
  /** Settles when the blob is committed (or the fill failed). Never rejects unhandled. */
  readonly done: Promise<FillResult>;
  /** The spool file; undefined for a fill held in memory (see the module comment). */
  readonly #handle: fs.FileHandle | undefined;
  readonly #spool: string | undefined;
  /**
   * A fill held in memory: every received chunk, in order (#received bytes in all). Emptied once
   * the fill is over and no reader is left.
   */
  #chunks: Buffer[] | undefined;
  /** Bytes on disk in the spool file. */
  #written = 0;
  /** Bytes received and hashed (≥ #written); readers may be served up to here. */
  #received = 0;
  /**
   * Slabs holding offsets #windowStart to #received, oldest first; everything before is on disk.
   * The last one may be partly filled.
   */
  #window: Slab[] = [];
  #windowStart = 0;
  /**
   * The newest received chunks themselves, covering offsets #recentStart to #received. A reader
   * that keeps up (the usual first client) is handed views of these instead of copies from the
   * slabs: the chunks are never reused, and they die young either way. Halves the bytes a cold
   * pull allocates outside V8's heap, which V8 counts against the old generation's headroom
   * (see growHeapForStreaming in src/server.ts).
   */
  #recent: Buffer[] = [];
  #recentStart = 0;
  /**
   * The body's first FILL_HEAD_BYTES, copied once each, for a fill with a verify step only (a
   * spool fill's; a memory fill holds every chunk): other fills keep no head.
   */
  #head: Buffer[] = [];
  #headBytes = 0;
  #state: 'running' | 'verified' | 'committed' | 'failed' = 'running';
  #error: Error | undefined;
  #readers = 0;
  #waiters: (() => void)[] = [];
  /** Until when (epoch ms) a small body is held back whole (see #readable). */
  #heldUntil = 0;

  private constructor(
    handle: fs.FileHandle | undefined,
    spool: string | undefined,
    size: number | undefined,
    run: (fill: BlobFill) => Promise<FillResult>,
  ) {
    this.#handle = handle;
    this.#spool = spool;
    this.#chunks = handle === undefined ? [] : undefined;
    this.size = size;
    this.done = run(this);
    this.done.catch(() => undefined);
  }

  /** Starts filling from `source` at once; returns as soon as readers can attach. */
  static async start(
    blobs: BlobStore,
    source: FillSource,
    options: FillOptions = {},
  ): Promise<BlobFill> {
    const announced = options.expectedSize ?? source.size;
    const heldWholeMs = options.heldWholeMs ?? HELD_WHOLE_MS;
    if (announced !== undefined && announced <= SMALL_INGEST_BYTES) {
      const fill = new BlobFill(undefined, undefined, announced, (started) =>
        started.#runInMemory(blobs, source, options, announced),
      );
      fill.#heldUntil = fill.startedAt + heldWholeMs;
      return fill;
    }
    const spool = await blobs.spoolPath('ingest');
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(spool, 'wx+');
    } catch (err) {
      source.body.destroy();
      throw err;
    }
    const size = options.expectedSize ?? source.size;
    const fill = new BlobFill(handle, spool, size, (started) =>
      started.#run(blobs, source, options),
    );
    fill.#heldUntil = fill.startedAt + heldWholeMs;
    return fill;
  }

  get state(): 'running' | 'verified' | 'committed' | 'failed' {
    return this.#state;
  }

  /** Bytes received from the upstream so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * A stream of the blob's bytes (or a range), following the fill as it grows. Destroying it
   * (client gone) only detaches this reader; the fill goes on.
   */
  reader(range: ReadRange = {}): Readable {
    this.#readers += 1;
    let position = range.start ?? 0;
    const end = range.end;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#readers -= 1;
      void this.#closeIfIdle();
    };
    const next = async (): Promise<Buffer | null> => {
      for (;;) {
        // A failed fill closes its spool file: report its error, never a read on a closed fd.
        if (this.#state === 'failed') throw this.#error ?? new Error('fill failed');
        const limit = this.#readable(end);
        if (position < limit) {
          const chunks = this.#chunks;
          if (chunks !== undefined) {
            const view = fromChunks(chunks, position, limit);
            position += view.length;
            return view;
          }
          const inMemory = this.#fromRecent(position, limit) ?? this.#fromWindow(position, limit);
          if (inMemory !== undefined) {
            position += inMemory.length;
            return inMemory;
          }
          const length = Math.min(limit - position, READ_CHUNK);
          const handle = this.#handle;
          // A memory fill that is over and was let go: its bytes are in the store now.
          if (handle === undefined) throw new Error('fill is over: read the blob store');
          const buffer = Buffer.allocUnsafe(length);
          const { bytesRead } = await handle.read(buffer, 0, length, position);
          if (bytesRead === 0) throw new Error('spool file shrank while reading');
          position += bytesRead;
          return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
        }
        if (end !== undefined && position > end) return null;
        // Verified bytes are final: readers need not wait for the commit's fsync.
        if (this.#state === 'verified' || this.#state === 'committed') return null;
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    };
    return new Readable({
      highWaterMark: READ_CHUNK,
      read() {
        next().then(
          (chunk) => this.push(chunk),
          (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      },
      destroy(err, callback) {
        release();
        callback(err);
      },
    });
  }

  /**
   * How far a reader whose range ends at `end` (inclusive; undefined: the whole blob) may read
   * now. Until the fill is verified a reader never gets its last byte, so an upstream body that
   * fails its digest or size check never reaches a client whole: it gets the protocol's error
   * when nothing was sent yet, else a connection cut short of its Content-Length (DESIGN.md §4:
   * digests are verified before anything counts). While no more than HELD_WHOLE_BYTES have
   * arrived, for up to HELD_WHOLE_MS, nothing is sent: a small file's answer is the verdict,
   * sent in one piece. Beyond either, bytes flow as they arrive, so a slow upstream never starves
   * a client into its read timeout (pip gives up after 15 s without a byte); a body that then
   * fails its check is a connection cut short, as for a large one.
   */
  #readable(end: number | undefined): number {
    const stop = end === undefined ? this.#received : Math.min(this.#received, end + 1);
    if (this.#state !== 'running') return stop;
    if (this.#received <= HELD_WHOLE_BYTES && Date.now() < this.#heldUntil) return 0;
    return stop - 1;
  }

  async #run(blobs: BlobStore, source: FillSource, options: FillOptions): Promise<FillResult> {
    const spool = this.#spool as string; // a spool fill (start)
    const hashes = new HashSet(options.expected?.algorithm ?? 'sha256', options.hashes);
    let flushed: Promise<void> | undefined;
    try {
      ({ flushed } = await this.#receive(
        source.body,
        hashes,
        options.maxBytes,
        options.verify !== undefined,
      ));
      const { digest, hashes: hex } = hashes.digest();
      const size = this.#received;
      checkReceived(
        size,
        options.expectedSize ?? source.size,
        digest,
        options.expected,
        source.label,
      );
      if (options.verify !== undefined) {
        const handle = this.#handle as fs.FileHandle;
        await options.verify(
          { digest, size, hashes: hex },
          this.#recentStart === 0 ? this.#recent : undefined,
          bodyEnds(this.#recentStart === 0 ? this.#recent : this.#head, this.#recent),
          async (name) => {
            const known = hex[name];
            if (known !== undefined) return known;
            await flushed;
            return hashOfFile(handle, size, name);
          },
        );
      }
      // Readers finish now, from memory: the spool writes still in flight only matter to the
      // commit, which makes the file durable (fsync + rename).
      this.#settle('verified');
      await flushed;
      await blobs.commitFile(spool, digest, size);
      this.#settle('committed');
      return { digest, size, hashes: hex };
    } catch (err) {
      const error = this.#fail(err, source);
      await flushed?.catch(() => undefined);
      await fs.rm(spool, { force: true });
      throw error;
    } finally {
      await this.#closeIfIdle();
    }
  }

  /**
   * A fill of at most SMALL_INGEST_BYTES announced bytes, held in memory (see the module
   * comment): received and hashed, verified (size and digest) before anything is stored, then
   * committed as the very chunks that were hashed (never handed out for writing: readers get
   * views).
   */
  async #runInMemory(
    blobs: BlobStore,
    source: FillSource,
    options: FillOptions,
    announced: number,
  ): Promise<FillResult> {
    const hashes = new HashSet(options.expected?.algorithm ?? 'sha256', options.hashes);
    const chunks = this.#chunks ?? [];
    try {
      for await (const chunk of source.body as AsyncIterable<Buffer>) {
        const total = this.#received + chunk.length;
        if (options.maxBytes !== undefined && total > options.maxBytes) {
          throw new RegistryError(
            'UPSTREAM_FAILED',
            `upstream content exceeds the limit of ${options.maxBytes} bytes`,
          );
        }
        // Never hold more than announced: the rest could be any length.
        if (total > announced) {
          throw new RegistryError(
            'UPSTREAM_FAILED',
            `upstream sent more than the ${announced} bytes announced`,
          );
        }
        hashes.update(chunk);
        chunks.push(chunk);
        this.#received = total;
        this.#wake();
      }
      const { digest, hashes: hex } = hashes.digest();
      const size = this.#received;
      checkReceived(size, announced, digest, options.expected, source.label);
      if (options.verify !== undefined) {
        await options.verify(
          { digest, size, hashes: hex },
          chunks,
          bodyEnds(chunks, chunks),
          (name) => Promise.resolve(hex[name] ?? hashOfChunks(chunks, name)),
        );
      }
      // Verified bytes are final: readers finish from memory while the commit makes them durable.
      this.#settle('verified');
      await blobs.storeVerified(chunks, digest, size);
      this.#settle('committed');
      return { digest, size, hashes: hex };
    } catch (err) {
      throw this.#fail(err, source);
    } finally {
      await this.#closeIfIdle();
    }
  }

  /** Ends a fill that failed: drops the upstream body, tells the readers, returns the error. */
  #fail(err: unknown, source: FillSource): Error {
    source.body.destroy();
    this.#error = failureOf(err, source, this.#received);
    this.#settle('failed');
    return this.#error;
  }

  /**
   * Receives the body: hashes each chunk and copies it into the newest slab; each full slab (and
   * the last, partial one) is written to the spool file, one write in flight at a time. Resolves
   * once everything is received, with a promise that the spool file holds it all. `keepHead`:
   * keep the first FILL_HEAD_BYTES aside (a fill with a verify step).
   */
  async #receive(
    body: Readable,
    hashes: HashSet,
    maxBytes: number | undefined,
    keepHead: boolean,
  ): Promise<{ readonly flushed: Promise<void> }> {
    /** Slabs (full, or the last one at the end) waiting for the disk, oldest first. */
    const queued: Slab[] = [];
    let writing: Promise<void> | undefined;
    // A property, not a local: writes fail in callbacks that flow analysis does not follow.
    const spool: { failure?: Error } = {};
    const flush = (): void => {
      if (writing !== undefined || this.#state === 'failed') return;
      const slab = queued.shift();
      if (slab === undefined) return;
      writing = (this.#handle as fs.FileHandle)
        .write(slab.buffer, 0, slab.filled, slab.start)
        .then(({ bytesWritten }) => {
          if (bytesWritten !== slab.filled) throw new Error('short write to spool file');
          this.#written = slab.start + slab.filled;
          this.#trimWindow();
        })
        .catch((err: unknown) => {
          spool.failure = err instanceof Error ? err : new Error(String(err));
        })
        .finally(() => {
          writing = undefined;
          if (spool.failure === undefined) flush();
        });
    };
    let tail: Slab | undefined;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (spool.failure !== undefined) throw spool.failure;
      if (maxBytes !== undefined && this.#received + chunk.length > maxBytes) {
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream content exceeds the limit of ${maxBytes} bytes`,
        );
      }
      hashes.update(chunk);
      this.#keepRecent(chunk);
      if (keepHead && this.#headBytes < FILL_HEAD_BYTES) {
        const wanted = Buffer.from(chunk.subarray(0, FILL_HEAD_BYTES - this.#headBytes));
        this.#head.push(wanted);
        this.#headBytes += wanted.length;
      }
      let copied = 0;
      while (copied < chunk.length) {
        if (tail === undefined) {
          tail = { buffer: slabPool.take(), start: this.#received, filled: 0 };
          this.#window.push(tail);
        }
        const count = chunk.copy(tail.buffer, tail.filled, copied);
        copied += count;
        tail.filled += count;
        this.#received += count;
        if (tail.filled === SLAB_BYTES) {
          queued.push(tail);
          tail = undefined;
        }
      }
      this.#wake();
      flush();
      while (this.#received - this.#written >= MAX_PENDING_BYTES && writing !== undefined)
        await writing;
    }
    if (spool.failure !== undefined) throw spool.failure;
    if (tail !== undefined) queued.push(tail);
    const flushed = (async () => {
      while (writing !== undefined || queued.length > 0) {
        if (writing !== undefined) await writing;
        else if (this.#state === 'failed')
          return; // nothing more is written for a failed fill
        else flush();
        if (spool.failure !== undefined) throw spool.failure;
      }
      if (spool.failure !== undefined) throw spool.failure;
    })();
    flushed.catch(() => undefined); // awaited by #run
    return { flushed };
  }

  #settle(state: 'verified' | 'committed' | 'failed'): void {
    this.#state = state;
    if (state !== 'verified') {
      // Everything is on disk (or nothing is wanted any more): readers use the file from here.
      // No write holds a slab any more: #run settles only after the last write has finished.
      for (const slab of this.#window) slabPool.give(slab.buffer);
      this.#window = [];
      this.#windowStart = this.#received;
      this.#recent = [];
      this.#recentStart = this.#received;
    }
    this.#wake();
  }

  /** Remembers a received chunk (before #received counts it); forgets the oldest beyond RECENT_BYTES. */
  #keepRecent(chunk: Buffer): void {
    this.#recent.push(chunk);
    let held = this.#received + chunk.length - this.#recentStart;
    for (;;) {
      const oldest = this.#recent[0];
      if (oldest === undefined || held - oldest.length < RECENT_BYTES) break;
      this.#recent.shift();
      this.#recentStart += oldest.length;
      held -= oldest.length;
    }
  }

  /** A view of received bytes at `position` (< limit) in one of the newest chunks. */
  #fromRecent(position: number, limit: number): Buffer | undefined {
    if (position < this.#recentStart) return undefined;
    let start = this.#recentStart;
    for (const chunk of this.#recent) {
      const end = start + chunk.length;
      if (position < end) {
        const from = position - start;
        return chunk.subarray(from, Math.min(chunk.length, from + (limit - position)));
      }
      start = end;
    }
    return undefined;
  }

  /**
   * A copy of received bytes at `position` (< limit) still held in memory. A copy, because the
   * slab is reused once it is on disk while the reader's bytes may still wait in a socket.
   */
  #fromWindow(position: number, limit: number): Buffer | undefined {
    if (position < this.#windowStart) return undefined;
    for (const slab of this.#window) {
      const end = slab.start + slab.filled;
      if (position < end) {
        const from = position - slab.start;
        const to = Math.min(slab.filled, from + (limit - position));
        return Buffer.from(slab.buffer.subarray(from, to));
      }
    }
    return undefined;
  }

  /** Drops the oldest written slabs beyond WINDOW_BYTES and returns them to the pool. */
  #trimWindow(): void {
    let held = this.#received - this.#windowStart;
    while (held > WINDOW_BYTES) {
      const oldest = this.#window[0];
      if (oldest === undefined || oldest.start + oldest.filled > this.#written) break;
      this.#window.shift();
      slabPool.give(oldest.buffer);
      this.#windowStart += oldest.filled;
      held -= oldest.filled;
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #closing: Promise<void> | undefined;

  async #closeIfIdle(): Promise<void> {
    if (this.#state === 'running' || this.#state === 'verified' || this.#readers > 0) return;
    if (this.#handle === undefined) {
      // Later readers read the store (the engine opens committed fills there).
      this.#chunks = undefined;
      return;
    }
    this.#closing ??= this.#handle.close().catch(() => undefined);
    await this.#closing;
  }
}

/** A view of the bytes at `position` (< limit) in `chunks`, which hold offsets 0 onwards. */
function fromChunks(chunks: readonly Buffer[], position: number, limit: number): Buffer {
  let start = 0;
  for (const chunk of chunks) {
    const end = start + chunk.length;
    if (position < end) {
      const from = position - start;
      return chunk.subarray(from, Math.min(chunk.length, from + (limit - position)));
    }
    start = end;
  }
  // Unreachable: position < limit ≤ #received, the bytes the chunks hold.
  throw new Error('fill: position beyond the received bytes');
}

/**
 * BodyEnds over `first`, chunks from offset 0 on (at least FILL_HEAD_BYTES of them or the whole
 * body), and `last`, the newest chunks (at least FILL_TAIL_BYTES of them or the whole body).
 */
function bodyEnds(first: readonly Buffer[], last: readonly Buffer[]): BodyEnds {
  const parts: Buffer[] = [];
  let have = 0;
  for (const chunk of first) {
    if (have >= FILL_HEAD_BYTES) break;
    parts.push(chunk);
    have += chunk.length;
  }
  const head = Buffer.concat(parts, have).subarray(0, FILL_HEAD_BYTES);
  return {
    head,
    tail(bytes: number): Buffer {
      if (bytes > FILL_TAIL_BYTES)
        throw new RangeError(`a body's last ${bytes} bytes are not held`);
      let index = last.length;
      let held = 0;
      while (index > 0 && held < bytes) {
        index -= 1;
        held += last[index]?.length ?? 0;
      }
      const joinedTail = Buffer.concat(last.slice(index), held);
      return Buffer.from(joinedTail.subarray(Math.max(0, held - bytes)));
    },
  };
}
