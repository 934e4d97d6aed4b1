/**
 * The one internal error type. Services throw `RegistryError` with a code from this table;
 * each format's HTTP layer maps it to its own wire shape (OCI envelope, npm `{error}`, plain text…).
 * A `protocolCode` lets a format carry its exact wire code (e.g. OCI `BLOB_UNKNOWN`) while the
 * generic code still decides the HTTP status.
 */
import { noteDiskFull } from './disk-full.ts';

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  NAME_INVALID: 400,
  DIGEST_INVALID: 400,
  SIZE_INVALID: 400,
  MANIFEST_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  /** Content NORA stored is gone and nothing can refill it (hosted content has no upstream). */
  GONE: 410,
  PRECONDITION_FAILED: 412,
  TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  NOT_IMPLEMENTED: 501,
  UPSTREAM_FAILED: 502,
  UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
  /** The registry's own storage (disk, quota, database file) is full: RFC 4918 §11.5. */
  INSUFFICIENT_STORAGE: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface RegistryErrorOptions {
  /** The protocol's own code for the wire (e.g. OCI `BLOB_UNKNOWN`). */
  readonly protocolCode?: string;
  /** Structured detail for the wire; never contains secrets or upstream hosts. */
  readonly detail?: unknown;
  /** Extra response headers (e.g. `Retry-After`, `Range`). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly protocolCode: string | undefined;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.protocolCode = options.protocolCode;
    this.detail = options.detail;
    this.headers = options.headers;
  }
}

/**
 * The 405 of every format: METHOD_NOT_ALLOWED with `Allow` naming the methods the target URL
 * serves in its repository's mode (RFC 9110 §15.5.6: a 405 MUST carry `Allow`), HEAD added where
 * GET is (every GET route answers HEAD). `allowed` empty gives an empty `Allow`, RFC 9110
 * §10.2.1's "the resource allows no methods" (a write-only URL of a repository that takes no
 * writes, an endpoint disabled by configuration). Each format's error handler copies `headers`
 * onto its own wire shape; `protocolCode` is the protocol's code (OCI `UNSUPPORTED`).
 */
export function methodNotAllowed(
  message: string,
  allowed: readonly string[],
  options: Omit<RegistryErrorOptions, 'headers'> = {},
): RegistryError {
  const methods =
    allowed.includes('GET') && !allowed.includes('HEAD') ? [...allowed, 'HEAD'] : allowed;
  return new RegistryError('METHOD_NOT_ALLOWED', message, {
    ...options,
    headers: { allow: methods.join(', ') },
  });
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}

/** Node errors carry a `code` string (ENOENT, EPIPE, …). */
/**
 * What a request whose body stalled for `[server] body_timeout` is destroyed with, once its 408
 * is sent (app.ts stalledBodies): its upload then fails as on a client disconnect and removes its
 * spool file. That failure is expected, so it is not logged as an error (http/log-options.ts);
 * the access line records the 408.
 */
export class RequestBodyStalledError extends Error {
  override readonly name = 'RequestBodyStalledError';
  readonly code = 'ECONNABORTED';
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Converts anything thrown into a RegistryError; unknown errors become INTERNAL (500). */
export function toRegistryError(err: unknown): RegistryError {
  if (isRegistryError(err)) return err;
  const code = errnoCode(err);
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED') {
    return new RegistryError('BAD_REQUEST', 'request body was interrupted', { cause: err });
  }
  const storage = storageFault(err);
  if (storage !== undefined) return storage;
  const fastifyStatus = fastifyClientStatus(err);
  if (fastifyStatus !== undefined) {
    const generic = (Object.keys(ERROR_STATUS) as ErrorCode[]).find(
      (c) => ERROR_STATUS[c] === fastifyStatus,
    );
    return new RegistryError(generic ?? 'BAD_REQUEST', (err as Error).message, { cause: err });
  }
  return new RegistryError('INTERNAL', 'internal server error', { cause: err });
}

/** The formats with hosted files read through storage/blob-store.ts `BlobStore.hosted`. */
export type HostedRepairFormat = 'npm' | 'cargo' | 'go' | 'pypi' | 'maven' | 'helm' | 'raw';

/**
 * How each format's hosted file is repaired once its stored bytes are gone (docs/storage.md
 * "Integrity of stored bytes"), the hint of its 410s: a Go module is published again with
 * `nora go publish` of the same tree (the CLI builds the same zip), while the npm and Cargo
 * clients refuse to publish an existing version, so their file is put back by hand (trial 19
 * fmts F4: Go's 410 said "(npm, cargo)"). Short: the whole text must fit a reason phrase
 * (MAX_REASON_PHRASE with "Gone - "), which pip prints alone.
 */
const HOSTED_REPAIR: Readonly<Record<HostedRepairFormat, string>> = {
  npm: 'put the npm pack .tgz back by hand',
  cargo: 'put the cargo package .crate back by hand',
  go: 'nora go publish the same tree and version again',
  pypi: 'upload the same file again',
  maven: 'upload the same file again',
  helm: 'upload the same chart archive again',
  raw: 'upload the same bytes again',
};

/** The repair hint for `format`; without one (a HEAD's generic 410), the choices of all. */
function hostedRepair(format: HostedRepairFormat | undefined): string {
  return format === undefined
    ? 'upload it again or put the file back (npm, cargo)'
    : HOSTED_REPAIR[format];
}

/**
 * What a read of HOSTED content whose bytes are gone from a reachable storage answers (the
 * one place that decides the status, storage/blob-store.ts `BlobStore.hosted`): 410 Gone, not
 * the 503 a proxy's missing file gets. Nothing refills hosted content (no upstream; only a
 * re-upload or the file put back by hand, docs/storage.md), and 503 is what npm, pip, Cargo,
 * Maven and Gradle retry with back-off (npm for about a minute per file) while no 4xx but 408
 * and 429 is retried, so a build fails at once with this text. `no-store`: a cache must not keep
 * the answer past the repair. Written to fit a reason phrase (MAX_REASON_PHRASE, with "Gone - "):
 * pip prints only that, and a cut one lost the pointer to nora verify (trial 18 authx F7).
 */
export function hostedContentGone(cause?: unknown, format?: HostedRepairFormat): RegistryError {
  return new RegistryError(
    'GONE',
    `stored file missing from storage, so retrying will not help (hosted, no upstream): ${hostedRepair(format)}; nora verify lists what is missing, docs/storage.md says how`,
    { cause, headers: { 'cache-control': 'no-store' } },
  );
}

/**
 * What a read of HOSTED content answers when its stored bytes failed their integrity check on
 * that read (the store has removed them: storage/blob-store.ts `BlobStore.hosted`): 410 at once,
 * as for bytes already gone (hostedContentGone), not the 503 a proxy's damaged file gets. The
 * 503 only bought a client's retries (npm: ~10 s) before the next request's 410, since nothing
 * refills hosted content (trial 17 auth F3).
 */
export function hostedContentDamaged(cause?: unknown, format?: HostedRepairFormat): RegistryError {
  return new RegistryError(
    'GONE',
    `stored file failed its integrity check and was removed, so retrying will not help (hosted, no upstream): ${hostedRepair(format)}; see nora verify and docs/storage.md`,
    { cause, headers: { 'cache-control': 'no-store' } },
  );
}

/** errno codes of a full disk or quota: 507, the client may retry once space is freed. */
const FULL_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);
/**
 * errno codes of storage NORA may not write (or read) now: 503, nothing the client did. EISDIR:
 * a directory made by hand where a blob's file belongs, which the rename of an upload cannot
 * replace (the operator removes it; the log names the path).
 */
