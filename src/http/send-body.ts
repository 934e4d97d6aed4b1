/**
 * How format handlers send artifact bodies (blobs, tarballs). Bodies backed by a local file (see
 * `storage/local-file.ts`) are written straight to the socket from a small pool of reused 1 MiB
 * buffers, reading the next chunk while the previous one is being written. Everything else goes
 * through Fastify as usual.
 *
 * Why not stream the file: a read stream allocates a fresh buffer per chunk, and at several GB/s
 * that garbage keeps the collector busy — measured here, a 100 MB blob went out at 1.2–1.5 GB/s
 * streamed and 4.6 GB/s with reused buffers (nginx with sendfile: 2.5 GB/s on the same machine).
 */
import { fstatSync, read as readCallback } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { hostedContentGone } from '../core/errors.ts';
import { keepsWhole } from './answer-memo.ts';
import { ifRangeHolds } from '../core/http-conditional.ts';
import { contentRangeHeader, parseRange, type ByteRange } from '../core/http-range.ts';
import { cacheHeaders } from './cache-control.ts';
import { bytesOf, localFileOf, type LocalFileSource } from '../storage/local-file.ts';

export type ReplyBody = Readable | Buffer | string | undefined;

const CHUNK_BYTES = 1024 * 1024;

/** Idle buffers kept for reuse (16 MiB); beyond this, buffers are left to the collector. */
const POOL_KEEP = 16;

/** A pool unused this long lets its idle buffers go, so RSS comes back down after a load. */
const POOL_IDLE_MS = 10_000;

/**
 * Reused 1 MiB read buffers: at most `keep` idle ones (the bound in bytes is `keep` MiB), all of
 * them released once the pool has gone unused for `idleMs`.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #keep: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  #lastUse = 0;
  #trimTimer: NodeJS.Timeout | undefined;

  /** `now` is the clock idleness is measured on (a test moves it with mocked timers). */
  constructor(keep = POOL_KEEP, idleMs = POOL_IDLE_MS, now = () => performance.now()) {
    this.#keep = keep;
    this.#idleMs = idleMs;
    this.#now = now;
  }

  /** Idle buffers held now. */
  get idle(): number {
    return this.#free.length;
  }

  take(): Buffer {
    this.#lastUse = this.#now();
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
  }

  give(buffer: Buffer): void {
    this.#lastUse = this.#now();
    if (this.#free.length < this.#keep) this.#free.push(buffer);
    this.#scheduleTrim(this.#idleMs);
  }

  #scheduleTrim(delay: number): void {
    if (this.#trimTimer !== undefined) return;
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      const idleFor = this.#now() - this.#lastUse;
      if (idleFor >= this.#idleMs) this.#free.length = 0;
      else this.#scheduleTrim(this.#idleMs - idleFor);
    }, delay);
    // Never what keeps the process alive (tests, shutdown).
    this.#trimTimer.unref();
  }
}

const pool = new BufferPool();

export function sendBody(
  reply: FastifyReply,
  body: ReplyBody,
): FastifyReply | Promise<FastifyReply> {
  const bytes = bytesOf(body);
  if (bytes !== undefined) return sendWhole(reply, bytes, body as Readable);
  const file = localFileOf(body);
  if (file === undefined || body === undefined || typeof body === 'string' || Buffer.isBuffer(body))
    return reply.send(body);
  const stream = body;
  const size = wholeFileSize(file, reply);
  if (size !== undefined && keepsWhole(reply, size)) {
    return readWhole(file, size).then(
      (bytes) => sendWhole(reply, bytes, stream),
      (err: unknown) => {
        stream.destroy();
        throw err;
      },
    );
  }
  // Fastify runs no onSend hook for a hijacked reply and writes no headers: we write the ones
  // set on the reply. onResponse hooks (metrics, access log) still run when the response ends.
  // onSend's rewrite, which a hijacked reply skips (http/cache-control.ts).
  cacheHeaders(reply.request, reply);
  void reply.hijack();
  const response = reply.raw;
  const declared = Number(reply.getHeader('content-length'));
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) response.setHeader(name, value);
  }
  response.writeHead(reply.statusCode);
  pumpFile(response, file, Number.isFinite(declared) ? declared : undefined).then(
    () => stream.destroy(),
    (err: unknown) => {
      if (!response.destroyed) reply.log.warn({ err }, 'sending a stored file failed');
      response.destroy();
      stream.destroy();
    },
  );
  return reply;
}

