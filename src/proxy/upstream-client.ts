/**
 * The HTTP client every proxy repository uses to reach its upstreams: undici with keep-alive pools
 * per origin (one dispatcher per engine), outbound HTTP_PROXY/HTTPS_PROXY/NO_PROXY honoured
 * (EnvHttpProxyAgent), a connect+headers timeout and a per-chunk body read timeout, redirects
 * followed (blob CDNs) without carrying credentials to another origin, the auth strategy's
 * challenge dance, and the per-upstream circuit breaker.
 *
 * A redirect from an upstream at a public address to another origin goes through a second,
 * guarded dispatcher that connects only to public addresses (address-policy.ts, docs/proxy.md
 * "Redirects"): a hostile upstream cannot make NORA fetch, cache and serve an internal service.
 *
 * Content codings: a request asks `Accept-Encoding: identity` unless its caller asked for a
 * coding itself (npm's packuments: gzip, decoded there). A body an upstream compressed anyway
 * (a CDN or an nginx `gzip on` that ignores the header) is decoded here, streamed, before any
 * caller sees it, and its `Content-Encoding`/`Content-Length` are hidden: what is hashed,
 * verified, stored and served is always the file's identity bytes (RFC 9110 §8.4). The decoded
 * size is bounded by each caller's own byte limits, as an identity body's is. Raw proxies ask
 * with `contentCoding: 'keep'` instead: no Accept-Encoding sent, the body kept as it came (the
 * file a plain download saves; docs/proxy.md "Content codings per format").
 *
 * Errors thrown from here are RegistryErrors naming the upstream by its label, never its host.
 */