const UNWRITABLE_ERRNOS = new Set([
  'EROFS',
  'EACCES',
  'EPERM',
  'EIO',
  'EMFILE',
  'ENFILE',
  'EISDIR',
  // `blobs/` (or a shard of it) mounted apart from `.tmp/`: an upload's rename from its spool
  // file cannot cross file systems (trial 24 opsA F1 answered a bare 500; docs/storage.md says
  // the storage directory is one file system).
  'EXDEV',
  // A storage directory gone from under the running server (a volume unmounted or a data
  // directory removed: /health says "reachable": false). Reads of a missing object are
  // StorageNotFoundError before they get here; an ENOENT that reaches this mapping is a write
  // (spool file, temp file, rename) into a directory that no longer exists.
  'ENOENT',
]);
/** SQLite primary result codes (node:sqlite `errcode`, low byte of an extended code). */
const SQLITE_FULL = 13;
const SQLITE_UNAVAILABLE = new Set([8 /* READONLY */, 10 /* IOERR */, 14 /* CANTOPEN */]);
/** BUSY/LOCKED: another connection (`nora gc`, a second process) held the write lock past the busy timeout. */
const SQLITE_BUSY = new Set([5 /* BUSY */, 6 /* LOCKED */]);
/** Whole seconds a client is asked to wait after a busy database (a gc pass is about that long). */
const BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * Why the S3 store failed a request, when it is the store's fault and not the request's: no
 * answer (storage/drivers/s3-driver.ts S3UnreachableError: `ECONNREFUSED`, …) or, after the
 * driver's retries, a 5xx or a refusal of NORA's credentials (401/403, `HTTP 503 SlowDown`).
 * By name, as core does not import storage. undefined for anything else.
 */
