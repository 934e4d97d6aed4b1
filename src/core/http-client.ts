/**
 * One HTTP request from NORA's own small clients outside the proxy engine: the `nora go
 * publish`/`delete` command line and OIDC key discovery (auth/jwks.ts). Built on undici's
 * `request` with its redirect interceptor, not on the global `fetch`.
 *
 * Why not `fetch`: WHATWG fetch refuses every "bad port" of the Fetch standard (6000, 6665–6669,
 * 10080, …: ports of other protocols a browser page must not reach) with a bare "bad port". That
 * rule protects browsers; NORA's server listens on any port it is given, and its proxy engine's
 * upstream client (undici's dispatcher API, proxy/upstream-client.ts) connects to any port, so a
 * CLI that could not reach a NORA on :6000, or an issuer on :10080, would be the odd one out
 * (sixteenth trial F3).
 *
 * Redirects are followed as `fetch` follows them (up to MAX_REDIRECTS; credentials are dropped on
 * a hop to another origin; a streamed body is not sent again, so its 3xx is the answer). The
 * dispatcher is the process's global one, as for `fetch`, so whatever an embedder installed
 * there (an outbound proxy agent) applies alike. Bodies are streamed both ways.
 */
import { STATUS_CODES } from './node-http.ts';
import type { Readable } from 'node:stream';
import { type Dispatcher, getGlobalDispatcher, interceptors, request } from 'undici';

/** Redirect hops followed per request (fetch's limit is 20; a registry or issuer needs few). */
const MAX_REDIRECTS = 10;

export interface HttpRequestOptions {
  readonly method?: Dispatcher.HttpMethod;
  readonly headers?: Readonly<Record<string, string>>;
  /** The request body, streamed (a file's read stream) or small text. */
  readonly body?: Readable | string;
  readonly signal?: AbortSignal;
}

/** An answer: its status, its headers, and its body, streamed. */
export interface HttpAnswer {
  readonly status: number;
  /** The standard reason phrase of `status` (`Not Found`), as `Response.statusText` would be. */
  readonly statusText: string;
  readonly ok: boolean;
  /** The first value of header `name` (lower case), or undefined. */
  header(name: string): string | undefined;
  /** The body as UTF-8 text (read whole: for the small answers these clients get). */
  text(): Promise<string>;
  /** Reads and drops the body, so the connection can be reused. */
  discard(): Promise<void>;
  readonly body: Readable;
}

/**
 * Sends one request to `url` (any port) and resolves to its answer once the headers arrive.
 * Rejects with undici's error (its `message` says why: `connect ECONNREFUSED 127.0.0.1:6000`)
 * when no answer came.
 */
export async function httpRequest(
  url: string | URL,
  options: HttpRequestOptions = {},
): Promise<HttpAnswer> {
  const dispatcher = getGlobalDispatcher().compose(
    interceptors.redirect({ maxRedirections: MAX_REDIRECTS }),
  );
  const res = await request(url, {
    dispatcher,
    method: options.method ?? 'GET',
    ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return answerOf(res);
}

/** undici's response as an HttpAnswer (also for callers with their own dispatcher). */
export function answerOf(res: Dispatcher.ResponseData<unknown>): HttpAnswer {
  const status = res.statusCode;
  return {
    status,
    statusText: STATUS_CODES[status] ?? '',
    ok: status >= 200 && status < 300,
    header(name) {
      const value = res.headers[name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    },
    text: () => res.body.text(),
    discard: () => res.body.dump(),
    body: res.body,
  };
}
