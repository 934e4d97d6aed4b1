/**
 * The answer memo: small, whole GET answers a format declared reusable, kept in memory and sent
 * again by the raw http server before Fastify sees the request (nginx calls this micro-caching).
 *
 * Why: a warm index file, `@v/list`, POM or simple page costs ~45-60 µs of CPU through Fastify
 * and the hooks, of which ~30 µs is node:http itself; on 2 cores that caps those GETs at 0.4-0.5×
 * nginx. Sent from here a hit costs little more than node:http's own work.
 *
 * What is kept, and why each answer stays exact:
 * - Only answers of requests without an Authorization header (the anonymous principal: no
 *   cookies, no other credential exists), status 200, a Buffer or string body of at most
 *   `maxEntryBytes`, from a handler that called `memoizeAnswer` (it vouches that the answer is a
 *   function of the URL, the request headers in the key and the metadata store). Anonymous's
 *   rights change only with the configuration: `clear()` on reload.
 * - Each entry carries the store's write generation read when its request started
 *   (core/write-generation.ts): any write since (a publish, delete, yank, proxy refresh, token
 *   change) makes it stale. An answer whose request overlapped a write is never stored.
 * - Proxied answers are fresh only within their TTL: the handler passes `expiresAt`; every entry
 *   also lives at most `maxAgeMs` (1 s), a bound on anything a handler forgot to say.
 * - The key holds what the answer may depend on besides the path: Host, X-Forwarded-Host/-Proto,
 *   Forwarded (absolute URLs in bodies), Accept, Accept-Encoding (negotiated bodies).
 * A hit still gets what the hooks give every request (http/hooks.ts): request id, the rate limit
 * and the failed-login lockout (a refused request, or any request while an address is locked and
 * the client's may be it, falls through to Fastify, which answers the 429), metrics and the access log
 * line. Conditional requests (If-None-Match, If-Modified-Since) are answered 304 here; Range and
 * the rarer preconditions fall through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ByteLru, ownedBuffer } from '../core/byte-lru.ts';
import { addressKey } from '../core/address-key.ts';
import { notModified } from '../core/http-conditional.ts';
import type { WriteGeneration } from '../core/write-generation.ts';
import { classifyRequest, type RateLimiter } from './rate-limit.ts';

export interface AnswerMemoOptions {
  readonly generation: WriteGeneration;
  /** Bytes all entries may keep alive (bodies + headers). 0 turns the memo off. */
  readonly maxBytes?: number;
  /** The largest body kept (bytes). */
  readonly maxEntryBytes?: number;
  /** The longest an entry is served (ms), whatever its handler said. */
  readonly maxAgeMs?: number;
  /**
   * Seconds an answer under a path (no query) may be kept as far as proxied metadata goes (the
   * shortest TTL of the repository there and its proxy members); undefined: no such bound; ≤ 0:
   * not kept (revalidated on every read).
   */
  readonly freshSeconds?: (pathname: string) => number | undefined;
  /**
   * The proxy repository serving a path, if it is one: a hit on its kept answer is a proxy cache
   * hit too (`nora_cache_hits_total`), counted through `MemoHitDuties.proxyHit`.
   */
  readonly proxyAt?: (pathname: string) => string | undefined;
  /** Millisecond clock (tests). */
  readonly now?: () => number;
}

/** What a hit must do besides sending: the hooks' per-request duties (http/hooks.ts). */
export interface MemoHitDuties {
  readonly rateLimiter?: RateLimiter | undefined;
  /** Metrics + access log of one answered request (seconds: time to answer). */
  readonly answered: (
    requestId: string,
    method: string,
    url: string,
    status: number,
    seconds: number,
    req: IncomingMessage,
  ) => void;
  /** Turns the incoming x-request-id into the id this request answers with. */
  readonly requestId: (header: string | string[] | undefined) => string;
  /** Counts a proxy cache hit for the named proxy repository. */
  readonly proxyHit?: (repository: string) => void;
  /**
   * True when the request may come from an address locked after failed logins (auth/lockout.ts):
   * the hit falls through to Fastify, whose hook answers the 429. `socketAddress` is the peer;
   * `forwarded`: the request names another client address (X-Forwarded-For, Forwarded).
   */
  readonly mayBeLocked?: (socketAddress: string, forwarded: boolean) => boolean;
}

