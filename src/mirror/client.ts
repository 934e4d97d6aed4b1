/**
 * The `MirrorClient` of `nora mirror`: GETs through the running server over the project's HTTP
 * client (core/http-client.ts: any port, redirects as fetch follows them), with the credentials
 * the verb was given, and the OCI token dance (a 401 with a `Bearer realm=…` challenge → a token
 * from the realm → the request again) that Docker's `/v2/` asks for.
 *
 * Its responses do more than `MirrorResponse` says: `drainHashing` (see integrity.ts) hashes the
 * bytes while it discards them, so a format can verify what it pulled without keeping it.
 */
import { createHash, type Hash } from 'node:crypto';
import { readAllBounded } from '../core/streams.ts';
import { httpRequest, type HttpAnswer } from '../core/http-client.ts';
import type { MirrorClient, MirrorResponse } from './types.ts';

/** How the verb authenticates: nothing, an API token, or a user and password. */
export type MirrorCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'basic'; readonly user: string; readonly password: string };

/** What a drain with hashing found: the length and one hex digest per algorithm asked. */
export interface HashedDrain {
  readonly bytes: number;
  /** Lower-case hex digest by algorithm name (`sha256`, `sha512`, `sha1`). */
  readonly digests: Readonly<Record<string, string>>;
}

/** A `MirrorResponse` that can hash while it drains (the client below makes only these). */
export interface HashingMirrorResponse extends MirrorResponse {
  /** Reads and discards the body, hashing it with each of `algorithms` (node:crypto names). */
  drainHashing(algorithms: readonly string[]): Promise<HashedDrain>;
}

export interface MirrorClientOptions {
  readonly credentials: MirrorCredentials;
  /**
   * Gives up on one request when its headers have not come after this long, or its body has
   * been silent this long (a proxy filling a large file streams it as it comes, so a whole-body
   * deadline would cut slow but live transfers).
   */
  readonly idleTimeoutMs: number;
}

/** A token-endpoint answer is a small JSON document: anything larger is not one. */
const MAX_TOKEN_ANSWER = 64 * 1024;

/**
 * A client for the server at `base` (its root URL, without credentials: shape
 * `http://127.0.0.1:4000` or `https://host/prefix`; a trailing `/` is dropped).
 */
