/**
 * CI workload identity: OIDC ID tokens (JWTs) minted by CI platforms — GitHub Actions, GitLab CI,
 * any issuer with a JWKS — accepted as credentials, as NORA does (`[auth.oidc]`).
 *
 * A token is recognised by its shape and its `iss`: a Bearer value, or a Basic password under any
 * username (`docker login -u oidc -p "$JWT"`), that decodes as a JWT whose issuer is a configured
 * provider. Anything else is left to the other resolvers (API tokens, registry tokens, passwords).
 * A token of a configured provider is either accepted or refused here with the precise reason
 * (401), never passed on: a forged or expired CI token must not be retried as something else.
 *
 * Accepted: signature by a key of the provider's JWKS (src/auth/jwks.ts) with an allowed
 * asymmetric algorithm, `aud` = the provider's audience, `exp`/`nbf`/`iat` within `leeway_secs`,
 * a lifetime of at most `max_token_lifetime_secs`, and a role rule whose glob matches `sub`.
 * The principal is `<provider>:<sub>` with the rule's role, limited to the namespace scope.
 */
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { RegistryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type {
  AccessTarget,
  Action,
  CredentialResolver,
  Principal,
  RequestCredentials,
  Scope,
} from './access.ts';
import { JwksCache, JwksUnavailableError, type JwksSource } from './jwks.ts';
import {
  normalizeIssuer,
  type OidcConfig,
  type OidcProviderConfig,
  type OidcRoleRule,
} from './oidc-config.ts';
import { compileGlob, type Glob, ResourcePatterns, targetRefs } from './patterns.ts';
import type { SubjectState } from './registry-token.ts';

/** Three base64url parts, the first two non-empty: a compact JWS. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface OidcResolverOptions {
  /** The running `[auth.oidc]` (read per request, so a SIGHUP reload applies at once). */
  readonly config: () => OidcConfig;
  /** Where audit-mode decisions and stale-key warnings go; resolved lazily (built after us). */
  readonly log?: () => Logger | undefined;
  /** For `nora_auth_namespace_scope_total{provider,decision}` (NORA's metric). */
  readonly metrics?: Metrics;
  /** Clock, milliseconds (tests). */
  readonly now?: () => number;
}

type ScopeDecision = 'allow' | 'deny' | 'audit';

/** The CredentialResolver for OIDC workload tokens. Register it before password resolvers. */
export class OidcResolver implements CredentialResolver {
  readonly #config: () => OidcConfig;
  readonly #log: () => Logger | undefined;
  readonly #now: () => number;
  readonly #jwks: JwksCache;
  readonly #count: (provider: string, decision: ScopeDecision) => void;
  /** Compiled rules and scopes per provider config object (a reload brings new objects). */
  readonly #compiled = new WeakMap<OidcProviderConfig, CompiledProvider>();

  constructor(options: OidcResolverOptions) {
    this.#config = options.config;
    this.#log = options.log ?? (() => undefined);
    this.#now = options.now ?? Date.now;
    this.#jwks = new JwksCache({ log: this.#log, now: this.#now });
    const counter = options.metrics?.counter(
      'nora_auth_namespace_scope_total',
      'OIDC namespace scope decisions by provider (audit: out of scope, allowed in audit mode)',
      ['provider', 'decision'],
    );
    this.#count = (provider, decision) => counter?.inc({ provider, decision });
  }

