/**
 * Per-client-address rate limits in NORA's three tiers (`[rate_limit]`): each tier is a token
 * bucket per address (core/token-bucket.ts). The client address is `request.ip`: the socket
 * peer, or the X-Forwarded-For client when the peer is one of `[auth] trusted_proxies`; the
 * caller counts it by `addressKey` (an IPv6 client by its /64).
 *
 * A refused request is a RegistryError TOO_MANY_REQUESTS with `Retry-After` (whole seconds),
 * thrown from the request hook, so each format's error handler renders it in its own shape: the
 * OCI envelope with code TOOMANYREQUESTS on /v2, npm's `{error}`, Cargo's `{errors}`, plain text
 * on raw, PyPI, Maven and Go paths, `{error}` on NORA's own endpoints.
 */
import { RegistryError } from '../core/errors.ts';
import { TokenBuckets } from '../core/token-bucket.ts';

export type RateTier = 'auth' | 'upload' | 'general';

export interface RateLimitSettings {
  readonly enabled: boolean;
  readonly auth_rps: number;
  readonly auth_burst: number;
  readonly upload_rps: number;
  readonly upload_burst: number;
  readonly general_rps: number;
  readonly general_burst: number;
}

/**
 * Credential-issuing routes (the auth tier), one table so routes added later fall in by URL
 * alone. Paths are raw (undecoded) and matched at their end, so every mount (`/npm`,
 * `/repository/<name>`, `/v2`, `/repository/<name>/v2`) is covered. `methods` undefined: any.
 */
const AUTH_ROUTES: readonly { readonly methods?: readonly string[]; readonly path: RegExp }[] = [
  // npm login / adduser: the password is in the body.
  { methods: ['PUT'], path: /\/-\/user\/org\.couchdb\.user(?::|%3A)[^/]*$/i },
  // npm token create (password in the body), npm web login start and its password form.
  { methods: ['POST'], path: /\/-\/npm\/v1\/tokens$/ },
  { methods: ['POST'], path: /\/-\/v1\/login(?:\/open)?$/ },
  // NORA's token API (username + password in the body) and its admin variant.
  { path: /^\/api\/tokens(?:\/|$)/ },
  { path: /^\/api\/v1\/admin\/tokens(?:\/|$)/ },
  // Not the Docker token endpoint (`/v2/token`): clients fetch a token per repository scope, and
  // a `docker compose pull` of several images asks for several at once — a 5-request burst would
  // fail pulls. Password guessing there is held by the failed-login lockout instead.
];

/** Routes never limited: probes must answer whatever a client does. */
const UNLIMITED = new Set(['/health', '/ready']);

const WRITE_METHODS = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

/**
 * The tier of a request: `auth` for credential-issuing routes, `upload` for writes elsewhere,
 * `general` for the rest; undefined for `/health` and `/ready`. `path` is the raw path (no query).
 */
export function classifyRequest(method: string, path: string): RateTier | undefined {
  if (UNLIMITED.has(path)) return undefined;
  // Every AUTH_ROUTES path holds `/-/` or starts with `/api/`: others skip the regexes.
  if (!path.includes('/-/') && !path.startsWith('/api/')) {
    return WRITE_METHODS.has(method) ? 'upload' : 'general';
  }
  for (const route of AUTH_ROUTES) {
    if ((route.methods === undefined || route.methods.includes(method)) && route.path.test(path)) {
      return 'auth';
    }
  }
  return WRITE_METHODS.has(method) ? 'upload' : 'general';
}

export class RateLimiter {
  #settings: RateLimitSettings;
  readonly #tiers: Record<RateTier, TokenBuckets>;

  /** `now`: millisecond clock, for tests. */
  constructor(settings: RateLimitSettings, options: { now?: () => number; maxKeys?: number } = {}) {
    this.#settings = settings;
    this.#tiers = {
      auth: new TokenBuckets(rateOf(settings, 'auth'), options),
      upload: new TokenBuckets(rateOf(settings, 'upload'), options),
      general: new TokenBuckets(rateOf(settings, 'general'), options),
    };
  }

  get enabled(): boolean {
    return this.#settings.enabled;
  }

  /** Applies new settings (SIGHUP): buckets whose rate changed start full at the new size. */
  configure(settings: RateLimitSettings): void {
    this.#settings = settings;
    for (const tier of ['auth', 'upload', 'general'] as const) {
      const next = rateOf(settings, tier);
      const current = this.#tiers[tier].rate;
      if (current.rps !== next.rps || current.burst !== next.burst) this.#tiers[tier].setRate(next);
    }
  }

  /**
   * Takes a token for `address` in `tier`; throws TOO_MANY_REQUESTS with `Retry-After` (seconds,
   * rounded up, at least 1) when its bucket is empty. Does nothing when disabled.
   */
  /** Takes a token for `address` in `tier`: false when none is left (nothing thrown). */
  allows(tier: RateTier, address: string): boolean {
    return !this.#settings.enabled || this.#tiers[tier].take(address).allowed;
  }

  check(tier: RateTier, address: string): void {
    if (!this.#settings.enabled) return;
    const result = this.#tiers[tier].take(address);
    if (result.allowed) return;
    const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    throw new RegistryError(
      'TOO_MANY_REQUESTS',
      `too many requests (${tier} tier, ${this.#settings[`${tier}_rps`]}/s, burst ${this.#settings[`${tier}_burst`]}) from this address; retry in ${seconds} s`,
      { headers: { 'retry-after': String(seconds) } },
    );
  }
}

function rateOf(settings: RateLimitSettings, tier: RateTier) {
  return { rps: settings[`${tier}_rps`], burst: settings[`${tier}_burst`] };
}
