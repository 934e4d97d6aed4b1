/**
 * The answer to a GET/HEAD of an immutable file named by its content (a `.crate`, a PyPI
 * distribution file, a Go module's `.mod`/`.zip`): its sha256 is the ETag, it is cacheable for a year, and a conditional or
 * ranged request is answered from those facts alone.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { httpDate, notModified } from '../core/http-conditional.ts';
import type { ReadRange } from '../proxy/fill.ts';
import { refuseHeadOfMissing, sendRanged } from './send-body.ts';

/** An immutable file ready to send (what a format's source opened). */
export interface ImmutableFile {
  /** Bytes. */
  readonly size: number;
  /** Lowercase hex SHA-256: the ETag. */
  readonly sha256: string;
  /** When it was stored here, epoch ms: Last-Modified (none when unknown). */
  readonly modifiedAt?: number | undefined;
  /** Opens the bytes (a range when given): a stream, or bytes already in memory; called at most once. */
  open(range?: ReadRange): Promise<Readable | Buffer>;
  /** The whole file, when it is in memory: sent (or sliced) as it is, no stream opened. */
  readonly bytes?: Buffer | undefined;
  /** Whether the stored bytes are there (see refuseHeadOfMissing). Absent: assumed present. */
  readonly present?: () => Promise<boolean>;
}

/**
 * Sends `file` as `contentType` with `ETag: "<sha256>"`, Last-Modified,
 * `Cache-Control: public, max-age=31536000, immutable` and `Accept-Ranges: bytes`: 304 when
 * If-None-Match / If-Modified-Since hold, else the body or one Range of it (sendRanged, which also
 * decides If-Range against the ETag and Last-Modified set here). A HEAD of a file
 * whose stored bytes are gone throws the 503 its GET answers.
 */
export async function sendImmutableFile(
  request: FastifyRequest,
  reply: FastifyReply,
  file: ImmutableFile,
  contentType: string,
): Promise<FastifyReply> {
  await refuseHeadOfMissing(request.method, file.present);
  const etag = `"${file.sha256}"`;
  const modified = file.modifiedAt === undefined ? undefined : httpDate(file.modifiedAt);
  void reply
    .type(contentType)
    .header('accept-ranges', 'bytes')
    .header('etag', etag)
    .header('cache-control', 'public, max-age=31536000, immutable');
  if (modified !== undefined) void reply.header('last-modified', modified.header);
  const { headers } = request;
  if (
    notModified(headers['if-none-match'], headers['if-modified-since'], etag, modified?.seconds)
  ) {
    return reply.code(304).send();
  }
  return sendRanged(reply, request.method, file.size, headers.range, (range) => {
    const bytes = file.bytes;
    if (bytes === undefined) return file.open(range);
    return Promise.resolve(
      range === undefined ? bytes : bytes.subarray(range.start, range.end + 1),
    );
  });
}
