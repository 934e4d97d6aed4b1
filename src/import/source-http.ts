/**
 * The HTTP client of an import source (Artifactory, Nexus): the `--url` host only, credentials
 * from NORA_IMPORT_AUTH, and the SSRF guard NORA's import has (reference §3.9):
 *
 * - the host must not resolve to a loopback, private (RFC 1918, fc00::/7), link-local
 *   (169.254/16, fe80::/10, cloud metadata addresses), CGNAT, unspecified or multicast address,
 *   unless `--allow-private-cidrs`. Checked before the first request, and again at every connect
 *   (the connection's own DNS lookup is filtered), so a name that re-resolves elsewhere later
 *   (DNS rebinding) is refused too;
 * - redirects are followed only on the same origin (scheme, host, port), at most 5; a redirect
 *   anywhere else is refused (a source must not make NORA's host fetch other hosts).
 */
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { answerOf, type HttpAnswer } from '../core/http-client.ts';
import { ImportSourceError, ImportUsageError } from './types.ts';

const MAX_REDIRECTS = 5;

/** What `NORA_IMPORT_AUTH` holds: `user:password` (Basic) or a token (Bearer). */
export type SourceAuth = { readonly header: string | undefined };

/**
 * `NORA_IMPORT_AUTH`: `user:password` → Basic; anything else non-empty → a Bearer token
 * (Artifactory access or identity token, Nexus user token pair as `name:code` is the first form);
 * unset or empty → anonymous. A value with a line break or a control character is refused
 * (ImportUsageError): it could never be a header.
 */
export function parseSourceAuth(value: string | undefined): SourceAuth {
  if (value === undefined || value === '') return { header: undefined };
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new ImportUsageError(
      'nora import: NORA_IMPORT_AUTH holds a control character or a line break: give user:password or a token',
    );
  }
  const colon = value.indexOf(':');
  if (colon > 0) return { header: `Basic ${Buffer.from(value).toString('base64')}` };
  if (colon === 0) {
    throw new ImportUsageError(
      'nora import: NORA_IMPORT_AUTH starts with ":": give user:password or a token',
    );
  }
  return { header: `Bearer ${value}` };
}

/** Addresses a source may not resolve to without `--allow-private-cidrs`. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** True when `address` (an IP literal) is one the guard refuses. IPv4-mapped IPv6 is unwrapped. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return PRIVATE.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function refusal(host: string, address: string): string {
  return `refusing ${host}: it resolves to ${address}, a private, loopback or link-local address (pass --allow-private-cidrs to import from a host on this network)`;
}

/** A DNS lookup for connections that fails on a refused address (DNS rebinding). */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err !== null) {
      callback(err, '', 4);
      return;
    }
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad !== undefined) {
      callback(new Error(refusal(hostname, bad.address)), '', 4);
      return;
    }
    if (options.all === true) {
      (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      return;
    }
    const first = addresses[0];
    if (first === undefined) callback(new Error(`no address for ${hostname}`), '', 4);
    else callback(null, first.address, first.family);
  });
};

export interface SourceHttpOptions {
  /** The source's root URL (`--url`), already checked: http(s), no user info. */
  readonly base: URL;
  readonly auth: SourceAuth;
  readonly allowPrivate: boolean;
  /** Headers or body silent this long: the request fails. */
  readonly idleTimeoutMs: number;
}

/** GETs on the source's origin only. */
export interface SourceHttp {
  /** `base` without a trailing `/`, e.g. `https://artifactory.example/artifactory`. */
  readonly root: string;
  /**
   * GETs `url` (absolute, or a path that is appended to `root`): the answer whatever its status.
   * Rejects with ImportSourceError when the URL is off the origin, a redirect leads off it, or
   * no answer came.
   */
  get(
    url: string,
    headers?: Readonly<Record<string, string>>,
    signal?: AbortSignal,
  ): Promise<HttpAnswer>;
  close(): Promise<void>;
}

/**
 * Checks the host (unless allowPrivate: every address it resolves to now must be public) and
 * returns the client. Rejects with ImportSourceError naming the host and the address.
 */