  async resolve(credentials: RequestCredentials): Promise<Principal | undefined> {
    const config = this.#config();
    if (!config.enabled) return undefined;
    const token = candidateToken(credentials.authorization);
    if (token === undefined) return undefined;
    let claims: JWTPayload;
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      claims = decodeJwt(token);
      const header = decodeProtectedHeader(token);
      alg = header.alg;
      kid = header.kid;
    } catch {
      return undefined; // not a JWT after all: someone else's credential
    }
    if (typeof claims.iss !== 'string') return undefined;
    const issuer = normalizeIssuer(claims.iss);
    const provider = config.providers.find((p) => normalizeIssuer(p.issuer) === issuer);
    if (provider === undefined) return undefined;
    return this.#verify(token, provider, config, alg, kid);
  }

  async #verify(
    token: string,
    provider: OidcProviderConfig,
    config: OidcConfig,
    alg: string | undefined,
    kid: string | undefined,
  ): Promise<Principal> {
    const refuse = (reason: string): RegistryError =>
      new RegistryError(
        'UNAUTHORIZED',
        `OIDC token of provider "${provider.name}" refused: ${reason}`,
      );
    if (!provider.enabled) throw refuse('the provider is disabled');
    if (alg === undefined || !provider.algorithms.includes(alg)) {
      throw refuse(
        `algorithm ${alg ?? '(none)'} is not allowed (allowed: ${provider.algorithms.join(', ')})`,
      );
    }
    const source: JwksSource = {
      provider: provider.name,
      issuer: provider.issuer,
      jwksUri: provider.jwks_uri,
      cacheMs: config.jwks_cache_secs * 1000,
    };
    const verifyWith = async () =>
      jwtVerify(token, await this.#jwks.keys(source), {
        issuer: [normalizeIssuer(provider.issuer), `${normalizeIssuer(provider.issuer)}/`],
        audience: provider.audience,
        algorithms: provider.algorithms,
        clockTolerance: config.leeway_secs,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(this.#now()),
      });
    let payload: JWTPayload;
    try {
      try {
        payload = (await verifyWith()).payload;
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
        // The provider may have rotated its keys since we fetched them.
        if (!(await this.#jwks.refetchForUnknownKid(source))) throw err;
        payload = (await verifyWith()).payload;
      }
    } catch (err) {
      throw refuse(describeFailure(err, kid, provider));
    }

    const exp = payload.exp ?? 0;
    const nowSecs = Math.floor(this.#now() / 1000);
    // A future iat would shrink exp − iat: a token valid for hours could pass as a short one.
    if (payload.iat !== undefined && payload.iat > nowSecs + config.leeway_secs) {
      throw refuse('the token is issued in the future (iat beyond the leeway)');
    }
    const lifetime = exp - (payload.iat ?? nowSecs);
    if (lifetime > provider.max_token_lifetime_secs) {
      throw refuse(
        `the token is valid for ${lifetime} s, more than max_token_lifetime_secs (${provider.max_token_lifetime_secs} s)`,
      );
    }
    // jose checks that `sub` is present, not its type (RFC 7519 §4.1.2: a StringOrURI): a
    // number or an array would reach the role-rule globs, which split strings (a 500 before).
    if (typeof payload.sub !== 'string') {
      throw refuse(`invalid "sub" claim: not a string (${describeType(payload.sub)})`);
    }
    const sub = payload.sub;
    const compiled = this.#compile(provider);
    const match = compiled.rules.find((r) => r.subject.test(sub));
    if (match === undefined) {
      throw refuse(`no role rule matches sub "${sub}"`);
    }
    const name = `${provider.name}:${sub}`;
    const scope = this.#scope(provider, compiled.scope, match, name);
    return {
      kind: 'user',
      name,
      roles: [match.rule.role],
      credential: 'oidc',
      oidcIssuer: provider.issuer,
      ...(match.rule.role === 'read' ? { readOnly: true } : {}),
      ...(scope === undefined ? {} : { scope }),
    };
  }

  /**
   * What the identity `name` (`<provider>:<sub>`, as `resolve` names it) would be given now by
   * the running `[auth.oidc]`, without its token: the role of the first role rule matching `sub`
   * and the namespace scope (SubjectState), or why it would be refused — OIDC or the provider
   * disabled, the provider gone, no role rule matching `sub` any more. For the registry tokens an
   * OIDC identity obtained (registry-token.ts SubjectCheck): they carry no credential to check,
   * so this is checked at each use. No I/O: rules are compiled once per configuration object.
   */
  standing(name: string): SubjectState | string {
    const colon = name.indexOf(':');
    const providerName = colon < 0 ? name : name.slice(0, colon);
    const sub = colon < 0 ? '' : name.slice(colon + 1);
    const config = this.#config();
    const provider = config.providers.find((p) => p.name === providerName);
    if (!config.enabled || provider === undefined) {
      return `OIDC provider "${providerName}" is no longer configured (${config.enabled ? '[[auth.oidc.providers]]' : '[auth.oidc] enabled = false'})`;
    }
    if (!provider.enabled) return `OIDC provider "${providerName}" is disabled`;
    const compiled = this.#compile(provider);
    const match = compiled.rules.find((r) => r.subject.test(sub));
    if (match === undefined) {
      return `no role rule of OIDC provider "${providerName}" matches sub "${sub}" any more`;
    }
    const scope = this.#scope(provider, compiled.scope, match, name);
    return {
      roles: [match.rule.role],
      ...(match.rule.role === 'read' ? { readOnly: true } : {}),
      ...(scope === undefined ? {} : { scope }),
    };
  }

  #compile(provider: OidcProviderConfig): CompiledProvider {
    let compiled = this.#compiled.get(provider);
    if (!compiled) {
      compiled = {
        scope: compileScope(provider.namespace_scope),
        rules: provider.role_rules.map((rule) => ({
          rule,
          subject: compileGlob(rule.pattern),
          scope:
            rule.namespace_scope === undefined ? undefined : compileScope(rule.namespace_scope),
        })),
      };
      this.#compiled.set(provider, compiled);
    }
    return compiled;
  }

  /** The principal's ceiling: provider scope ∩ rule scope; undefined when both are "everything". */
  #scope(
    provider: OidcProviderConfig,
    providerScope: ResourcePatterns | undefined,
    match: CompiledRule,
    principal: string,
  ): Scope | undefined {
    const limits = [providerScope, match.scope].filter(
      (s): s is ResourcePatterns => s !== undefined,
    );
    if (limits.length === 0) return undefined;
    const description = `namespace scope ${limits.map((l) => `[${l.toString()}]`).join(' ∩ ')} of OIDC provider "${provider.name}"`;
    const audit = provider.namespace_scope_enforcement === 'audit';
    const log = this.#log;
    const count = this.#count;
    return {
      description,
      allows(target: AccessTarget, action: Action): boolean {
        const refs = targetRefs(target);
        const inScope = limits.every((l) => refs.some((ref) => l.matches(ref)));
        count(provider.name, inScope ? 'allow' : audit ? 'audit' : 'deny');
        if (inScope) return true;
        if (!audit) return false;
        log()?.warn(
          {
            provider: provider.name,
            principal,
            repository: target.repository.name,
            path: target.path,
            action,
          },
          `OIDC namespace scope (audit mode): would deny ${action} on ${target.path ?? '(repository)'} in ${target.repository.name} to ${principal}, outside ${description}`,
        );
        return true;
      },
    };
  }
}

