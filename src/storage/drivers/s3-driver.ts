/**
 * The S3 driver (`[storage] mode = "s3"`): objects in one bucket of an S3-compatible store
 * (AWS S3, MinIO, Ceph RGW, Garage, SeaweedFS, …), spoken as the S3 REST API over undici with
 * AWS Signature Version 4 (the `aws4` package signs; anonymous when no keys are set).
 *
 * Writes: every body is first a complete local file (the blob store spools and verifies before it
 * calls writeFile; write() of a stream spools here), then one PUT with a known Content-Length
 * streamed from that file, or a multipart upload of file ranges for files over
 * MULTIPART_THRESHOLD. Memory stays bounded (streams only, no part is held in memory), and an
 * object appears under its key only whole: a PUT or a multipart upload is visible only once it
 * completes (S3's own atomicity), so no unverified or partial object is ever readable.
 *
 * Reads stream the GET body, tagged with its announced length (the blob store downloads a whole
 * object of up to 64 MiB to a spool file and checks its digest before answering, see
 * BlobStore.open); ReadOptions become a `Range` header. A body that breaks before its announced
 * length is resumed from the byte reached (`Range` + `If-Match` on its ETag, bounded), or ends in
 * an error: never a short body that looks whole. The metadata database and the
 * spool stay on local disk, in `[storage] path` (the driver's `localDir`).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import aws4 from 'aws4';
import { XMLParser } from 'fast-xml-parser';
import { Agent, request, type Dispatcher } from 'undici';
import { StorageNotFoundError } from '../driver.ts';
import type {
  ConditionalWrite,
  MoveOutcome,
  ObjectInfo,
  ReadOptions,
  StorageDriver,
  StorageKey,
  WriteCondition,
} from '../driver.ts';
import { tagIdentity, tagLength } from '../local-file.ts';
import { makeDirLevels } from '../make-dir.ts';

export interface S3DriverOptions {
  /** Endpoint, `http(s)://host[:port][/base]` (`[storage] s3_url`). */
  readonly url: string;
  readonly bucket: string;
  /** Both set: requests are signed (SigV4); either empty or absent: anonymous. */
  readonly accessKey?: string | undefined;
  readonly secretKey?: string | undefined;
  readonly region: string;
  /** `bucket.host/key` instead of `host/bucket/key` (`[storage] s3_virtual_hosted`). */
  readonly virtualHosted?: boolean;
  /** Local directory for the spool (`<localDir>/.tmp`): `[storage] path`. */
  readonly localDir: string;
  /** Files larger than this go up as a multipart upload (tests lower it). */
  readonly multipartThreshold?: number;
  /** Multipart part size, at least 5 MiB (S3's minimum for every part but the last). */
  readonly partSize?: number;
  /** Retries of failed idempotent requests (see S3RetryPolicy); tests shorten the delays. */
  readonly retry?: Partial<S3RetryPolicy>;
}

/**
 * How a failed idempotent request is retried: up to `attempts` sends in all, waiting a random
 * time in [0, min(maxDelayMs, baseDelayMs * 2^n)] before retry n ("full jitter"), or what a
 * Retry-After header asks for (seconds or an HTTP date), capped at `maxRetryAfterMs`.
 */
export interface S3RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
}

const DEFAULT_RETRY: S3RetryPolicy = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  maxRetryAfterMs: 10_000,
};
/** HTTP statuses worth another try: the store's transient failures (S3 InternalError, SlowDown). */
const RETRY_STATUSES = new Set([500, 502, 503, 504]);
/** S3 error codes worth another try, whatever the status (RequestTimeout comes as a 400). */
const RETRY_CODES = new Set(['SlowDown', 'InternalError', 'RequestTimeout', 'ServiceUnavailable']);
/** Socket errors that say the connection died under the request (not "nobody listens"). */
const RETRY_ERRNOS = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A single PUT above this would be slow to retry and S3 caps one PUT at 5 GiB. */
const MULTIPART_THRESHOLD = 64 * 1024 * 1024;
const PART_SIZE = 16 * 1024 * 1024;
/** S3's limits: 10,000 parts, 5 MiB minimum part. */
const MAX_PARTS = 10_000;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const TMP_DIR = '.tmp';
/** Objects named so are the write probe's: `list` never shows them. */
const PROBE_PREFIX = '.nora-probe-';

/** An S3 answer that was not the one expected: status, S3 error code and message. */
export class S3RequestError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(what: string, status: number, code: string | undefined, message: string | undefined) {
    super(
      `S3 ${what}: HTTP ${status}${code === undefined ? '' : ` ${code}`}${message ? ` (${message})` : ''}`,
    );
    this.name = 'S3RequestError';
    this.status = status;
    this.code = code;
  }
}