export async function createSourceHttp(options: SourceHttpOptions): Promise<SourceHttp> {
  const { base } = options;
  const hostname = base.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate) {
    const addresses =
      isIP(hostname) === 0
        ? await dns.promises.lookup(hostname, { all: true }).catch((err: unknown) => {
            throw new ImportSourceError(`cannot resolve ${hostname}: ${(err as Error).message}`);
          })
        : [{ address: hostname }];
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad !== undefined) throw new ImportSourceError(refusal(hostname, bad.address));
  }
  const agent = new Agent({
    headersTimeout: options.idleTimeoutMs,
    bodyTimeout: options.idleTimeoutMs,
    ...(options.allowPrivate ? {} : { connect: { lookup: guardedLookup } }),
  });
  const root = base.href.replace(/\/+$/, '');
  const origin = base.origin;

  const get = async (
    url: string,
    headers: Readonly<Record<string, string>> = {},
    signal?: AbortSignal,
  ): Promise<HttpAnswer> => {
    let target = new URL(url.startsWith('/') ? `${root}${url}` : url);
    for (let hop = 0; ; hop++) {
      if (target.origin !== origin) {
        throw new ImportSourceError(
          `refusing ${redact(target)}: not on the source's origin ${origin} (a redirect or a download URL elsewhere)`,
        );
      }
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(target, {
          dispatcher: agent,
          method: 'GET',
          headers: {
            ...headers,
            ...(options.auth.header === undefined ? {} : { authorization: options.auth.header }),
          },
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (err) {
        throw new ImportSourceError(
          `GET ${redact(target)}: ${plainTimeout((err as Error).message, options.idleTimeoutMs)}`,
        );
      }
      const status = res.statusCode;
      const location = res.headers['location'];
      if (status >= 300 && status < 400 && typeof location === 'string') {
        await res.body.dump().catch(() => undefined);
        if (hop >= MAX_REDIRECTS) {
          throw new ImportSourceError(
            `GET ${redact(target)}: more than ${MAX_REDIRECTS} redirects`,
          );
        }
        target = new URL(location, target);
        continue;
      }
      return answerOf(res);
    }
  };
  return { root, get, close: () => agent.close() };
}

/**
 * undici's timeout wording ("Headers Timeout Error", "Body Timeout Error") in words a user
 * reads: how long nothing came.
 */
export function plainTimeout(message: string, timeoutMs: number): string {
  const secs = `${Math.round(timeoutMs / 100) / 10} s`;
  return message
    .replace('Headers Timeout Error', `no answer within ${secs}`)
    .replace('Body Timeout Error', `the body stalled: nothing for ${secs}`);
}

/** A URL for messages: no user info, no query (tokens travel in queries sometimes). */
export function redact(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * GETs a small JSON document (a listing page), at most `maxBytes`; rejects with
 * ImportSourceError on a non-2xx (naming the status, and 401/403 as a credentials problem) or a
 * body that is no JSON.
 */
export async function getJson(
  http: SourceHttp,
  url: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<unknown> {
  const answer = await http.get(url, { accept: 'application/json' }, signal);
  const shown = redact(new URL(url.startsWith('/') ? `${http.root}${url}` : url));
  if (!answer.ok) {
    await answer.discard().catch(() => undefined);
    throw new ImportSourceError(
      `${answer.status} ${answer.statusText} from GET ${shown}${
        answer.status === 401 || answer.status === 403
          ? ' (check NORA_IMPORT_AUTH: user:password or a token)'
          : ''
      }`,
      answer.status,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer.body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      answer.body.destroy();
      throw new ImportSourceError(`GET ${shown}: the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ImportSourceError(`GET ${shown}: the answer is not JSON`);
  }
}

/**
 * The repository listing of a source (`path`: `/api/repositories`, `/service/rest/v1/repositories`)
 * as JSON, or an ImportSourceError saying the URL is no such source when it answers 400/404/405
 * or no JSON array: the bare `404 Not Found from GET …` (trial 33, `--url` pointing at a NORA)
 * said neither what was wrong nor what URL is expected. `root` says what `--url` must be.
 */
export async function getRepositoryList(
  http: SourceHttp,
  path: string,
  product: string,
  root: string,
  maxBytes: number,
): Promise<unknown[]> {
  const hint = (why: string) =>
    new ImportSourceError(
      `${why}: ${http.root} does not look like the ${product} REST API (GET ${path} lists its repositories); --url must be ${root}. A NORA is no import source: move between NORAs with nora backup and nora restore (docs/storage.md)`,
    );
  let body: unknown;
  try {
    body = await getJson(http, path, maxBytes);
  } catch (err) {
    if (
      err instanceof ImportSourceError &&
      (err.status === 400 ||
        err.status === 404 ||
        err.status === 405 ||
        err.message.endsWith(': the answer is not JSON'))
    ) {
      throw hint(err.message);
    }
    throw err;
  }
  if (!Array.isArray(body)) throw hint(`GET ${http.root}${path}: not a JSON array`);
  return body as unknown[];
}