interface Entry {
  readonly generation: number;
  /** Epoch ms after which the entry is not served. */
  readonly expiresAt: number;
  /**
   * Flat header list for writeHead (name, value, …) ending in `x-request-id` and a slot its
   * value is written into for each hit (writeHead copies the list at once): no copy per hit.
   */
  readonly headers: string[];
  readonly body: Buffer;
  readonly etag: string | undefined;
  /** Last-Modified in epoch seconds, when the answer has one. */
  readonly modifiedSeconds: number | undefined;
  /** The proxy repository whose cached copy this is (counted as a cache hit when sent). */
  readonly proxy: string | undefined;
  readonly bytes: number;
}

/** Request state between onRequest and onSend: the generation read at the start, the deadline. */
interface MemoMark {
  readonly generation: number;
  expiresAt: number;
  readonly memo: AnswerMemo;
}

const MARK = Symbol('answer-memo');
type MarkedRequest = FastifyRequest & { [MARK]?: MemoMark };

/** Headers never replayed: per request, per connection, or recomputed. */
const NOT_REPLAYED = new Set([
  'x-request-id',
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'date',
]);

/** How often held entries are checked for expiry (entries live ≤ 1 s). */
const SWEEP_MS = 2000;

const DEFAULTS = { maxBytes: 32 * 1024 * 1024, maxEntryBytes: 1024 * 1024, maxAgeMs: 1000 };

/**
 * Whole reads (admitsWhole) in flight at once, in largest entries (maxEntryBytes): each is a
 * fresh buffer outside the entries' budget until its answer is sent (code review, thirtieth
 * session: a burst, or writes that keep record() from keeping the body, read about every other
 * request whole, memory growing with concurrency × 1 MiB).
 */
const WHOLE_READS_IN_ENTRIES = 4;

/** Keys of large answers asked for lately that `admitsWhole` remembers (oldest dropped first). */
const ASKED_LARGE_KEYS = 1024;