interface SendOptions {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Object key, or undefined for the bucket itself. */
  readonly key?: string;
  /** Query parameters, encoded here (RFC 3986). */
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A Buffer or string can be sent again; a stream only once, so a request whose body is a
   * stream is never retried: pass a function that opens the stream afresh (from the spool
   * file) to make it retryable.
   */
  readonly body?: Body | (() => Body);
  /**
   * The operation may answer HTTP 200 and still fail, the error in the body (S3's
   * CompleteMultipartUpload, CopyObject, UploadPartCopy): a 200 is read whole and an `<Error>`
   * in it counts as that error, retried when its code is in RETRY_CODES. The caller gets the
   * body as text either way and must still check it for a non-retryable `<Error>`.
   */
  readonly errorIn200?: boolean;
  /**
   * Retried although a POST: sending it twice does no harm (CompleteMultipartUpload names its
   * upload; a second one after a success answers NoSuchUpload, which the caller resolves).
   */
  readonly idempotent?: boolean;
}

type Body = Readable | Buffer | string;

/** RFC 3986 encoding as SigV4 canonicalizes it: encodeURIComponent leaves !'()* alone. */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });

function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly #endpoint: URL;
  readonly #bucket: string;
  readonly #credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  readonly #region: string;
  readonly #virtualHosted: boolean;
  readonly #spool: string;
  readonly #threshold: number;
  readonly #partSize: number;
  readonly #agent: Agent;
  readonly #retry: S3RetryPolicy;

  private constructor(options: S3DriverOptions, spool: string) {
    this.#endpoint = new URL(options.url);
    this.#bucket = options.bucket;
    this.#credentials =
      options.accessKey && options.secretKey
        ? { accessKeyId: options.accessKey, secretAccessKey: options.secretKey }
        : undefined;
    this.#region = options.region;
    this.#virtualHosted = options.virtualHosted === true;
    this.#spool = spool;
    this.#threshold = options.multipartThreshold ?? MULTIPART_THRESHOLD;
    this.#partSize = Math.max(options.partSize ?? PART_SIZE, MIN_PART_SIZE);
    this.#agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /**
   * Makes the local spool folder; does not reach the store (check() does: start-up calls it).
   * Errors: those of mkdir on `localDir`.
   */
  static async open(options: S3DriverOptions): Promise<S3Driver> {
    const spool = path.join(path.resolve(options.localDir), TMP_DIR);
    // One level at a time: Node's recursive mkdir spins forever under /proc (trial 28 newU F14).
    await makeDirLevels(spool);
    return new S3Driver(options, spool);
  }

  /** Where this driver stores: `<url> bucket "<bucket>"`, for messages (never the keys). */
  describe(): string {
    return `${this.#endpoint.origin}${this.#basePath()} bucket "${this.#bucket}"`;
  }

  #basePath(): string {
    return this.#endpoint.pathname.replace(/\/+$/, '');
  }

  /** The request's host and path (with query) for the bucket or one of its keys. */
  #target(key: string | undefined, query: Readonly<Record<string, string>> = {}) {
    const encodedKey = key === undefined ? '' : `/${key.split('/').map(encodeRfc3986).join('/')}`;
    const host = this.#virtualHosted
      ? `${this.#bucket}.${this.#endpoint.host}`
      : this.#endpoint.host;
    const bucketPart = this.#virtualHosted ? '' : `/${encodeRfc3986(this.#bucket)}`;
    let pathname = `${this.#basePath()}${bucketPart}${encodedKey}`;
    if (pathname === '') pathname = '/';
    const search = Object.keys(query)
      .sort()
      .map((name) => {
        const value = query[name] ?? '';
        return `${encodeRfc3986(name)}=${encodeRfc3986(value)}`;
      })
      .join('&');
    return { host, path: search === '' ? pathname : `${pathname}?${search}` };
  }

  /**
   * Signs (when keyed) and sends one request, retried per the driver's S3RetryPolicy when it is
   * idempotent (not POST: a second CreateMultipartUpload would leave an upload behind; unless
   * `idempotent`) and its body can be sent again: on a 500/502/503/504, an S3 error code in
   * RETRY_CODES (also in a 200's body, see `errorIn200`), or a connection reset. The last attempt's answer (or error) is the caller's, to consume or dump.
   */
  async #send(options: SendOptions): Promise<Dispatcher.ResponseData> {
    const retryable =
      (options.method !== 'POST' || options.idempotent === true) &&
      !(options.body instanceof Readable);
    const attempts = retryable ? Math.max(1, this.#retry.attempts) : 1;
    for (let attempt = 1; ; attempt += 1) {
      const last = attempt >= attempts;
      let response: Dispatcher.ResponseData;
      try {
        response = await this.#sendOnce(options);
      } catch (err) {
        if (last || !RETRY_ERRNOS.has(errnoOf(err) ?? '')) {
          // Named, so that a request answers 503 "storage is unavailable" (core/errors.ts
          // storageFault), not a 500 with a stack (trial 30 newB).
          throw new S3UnreachableError(errnoOf(err) ?? (err as Error).message);
        }
        await sleep(this.#backoff(attempt, undefined));
        continue;
      }
      if (response.statusCode === 200 && options.errorIn200 === true) {
        // Not a success until the body says so: the store sends 200 (and whitespace) at once
        // and the outcome at the end.
        const text = await response.body.text();
        const code = codeOf(text);
        if (last || code === undefined || !RETRY_CODES.has(code)) {
          return { ...response, body: bodyOfText(text) };
        }
        await sleep(this.#backoff(attempt, undefined));
        continue;
      }
      if (last || response.statusCode < 400) return response;
      const retryStatus = RETRY_STATUSES.has(response.statusCode);
      // A 4xx is retried only for its S3 code (RequestTimeout): its body must be read to know,
      // and is handed on as text when the answer stays the caller's.
      if (!retryStatus && (options.method === 'HEAD' || response.statusCode !== 400)) {
        return response;
      }
      const text = await response.body.text().catch(() => '');
      const code = retryStatus ? undefined : codeOf(text);
      if (!retryStatus && (code === undefined || !RETRY_CODES.has(code))) {
        return { ...response, body: bodyOfText(text) };
      }
      await sleep(this.#backoff(attempt, header(response.headers, 'retry-after')));
    }
  }

  /** The wait before the retry after attempt `attempt` (1-based), in milliseconds. */
  #backoff(attempt: number, retryAfter: string | undefined): number {
    const asked = retryAfterMs(retryAfter);
    if (asked !== undefined) return Math.min(asked, this.#retry.maxRetryAfterMs);
    const ceiling = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }

  async #sendOnce(options: SendOptions): Promise<Dispatcher.ResponseData> {
    const { host, path: requestPath } = this.#target(options.key, options.query);
    const headers: Record<string, string> = { ...options.headers };
    if (this.#credentials !== undefined) {
      // The payload is not hashed (a streamed body would need a second pass over the file):
      // S3 accepts UNSIGNED-PAYLOAD in the header signature; TLS protects the bytes in transit
      // and the blob store verifies every digest on read.
      headers['X-Amz-Content-Sha256'] = 'UNSIGNED-PAYLOAD';
      const signed = aws4.sign(
        {
          host,
          path: requestPath,
          method: options.method,
          service: 's3',
          region: this.#region,
          headers,
        },
        this.#credentials,
      );
      Object.assign(headers, signed.headers as Record<string, string>);
    }
    const origin = `${this.#endpoint.protocol}//${host}`;
    const body = typeof options.body === 'function' ? options.body() : options.body;
    return request(`${origin}${requestPath}`, {
      method: options.method,
      headers,
      body: body ?? null,
      dispatcher: this.#agent,
    });
  }

  /** The error an unexpected answer stands for, its body read for S3's Code and Message. */
  async #failure(what: string, response: Dispatcher.ResponseData): Promise<S3RequestError> {
    const body = await response.body.text().catch(() => '');
    let code: string | undefined;
    let message: string | undefined;
    if (body.includes('<Error>')) {
      const parsed = xml.parse(body) as { Error?: { Code?: string; Message?: string } };
      code = parsed.Error?.Code;
      message = parsed.Error?.Message;
    }
    return new S3RequestError(what, response.statusCode, code, message);
  }

  async stat(key: StorageKey): Promise<ObjectInfo | undefined> {
    const response = await this.#send({ method: 'HEAD', key });
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    if (response.statusCode !== 200) throw await this.#failure(`HEAD ${key}`, response);
    return infoOf(key, response.headers);
  }

  /**
   * GET of the object (a `Range` for ReadOptions). The body is resumed when it breaks before
   * its announced length: a new GET `Range: bytes=<reached>-<end>` with `If-Match: <ETag>`, so
   * bytes of a rewritten object are never stitched on (see #resumed).
   * Errors: StorageNotFoundError; S3RequestError for other answers.
   */
  async read(key: StorageKey, options: ReadOptions = {}): Promise<Readable> {
    const start = options.start ?? 0;
    const response = await this.#get(key, start, options.end, undefined);
    if (response === undefined) return Readable.from([]);
    const etag = header(response.headers, 'etag');
    const length = Number(header(response.headers, 'content-length'));
    const announced = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    const first = response.body as unknown as Readable;
    // Without a length a short body cannot be told, and without an ETag a resume could stitch
    // another object's bytes on: such a body is passed on as it comes.
    let body = first;
    if (announced !== undefined && etag !== undefined) {
      // The GET body being read, for the resumes to replace and a destroy to reach: a consumer
      // that drops the stream unread must free the connection (the generator never started).
      const current = { body: first };
      body = Readable.from(
        this.#resumed(key, current, { start, end: options.end, announced, etag }),
        { objectMode: false },
      );
      body.once('close', () => current.body.destroy());
    }
    // A whole object's announced length: the blob store downloads one small enough to a spool
    // file and checks it before any byte is sent (BlobStore.open).
    if (response.statusCode === 200 && announced !== undefined) tagLength(body, announced);
    return etag === undefined ? body : tagIdentity(body, `s3:${etag}`);
  }

  /**
   * One GET of `key` from byte `start` to `end` (inclusive; undefined: to the end), only while
   * its ETag is `ifMatch` when given. undefined: a range starting past the end (416: no bytes,
   * as a local file read from there gives). Errors: StorageNotFoundError (404), S3RequestError
   * (412 when the ETag changed, any other unexpected answer).
   */
  async #get(
    key: StorageKey,
    start: number,
    end: number | undefined,
    ifMatch: string | undefined,
  ): Promise<Dispatcher.ResponseData | undefined> {
    const headers: Record<string, string> = {};
    if (start > 0 || end !== undefined) headers.Range = `bytes=${start}-${end ?? ''}`;
    if (ifMatch !== undefined) headers['If-Match'] = ifMatch;
    const response = await this.#send({ method: 'GET', key, headers });
    if (response.statusCode === 404) {
      await response.body.dump();
      throw new StorageNotFoundError(key);
    }
    if (response.statusCode === 416) {
      await response.body.dump();
      return undefined;
    }
    if (response.statusCode !== 200 && response.statusCode !== 206) {
      throw await this.#failure(`GET ${key}`, response);
    }
    return response;
  }

  /**
   * The bytes of a GET body, resumed when it breaks (a socket error, or an end before the
   * `announced` length): up to `attempts - 1` more GETs (S3RetryPolicy, with its backoff), each
   * from the byte reached, with `If-Match: etag`. A resume that cannot continue the same bytes
   * (412: the object was rewritten; a 200 to a ranged GET: the store ignored the Range) or the
   * last break ends the stream with an error naming the bytes reached: the consumer never sees
   * a short body end as if whole.
   */
  async *#resumed(
    key: StorageKey,
    current: { body: Readable },
    at: { start: number; end: number | undefined; announced: number; etag: string },
  ): AsyncGenerator<Buffer> {
    let received = 0;
    for (let resumes = 0; ; resumes += 1) {
      let cause: unknown;
      try {
        for await (const chunk of current.body as AsyncIterable<Buffer>) {
          received += chunk.length;
          yield chunk;
        }
        if (received >= at.announced) return;
        cause = new Error('the body ended early');
      } catch (err) {
        cause = err;
      }
      const reached = `${received} of ${at.announced} bytes`;
      if (resumes + 1 >= this.#retry.attempts) {
        throw new Error(`S3 GET ${key}: the body broke at ${reached}, ${resumes} resumes`, {
          cause,
        });
      }
      await sleep(this.#backoff(resumes + 1, undefined));
      const from = at.start + received;
      let next: Dispatcher.ResponseData | undefined;
      try {
        next = await this.#get(key, from, at.end, at.etag);
      } catch (err) {
        const changed = err instanceof S3RequestError && err.status === 412;
        throw new Error(
          changed
            ? `S3 GET ${key}: the object changed (ETag no longer ${at.etag}) after ${reached}; not resumed`
            : `S3 GET ${key}: the body broke at ${reached} and its resume failed: ${String(err)}`,
          { cause: err },
        );
      }
      if (next?.statusCode !== 206) {
        await next?.body.dump();
        throw new Error(
          `S3 GET ${key}: the body broke at ${reached} and the store did not answer its resume from byte ${from} with a range (HTTP ${next?.statusCode ?? 416})`,
        );
      }
      current.body = next.body;
    }
  }

  async write(
    key: StorageKey,
    body: Readable | Uint8Array | readonly Uint8Array[],
  ): Promise<ObjectInfo> {
    if (body instanceof Readable) {
      // Unknown length: spooled to a local file first (bounded memory; a failing source leaves
      // nothing in the store), then uploaded with its length known.
      const spool = path.join(this.#spool, `s3-write-${randomUUID()}`);
      try {
        await pipeline(body, createWriteStream(spool, { flags: 'wx' }));
      } catch (err) {
        await fs.rm(spool, { force: true });
        throw err;
      }
      return this.writeFile(key, spool);
    }
    const pieces = body instanceof Uint8Array ? [body] : body;
    let size = 0;
    for (const piece of pieces) size += piece.length;
    const response = await this.#send({
      method: 'PUT',
      key,
      headers: { 'Content-Length': String(size) },
      // In memory already (the blob store's small bodies): sent as the pieces, never joined;
      // a function, so that a retry sends them again.
      body: () => (pieces.length === 1 ? asBuffer(pieces[0] as Uint8Array) : Readable.from(pieces)),
    });
    return this.#written(key, size, response);
  }

  async #written(
    key: StorageKey,
    size: number,
    response: Dispatcher.ResponseData,
  ): Promise<ObjectInfo> {
    if (response.statusCode !== 200) throw await this.#failure(`PUT ${key}`, response);
    await response.body.dump();
    const etag = header(response.headers, 'etag');
    return {
      key,
      size,
      modifiedAt: new Date(),
      ...(etag === undefined ? {} : { identity: `s3:${etag}` }),
    };
  }

  async writeFile(key: StorageKey, localPath: string): Promise<ObjectInfo> {
    const { size } = await fs.stat(localPath);
    const info =
      size > this.#threshold
        ? await this.#multipart(key, localPath, size)
        : await this.#send({
            method: 'PUT',
            key,
            headers: { 'Content-Length': String(size) },
            // Re-opened from the spool file for each attempt (a retry never resends a
            // half-read stream).
            body: () => createReadStream(localPath),
          }).then((response) => this.#written(key, size, response));
    await fs.rm(localPath, { force: true });
    return info;
  }

  /**
   * A multipart upload of `localPath`, each part a file range streamed with its length: the
   * object appears only at CompleteMultipartUpload; any failure aborts the upload (its parts
   * are freed, nothing visible).
   */
  async #multipart(key: StorageKey, localPath: string, size: number): Promise<ObjectInfo> {
    const partSize = Math.max(this.#partSize, Math.ceil(size / MAX_PARTS));
    const created = await this.#send({ method: 'POST', key, query: { uploads: '' } });
    if (created.statusCode !== 200)
      throw await this.#failure(`CreateMultipartUpload ${key}`, created);
    const parsed = xml.parse(await created.body.text()) as {
      InitiateMultipartUploadResult?: { UploadId?: string };
    };
    const uploadId = parsed.InitiateMultipartUploadResult?.UploadId;
    if (uploadId === undefined) throw new Error(`S3 CreateMultipartUpload ${key}: no UploadId`);
    try {
      const etags: string[] = [];
      for (let start = 0, part = 1; start < size; start += partSize, part += 1) {
        const length = Math.min(partSize, size - start);
        const response = await this.#send({
          method: 'PUT',
          key,
          query: { partNumber: String(part), uploadId },
          headers: { 'Content-Length': String(length) },
          body: () => createReadStream(localPath, { start, end: start + length - 1 }),
        });
        if (response.statusCode !== 200) throw await this.#failure(`UploadPart ${key}`, response);
        await response.body.dump();
        const etag = header(response.headers, 'etag');
        if (etag === undefined) throw new Error(`S3 UploadPart ${key}: no ETag`);
        etags.push(etag);
      }
      const manifest = `<CompleteMultipartUpload>${etags
        .map(
          (etag, i) =>
            `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`,
        )
        .join('')}</CompleteMultipartUpload>`;
      const done = await this.#send({
        method: 'POST',
        key,
        query: { uploadId },
        headers: {
          'Content-Type': 'application/xml',
          'Content-Length': String(Buffer.byteLength(manifest)),
        },
        body: manifest,
        // S3 may answer 200 and still fail (an <Error> body, InternalError when the assembly
        // failed): retried like a 500, as the AWS SDKs do.
        errorIn200: true,
        idempotent: true,
      });
      const text = await done.body.text();
      if (done.statusCode !== 200 || text.includes('<Error>')) {
        // An earlier attempt that completed although its answer was lost (a reset) makes the
        // retry's NoSuchUpload: the object whole under its key, at its size, is that success
        // (keys are content-addressed; a failed upload never shows an object).
        const completed =
          codeOf(text) === 'NoSuchUpload' ? await this.stat(key).catch(() => undefined) : undefined;
        if (completed?.size !== size) {
          throw errorFromText(`CompleteMultipartUpload ${key}`, done.statusCode, text);
        }
        return completed;
      }
      const result = xml.parse(text) as { CompleteMultipartUploadResult?: { ETag?: string } };
      const etag = result.CompleteMultipartUploadResult?.ETag;
      return {
        key,
        size,
        modifiedAt: new Date(),
        ...(etag === undefined ? {} : { identity: `s3:${etag}` }),
      };
    } catch (err) {
      await this.#send({ method: 'DELETE', key, query: { uploadId } }).then(
        (response) => response.body.dump(),
        () => undefined,
      );
      throw err;
    }
  }

  /** S3's DELETE answers 204 whether or not the key existed: a HEAD first tells which. */
  async delete(key: StorageKey): Promise<boolean> {
    if ((await this.stat(key)) === undefined) return false;
    const response = await this.#send({ method: 'DELETE', key });
    if (response.statusCode !== 204 && response.statusCode !== 200) {
      throw await this.#failure(`DELETE ${key}`, response);
    }
    await response.body.dump();
    return true;
  }

  /**
   * Downloads the object to a fresh spool file, then deletes it from the bucket. Unlike fs (one
   * rename), this needs local room for the object; a failed delete removes the local copy and
   * throws, leaving the object in place.
   */
  async setAside(key: StorageKey): Promise<string | undefined> {
    let stream: Readable;
    try {
      stream = await this.read(key);
    } catch (err) {
      if (err instanceof StorageNotFoundError) return undefined;
      throw err;
    }
    const held = path.join(this.#spool, `gc-${randomUUID()}`);
    try {
      await pipeline(stream, createWriteStream(held, { flags: 'wx' }));
      const response = await this.#send({ method: 'DELETE', key });
      if (response.statusCode !== 204 && response.statusCode !== 200) {
        throw await this.#failure(`DELETE ${key}`, response);
      }
      await response.body.dump();
    } catch (err) {
      await fs.rm(held, { force: true });
      throw err;
    }
    return held;
  }

  /** ListObjectsV2 under `prefix/`, following continuation tokens: S3 lists keys sorted. */
  async *list(prefix: StorageKey): AsyncIterable<ObjectInfo> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix: base };
      if (token !== undefined) query['continuation-token'] = token;
      const response = await this.#send({ method: 'GET', query });
      if (response.statusCode !== 200) throw await this.#failure(`ListObjectsV2 ${base}`, response);
      const parsed = xml.parse(await response.body.text()) as {
        ListBucketResult?: {
          Contents?: ListedObject | ListedObject[];
          IsTruncated?: string;
          NextContinuationToken?: string;
        };
      };
      const result = parsed.ListBucketResult;
      for (const object of asArray(result?.Contents)) {
        const key = object.Key;
        if (key === undefined || key.endsWith('/')) continue;
        if (key.slice(key.lastIndexOf('/') + 1).startsWith(PROBE_PREFIX)) continue;
        yield {
          key: key as StorageKey,
          size: Number(object.Size ?? 0),
          modifiedAt: new Date(object.LastModified ?? 0),
          ...(object.ETag === undefined ? {} : { identity: `s3:${object.ETag}` }),
        };
      }
      token = result?.IsTruncated === 'true' ? result.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /**
   * ListMultipartUploads under `prefix/` (following its key and upload-id markers), then
   * AbortMultipartUpload (DELETE `?uploadId=`) of each begun before `before`, at most `limit`
   * (the rest wait for the next pass). A failed abort is left for the next pass; the count is of
   * those aborted.
   */
  async abortStaleUploads(prefix: StorageKey, before: Date, limit = Infinity): Promise<number> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const stale: { key: string; uploadId: string }[] = [];
    let markers: Record<string, string> = {};
    for (;;) {
      const response = await this.#send({
        method: 'GET',
        query: { uploads: '', prefix: base, ...markers },
      });
      if (response.statusCode !== 200) {
        throw await this.#failure(`ListMultipartUploads ${base}`, response);
      }
      const parsed = xml.parse(await response.body.text()) as {
        ListMultipartUploadsResult?: {
          Upload?: ListedUpload | ListedUpload[];
          IsTruncated?: string;
          NextKeyMarker?: string;
          NextUploadIdMarker?: string;
        };
      };
      const result = parsed.ListMultipartUploadsResult;
      for (const upload of asArray(result?.Upload)) {
        const begun = Date.parse(upload.Initiated ?? '');
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        if (Number.isNaN(begun) || begun >= before.getTime()) continue;
        stale.push({ key: upload.Key, uploadId: upload.UploadId });
        if (stale.length >= limit) break;
      }
      if (stale.length >= limit) break;
      if (result?.IsTruncated !== 'true' || result.NextKeyMarker === undefined) break;
      markers = {
        'key-marker': result.NextKeyMarker,
        'upload-id-marker': result.NextUploadIdMarker ?? '',
      };
    }
    let aborted = 0;
    for (const { key, uploadId } of stale) {
      const response = await this.#send({ method: 'DELETE', key, query: { uploadId } });
      await response.body.dump();
      if (response.statusCode === 204 || response.statusCode === 200) aborted += 1;
    }
    return aborted;
  }

  /**
   * PutObject with `If-None-Match: *` or `If-Match: <etag>` (S3 conditional writes; the etag is
   * the one in ObjectInfo.identity, `s3:<etag>`). A failed condition is 412 Precondition Failed,
   * or 409 ConditionalRequestConflict (a concurrent conditional write), or 404 (If-Match on a
   * deleted object): 'conflict'. A store without conditional writes answers 501 (or S3 code
   * NotImplemented): 'unsupported'. A store that ignores the headers cannot be told apart: the
   * write happens, as a plain one would (the lease's fallback). Other answers: S3RequestError.
   */
  async writeIf(
    key: StorageKey,
    body: Uint8Array,
    condition: WriteCondition,
  ): Promise<ConditionalWrite> {
    const headers: Record<string, string> = { 'Content-Length': String(body.length) };
    if ('ifMatch' in condition) {
      if (!condition.ifMatch.startsWith('s3:')) return 'conflict';
      headers['If-Match'] = condition.ifMatch.slice('s3:'.length);
    } else headers['If-None-Match'] = '*';
    const response = await this.#send({ method: 'PUT', key, headers, body: () => asBuffer(body) });
    const status = response.statusCode;
    if (status === 412 || status === 409 || status === 404) {
      await response.body.dump();
      return 'conflict';
    }
    if (status === 501) {
      await response.body.dump();
      return 'unsupported';
    }
    if (status !== 200) {
      const failure = await this.#failure(`PUT ${key}`, response);
      if (failure.code === 'NotImplemented') return 'unsupported';
      throw failure;
    }
    const { identity } = await this.#written(key, body.length, response);
    // No ETag in the answer: the next condition could not name this write.
    return identity === undefined ? 'unsupported' : { identity };
  }

  /** CopyObject (server side, up to S3's 5 GiB copy limit). Missing source: StorageNotFoundError. */
  async copy(from: StorageKey, to: StorageKey): Promise<ObjectInfo> {
    const info = await this.#copy(from, to, undefined);
    if (info === 'changed') throw new Error(`CopyObject ${from}: unexpected 412`);
    return info;
  }

  /**
   * CopyObject of `from` while its ETag is `etag`, then DeleteObject `If-Match: etag` (S3
   * conditional deletes; 412/409: rewritten since, 404: gone). A HEAD just before the delete
   * covers stores that ignore the header (the window left: one round trip), and a store that
   * refuses it (501 NotImplemented) gets the plain delete after that HEAD. Not deleted: the
   * copy at `to` is removed again.
   */
  async moveIfSame(from: StorageKey, to: StorageKey, identity: string): Promise<MoveOutcome> {
    if (!identity.startsWith('s3:')) return 'changed';
    const etag = identity.slice('s3:'.length);
    let copied: ObjectInfo | 'changed';
    try {
      copied = await this.#copy(from, to, etag);
    } catch (err) {
      if (err instanceof StorageNotFoundError) return 'absent';
      throw err;
    }
    if (copied === 'changed') return 'changed';
    let outcome: MoveOutcome;
    try {
      outcome = await this.#deleteIfMatch(from, etag);
    } catch (err) {
      await this.delete(to).catch(() => false);
      throw err;
    }
    if (outcome !== 'moved') await this.delete(to);
    return outcome;
  }

  async #deleteIfMatch(key: StorageKey, etag: string): Promise<MoveOutcome> {
    const now = await this.stat(key);
    if (now === undefined) return 'absent';
    if (now.identity !== `s3:${etag}`) return 'changed';
    let response = await this.#send({ method: 'DELETE', key, headers: { 'If-Match': etag } });
    if (response.statusCode === 412 || response.statusCode === 409) {
      await response.body.dump();
      return 'changed';
    }
    if (response.statusCode === 404) {
      await response.body.dump();
      return 'absent';
    }
    if (response.statusCode === 501 || response.statusCode === 400) {
      const failure = await this.#failure(`DELETE ${key}`, response);
      if (response.statusCode === 400 && failure.code !== 'NotImplemented') throw failure;
      response = await this.#send({ method: 'DELETE', key });
    }
    if (response.statusCode !== 204 && response.statusCode !== 200) {
      throw await this.#failure(`DELETE ${key}`, response);
    }
    await response.body.dump();
    return 'moved';
  }

  /** CopyObject, with `x-amz-copy-source-if-match` when `etag` is given ('changed': 412). */
  async #copy(
    from: StorageKey,
    to: StorageKey,
    etag: string | undefined,
  ): Promise<ObjectInfo | 'changed'> {
    const source = `/${encodeRfc3986(this.#bucket)}/${from.split('/').map(encodeRfc3986).join('/')}`;
    const headers: Record<string, string> = { 'x-amz-copy-source': source };
    if (etag !== undefined) headers['x-amz-copy-source-if-match'] = etag;
    const response = await this.#send({
      method: 'PUT',
      key: to,
      headers,
      // CopyObject may answer 200 with an <Error> body: retried when its code is transient.
      errorIn200: true,
    });
    const text = await response.body.text();
    if (response.statusCode === 404) throw new StorageNotFoundError(from);
    if (response.statusCode === 412 && etag !== undefined) return 'changed';
    if (response.statusCode !== 200 || text.includes('<Error>')) {
      throw errorFromText(`CopyObject ${from} -> ${to}`, response.statusCode, text);
    }
    const info = await this.stat(to);
    if (info === undefined) throw new StorageNotFoundError(to);
    return info;
  }

  /** A presigned GET (SigV4 query signing); undefined for an anonymous store (nothing to sign). */
  signedUrl(key: StorageKey, expiresInSeconds: number): Promise<string | undefined> {
    if (this.#credentials === undefined) return Promise.resolve(undefined);
    const { host, path: requestPath } = this.#target(key, {
      'X-Amz-Expires': String(Math.max(1, Math.min(604_800, Math.floor(expiresInSeconds)))),
    });
    const signed = aws4.sign(
      {
        host,
        path: requestPath,
        method: 'GET',
        service: 's3',
        region: this.#region,
        signQuery: true,
      },
      this.#credentials,
    );
    return Promise.resolve(`${this.#endpoint.protocol}//${host}${signed.path ?? requestPath}`);
  }

  spoolDir(): string {
    return this.#spool;
  }

  /**
   * HEAD of the bucket. Throws S3UnusableError naming the endpoint, the bucket and what went
   * wrong (unreachable, no such bucket, access denied, HTTP status): never the keys.
   */
  async check(): Promise<void> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#send({ method: 'HEAD' });
    } catch (err) {
      const why = err instanceof S3UnreachableError ? err.reason : (err as Error).message;
      throw new S3UnusableError(`S3 storage ${this.describe()} is unreachable: ${why}`);
    }
    await response.body.dump();
    const status = response.statusCode;
    if (status === 200) return;
    const why =
      status === 404
        ? 'the bucket does not exist (create it first: NORA does not)'
        : status === 403 || status === 401
          ? 'access denied (check [storage] s3_access_key / s3_secret_key, NORA_STORAGE_S3_ACCESS_KEY / NORA_STORAGE_S3_SECRET_KEY, and the bucket policy)'
          : status === 301 || status === 400
            ? `the store refused the request (wrong [storage] s3_region "${this.#region}" or addressing style?)`
            : 'unexpected answer';
    throw new S3UnusableError(`S3 storage ${this.describe()}: ${why} (HTTP ${status})`);
  }

  /** Stores and removes a one-byte object named so that `list` never shows it. */
  async probeWrite(prefix: StorageKey): Promise<void> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const key = `${base}${PROBE_PREFIX}${randomUUID()}` as StorageKey;
    await this.write(key, Buffer.from('.'));
    const response = await this.#send({ method: 'DELETE', key });
    await response.body.dump();
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/**
 * No answer from the store after the retries (connection refused, reset, DNS failure, TLS):
 * `reason` is the socket's code (`ECONNREFUSED`) or the error's message. core/errors.ts
 * storageFault answers it 503 `storage is unavailable (S3: <reason>)`, by name.
 */
