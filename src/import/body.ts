/**
 * Publish bodies built around a file streamed from the source (npm's JSON document with the
 * tarball as base64, PyPI's multipart form, Cargo's length-prefixed frame): small framing parts
 * in memory, the file itself streamed, and the total length known in advance so it can be sent
 * as `Content-Length`.
 */
import { Readable } from 'node:stream';
import { answerReason } from './put.ts';
import type { WriteContext, WriteOutcome } from './types.ts';

/** One part of a body: small bytes, or a stream of `length` bytes. */
export type BodyPart = Buffer | string | { readonly stream: Readable; readonly length: number };

/** The parts one after another, as one stream, and its length in bytes. */
export function concatBody(parts: readonly BodyPart[]): { stream: Readable; length: number } {
  let length = 0;
  for (const part of parts) {
    length +=
      typeof part === 'string'
        ? Buffer.byteLength(part)
        : Buffer.isBuffer(part)
          ? part.length
          : part.length;
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const part of parts) {
      if (typeof part === 'string') yield Buffer.from(part);
      else if (Buffer.isBuffer(part)) yield part;
      else for await (const chunk of part.stream as AsyncIterable<Buffer>) yield chunk;
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  // A part that fails after the body has begun ends the body with that error: the upload is
  // aborted, never completed with a short body.
  return { stream, length };
}

/** `stream` of `length` bytes as base64 text (4 characters per 3 bytes, padded). */
export function base64Stream(
  stream: Readable,
  length: number,
): { stream: Readable; length: number } {
  async function* encode(): AsyncGenerator<Buffer> {
    let carry: Buffer = Buffer.alloc(0);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const joined = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      const whole = joined.length - (joined.length % 3);
      if (whole > 0) yield Buffer.from(joined.subarray(0, whole).toString('base64'));
      carry = joined.subarray(whole);
    }
    if (carry.length > 0) yield Buffer.from(carry.toString('base64'));
  }
  return {
    stream: Readable.from(encode(), { objectMode: false }),
    length: 4 * Math.ceil(length / 3),
  };
}

/** A thrown error as a `failed` outcome with its one-line message. */
export function failedOutcome(err: unknown): WriteOutcome {
  const message = err instanceof Error ? err.message : String(err);
  return { status: 'failed', reason: message.split('\n')[0] ?? message };
}

/** `write` that never throws: a thrown error is a `failed` outcome (failedOutcome). */
export function guarded(
  write: (ctx: WriteContext) => Promise<WriteOutcome>,
): (ctx: WriteContext) => Promise<WriteOutcome> {
  return async (ctx) => {
    try {
      return await write(ctx);
    } catch (err) {
      return failedOutcome(err);
    }
  };
}

/**
 * Sends a built publish body to NORA: `imported` (`bytes`: the file's size) on 2xx, else
 * `failed` with `<status> from <method> <path>: <NORA's message>`.
 */
export async function sendPublish(
  ctx: WriteContext,
  method: 'PUT' | 'POST',
  path: string,
  contentType: string,
  body: { readonly stream: Readable; readonly length: number },
  bytes: number,
): Promise<WriteOutcome> {
  const answer = await ctx.nora.request(method, path, {
    headers: { 'content-type': contentType, 'content-length': String(body.length) },
    body: body.stream,
  });
  if (!answer.ok) return { status: 'failed', reason: await answerReason(answer, method, path) };
  await answer.discard();
  return { status: 'imported', bytes };
}
