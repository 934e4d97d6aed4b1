/**
 * Signing keys of OIDC providers, fetched by us and verified locally (`createLocalJWKSet`), so the
 * request path never waits on the identity provider except when keys are missing or due:
 * - keys are used for `jwks_cache_secs`, then fetched again (one fetch at a time per provider);
 * - a token whose `kid` is unknown forces a refetch (key rotation), at most once per
 *   `UNKNOWN_KID_REFETCH_MS` per provider, so forged kids cannot turn us into a fetch amplifier;
 * - a failed refresh keeps serving the keys we have (stale) with a warning, and is not retried
 *   for `FAILED_REFRESH_RETRY_MS`, so an outage of the provider is not an outage of the registry
 *   for tokens it already signed.
 * We fetch ourselves rather than use jose's `createRemoteJWKSet` to own the stale-on-failure
 * behaviour, the discovery step and the log line.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { type HttpAnswer, httpRequest } from '../core/http-client.ts';
import type { Logger } from '../core/logger.ts';
import { normalizeIssuer } from './oidc-config.ts';

/** At most one refetch for an unknown `kid` per provider in this window. */
export const UNKNOWN_KID_REFETCH_MS = 30_000;
/** After a failed refresh, wait this long before fetching again (stale keys are served). */
export const FAILED_REFRESH_RETRY_MS = 30_000;
const FETCH_TIMEOUT_MS = 10_000;
/** A JWKS or discovery document is a few kB; refuse anything absurd. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

export interface JwksSource {
  /** Provider name, for logs and errors. */
  readonly provider: string;
  readonly issuer: string;
  /** Explicit key set URL; discovered from the issuer's metadata when unset. */
  readonly jwksUri?: string | undefined;
  readonly cacheMs: number;
}

/** A provider's keys cannot be had at all (never fetched, fetch failing); the message says why. */
export class JwksUnavailableError extends Error {}

interface Entry {
  keys?: JWTVerifyGetKey;
  kids: readonly string[];
  fetchedAt: number;
  lastFailureAt: number;
  lastFailure?: string;
  lastForcedAt: number;
  inflight?: Promise<void>;
}

/** Per-provider key cache; one instance lives as long as the app. */
export class JwksCache {
  readonly #entries = new Map<string, Entry>();
  readonly #log: () => Logger | undefined;
  readonly #now: () => number;

  constructor(options: { log?: () => Logger | undefined; now?: () => number } = {}) {
    this.#log = options.log ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /**
   * The verification keys of `source`: cached, refreshed when due, stale when a refresh fails.
   * Throws JwksUnavailableError when there are no keys at all.
   */
  async keys(source: JwksSource): Promise<JWTVerifyGetKey> {
    const entry = this.#entry(source);
    const now = this.#now();
    const due = entry.keys === undefined || now - entry.fetchedAt >= source.cacheMs;
    const backingOff = now - entry.lastFailureAt < FAILED_REFRESH_RETRY_MS;
    if (due && !backingOff) await this.#refresh(source, entry);
    if (entry.keys === undefined) {
      throw new JwksUnavailableError(
        `cannot fetch its signing keys: ${entry.lastFailure ?? 'not fetched yet'}`,
      );
    }
    return entry.keys;
  }

  /**
   * Refetches after a token named a `kid` we do not have (the provider rotated its keys). Returns
   * false without fetching when a forced refetch for this provider happened less than
   * UNKNOWN_KID_REFETCH_MS ago, or when the refetch failed.
   */
  async refetchForUnknownKid(source: JwksSource): Promise<boolean> {
    const entry = this.#entry(source);
    const now = this.#now();
    if (now - entry.lastForcedAt < UNKNOWN_KID_REFETCH_MS) return false;
    entry.lastForcedAt = now;
    const before = entry.fetchedAt;
    await this.#refresh(source, entry);
    return entry.fetchedAt !== before;
  }

  /** The cache key: a provider whose issuer or key URL changes on reload starts afresh. */
  #entry(source: JwksSource): Entry {
    const key = `${source.provider}\n${source.issuer}\n${source.jwksUri ?? ''}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { kids: [], fetchedAt: 0, lastFailureAt: -Infinity, lastForcedAt: -Infinity };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  async #refresh(source: JwksSource, entry: Entry): Promise<void> {
    entry.inflight ??= (async () => {
      try {
        const jwks = await fetchJwks(source);
        entry.keys = createLocalJWKSet(jwks);
        entry.kids = jwks.keys.map((k) => k.kid ?? '(no kid)');
        entry.fetchedAt = this.#now();
        entry.lastFailureAt = -Infinity;
        delete entry.lastFailure;
      } catch (err) {
        entry.lastFailureAt = this.#now();
        entry.lastFailure = (err as Error).message;
        if (entry.keys !== undefined) {
          this.#log()?.warn(
            { provider: source.provider, reason: entry.lastFailure },
            `OIDC provider "${source.provider}": JWKS refresh failed, serving the cached keys`,
          );
        }
      } finally {
        delete entry.inflight;
      }
    })();
    await entry.inflight;
  }
}

/** Fetches the key set, discovering its URL from the issuer's metadata when not configured. */
async function fetchJwks(source: JwksSource): Promise<JSONWebKeySet> {
  let uri = source.jwksUri;
  if (uri === undefined) {
    const discoveryUrl = `${normalizeIssuer(source.issuer)}/.well-known/openid-configuration`;
    const metadata = await fetchJson(discoveryUrl);
    const discovered = isObject(metadata) ? metadata['jwks_uri'] : undefined;
    if (typeof discovered !== 'string' || !URL.canParse(discovered)) {
      throw new Error(`${discoveryUrl} has no valid "jwks_uri"`);
    }
    uri = discovered;
  }
  const body = await fetchJson(uri);
  const keys = isObject(body) ? body['keys'] : undefined;
  if (!Array.isArray(keys)) throw new Error(`${uri} is not a JWK set (no "keys" array)`);
  return { keys: keys.filter(isObject) };
}

async function fetchJson(url: string): Promise<unknown> {
  let response: HttpAnswer;
  const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  try {
    // Not the global fetch: it refuses an issuer on a "bad port" (6000, 10080…; core/http-client.ts).
    response = await httpRequest(url, { headers: { accept: 'application/json' }, signal });
  } catch (err) {
    // undici's errors carry their errno (`ECONNREFUSED`) themselves, or in `cause`.
    const { code, cause } = err as { code?: string; cause?: { code?: string; message?: string } };
    const why = code ?? cause?.code ?? cause?.message ?? (err as Error).message;
    throw new Error(`GET ${url} failed: ${why}`, { cause: err });
  }
  if (!response.ok) {
    await response.discard().catch(() => undefined);
    throw new Error(`GET ${url} answered ${response.status}`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    throw new Error(`GET ${url} failed: ${(err as Error).message}`, { cause: err });
  }
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`GET ${url}: document too large`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`GET ${url}: not JSON`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