function s3Fault(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  if (err.name === 'S3UnreachableError') {
    const reason = (err as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : 'unreachable';
  }
  if (err.name !== 'S3RequestError') return undefined;
  const { status, code } = err as { status?: unknown; code?: unknown };
  if (typeof status !== 'number' || !(status >= 500 || status === 401 || status === 403)) {
    return undefined;
  }
  return `HTTP ${String(status)}${typeof code === 'string' ? ` ${code}` : ''}`;
}

/**
 * The one mapping of a server-side storage failure (a blob, spool or database write or read
 * refused by the file system) to its answer, for every format: disk or database full → 507
 * INSUFFICIENT_STORAGE, read-only / permission / I/O failure → 503 UNAVAILABLE, database write
 * lock held by another process past the busy timeout → 503 UNAVAILABLE with Retry-After (DESIGN §4: a
 * clear 5xx, never a crash or a bare 500). The message names the condition, never a path.
 * undefined for anything else.
 */
export function storageFault(err: unknown): RegistryError | undefined {
  // storage/driver.ts's StorageNotFoundError by name (core does not import storage): a blob
  // the metadata names is gone from the disk (deleted behind NORA's back). Re-uploading the same
  // bytes repairs it (ingest rewrites a blob whose file is missing or of the wrong size).
  if (err instanceof Error && err.name === 'StorageNotFoundError') {
    return new RegistryError('UNAVAILABLE', 'stored content is missing from storage', {
      cause: err,
    });
  }
  // storage/blob-store.ts's BlobIntegrityError, by name too: the stored bytes no longer match
  // their digest; the store has removed them, so an upload or proxy fill of them repairs it.
  if (err instanceof Error && err.name === 'BlobIntegrityError') {
    return new RegistryError(
      'UNAVAILABLE',
      'stored content failed its integrity check and was removed; upload it again (a proxy fetches it again on the next request)',
      { cause: err },
    );
  }
  const s3 = s3Fault(err);
  if (s3 !== undefined) {
    return new RegistryError('UNAVAILABLE', `storage is unavailable (S3: ${s3})`, { cause: err });
  }
  const code = errnoCode(err);
  if (code === undefined) return undefined;
  if (FULL_ERRNOS.has(code)) {
    // /health says so until space is freed (trial 25 ops F10: it said healthy through 507s).
    noteDiskFull(err);
    return new RegistryError('INSUFFICIENT_STORAGE', 'insufficient storage: the disk is full', {
      cause: err,
    });
  }
  if (UNWRITABLE_ERRNOS.has(code)) {
    return new RegistryError('UNAVAILABLE', `storage is unavailable (${code})`, { cause: err });
  }
  if (code !== 'ERR_SQLITE_ERROR') return undefined;
  const errcode = (err as { errcode?: unknown }).errcode;
  if (typeof errcode !== 'number') return undefined;
  const primary = errcode & 0xff;
  if (primary === SQLITE_FULL) {
    return new RegistryError(
      'INSUFFICIENT_STORAGE',
      'insufficient storage: the metadata database is full',
      { cause: err },
    );
  }
  if (SQLITE_BUSY.has(primary)) {
    return new RegistryError(
      'UNAVAILABLE',
      'the metadata database is busy (another process holds its write lock, e.g. nora gc); retry shortly',
      { cause: err, headers: { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) } },
    );
  }
  if (SQLITE_UNAVAILABLE.has(primary)) {
    return new RegistryError('UNAVAILABLE', 'the metadata database is not writable', {
      cause: err,
    });
  }
  return undefined;
}

/**
 * The 4xx status of an error Fastify raised about the request itself (FST_ERR_CTP_* for a body
 * it could not take: unsupported media type, invalid JSON, too large), else undefined. Such an
 * error is the client's, never a 500.
 */
function fastifyClientStatus(err: unknown): number | undefined {
  const code = errnoCode(err);
  if (code === undefined || !code.startsWith('FST_ERR_') || !(err instanceof Error))
    return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