import { PassThrough, type Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import dns from 'node:dns/promises';
import { Agent, type Dispatcher, EnvHttpProxyAgent } from 'undici';
import { raceDeadline } from '../core/deadline.ts';
import { RegistryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import {
  type AddressPolicy,
  DEFAULT_ADDRESS_POLICY,
  guardedConnector,
  literalAddress,
  REDIRECT_REFUSED,
} from './address-policy.ts';
import type { AuthStrategy, IssuedToken } from './auth.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { ProxyMetrics } from './metrics.ts';
import { VERSION } from '../version.ts';

/**
 * The User-Agent of every request to an upstream (and its token endpoints) unless the caller sets
 * its own: an upstream's operator can tell NORA's traffic apart, and some CDNs and WAFs refuse a
 * request without one (crates.io's data-access policy asks automated clients to name themselves).
 */
export const UPSTREAM_USER_AGENT = `nora/${VERSION}`;

/** One configured upstream as the engine sees it. */
export interface UpstreamTarget {
  /** Stable label for metrics, /health and error messages (never the host). */
  readonly label: string;
  /** Metric label: the repository this upstream belongs to. */
  readonly registry: string;
  /** Base URL; request paths are appended to it (a path prefix is kept). */
  readonly baseUrl: string;
  readonly auth: AuthStrategy;
  readonly breaker: CircuitBreaker;
  /** Connect + response-headers timeout, ms (proxy_timeout). */
  readonly timeoutMs: number;
  /** Longest silence between two body chunks, ms (read_timeout). */
  readonly readTimeoutMs: number;
  /**
   * The whole-fetch bound of a `wholeDeadline` request, ms, when it differs from timeoutMs (which
   * then bounds only the connection and the response headers, as for any request): Maven's
   * `header_timeout` is the wait for headers, its `proxy_timeout` the whole of a metadata fetch.
   */
  readonly wholeTimeoutMs?: number;
  /**
   * The configured upstream's URL when baseUrl is a host its documents named: the first request
   * is then held to the redirect rule as a redirect from that upstream would be.
   */
  readonly namedBy?: string;
}

export interface UpstreamRequest {
  /** POST is for small forwarded documents (npm audit): the body is a Buffer, so it can be resent. */
  readonly method: 'GET' | 'HEAD' | 'POST';
  /** Path (and query) appended to the base URL, already percent-encoded. */
  readonly path: string;
  /** Request body (POST); resent on an auth retry and on 307/308, which keep the method. */
  readonly body?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /** Auth scope hint (Docker: `repository:<name>:pull`), the token cache key. */
  readonly scope?: string;
  readonly signal?: AbortSignal;
  /**
   * `decode` (the default): ask for identity and decode a body compressed anyway (see the module
   * comment). `keep`: send no Accept-Encoding and hand the body on as it came, Content-Encoding
   * and Content-Length included: the bytes `curl -O` and `wget` save are the file (raw proxies,
   * where users check a release download against its publisher's checksum, and a `.tar.gz`
   * labelled `Content-Encoding: gzip` by a server's `AddEncoding` must stay a `.tar.gz`).
   */
  readonly contentCoding?: 'decode' | 'keep';
  /**
   * A small metadata document (manifest, packument, index page, list): the whole fetch, headers
   * and body, must finish within the target's timeoutMs (proxy_timeout; its wholeTimeoutMs when
   * set, the headers still within timeoutMs), else the body fails
   * with an upstream timeout. Without it (artifact bodies: layers, tarballs, wheels, jars, which
   * may be large and legitimately slow) only the silence between two chunks is bounded
   * (readTimeoutMs, read_timeout): a body that drips one byte per chunk would never time out.
   */
  readonly wholeDeadline?: boolean;
  /**
   * With wholeDeadline: a body read to its end is not yet the upstream's success; the caller
   * judges what it says (a captive-portal page answered 200 is a failure) and must call the
   * response's `settle` once, on every path (fetchRevalidated does, in a `finally`). A body that
   * breaks off is still judged here.
   */
  readonly callerVerdict?: boolean;
  /**
   * Sent alongside another request for the same client request (a Maven file's `.sha1`, asked at
   * once with the file): while the circuit is closed its failure is not counted, because the
   * main request reaches the same upstream and counts that failure itself: one client request
   * must cost at most one failure per upstream (trial 18 fmts F12), or the breaker opens after
   * threshold/2 requests. As the half-open probe its failure counts (the probe's verdict).
   */
  readonly companion?: boolean;
}

export interface UpstreamResponse {
  readonly status: number;
  header(name: string): string | undefined;
  /** Must be consumed or destroyed by the caller. */
  readonly body: Readable;
  /**
   * The URL that gave this answer when redirects were followed to get it (absolute); undefined
   * when the asked URL answered itself. A raw proxy tells a folder by it (`sub` → `sub/`).
   */
  readonly redirectedTo?: string;
  /**
   * The caller's verdict on the body (UpstreamRequest.callerVerdict): false counts against the
   * upstream's circuit breaker as a 5xx does. Only the first verdict (this or a broken body)
   * counts; without callerVerdict it does nothing.
   */
  settle?(ok: boolean): void;
}

const MAX_REDIRECTS = 5;
/** The variables EnvHttpProxyAgent takes a proxy from: with any non-empty, it decides as before. */
const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY'];
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

export interface UpstreamClientOptions {
  readonly metrics: ProxyMetrics;
  /** Tests and embedders may bring their own dispatcher; default: EnvHttpProxyAgent. */
  readonly dispatcher?: Dispatcher;
  /** Which addresses count as internal (tests count a fixture port as public). */
  readonly addressPolicy?: AddressPolicy;
  /** Where a refused redirect is logged (a warning naming the upstream's label). */
  readonly log?: Logger;
}

/** How long `refusesNamedFile` waits for a host name's addresses, ms. */
const NAMED_FILE_LOOKUP_MS = 2_000;
/** How long an upstream's own host is remembered as internal or public, ms. */
const UPSTREAM_CLASS_TTL_MS = 30_000;

export class UpstreamClient {
  readonly #dispatcher: Dispatcher;
  /** Redirect hops of an upstream at a public address: connects to public addresses only. */
  readonly #guarded: Dispatcher;
  /** Whether outbound requests may go through an HTTP(S) proxy (that resolves names itself). */
  readonly #proxied: boolean;
  readonly #policy: AddressPolicy;
  readonly #metrics: ProxyMetrics;
  readonly #log: Logger | undefined;
  /** Upstream host:port → whether it is at an internal address, and until when that holds. */
  readonly #upstreamClass = new Map<string, { internal: boolean; until: number }>();

  constructor(options: UpstreamClientOptions) {
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#policy = options.addressPolicy ?? DEFAULT_ADDRESS_POLICY;
    // EnvHttpProxyAgent reads HTTP_PROXY/HTTPS_PROXY/NO_PROXY itself and keeps one keep-alive
    // pool per origin. It reads the proxy variables once, when made: without any, every request
    // goes to its plain Agent, so that Agent is used directly (EnvHttpProxyAgent parses the
    // origin URL and reads NO_PROXY from the environment on every request to decide nothing).
    const agentOptions = {
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 64,
      pipelining: 1,
    };
    this.#proxied =
      options.dispatcher === undefined &&
      PROXY_VARIABLES.some((name) => (process.env[name] ?? '') !== '');
    this.#dispatcher =
      options.dispatcher ??
      (this.#proxied ? new EnvHttpProxyAgent(agentOptions) : new Agent(agentOptions));
    // The guarded connector applies to direct connections (NO_PROXY hosts included); a
    // ProxyAgent ignores it: through a proxy, #redirectDispatcher's own look-up is the check.
    const guardedOptions = { ...agentOptions, connect: guardedConnector(this.#policy) };
    this.#guarded = this.#proxied
      ? new EnvHttpProxyAgent(guardedOptions)
      : new Agent(guardedOptions);
  }

  /** A plain Agent (no proxy variables): for tests that must not depend on the environment. */
  static directDispatcher(): Dispatcher {
    return new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  }

  async close(): Promise<void> {
    await Promise.all([this.#dispatcher.close(), this.#guarded.close()]);
  }

  /** Aborts every request in flight (shutdown with a revalidation waiting on a hung upstream). */
  async destroy(): Promise<void> {
    await Promise.all([this.#dispatcher.destroy(), this.#guarded.destroy()]);
  }

  /**
   * Sends one request to an upstream, answering its auth challenge once. Returns any HTTP
   * response (the caller decides what 404 means); throws UPSTREAM_FAILED / UPSTREAM_TIMEOUT /
   * UNAVAILABLE (circuit open) otherwise.
   */
  async request(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse> {
    if (!target.breaker.tryAcquire()) {
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label} is unavailable (circuit open)`,
        {
          detail: { upstream: target.label, circuit: 'open', reason: 'circuit open' },
        },
      );
    }
    const counts = request.companion !== true || target.breaker.state !== 'closed';
    const fail = (): void => {
      if (counts) target.breaker.recordFailure();
    };
    const url = joinUrl(target.baseUrl, request.path);
    const origin = url.origin;
    try {
      let response = await this.#send(
        target,
        url,
        request,
        target.auth.initial(origin, request.scope),
      );
      if (response.status === 401) {
        const retryWith = await target.auth.challenge(
          origin,
          response.header('www-authenticate'),
          request.scope,
        );
        if (retryWith !== undefined) {
          response.body.destroy();
          response = await this.#send(target, url, request, retryWith);
        }
      }
      // A metadata document is only answered once its body is in: an upstream that sends its
      // headers at once and then drips until the whole deadline cuts it must count as failing,
      // or its breaker (reset by each "success" at the headers) would never open.
      const verdictAtEnd =
        request.wholeDeadline === true && request.method !== 'HEAD' && response.status < 500;
      if (response.status >= 500) fail();
      else if (!verdictAtEnd) target.breaker.recordSuccess();
      if (request.contentCoding !== 'keep') {
        response = decodedResponse(response, request, target.label);
      }
      if (verdictAtEnd) {
        const settle = judgeBody(response.body, target, request.callerVerdict === true, fail);
        const answered = response;
        response = {
          status: answered.status,
          header: (name) => answered.header(name),
          body: answered.body,
          ...(answered.redirectedTo === undefined ? {} : { redirectedTo: answered.redirectedTo }),
          settle,
        };
      } else {
        // A body that dies mid-stream (read timeout, reset) is an upstream failure too; one we
        // destroyed ourselves (HEAD, redirect, client gone) is not.
        response.body.once('error', (err) => {
          if (isTransportFailure(err)) fail();
        });
      }
      return response;
    } catch (err) {
      if (isCallerAbort(err, request.signal)) target.breaker.release();
      else fail();
      throw toUpstreamError(err, target.label);
    }
  }

  /**
   * GETs a bearer token endpoint; used by ChallengeAuth. A realm on another origin than the
   * `upstream`'s is held to the redirect rule (the upstream named it, as it names a redirect).
   */
  async fetchToken(
    url: URL,
    basic: string | undefined,
    timeoutMs: number,
    upstream?: { readonly origin: string; readonly label: string },
  ): Promise<IssuedToken> {
    const dispatcher =
      upstream === undefined || url.origin === upstream.origin
        ? this.#dispatcher
        : await this.#redirectDispatcher(upstream.label, new URL(upstream.origin), url, 'token');
    const response = await dispatcher
      .request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: {
          'user-agent': UPSTREAM_USER_AGENT,
          accept: 'application/json',
          ...(basic === undefined ? {} : { authorization: basic }),
        },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      })
      .catch((err: unknown) => {
        if (upstream !== undefined && hasCode(err, REDIRECT_REFUSED)) {
          throw this.#refused(upstream.label, url, 'token');
        }
        throw err;
      });
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_TOKEN_RESPONSE_BYTES) {
        response.body.on('error', () => undefined).destroy();
        throw new RegistryError('UPSTREAM_FAILED', 'upstream token response is too large');
      }
      chunks.push(chunk);
    }
    if (response.statusCode !== 200) {
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream token endpoint answered ${response.statusCode}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new RegistryError('UPSTREAM_FAILED', 'upstream token response is not JSON');
    }
    const body = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
      string,
      unknown
    >;
    const token = typeof body['token'] === 'string' ? body['token'] : body['access_token'];
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError('UPSTREAM_FAILED', 'upstream token response has no token');
    }
    const expires = body['expires_in'];
    return { token, expiresInSeconds: typeof expires === 'number' && expires > 0 ? expires : 300 };
  }

  /**
   * Whether a file URL `file` that the upstream at `upstream` names (a Helm index entry's chart
   * URL on another host) would be refused before any request, as `request` with `namedBy`
   * refuses it (#redirectDispatcher, the guarded connector): true when the upstream is at a
   * public address and `file`'s host is an internal address — a literal one, or a name all of
   * whose addresses are internal (through an HTTP(S) proxy: any). A name that does not resolve
   * here is not refused (only its fetch can tell). Same origin: never refused. For leaving such
   * entries out of what is listed, so a client is not offered what cannot be downloaded.
   */
  async refusesNamedFile(upstream: string, file: string): Promise<boolean> {
    const start = new URL(upstream);
    const next = new URL(file);
    if (start.origin === next.origin) return false;
    if (await this.#upstreamIsInternal(start)) return false;
    const port = urlPort(next);
    const literal = literalAddress(next.hostname);
    if (literal !== undefined) return this.#policy.isInternal(literal, port);
    // Bounded: a listing waits on it, and a name that does not answer soon is not refused.
    const addresses = await raceDeadline(
      dns.lookup(next.hostname, { all: true }).catch(() => []),
      NAMED_FILE_LOOKUP_MS,
      [],
    );
    const internal = addresses.filter((entry) => this.#policy.isInternal(entry.address, port));
    return this.#proxied
      ? internal.length > 0
      : addresses.length > 0 && internal.length === addresses.length;
  }

  /**
   * The dispatcher for a redirect hop from `start` (the upstream's own URL) to `next`, another
   * origin: the plain one when the upstream itself is at an internal address (an internal
   * mirror may redirect internally), else the guarded one. Through an HTTP(S) proxy NORA does
   * not connect to `next` itself: a target whose literal address or whose name (as resolved
   * here) is internal is refused before the request; a name NORA cannot resolve is left to the
   * proxy (docs/proxy.md).
   */
  async #redirectDispatcher(
    label: string,
    start: URL,
    next: URL,
    kind: RefusedKind,
  ): Promise<Dispatcher> {
    if (await this.#upstreamIsInternal(start)) return this.#dispatcher;
    const port = urlPort(next);
    const literal = literalAddress(next.hostname);
    if (literal !== undefined) {
      if (this.#policy.isInternal(literal, port)) throw this.#refused(label, next, kind);
    } else if (this.#proxied) {
      const addresses = await dns.lookup(next.hostname, { all: true }).catch(() => []);
      if (addresses.some((entry) => this.#policy.isInternal(entry.address, port))) {
        throw this.#refused(label, next, kind);
      }
    }
    return this.#guarded;
  }

  /**
   * Whether the configured upstream is at an internal address: an IP literal is judged as it
   * is, a name by every address it resolves to (all internal: internal). A name that does not
   * resolve here (only the egress proxy can) counts as public. Remembered for a short while.
   */
  async #upstreamIsInternal(start: URL): Promise<boolean> {
    const key = start.host;
    const now = Date.now();
    const known = this.#upstreamClass.get(key);
    if (known !== undefined && known.until > now) return known.internal;
    const port = urlPort(start);
    const literal = literalAddress(start.hostname);
    let internal: boolean;
    if (literal !== undefined) internal = this.#policy.isInternal(literal, port);
    else {
      const addresses = await dns.lookup(start.hostname, { all: true }).catch(() => []);
      internal =
        addresses.length > 0 &&
        addresses.every((entry) => this.#policy.isInternal(entry.address, port));
    }
    if (this.#upstreamClass.size > 1000) this.#upstreamClass.clear();
    this.#upstreamClass.set(key, { internal, until: now + UPSTREAM_CLASS_TTL_MS });
    return internal;
  }

  /**
   * The error of a refused redirect: the same whatever the target (an open or a closed port,
   * nothing is connected to), the upstream named by its label; logged as a warning.
   */
  #refused(label: string, next: URL, kind: RefusedKind): RegistryError {
    const what = { redirect: 'redirect', token: 'token endpoint (realm)', named: 'file URL' }[kind];
    this.#log?.warn(
      { upstream: label, redirectHost: next.hostname },
      `refused an upstream ${what} at an internal address (the upstream is at a public address)`,
    );
    return new RegistryError(
      'UPSTREAM_FAILED',
      {
        redirect: `upstream ${label} redirected to an address NORA does not fetch from`,
        token: `upstream ${label} named a token endpoint at an address NORA does not fetch from`,
        named: `upstream ${label} named a file at an address NORA does not fetch from`,
      }[kind],
      { detail: { upstream: label, reason: `${kind} refused` } },
    );
  }

  async #send(
    target: UpstreamTarget,
    start: URL,
    request: UpstreamRequest,
    authorization: string | undefined,
  ): Promise<UpstreamResponse> {
    const ended = this.#metrics.upstreamDuration.startTimer({ registry: target.registry });
    // One timer covers connect + response headers of every hop, and is cleared once headers are
    // in: the body has its own per-chunk timeout (a long layer may take longer than the timeout).
    const deadline = new AbortController();
    const expire = (): void => {
      deadline.abort(new TimeoutError());
    };
    const whole = request.wholeDeadline === true && request.method !== 'HEAD';
    // A whole deadline of its own (wholeTimeoutMs): `timer` bounds the whole fetch, `headersTimer`
    // the wait for the headers.
    const wholeMs = whole ? (target.wholeTimeoutMs ?? target.timeoutMs) : target.timeoutMs;
    const timer = setTimeout(expire, wholeMs);
    const headersTimer =
      wholeMs > target.timeoutMs ? setTimeout(expire, target.timeoutMs) : undefined;
    const signal = request.signal
      ? AbortSignal.any([request.signal, deadline.signal])
      : deadline.signal;
    let keep = false;
    try {
      const response = await this.#follow(target, start, request, authorization, signal, ended);
      clearTimeout(headersTimer);
      if (whole) {
        // The same timer goes on over the body (see UpstreamRequest.wholeDeadline).
        keep = true;
        const body = response.body;
        const onTimeout = (): void => {
          body.destroy(new TimeoutError());
        };
        if (deadline.signal.aborted) onTimeout();
        else deadline.signal.addEventListener('abort', onTimeout, { once: true });
        body.once('close', () => {
          clearTimeout(timer);
          deadline.signal.removeEventListener('abort', onTimeout);
        });
      }
      return response;
    } catch (err) {
      if (deadline.signal.aborted && request.signal?.aborted !== true) throw new TimeoutError();
      throw err;
    } finally {
      clearTimeout(headersTimer);
      if (!keep) clearTimeout(timer);
    }
  }

  async #follow(
    target: UpstreamTarget,
    start: URL,
    request: UpstreamRequest,
    authorization: string | undefined,
    signal: AbortSignal,
    ended: (labels: { status: string }) => void,
  ): Promise<UpstreamResponse> {
    let url = start;
    // The configured upstream: the one whose address decides where redirects may lead.
    const home = target.namedBy === undefined ? start : new URL(target.namedBy);
    let first = this.#dispatcher;
    if (home.origin !== start.origin) {
      try {
        first = await this.#redirectDispatcher(target.label, home, start, 'named');
      } catch (err) {
        ended({ status: 'error' });
        throw err;
      }
    }
    let dispatcher = first;
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === start.origin;
      // Identity unless the caller asked for a coding itself (see the module comment); nothing
      // when it keeps the body as sent (a plain download: curl and wget ask for no coding).
      const headers: Record<string, string> = {
        'user-agent': UPSTREAM_USER_AGENT,
        ...(request.contentCoding === 'keep' ? {} : { 'accept-encoding': 'identity' }),
        ...request.headers,
      };
      if (authorization !== undefined && sameOrigin) headers['authorization'] = authorization;
      let response: Dispatcher.ResponseData;
      try {
        response = await dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: request.method,
          headers,
          ...(request.body === undefined ? {} : { body: request.body }),
          headersTimeout: target.timeoutMs,
          bodyTimeout: target.readTimeoutMs,
          signal,
        });
      } catch (err) {
        ended({ status: 'error' });
        if (hasCode(err, REDIRECT_REFUSED)) {
          throw this.#refused(target.label, url, hop === 0 ? 'named' : 'redirect');
        }
        throw err;
      }
      const location = headerValue(response.headers, 'location');
      if (
        isRedirect(response.statusCode, request.body !== undefined) &&
        location !== undefined &&
        hop < MAX_REDIRECTS
      ) {
        response.body.on('error', () => undefined).destroy();
        const next = new URL(location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          ended({ status: 'error' });
          throw new RegistryError(
            'UPSTREAM_FAILED',
            `upstream ${target.label} redirected to an unsupported scheme`,
          );
        }
        dispatcher =
          next.origin === start.origin
            ? first
            : next.origin === home.origin
              ? this.#dispatcher
              : await this.#redirectDispatcher(target.label, home, next, 'redirect').catch(
                  (err: unknown) => {
                    ended({ status: 'error' });
                    throw err;
                  },
                );
        url = next;
        continue;
      }
      if (isRedirect(response.statusCode, request.body !== undefined) && location !== undefined) {
        // A loop (or a chain too long): say so, not "answered 302" as if it were an answer.
        response.body.on('error', () => undefined).destroy();
        ended({ status: 'error' });
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream ${target.label} sent too many redirects (${MAX_REDIRECTS})`,
          { detail: { upstream: target.label, reason: 'too many redirects' } },
        );
      }
      ended({ status: String(response.statusCode) });
      const raw = response.headers;
      const body = response.body as unknown as Readable;
      // undici emits 'error' when we destroy an unread body (401 before a retry, HEAD, a client
      // gone): never let that become an uncaught exception. Consumers still see errors through
      // their own pipeline.
      body.on('error', () => undefined);
      return {
        status: response.statusCode,
        header: (name) => headerValue(raw, name),
        body,
        ...(hop === 0 ? {} : { redirectedTo: url.href }),
      };
    }
  }
}

/**
 * The breaker's verdict on a metadata document, given when its body ends: a failure when it
 * broke off (reset, malformed framing) or was cut at the whole deadline, else a success (read
 * to its end, or dropped by its reader: the upstream answered). The deadline's timer destroys
 * the body at the latest (UpstreamClient.#send), so a verdict always comes and a half-open
 * probe always reports back. With `byCaller` a body read to its end waits for the caller's
 * verdict instead: the returned function (UpstreamResponse.settle), which the caller must call.
 * `fail` records a failure (or not, for a companion request: UpstreamRequest.companion).
 */
function judgeBody(
  body: Readable,
  target: UpstreamTarget,
  byCaller: boolean,
  fail: () => void,
): (ok: boolean) => void {
  let judged = false;
  const judge = (ok: boolean): void => {
    if (judged) return;
    judged = true;
    if (ok) target.breaker.recordSuccess();
    else fail();
  };
  body.once('error', (err) => {
    judge(!(isTransportFailure(err) || err instanceof TimeoutError));
  });
  // With the caller's verdict, a body read to its end is judged by what it says (settle).
  if (!byCaller) {
    body.once('close', () => {
      judge(true);
    });
  }
  return byCaller ? judge : () => undefined;
}

/** What an upstream sent NORA to: a redirect's target, its token endpoint, a URL it named. */
type RefusedKind = 'redirect' | 'token' | 'named';

/** True when `err` carries this `code`. */
function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === code;
}

/**
 * The codings `accept` (a request's Accept-Encoding, RFC 9110 §12.5.3) takes: lower-case tokens
 * with a non-zero weight. `*` stands for any.
 */
function acceptedCodings(accept: string | undefined): Set<string> {
  const accepted = new Set<string>();
  if (accept === undefined) return accepted;
  for (const part of accept.split(',')) {
    const [token = '', ...params] = part.split(';').map((item) => item.trim().toLowerCase());
    const weight = params.find((param) => param.startsWith('q='));
    if (token === '' || (weight !== undefined && Number(weight.slice(2)) === 0)) continue;
    accepted.add(token === 'x-gzip' ? 'gzip' : token);
  }
  return accepted;
}

/** A decoder per content coding NORA takes from an upstream. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  // `deflate` is zlib-wrapped by the RFC; some servers send it raw: Unzip takes both.
  deflate: () => zlib.createUnzip(),
  br: () => zlib.createBrotliDecompress(),
  ...(typeof zlib.createZstdDecompress === 'function'
    ? { zstd: () => zlib.createZstdDecompress() }
    : {}),
};

/** Header names hidden once a body is decoded: they describe the encoded bytes. */
const ENCODED_HEADERS = new Set(['content-encoding', 'content-length']);

/**
 * The response as its caller asked for it: unchanged when it has no content coding, or only
 * codings the request accepted; else its body decoded (streamed; a corrupt encoding fails the
 * body with UPSTREAM_FAILED) and its Content-Encoding and Content-Length hidden. A range (206) of
 * an encoded body cannot be decoded: refused (UPSTREAM_FAILED). Unknown codings: refused.
 */
function decodedResponse(
  response: UpstreamResponse,
  request: UpstreamRequest,
  label: string,
): UpstreamResponse {
  const header = response.header('content-encoding');
  if (header === undefined) return response;
  const codings = header
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '' && item !== 'identity');
  if (codings.length === 0) return response;
  const accepted = acceptedCodings(request.headers?.['accept-encoding']);
  const normal = (coding: string): string => (coding === 'x-gzip' ? 'gzip' : coding);
  if (accepted.has('*') || codings.every((coding) => accepted.has(normal(coding)))) {
    return response;
  }
  const refuse = (why: string): never => {
    response.body.destroy();
    throw new RegistryError('UPSTREAM_FAILED', `upstream ${label} ${why}`, {
      detail: { upstream: label, reason: 'content-encoding' },
    });
  };
  const hidden = (name: string): string | undefined =>
    ENCODED_HEADERS.has(name.toLowerCase()) ? undefined : response.header(name);
  if (request.method === 'HEAD' || response.status === 204 || response.status === 304) {
    return { ...response, header: hidden };
  }
  if (response.status === 206) return refuse(`answered a range of a ${header}-encoded body`);
  const decoders: Transform[] = [];
  // Codings are listed in the order they were applied: undone last first.
  for (const coding of codings.toReversed()) {
    const make = DECODERS[coding];
    if (make === undefined) return refuse(`sent an unsupported content-encoding: ${coding}`);
    decoders.push(make());
  }
  // What the caller reads: an error of a decoder (corrupt data) becomes the upstream's failure,
  // never a 500; the upstream body's own errors (reset, read timeout) pass as they are. A caller
  // that destroys it early releases the upstream connection.
  const body = new PassThrough();
  const stages: Readable[] = [response.body, ...decoders];
  const fail = (err: Error, stage: Readable): void => {
    body.destroy(
      stage === response.body
        ? err
        : new RegistryError('UPSTREAM_FAILED', `upstream ${label} sent a corrupt ${header} body`, {
            detail: { upstream: label, reason: 'content-encoding' },
            cause: err,
          }),
    );
  };
  for (const stage of stages) {
    stage.on('error', (err: Error) => {
      fail(err, stage);
    });
  }
  let source: Readable = response.body;
  for (const decoder of decoders) source = source.pipe(decoder);
  source.pipe(body);
  body.on('close', () => {
    for (const stage of stages) if (!stage.destroyed) stage.destroy();
  });
  body.on('error', () => undefined);
  return { ...response, header: hidden, body };
}

/** A URL's port, its scheme's default when none is written. */
function urlPort(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}

/** Appends `path` to `base` keeping the base's own path prefix. */
export function joinUrl(base: string, path: string): URL {
  const url = new URL(base);
  const prefix = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  const [pathname, query] = splitQuery(path.startsWith('/') ? path : `/${path}`);
  url.pathname = `${prefix}${pathname}`;
  url.search = query;
  return url;
}

function splitQuery(path: string): [string, string] {
  const index = path.indexOf('?');
  return index < 0 ? [path, ''] : [path.slice(0, index), path.slice(index)];
}

/** A request with a body follows only 307/308 (the others would turn it into a GET). */
function isRedirect(status: number, hasBody: boolean): boolean {
  if (status === 307 || status === 308) return true;
  return !hasBody && (status === 301 || status === 302 || status === 303);
}

function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

const TRANSPORT_FAILURE_CODES = new Set([
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * True for an error of the connection to an upstream (reset, closed mid-body, read timeout):
 * the upstream's failure, never a local one (a full disk, a bug).
 */
export function isTransportFailure(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  // A body undici cannot parse (malformed chunked framing: HTTPParserError, HPE_* codes) or
  // that disagrees with its Content-Length broke off as surely as a reset connection.
  return (
    TRANSPORT_FAILURE_CODES.has(code) ||
    code.startsWith('HPE_') ||
    (err instanceof Error && err.name === 'HTTPParserError')
  );
}

class TimeoutError extends Error {
  constructor() {
    super('upstream timeout');
    this.name = 'TimeoutError';
  }
}

function isCallerAbort(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && !(err instanceof Error && err.name === 'TimeoutError');
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/**
 * The status of an upstream's answer to a GET: true (its body dropped) when it is one of `absent`
 * (the upstream does not have it), false for a 200; any other status is the upstream's failure,
 * `upstream <label> answered <status> for <what>` (its body dropped).
 */
export function answeredAbsent(
  response: UpstreamResponse,
  label: string,
  what: string,
  absent: readonly number[],
): boolean {
  if (absent.includes(response.status)) {
    response.body.destroy();
    return true;
  }
  if (response.status !== 200) {
    response.body.destroy();
    throw new RegistryError(
      'UPSTREAM_FAILED',
      `upstream ${label} answered ${response.status} for ${what}`,
    );
  }
  return false;
}

/**
 * An upstream's Content-Length as a byte count: 1 to 15 decimal digits, else undefined (absent or
 * malformed: the length is unknown).
 */
export function declaredLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/** Maps a transport error to a RegistryError that names the upstream by label only. */
export function toUpstreamError(err: unknown, label: string): RegistryError {
  if (err instanceof RegistryError) return err;
  // `code` may be present and undefined (undici's HTTPParserError): no "failed (undefined)".
  const raw = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  const code = typeof raw === 'string' && raw !== '' ? raw : undefined;
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new RegistryError('UPSTREAM_TIMEOUT', `upstream ${label} timed out`, {
      detail: { upstream: label, reason: 'timeout' },
      cause: err,
    });
  }
  const reason = code ?? (name || 'error');
  return new RegistryError('UPSTREAM_FAILED', `upstream ${label} failed (${reason})`, {
    detail: { upstream: label, reason },
    cause: err,
  });
}
