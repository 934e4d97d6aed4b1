/**
 * A read stream over a local file can carry the file it reads, so the HTTP layer can send the
 * bytes itself with reused buffers (`http/send-body.ts`) instead of consuming the stream. A stream
 * allocates a fresh buffer per chunk; at registry throughput that garbage made the collector, not
 * the disk or the socket, the limit (1.2 GB/s streamed vs 4.6 GB/s with reused buffers here).
 */
import { Readable } from 'node:stream';

/**
 * Checks a whole read of a stored object against its digest (storage/blob-store.ts): `update`
 * with every byte in order, then `finish` once after the last one, before that last chunk is
 * released to the client, so a client never receives a complete copy of damaged bytes.
 */
export interface ReadVerifier {
  update(chunk: Uint8Array): void;
  /** true when the bytes seen match the digest; the verifier reports a mismatch itself. */
  finish(): boolean;
}

/** An open file and the byte range (inclusive `end`, to EOF when absent) the stream would read. */
export interface LocalFileSource {
  readonly fd: number;
  readonly start: number;
  readonly end: number | undefined;
  /** Set when the whole object is read unverified: whoever sends the file feeds it. */
  readonly verifier?: ReadVerifier;
}

const LOCAL_FILE = Symbol('nora.localFile');

interface Tagged {
  [LOCAL_FILE]?: LocalFileSource;
}

/** Marks `stream` (which owns `source.fd` and closes it when destroyed) as reading a local file. */
export function tagLocalFile<T extends Readable>(stream: T, source: LocalFileSource): T {
  (stream as T & Tagged)[LOCAL_FILE] = source;
  return stream;
}

/** The local file behind a stream that has not been read yet; undefined for any other body. */
export function localFileOf(body: unknown): LocalFileSource | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const stream = body as Readable & Tagged;
  const source = stream[LOCAL_FILE];
  if (source === undefined) return undefined;
  // Once anything has pulled bytes out of the stream, its position no longer matches the tag.
  return stream.readableDidRead || stream.destroyed ? undefined : source;
}

const IDENTITY = Symbol('nora.fileIdentity');

interface Identified {
  [IDENTITY]?: string;
}

/** Marks `stream` as reading the stored file of this identity (see ObjectInfo.identity). */
export function tagIdentity<T extends Readable>(stream: T, identity: string): T {
  (stream as T & Identified)[IDENTITY] = identity;
  return stream;
}

/** The identity of the stored file a driver's stream reads; undefined when it cannot tell. */
export function identityOf(stream: Readable): string | undefined {
  return (stream as Readable & Identified)[IDENTITY];
}

const WHOLE_BYTES = Symbol('nora.wholeBytes');

interface CarriesBytes {
  [WHOLE_BYTES]?: Buffer;
}

/**
 * A stream of `bytes` (a small stored file read whole, see FsDriver.read) that also carries
 * them, so the HTTP layer can send the Buffer itself: one socket write, and the answer memo
 * (http/answer-memo.ts) may keep it. Consumers that read it as a stream get the same bytes.
 */
export function bytesStream(bytes: Buffer): Readable {
  const stream = Readable.from([bytes], { objectMode: false });
  (stream as Readable & CarriesBytes)[WHOLE_BYTES] = bytes;
  return stream;
}

/** The whole body behind a `bytesStream` not read yet; undefined for any other body. */
export function bytesOf(body: unknown): Buffer | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const stream = body as Readable & CarriesBytes;
  const bytes = stream[WHOLE_BYTES];
  if (bytes === undefined) return undefined;
  return stream.readableDidRead || stream.destroyed ? undefined : bytes;
}