export class S3UnreachableError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`S3 store unreachable: ${reason}`);
    this.name = 'S3UnreachableError';
    this.reason = reason;
    // An outage, not a bug: its log line says what happened, with no stack trace to read past
    // (trial 30 newB: one per request while the store was down).
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The store cannot be used (check()): start-up stops with this message. */
export class S3UnusableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'S3UnusableError';
  }
}

interface ListedUpload {
  readonly Key?: string;
  readonly UploadId?: string;
  readonly Initiated?: string;
}

interface ListedObject {
  readonly Key?: string;
  readonly Size?: string;
  readonly LastModified?: string;
  readonly ETag?: string;
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function infoOf(key: StorageKey, headers: Dispatcher.ResponseData['headers']): ObjectInfo {
  const etag = header(headers, 'etag');
  const modified = header(headers, 'last-modified');
  return {
    key,
    size: Number(header(headers, 'content-length') ?? 0),
    modifiedAt: modified === undefined ? new Date(0) : new Date(modified),
    ...(etag === undefined ? {} : { identity: `s3:${etag}` }),
  };
}

/** The errno-like code of a request failure (undici wraps the socket's in `cause`). */
function errnoOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** S3's `<Error><Code>` of an error body, if it has one. */
function codeOf(text: string): string | undefined {
  if (!text.includes('<Error>')) return undefined;
  const parsed = xml.parse(text) as { Error?: { Code?: string } };
  return parsed.Error?.Code;
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date, as milliseconds from now. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A response body already read to `text`, offering what callers use of undici's (text, dump). */
function bodyOfText(text: string): Dispatcher.ResponseData['body'] {
  const stream = Readable.from([text]) as Readable & {
    text: () => Promise<string>;
    dump: () => Promise<void>;
  };
  stream.text = () => Promise.resolve(text);
  stream.dump = () => Promise.resolve();
  return stream as unknown as Dispatcher.ResponseData['body'];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorFromText(what: string, status: number, text: string): S3RequestError {
  if (!text.includes('<Error>')) return new S3RequestError(what, status, undefined, undefined);
  const parsed = xml.parse(text) as { Error?: { Code?: string; Message?: string } };
  return new S3RequestError(what, status, parsed.Error?.Code, parsed.Error?.Message);
}

/** A Buffer view of the same bytes (Buffer.from(uint8Array) would copy them). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