export class AnswerMemo {
  readonly #generation: WriteGeneration;
  readonly #entries: ByteLru<string, Entry>;
  readonly #maxEntryBytes: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #freshSeconds: ((pathname: string) => number | undefined) | undefined;
  readonly #proxyAt: ((pathname: string) => string | undefined) | undefined;
  #open = true;
  /** Keys of large answers sent streamed lately → when (ms): see admitsWhole. */
  readonly #askedLarge = new Map<string, number>();
  /** Keys of answers admitted whole and not sent yet → their bytes (admitsWhole, wholeSent). */
  readonly #readingWhole = new Map<string, number>();
  /** The sum of #readingWhole's bytes: fresh buffers outside the entries' budget. */
  #readingWholeBytes = 0;
  /** The most #readingWholeBytes may reach (WHOLE_READS_IN_ENTRIES × maxEntryBytes). */
  readonly #maxReadingWholeBytes: number;
  /** Drops expired entries while any are held, so a burst's answers do not stay in memory. */
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: AnswerMemoOptions) {
    this.#generation = options.generation;
    const maxBytes = options.maxBytes ?? DEFAULTS.maxBytes;
    this.#entries = new ByteLru<string, Entry>(maxBytes, (entry) => entry.bytes);
    this.#maxEntryBytes = options.maxEntryBytes ?? DEFAULTS.maxEntryBytes;
    this.#maxReadingWholeBytes = WHOLE_READS_IN_ENTRIES * this.#maxEntryBytes;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULTS.maxAgeMs;
    this.#now = options.now ?? Date.now;
    this.#freshSeconds = options.freshSeconds;
    this.#proxyAt = options.proxyAt;
  }

  /** Entries held now (tests, metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** Forgets every entry (configuration reload: anonymous's rights may have changed). */
  clear(): void {
    this.#entries.clear();
    this.#askedLarge.clear();
  }

  /** Stops serving (shutdown: Fastify answers 503 to what still comes). */
  stop(): void {
    this.#open = false;
    this.#entries.clear();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** Drops every entry that can no longer be served (expired, or older than the last write). */
  sweep(): void {
    const now = this.#now();
    const generation = this.#generation.current;
    for (const key of [...this.#entries.keys()]) {
      const entry = this.#entries.peek(key);
      if (entry !== undefined && (entry.generation !== generation || now >= entry.expiresAt)) {
        this.#entries.delete(key);
      }
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /**
   * onRequest: marks a request whose answer could be kept (GET without credentials) with the
   * store's generation now. Anything else is left unmarked and never stored.
   */
  markRequest(request: FastifyRequest): void {
    // A curation bypass token changes what a proxy serves (curation/types.ts): never kept.
    if (
      request.method !== 'GET' ||
      request.headers.authorization !== undefined ||
      request.headers['x-nora-bypass-token'] !== undefined
    ) {
      return;
    }
    (request as MarkedRequest)[MARK] = {
      generation: this.#generation.current,
      expiresAt: 0,
      memo: this,
    };
  }

  /**
   * Whether a handler about to stream a stored body of `bytes` (a whole file too large for the
   * stores' small reads) as the memoizable answer to `req` should read it whole into memory
   * instead, so this memo can keep it: true when the same answer (same key) was asked for
   * within the last 2 × maxAgeMs and it fits an entry. The first ask of a while is noted and
   * answered false, so a file asked for once is streamed from reused buffers as before, not
   * copied into a fresh one (above glibc's mmap threshold, a fresh buffer is a run of page
   * faults: docs/performance.md); a file asked for again and again is then read once per entry
   * life (maxAgeMs) and sent from memory in between, without Fastify, the file read or the
   * thread pool. Bounded: one whole read per key at a time, and at most
   * WHOLE_READS_IN_ENTRIES × maxEntryBytes of them in flight; past that the answer streams (the
   * ask stays noted). A true must be followed by wholeSent(req) once the answer is sent or fails.
   */
  admitsWhole(req: IncomingMessage, bytes: number): boolean {
    if (!this.#open || bytes > this.#maxEntryBytes) return false;
    const key = keyOf(req);
    const now = this.#now();
    const asked = this.#askedLarge.get(key);
    if (asked !== undefined && now - asked <= 2 * this.#maxAgeMs) {
      if (
        this.#readingWhole.has(key) ||
        this.#readingWholeBytes + bytes > this.#maxReadingWholeBytes
      ) {
        return false;
      }
      this.#askedLarge.delete(key);
      this.#readingWhole.set(key, bytes);
      this.#readingWholeBytes += bytes;
      return true;
    }
    this.#askedLarge.delete(key);
    this.#askedLarge.set(key, now);
    if (this.#askedLarge.size > ASKED_LARGE_KEYS) {
      const oldest = this.#askedLarge.keys().next();
      if (oldest.done !== true) this.#askedLarge.delete(oldest.value);
    }
    return false;
  }

  /** Ends the whole read admitsWhole admitted for `req` (its answer sent, or failed). */
  wholeSent(req: IncomingMessage): void {
    const key = keyOf(req);
    const bytes = this.#readingWhole.get(key);
    if (bytes === undefined) return;
    this.#readingWhole.delete(key);
    this.#readingWholeBytes -= bytes;
  }

  /**
   * onSend: keeps the answer when its handler allowed it, it is a whole 200 body within bounds,
   * and no write of the store happened since its request started.
   */
  record(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
    const mark = (request as MarkedRequest)[MARK];
    if (mark === undefined || mark.expiresAt === 0 || !this.#open) return;
    if (reply.statusCode !== 200 || mark.generation !== this.#generation.current) return;
    // The last known copy while every upstream fails: answered afresh, so recovery shows at once.
    if (reply.hasHeader('x-nora-stale')) return;
    const now = this.#now();
    let expiresAt = Math.min(mark.expiresAt, now + this.#maxAgeMs);
    // Proxied metadata: never kept past its TTL from now (at most the 1 s bound past the cached
    // copy's own expiry); with TTL 0 every read revalidates, so nothing is kept.
    const url = request.raw.url ?? '';
    const query = url.indexOf('?');
    const pathname = query === -1 ? url : url.slice(0, query);
    const fresh = this.#freshSeconds?.(pathname);
    if (fresh !== undefined) expiresAt = Math.min(expiresAt, now + fresh * 1000);
    if (expiresAt <= now) return;
    let body: Buffer;
    // Owned copies: a pooled slice would pin its whole 64 KiB slab (core/byte-lru.ts).
    if (typeof payload === 'string') body = ownedBuffer(Buffer.from(payload));
    else if (Buffer.isBuffer(payload)) body = ownedBuffer(payload);
    else return;
    if (body.length > this.#maxEntryBytes) return;
    const headers: string[] = [];
    let etag: string | undefined;
    let modifiedSeconds: number | undefined;
    let headerBytes = 0;
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value === undefined || NOT_REPLAYED.has(name)) continue;
      // A cookie-setting answer is per client; multi-valued headers are rare enough to skip.
      if (name === 'set-cookie' || Array.isArray(value)) return;
      const text = String(value);
      headers.push(name, text);
      headerBytes += name.length + text.length;
      if (name === 'etag') etag = text;
      if (name === 'last-modified') {
        const parsed = Date.parse(text);
        if (!Number.isNaN(parsed)) modifiedSeconds = Math.floor(parsed / 1000);
      }
    }
    headers.push('content-length', String(body.length), 'x-request-id', '');
    this.#sweeper ??= setInterval(() => {
      this.sweep();
    }, SWEEP_MS).unref();
    this.#entries.set(keyOf(request.raw), {
      generation: mark.generation,
      expiresAt,
      headers,
      body,
      etag,
      modifiedSeconds,
      proxy: this.#proxyAt?.(pathname),
      bytes: body.length + headerBytes * 2 + 256,
    });
  }

  /**
   * The raw server's first look at a request: answers it from an entry that is still exact and
   * returns true, or returns false and lets Fastify handle it (nothing written).
   */
  serve(req: IncomingMessage, res: ServerResponse, duties: MemoHitDuties): boolean {
    const method = req.method;
    if ((method !== 'GET' && method !== 'HEAD') || !this.#open || this.#entries.size === 0) {
      return false;
    }
    const h = req.headers;
    if (
      h.authorization !== undefined ||
      h['x-nora-bypass-token'] !== undefined ||
      h.range !== undefined ||
      h['if-range'] !== undefined ||
      h['if-match'] !== undefined ||
      h['if-unmodified-since'] !== undefined ||
      h['content-length'] !== undefined ||
      h['transfer-encoding'] !== undefined
    ) {
      return false;
    }
    const key = keyOf(req);
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    if (entry.generation !== this.#generation.current || this.#now() >= entry.expiresAt) {
      this.#entries.delete(key);
      return false;
    }
    const url = req.url ?? '/';
    const ifNoneMatch = h['if-none-match'];
    const ifModifiedSince = h['if-modified-since'];
    let status = 200;
    if (ifNoneMatch !== undefined || ifModifiedSince !== undefined) {
      // Only the 304 is answered here: a handler may know more validators than the entry's own
      // (PyPI's pages match either coding's ETag), so anything else is the handler's to answer.
      if (!notModified(ifNoneMatch, ifModifiedSince, entry.etag, entry.modifiedSeconds)) {
        return false;
      }
      status = 304;
    }
    if (
      duties.mayBeLocked?.(
        req.socket.remoteAddress ?? '',
        h['x-forwarded-for'] !== undefined || h.forwarded !== undefined,
      ) === true
    ) {
      return false;
    }
    const limiter = duties.rateLimiter;
    if (limiter?.enabled === true) {
      // Behind a trusted proxy the client address is Fastify's to work out (trustProxy).
      if (h['x-forwarded-for'] !== undefined || h.forwarded !== undefined) return false;
      const query = url.indexOf('?');
      const tier = classifyRequest(method, query === -1 ? url : url.slice(0, query));
      if (tier !== undefined && !limiter.allows(tier, addressKey(req.socket.remoteAddress ?? ''))) {
        return false;
      }
    }
    const started = performance.now();
    const requestId = duties.requestId(h['x-request-id']);
    // A 304 carries the 200's headers (RFC 9110 §15.4.5; its Content-Length is the 200's).
    // writeHead serialises the list before it returns (node:_http_outgoing _storeHeader), so
    // the entry's own list carries this request's id: no copy of ~20 strings per hit.
    const headers = entry.headers;
    headers[headers.length - 1] = requestId;
    res.writeHead(status, headers);
    if (status === 304 || method === 'HEAD') res.end();
    else res.end(entry.body);
    if (entry.proxy !== undefined) duties.proxyHit?.(entry.proxy);
    duties.answered(requestId, method, url, status, (performance.now() - started) / 1000, req);
    return true;
  }
}

/**
 * The request inputs an answer may depend on besides the metadata store. Forwarded headers count
 * only from trusted proxies (`[auth] trusted_proxies`, decided by address): with any of them the
 * client's address is part of the key too.
 */
function keyOf(req: IncomingMessage): string {
  const h = req.headers;
  const key = `${req.url ?? ''}\n${h.host ?? ''}\n${h.accept ?? ''}\n${header(h['accept-encoding'])}`;
  const xfh = h['x-forwarded-host'];
  const xfp = h['x-forwarded-proto'];
  const forwarded = h.forwarded;
  if (xfh === undefined && xfp === undefined && forwarded === undefined) return key;
  return `${key}\n${header(xfh)}\n${header(xfp)}\n${forwarded ?? ''}\n${req.socket.remoteAddress ?? ''}`;
}

function header(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A handler's declaration that this GET's 200 answer may be reused until `expiresAt` (epoch ms;
 * default: until the next write of the store; pass the TTL deadline of proxied metadata). Call
 * it only for an answer that is a function of the URL, the headers in the memo's key and the
 * metadata store (never for one built from in-memory state no store write changes). No effect
 * on a request the memo cannot keep (credentials, not GET, memo off).
 */
export function memoizeAnswer(
  request: FastifyRequest,
  expiresAt: number = Number.POSITIVE_INFINITY,
): void {
  const mark = (request as MarkedRequest)[MARK];
  if (mark !== undefined) mark.expiresAt = expiresAt;
}

/**
 * For a handler about to stream a stored body of `bytes` as the answer `reply`: true when
 * it should read the body whole and send it as a Buffer, so the answer memo keeps it
 * (AnswerMemo.admitsWhole: only an answer the handler memoized with `memoizeAnswer`, asked for
 * again within 2 s, of at most the memo's largest entry). False without a memo or a mark.
 */
export function keepsWhole(reply: FastifyReply, bytes: number): boolean {
  const request = reply.request;
  const mark = (request as MarkedRequest)[MARK];
  if (mark === undefined || mark.expiresAt === 0) return false;
  if (!mark.memo.admitsWhole(request.raw, bytes)) return false;
  // The buffer is in flight until the response is done: 'close' comes after it is sent, cut or
  // failed.
  const memo = mark.memo;
  reply.raw.once('close', () => {
    memo.wholeSent(request.raw);
  });
  return true;
}
