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
  /**
   * Settles once the damaged file a false finish() found is removed (or its removal failed): the
   * sender cuts the connection only then, so a client that reacts to the cut (a retry, the
   * upload that repairs it) never finds the damaged file still in place.
   */
  removed?(): Promise<void>;
}

/** An open file and the byte range (inclusive `end`, to EOF when absent) the stream would read. */
export interface LocalFileSource {
  readonly fd: number;
  readonly start: number;
  readonly end: number | undefined;
  /** The file's size in bytes when the stream was made (the driver's fstat), if known. */
  readonly size?: number;
  /** Set when the whole object is read unverified: whoever sends the file feeds it. */
  readonly verifier?: ReadVerifier;
}

/**
 * A value carried by a stream under a private symbol: `set` marks the stream (and returns it),
 * `get` reads the mark of a body that is a stream not read from yet (undefined otherwise: once
 * anything has pulled bytes out of it, what the mark says no longer matches its position).
 */
function streamTag<V>(name: string): {
  set<T extends Readable>(stream: T, value: V): T;
  get(body: unknown): V | undefined;
} {
  const key = Symbol(name);
  return {
    set(stream, value) {
      (stream as unknown as Record<symbol, V>)[key] = value;
      return stream;
    },
    get(body) {
      if (typeof body !== 'object' || body === null) return undefined;
      const value = (body as Record<symbol, V | undefined>)[key];
      if (value === undefined) return undefined;
      const stream = body as Readable;
      return stream.readableDidRead || stream.destroyed ? undefined : value;
    },
  };
}

const localFile = streamTag<LocalFileSource>('nora.localFile');

/** Marks `stream` (which owns `source.fd` and closes it when destroyed) as reading a local file. */
export function tagLocalFile<T extends Readable>(stream: T, source: LocalFileSource): T {
  return localFile.set(stream, source);
}

/** The local file behind a stream that has not been read yet; undefined for any other body. */
export function localFileOf(body: unknown): LocalFileSource | undefined {
  return localFile.get(body);
}

const identity = streamTag<string>('nora.fileIdentity');

/** Marks `stream` as reading the stored file of this identity (see ObjectInfo.identity). */
export function tagIdentity<T extends Readable>(stream: T, value: string): T {
  return identity.set(stream, value);
}

/**
 * The identity of the stored file a driver's stream reads (not read from yet); undefined when
 * the driver cannot tell.
 */
export function identityOf(stream: Readable): string | undefined {
  return identity.get(stream);
}

const wholeBytes = streamTag<Buffer>('nora.wholeBytes');

/**
 * A stream of `bytes` (a small stored file read whole, see FsDriver.read) that also carries
 * them, so the HTTP layer can send the Buffer itself: one socket write, and the answer memo
 * (http/answer-memo.ts) may keep it. Consumers that read it as a stream get the same bytes.
 */
export function bytesStream(bytes: Buffer): Readable {
  return wholeBytes.set(Readable.from([bytes], { objectMode: false }), bytes);
}

/** The whole body behind a `bytesStream` not read yet; undefined for any other body. */
export function bytesOf(body: unknown): Buffer | undefined {
  return wholeBytes.get(body);
}

const declaredLength = streamTag<number>('nora.declaredLength');

/**
 * Marks `stream` (a whole object streamed from a remote store, e.g. an S3 GET) with the length
 * its store announced (Content-Length), so the blob store can tell, before reading a byte,
 * whether it is small enough to be checked before answering (BlobStore.open).
 */
export function tagLength<T extends Readable>(stream: T, length: number): T {
  return declaredLength.set(stream, length);
}

/** The announced length of a stream tagged by tagLength (not read yet); undefined otherwise. */
export function lengthOf(stream: Readable): number | undefined {
  return declaredLength.get(stream);
}