/**
 * A small stored file read whole (storage FsDriver.read): sent as a Buffer through Fastify, so
 * the hooks run as for any answer and the answer memo may keep it. A length other than the one
 * announced is a damaged store: the connection is cut, as pumpFile does.
 */
function sendWhole(reply: FastifyReply, bytes: Buffer, stream: Readable): FastifyReply {
  stream.destroy();
  const declared = reply.getHeader('content-length');
  if (declared !== undefined && Number(declared) !== bytes.length) {
    reply.log.warn(
      { announced: Number(declared), stored: bytes.length },
      'a stored file is not the length announced',
    );
    void reply.hijack();
    reply.raw.destroy();
    return reply;
  }
  return reply.send(bytes);
}

/**
 * The size in bytes of the whole, already verified local file `file` this reply announces
 * (Content-Length), or undefined for a range, a file still to be verified as it is sent, or an
 * answer of unknown length.
 */
function wholeFileSize(file: LocalFileSource, reply: FastifyReply): number | undefined {
  if (file.start !== 0 || file.end !== undefined || file.verifier !== undefined) return undefined;
  if (reply.statusCode !== 200 || reply.request.method !== 'GET') return undefined;
  const declared = Number(reply.getHeader('content-length'));
  return Number.isSafeInteger(declared) && declared === file.size ? declared : undefined;
}

/**
 * The whole of `file` (`size` bytes) in one owned Buffer (an answer memo entry keeps it: never a
 * pooled one). A file shorter than `size` is returned short: sendWhole refuses that length.
 */
async function readWhole(file: LocalFileSource, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafeSlow(size);
  let filled = 0;
  while (filled < size) {
    const count = await readAt(file.fd, bytes.subarray(filled), size - filled, filled);
    if (count === 0) return bytes.subarray(0, filled);
    filled += count;
  }
  return bytes;
}

/** Writes the file range to the response and ends it; rejects (without ending) on any failure. */
async function pumpFile(
  response: ServerResponse,
  file: LocalFileSource,
  declared: number | undefined,
): Promise<void> {
  const buffers: Buffer[] = [];
  // A buffer may be reused only once the write holding it has finished (or failed).
  let writing: Promise<void> = Promise.resolve();
  // The announced length bounds the reads too: a small file then costs one read, not two (EOF).
  // A verified read must know where the file ends: its last chunk waits for the digest check.
  const last =
    file.end ??
    (declared !== undefined
      ? file.start + declared - 1
      : file.verifier !== undefined
        ? fstatSync(file.fd).size - 1
        : Number.MAX_SAFE_INTEGER);
  const verifier = file.verifier;
  let position = file.start;
  let sent = 0;
  try {
    for (let turn = 0; position <= last; turn ^= 1) {
      const buffer = (buffers[turn] ??= pool.take());
      const count = await readAt(
        file.fd,
        buffer,
        Math.min(CHUNK_BYTES, last - position + 1),
        position,
      );
      if (count === 0) {
        // Shorter than announced: damaged (a verifier reports it and removes the file; the check
        // below refuses it once that removal is done).
        if (verifier !== undefined && !verifier.finish()) await verifier.removed?.();
        break;
      }
      position += count;
      const chunk = count === buffer.length ? buffer : buffer.subarray(0, count);
      if (verifier !== undefined) {
        verifier.update(chunk);
        if (position > last && !verifier.finish()) {
          // The connection is cut once the damaged file is gone (as a refusal before any byte
          // waits for it in BlobStore.open): a retry or repair after the cut never meets it.
          await verifier.removed?.();
          throw new Error('stored file failed its integrity check');
        }
      }
      await writing;
      if (response.destroyed) throw new Error('client went away');
      writing = writeChunk(response, chunk);
      // Observed by the `await writing` above or in `finally`; never left unhandled.
      writing.catch(() => undefined);
      sent += count;
    }
    await writing;
    if (declared !== undefined && sent !== declared) {
      throw new Error(`stored file has ${sent} bytes, ${declared} were announced`);
    }
    response.end();
  } catch (err) {
    response.destroy();
    throw err;
  } finally {
    await writing.catch(() => undefined);
    for (const buffer of buffers) pool.give(buffer);
  }
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readCallback(fd, buffer, 0, length, position, (err, bytesRead) => {
      if (err) reject(err);
      else resolve(bytesRead);
    });
  });
}