export function createMirrorClient(base: string, options: MirrorClientOptions): MirrorClient {
  const root = base.replace(/\/+$/, '');
  const baseAuth = authorization(options.credentials);
  // Registry tokens of the OCI dance, by challenge (realm + service + scope), reused while they
  // work: one dance per image, not per blob.
  const bearers = new Map<string, Promise<string>>();

  const send = async (
    path: string,
    headers: Readonly<Record<string, string>>,
    auth: string | undefined,
  ): Promise<HttpAnswer> => {
    const url = `${root}${path}`;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(new Error(`no answer in ${options.idleTimeoutMs / 1000} s`));
    }, options.idleTimeoutMs);
    try {
      return await httpRequest(url, {
        headers: { ...headers, ...(auth === undefined ? {} : { authorization: auth }) },
        signal: controller.signal,
      });
    } catch (err) {
      throw new Error(`GET ${path}: ${failure(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    base: root,
    async get(path, headers = {}) {
      checkPath(path);
      let answer = await send(path, headers, baseAuth);
      const challenge = answer.status === 401 ? bearerChallenge(answer) : undefined;
      if (challenge !== undefined) {
        await answer.discard().catch(() => undefined);
        const key = `${challenge.realm} ${challenge.service ?? ''} ${challenge.scope ?? ''}`;
        let token = bearers.get(key);
        if (token === undefined) {
          token = fetchRegistryToken(challenge, options, path);
          bearers.set(key, token);
          // A failed dance is not remembered: the next request asks again.
          token.catch(() => bearers.delete(key));
        }
        answer = await send(path, headers, `Bearer ${await token}`);
      }
      return wrapAnswer(answer, path, options.idleTimeoutMs);
    },
  };
}

/** The `Authorization` header for the credentials (a token as Bearer, README "Access control"). */
function authorization(credentials: MirrorCredentials): string | undefined {
  switch (credentials.kind) {
    case 'none':
      return undefined;
    case 'token':
      return `Bearer ${credentials.token}`;
    case 'basic':
      return basic(credentials.user, credentials.password);
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

interface BearerChallenge {
  readonly realm: string;
  readonly service: string | undefined;
  readonly scope: string | undefined;
}

/** `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (Docker token auth), parsed. */
export function parseBearerChallenge(header: string | undefined): BearerChallenge | undefined {
  if (header === undefined || !/^bearer\s/i.test(header)) return undefined;
  const params = new Map<string, string>();
  for (const match of header.slice(7).matchAll(/([A-Za-z]+)="([^"]*)"/g)) {
    params.set((match[1] ?? '').toLowerCase(), match[2] ?? '');
  }
  const realm = params.get('realm');
  if (realm === undefined || realm === '') return undefined;
  return { realm, service: params.get('service'), scope: params.get('scope') };
}

function bearerChallenge(answer: HttpAnswer): BearerChallenge | undefined {
  return parseBearerChallenge(answer.header('www-authenticate'));
}

/**
 * GETs a registry token from the challenge's realm, with the verb's credentials as Basic (an API
 * token as the password: any username, README "Access control"), or anonymously.
 */
async function fetchRegistryToken(
  challenge: BearerChallenge,
  options: MirrorClientOptions,
  path: string,
): Promise<string> {
  let url: URL;
  try {
    url = new URL(challenge.realm);
  } catch {
    throw new Error(`GET ${path}: 401 with a token realm that is not a URL: ${challenge.realm}`);
  }
  if (challenge.service !== undefined) url.searchParams.set('service', challenge.service);
  if (challenge.scope !== undefined) url.searchParams.set('scope', challenge.scope);
  const credentials = options.credentials;
  const auth =
    credentials.kind === 'basic'
      ? basic(credentials.user, credentials.password)
      : credentials.kind === 'token'
        ? basic('token', credentials.token)
        : undefined;
  const shown = `${url.origin}${url.pathname}`;
  let answer: HttpAnswer;
  try {
    answer = await httpRequest(url, {
      headers: auth === undefined ? {} : { authorization: auth },
      signal: AbortSignal.timeout(options.idleTimeoutMs),
    });
  } catch (err) {
    throw new Error(`token for ${path} from ${shown}: ${failure(err)}`, { cause: err });
  }
  const text = (await readAllBounded(answer.body, MAX_TOKEN_ANSWER, 'token answer')).toString();
  if (answer.status !== 200) {
    throw new Error(`token for ${path}: ${answer.status} from ${shown}${errorNote(text)}`);
  }
  let token: unknown;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    token = body['token'] ?? body['access_token'];
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '') {
    throw new Error(`token for ${path}: ${shown} answered 200 without a token`);
  }
  return token;
}

/**
 * A short note from an error body (`: unauthorized: …`), one line, at most 200 characters; empty
 * when the body says nothing readable. The message of a JSON body (`error`, `message`,
 * `errors[0].message`) is kept as written: NORA's texts name placeholders such as
 * `/repository/<name>/`, which tag stripping mangled (trial 26 mirrorR F1). Tags are stripped only
 * from an HTML page (a body starting with `<`: a proxy's or a web server's error page). What a
 * terminal would act on is escaped, not printed: control characters (ESC, BEL, C1…) as `\x1b`.
 */
