/** Small stream helpers shared by every byte path. */
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors.ts';

/**
 * The 413 text of a body past a limit: `<what> exceeds the limit of <n> bytes (<setting>)`, the
 * setting named so a user knows which one to raise (a streamed body has no length to compare
 * before reading, so this is what a chunked upload sees).
 */
export function overLimit(what: string, maxBytes: number, setting?: string): string {
  return `${what} exceeds the limit of ${maxBytes} bytes${setting === undefined ? '' : ` (${setting})`}`;
}

/**
 * Passes bytes through and fails with TOO_LARGE (413) once more than `maxBytes` went by,
 * so an oversized body is rejected while streaming, never after buffering it.
 */
export function limitBytes(maxBytes: number, what = 'request body', setting?: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        callback(new RegistryError('TOO_LARGE', overLimit(what, maxBytes, setting)));
        return;
      }
      callback(null, chunk);
    },
  });
}

/**
 * Reads and drops what is left of `stream` (a multipart part nobody wants). Its errors are
 * ignored: a parser destroyed mid-part (a limit, a refused form) destroys the part with the
 * reason, which the parser's own consumer reports; an 'error' event without a listener would
 * take the whole process down instead.
 */
export function discard(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.resume();
}

/** Reads a small stream fully, failing with TOO_LARGE past `maxBytes`. Only for documents. */
export async function readAllBounded(
  stream: AsyncIterable<Uint8Array | string>,
  maxBytes: number,
  what = 'request body',
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    // Chunks are kept as they came until the one copy below (Buffer.from(buffer) would be a
    // second copy of every chunk).
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    total += buffer.length;
    if (total > maxBytes) {
      throw new RegistryError('TOO_LARGE', `${what} exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Exactly `size` bytes of a stored file's stream (open it with the range 0..size-1, so a file
 * costs one read of its size and no read to find the end): a single chunk is taken as it is,
 * without a copy (owned when it is not a view of a larger buffer); fails when the stream has
 * fewer or more bytes.
 */
export async function readExactly(
  stream: Readable,
  size: number,
  what = 'stored file',
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > size) {
      stream.destroy();
      throw new Error(`${what}: more than the ${size} bytes recorded`);
    }
    chunks.push(chunk);
  }
  if (total !== size) throw new Error(`${what}: ${total} of the ${size} bytes recorded`);
  const [only] = chunks;
  const body = chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks, size);
  if (body.byteOffset === 0 && body.buffer.byteLength === body.byteLength) return body;
  const copy = Buffer.allocUnsafeSlow(body.byteLength);
  body.copy(copy);
  return copy;
}