/**
 * Settles when the chunk is written, or when the connection closes: a write still queued inside
 * the response when the socket goes away may never call back, and nothing reads the chunk then.
 */
function writeChunk(response: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => {
      reject(new Error('client went away'));
    };
    response.once('close', onClose);
    response.write(chunk, (err) => {
      response.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * Sends an artifact of `size` bytes whose caller already set its type and validators (ETag,
 * Last-Modified): one `Range` (`rangeHeader`, RFC 9110 §14; undefined = whole body) answers 206
 * with Content-Range, an unsatisfiable one 416 with `bytes *\/size`, otherwise 200; HEAD gets
 * the headers only. A Range under the request's `If-Range` is honoured only when that names the
 * validators set on `reply` (ifRangeHolds, RFC 9110 §13.1.5), else the whole body is sent.
 * `open` is called at most once, with the inclusive byte range when there is one. The one ranged
 * send of every format but OCI (npm tarballs, PyPI files, Cargo crates, Go files, Helm charts,
 * Maven and raw files).
 */
export async function sendRanged(
  reply: FastifyReply,
  method: string,
  size: number,
  rangeHeader: string | undefined,
  open: (range?: ByteRange) => Promise<ReplyBody>,
): Promise<FastifyReply> {
  const ifRange = reply.request.headers['if-range'];
  const honoured =
    rangeHeader === undefined ||
    ifRange === undefined ||
    ifRangeHolds(ifRange, headerText(reply, 'etag'), headerText(reply, 'last-modified'));
  const range = parseRange(honoured ? rangeHeader : undefined, size);
  if (range.kind === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${size}`).send();
  }
  if (range.kind === 'range') {
    void reply
      .code(206)
      .header('content-range', contentRangeHeader(range.range, size))
      .header('content-length', range.range.end - range.range.start + 1);
    if (method === 'HEAD') return reply.send();
    return sendBody(reply, await open(range.range));
  }
  void reply.header('content-length', size);
  if (method === 'HEAD') return reply.send();
  return sendBody(reply, await open());
}

/** A header the reply carries, as one string (undefined when absent or not one value). */
function headerText(reply: FastifyReply, name: string): string | undefined {
  const value = reply.getHeader(name);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A HEAD answers from metadata and opens no bytes: when `present` (a hosted file's look at its
 * blob, storage/blob-store.ts `BlobStore.hosted`; absent for what is not read from the store)
 * says the bytes are gone, throw the 410 its GET answers (core/errors.ts hostedContentGone),
 * rather than a 200 for content that cannot be read. Call before any header is set. No cost
 * for a GET.
 */
export async function refuseHeadOfMissing(
  method: string,
  present: (() => Promise<boolean>) | undefined,
): Promise<void> {
  if (method !== 'HEAD' || present === undefined || (await present())) return;
  throw hostedContentGone();
}