interface CompiledRule {
  readonly rule: OidcRoleRule;
  readonly subject: Glob;
  readonly scope: ResourcePatterns | undefined;
}

interface CompiledProvider {
  readonly scope: ResourcePatterns | undefined;
  readonly rules: readonly CompiledRule[];
}

/** Undefined for "everything": NORA's default `["*"]` (a lone `*`) or `**`. */
function compileScope(patterns: readonly string[]): ResourcePatterns | undefined {
  if (patterns.some((p) => p === '*' || p === '**' || p === '*:**' || p === '**:**')) {
    return undefined;
  }
  return new ResourcePatterns(patterns);
}

/** The JWT in `Bearer <jwt>` or in the password of `Basic <user:jwt>`; undefined otherwise. */
export function candidateToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer?.[1] !== undefined) return JWT_SHAPE.test(bearer[1]) ? bearer[1] : undefined;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (basic?.[1] === undefined) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  return decoded.includes(':') && JWT_SHAPE.test(password) ? password : undefined;
}

/** The JSON type of a claim's value, for a refusal (the value itself is not repeated). */
function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A jose verification failure in words a CI log reader can act on. */
function describeFailure(
  err: unknown,
  kid: string | undefined,
  provider: OidcProviderConfig,
): string {
  if (err instanceof JwksUnavailableError) return err.message;
  if (err instanceof errors.JWTExpired) {
    const exp = typeof err.payload['exp'] === 'number' ? err.payload['exp'] : undefined;
    return `the token expired${exp === undefined ? '' : ` at ${new Date(exp * 1000).toISOString()}`} (beyond the leeway)`;
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return `wrong audience ${JSON.stringify(err.payload['aud'])} (expected "${provider.audience}")`;
      case 'nbf':
        return 'the token is not yet valid (nbf in the future, beyond the leeway)';
      case 'iat':
        return `invalid "iat" claim (${err.reason})`;
      case 'iss':
        return 'unexpected issuer';
      default:
        return `claim "${err.claim}" ${err.reason === 'missing' ? 'is missing' : 'is invalid'}`;
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWKSNoMatchingKey) {
    return `no signing key ${kid === undefined ? 'matches the token' : `with kid "${kid}"`} in the provider's JWKS`;
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return 'the token names no kid and several keys of the provider match: cannot choose';
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof errors.JOSEError) return `invalid token (${err.message})`;
  return `invalid token (${(err as Error).message})`;
}
