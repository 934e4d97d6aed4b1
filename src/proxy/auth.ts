/**
 * Upstream authentication. Anonymous first; a 401 tells us what the upstream wants:
 * - `Basic`: retry with the upstream's configured credentials (and send them up front from then on);
 * - `Bearer realm=…,service=…,scope=…` (the Docker token flow): get a token from the realm,
 *   anonymously or with the configured credentials, retry, and cache the token per
 *   registry + scope until its `expires_in` (default 300 s) runs out.
 * Static strategies (preemptive basic, a fixed bearer token) serve upstreams such as npm.
 */
import { ByteLru } from '../core/byte-lru.ts';

export interface AuthStrategy {
  /** Authorization header to send up front, if one is already known for this origin + scope. */
  initial(origin: string, scope: string | undefined): string | undefined;
  /** After a 401: the header to retry with, or undefined when nothing we hold can help. */
  challenge(
    origin: string,
    wwwAuthenticate: string | undefined,
    scope: string | undefined,
  ): Promise<string | undefined>;
}

/** What a token endpoint returned. */
export interface IssuedToken {
  readonly token: string;
  readonly expiresInSeconds: number;
}

/**
 * GETs a token endpoint (`realm?service=…&scope=…`), with basic credentials when given;
 * `origin` is the upstream's own (a realm elsewhere is held to the redirect rule).
 */
export type TokenFetcher = (
  url: URL,
  basicHeader: string | undefined,
  origin: string,
) => Promise<IssuedToken>;

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses the first challenge of a `WWW-Authenticate` header (quoted or token values). */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = (match[1] ?? '').toLowerCase();
  const params: Record<string, string> = {};
  const paramPattern =
    /([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?\s*/gy;
  const rest = match[2] ?? '';
  paramPattern.lastIndex = 0;
  for (let m = paramPattern.exec(rest); m !== null && m[0] !== ''; m = paramPattern.exec(rest)) {
    const key = (m[1] ?? '').toLowerCase();
    params[key] = m[2] === undefined ? (m[3] ?? '') : m[2].replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

export function basicHeader(credentials: string): string {
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

/** Sends fixed credentials up front (npm `_auth`-style basic, or a bearer token). */
export class StaticAuth implements AuthStrategy {
  readonly #header: string | undefined;

  static basic(credentials: string | undefined): StaticAuth {
    return new StaticAuth(credentials === undefined ? undefined : basicHeader(credentials));
  }

  static bearer(token: string | undefined): StaticAuth {
    return new StaticAuth(token === undefined ? undefined : `Bearer ${token}`);
  }

  private constructor(header: string | undefined) {
    this.#header = header;
  }

  initial(): string | undefined {
    return this.#header;
  }

  challenge(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}

/**
 * Memory for cached upstream tokens: keys carry a scope built from requested image names and a
 * bearer token can be kilobytes, so the bound is in bytes (8 MiB: thousands of scopes).
 */
const TOKEN_CACHE_BYTES = 8 * 1024 * 1024;
/** Refresh a little before expiry so a token never dies in flight. */
const EXPIRY_SLACK_MS = 5_000;

interface CachedToken {
  readonly header: string;
  readonly expiresAt: number;
  /** Estimated memory of the entry: both strings at 2 bytes a char, plus objects. */
  readonly bytes: number;
}

/** Token cache keyed by registry origin + scope; an instance per engine (no module state). */
export class TokenCache {
  readonly #tokens: ByteLru<string, CachedToken>;
  readonly #now: () => number;

  /** `maxBytes`: the memory budget in (estimated) bytes. */
  constructor(now: () => number = Date.now, maxBytes = TOKEN_CACHE_BYTES) {
    this.#now = now;
    this.#tokens = new ByteLru(maxBytes, (entry) => entry.bytes);
  }

  /** Estimated bytes held (what the budget bounds). */
  get bytes(): number {
    return this.#tokens.bytes;
  }

  get(origin: string, scope: string | undefined): string | undefined {
    const key = `${origin} ${scope ?? ''}`;
    const entry = this.#tokens.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#tokens.delete(key);
      return undefined;
    }
    return entry.header;
  }

  set(origin: string, scope: string | undefined, header: string, expiresInSeconds: number): void {
    const lifetime = Math.max(0, expiresInSeconds * 1000 - EXPIRY_SLACK_MS);
    const key = `${origin} ${scope ?? ''}`;
    this.#tokens.set(key, {
      header,
      expiresAt: this.#now() + lifetime,
      bytes: 2 * (key.length + header.length) + 200,
    });
  }
}

/**
 * The challenge-driven strategy used for Docker upstreams: handles `Basic` and `Bearer`
 * challenges, with optional "user:password" credentials.
 */
export class ChallengeAuth implements AuthStrategy {
  readonly #credentials: string | undefined;
  readonly #tokens: TokenCache;
  readonly #fetchToken: TokenFetcher;
  /** Origins that answered with a Basic challenge: credentials go up front from then on. */
  readonly #basicOrigins = new Set<string>();

  constructor(credentials: string | undefined, tokens: TokenCache, fetchToken: TokenFetcher) {
    this.#credentials = credentials;
    this.#tokens = tokens;
    this.#fetchToken = fetchToken;
  }

  initial(origin: string, scope: string | undefined): string | undefined {
    if (this.#credentials !== undefined && this.#basicOrigins.has(origin))
      return basicHeader(this.#credentials);
    return this.#tokens.get(this.#tokenOrigin(origin), scope);
  }

  async challenge(
    origin: string,
    wwwAuthenticate: string | undefined,
    scope: string | undefined,
  ): Promise<string | undefined> {
    const challenge = wwwAuthenticate === undefined ? undefined : parseChallenge(wwwAuthenticate);
    if (challenge?.scheme === 'bearer' && challenge.params['realm'] !== undefined) {
      const realm = challenge.params['realm'];
      if (!URL.canParse(realm) || !/^https?:$/.test(new URL(realm).protocol)) return undefined;
      const url = new URL(realm);
      if (challenge.params['service'] !== undefined)
        url.searchParams.set('service', challenge.params['service']);
      const tokenScope = challenge.params['scope'] ?? scope;
      if (tokenScope !== undefined) url.searchParams.set('scope', tokenScope);
      const issued = await this.#fetchToken(
        url,
        this.#credentials === undefined ? undefined : basicHeader(this.#credentials),
        origin,
      );
      const header = `Bearer ${issued.token}`;
      const key = this.#tokenOrigin(origin);
      this.#tokens.set(key, tokenScope, header, issued.expiresInSeconds);
      if (scope !== tokenScope) this.#tokens.set(key, scope, header, issued.expiresInSeconds);
      return header;
    }
    if (challenge?.scheme === 'basic' && this.#credentials !== undefined) {
      this.#basicOrigins.add(origin);
      return basicHeader(this.#credentials);
    }
    return undefined;
  }

  /** Tokens depend on who asked: anonymous and credentialed tokens must not be shared. */
  #tokenOrigin(origin: string): string {
    return this.#credentials === undefined
      ? origin
      : `${origin} as:${this.#credentials.split(':')[0] ?? ''}`;
  }
}
