/** Small stream helpers shared by every byte path. */
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors.ts';

/**
 * Passes bytes through and fails with TOO_LARGE (413) once more than `maxBytes` went by,
 * so an oversized body is rejected while streaming, never after buffering it.
 */
export function limitBytes(maxBytes: number, what = 'request body'): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        callback(new RegistryError('TOO_LARGE', `${what} exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      callback(null, chunk);
    },
  });
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
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    total += buffer.length;
    if (total > maxBytes) {
      throw new RegistryError('TOO_LARGE', `${what} exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}