export function errorNote(text: string): string {
  let note: string | undefined;
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null) {
      const record = body as Record<string, unknown>;
      const errors = record['errors'];
      if (typeof record['error'] === 'string') note = record['error'];
      else if (typeof record['message'] === 'string') note = record['message'];
      else if (Array.isArray(errors) && typeof errors[0] === 'object' && errors[0] !== null) {
        const first = errors[0] as Record<string, unknown>;
        if (typeof first['message'] === 'string') note = first['message'];
      }
    }
  } catch {
    // not JSON: the text itself
  }
  note ??= /^\s*</.test(text) ? text.replace(/<[^>]*>/g, ' ') : text;
  const line = escapeControls(note.replace(/\s+/g, ' ').trim());
  if (line === '') return '';
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`;
}

/** `text` with C0/C1 control characters and DEL as `\xNN` (whitespace was collapsed before). */
function escapeControls(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Why no answer came, without a stack: a timeout, a refused connection, or the error. */
function failure(err: unknown): string {
  const error = err as Error & { code?: string; cause?: unknown };
  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    const cause = error.cause instanceof Error ? error.cause.message : 'timed out';
    return cause;
  }
  return error.message === '' ? String(err) : error.message;
}

/**
 * The one check every request path passes: it starts with `/` and has no `.` or `..` segment,
 * plain or percent-encoded. A name read from a lock file (`a/../../admin`) must not turn a
 * request, with the verb's credentials, into one for another path of the host (trial 26
 * mirrorR F9). Throws an Error naming the path.
 */
export function checkPath(path: string): void {
  const pathPart = path.split(/[?#]/, 1)[0] ?? '';
  // Decoded as a server would decode them: `%2e%2e`, `..%2f` and `..\` climb too.
  const decoded = pathPart.replace(/%2e/gi, '.').replace(/%2f|%5c|\\/gi, '/');
  const climbs = decoded.split('/').some((segment) => segment === '.' || segment === '..');
  if (!path.startsWith('/') || climbs) {
    throw new Error(`refusing to request ${JSON.stringify(path)}: not a path below the server`);
  }
}

function wrapAnswer(
  answer: HttpAnswer,
  path: string,
  idleTimeoutMs: number,
): HashingMirrorResponse {
  let consumed = false;
  const take = () => {
    if (consumed) throw new Error(`GET ${path}: the body was already read`);
    consumed = true;
  };
  /**
   * The body's chunks, cut when it is silent for the idle timeout: a stalled transfer must not
   * hang the run, for metadata read whole (`text`) as for artifacts drained (trial 26 mirrorR F4).
   */
  async function* guarded(): AsyncGenerator<Buffer> {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        answer.body.destroy(new Error(`the body stalled for ${idleTimeoutMs / 1000} s`));
      }, idleTimeoutMs);
    };
    arm();
    try {
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        arm();
        yield chunk;
      }
    } finally {
      clearTimeout(timer);
    }
  }
  const drainWith = async (hashes: readonly Hash[]): Promise<number> => {
    let bytes = 0;
    try {
      for await (const chunk of guarded()) {
        bytes += chunk.length;
        for (const hash of hashes) hash.update(chunk);
      }
    } catch (err) {
      throw new Error(`GET ${path}: the body broke off after ${bytes} bytes: ${failure(err)}`, {
        cause: err,
      });
    }
    return bytes;
  };
  return {
    status: answer.status,
    header: (name) => answer.header(name),
    async text(maxBytes) {
      take();
      try {
        return (await readAllBounded(guarded(), maxBytes, `the answer to ${path}`)).toString(
          'utf8',
        );
      } catch (err) {
        answer.body.destroy();
        throw new Error(`GET ${path}: ${failure(err)}`, { cause: err });
      }
    },
    drain() {
      take();
      return drainWith([]);
    },
    async drainHashing(algorithms) {
      take();
      const hashes = algorithms.map((algorithm) => createHash(algorithm));
      const bytes = await drainWith(hashes);
      const digests: Record<string, string> = {};
      algorithms.forEach((algorithm, i) => {
        digests[algorithm] = (hashes[i] as Hash).digest('hex');
      });
      return { bytes, digests };
    },
  };
}
