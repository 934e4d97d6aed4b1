/**
 * `[auth.oidc]`: CI workload identity, as NORA configures it. A CI job presents the OIDC ID token
 * its platform mints (GitHub Actions, GitLab CI, …) as a Bearer token or Basic password; the
 * provider whose `issuer` matches the token's `iss` verifies it (JWKS), and the first role rule
 * whose `pattern` matches the token's `sub` gives it a role and, optionally, a narrower namespace
 * scope. Validation here is strict: a provider that would accept a forgeable token (HS*, `none`)
 * or could never accept any (no role rule) is a config error, not a runtime surprise.
 */
import { z } from 'zod';
import { httpUrl, withMeta } from '../config/fields.ts';
import { patternProblem } from './patterns.ts';

/**
 * Asymmetric JWS algorithms a provider may allow. HS* (shared secret: anyone who can verify could
 * forge) and `none` are refused even when configured.
 */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

const algorithm = z.string().superRefine((value, ctx) => {
  if (/^HS/i.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is a shared-secret (HMAC) algorithm: HS* tokens are always rejected, remove it`,
    });
  } else if (!(OIDC_ALGORITHMS as readonly string[]).includes(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `unsupported algorithm "${value}": expected one of ${OIDC_ALGORITHMS.join(', ')}`,
    });
  }
});

/** Namespace scope patterns (src/auth/patterns.ts); `*` alone is NORA's "everything". */
const namespaceScope = z
  .array(z.string())
  .min(1, { message: 'expected at least one pattern (use ["*"] for everything)' })
  .superRefine((patterns, ctx) => {
    patterns.forEach((text, index) => {
      const problem = patternProblem(text);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [index], message: problem });
    });
  });

// Strict, as `[auth]` and a rule are: a misspelt key here (`namespace_scopes` on a role rule,
// `max_token_lifetime` on a provider, `enable` in [auth.oidc]) was ignored with a warning, and
// left the token wider (its provider's scope), longer-lived or OIDC off (trial 23).
const roleRuleSchema = z.strictObject({
  /** Glob on the token's `sub` (segment-aware: `*` stays within one `/`-separated segment). */
  pattern: z.string().min(1, { message: 'expected a glob on the token subject ("sub")' }),
  role: z.enum(['read', 'write', 'admin']),
  /** Narrows the provider's namespace scope for tokens matching this rule (never widens it). */
  namespace_scope: namespaceScope.optional(),
});

const providerSchema = z.strictObject({
  /** Names the provider in principals (`<name>:<sub>`), logs and errors. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: 'expected a name of letters, digits, ".", "_" or "-"',
  }),
  /** Matched exactly (trailing "/" ignored) against the token's `iss`. */
  issuer: httpUrl,
  /** Overrides discovery (`<issuer>/.well-known/openid-configuration` → `jwks_uri`). */
  jwks_uri: httpUrl.optional(),
  /** The `aud` the token must carry; required so a token minted for another service is refused. */
  audience: z.string().min(1, { message: 'expected the audience the tokens are minted for' }),
  algorithms: z
    .array(algorithm)
    .min(1, { message: 'expected at least one algorithm' })
    .default(['RS256', 'ES256']),
  /** A token valid longer than this (exp − iat, or exp − now without iat) is refused. */
  max_token_lifetime_secs: z.number().int().positive().default(900),
  namespace_scope: namespaceScope.default(['*']),
  /** `audit` lets out-of-scope requests through and logs what enforcement would have refused. */
  namespace_scope_enforcement: z.enum(['enforce', 'audit']).default('enforce'),
  /** Kill switch: a disabled provider's tokens are refused (not passed on to other resolvers). */
  enabled: z.boolean().default(true),
  role_rules: z.array(roleRuleSchema).default([]),
});

export const oidcSectionSchema = z
  .strictObject({
    enabled: withMeta(z.boolean().default(false), { env: ['NORA_AUTH_OIDC_ENABLED'] }),
    /** Clock skew tolerated on exp / nbf / iat, seconds. */
    leeway_secs: withMeta(z.number().int().min(0).default(60), {
      env: ['NORA_AUTH_OIDC_LEEWAY_SECS'],
    }),
    /** How long fetched signing keys are used before being fetched again, seconds. */
    jwks_cache_secs: withMeta(z.number().int().positive().default(3600), {
      env: ['NORA_AUTH_OIDC_JWKS_CACHE_SECS'],
    }),
    providers: z.array(providerSchema).default([]),
  })
  .superRefine((oidc, ctx) => {
    if (oidc.enabled && oidc.providers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['providers'],
        message: 'OIDC is enabled but no [[auth.oidc.providers]] is configured',
      });
    }
    const names = new Set<string>();
    const issuers = new Set<string>();
    oidc.providers.forEach((provider, index) => {
      if (names.has(provider.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', index, 'name'],
          message: `duplicate provider name "${provider.name}"`,
        });
      }
      names.add(provider.name);
      const issuer = normalizeIssuer(provider.issuer);
      if (issuers.has(issuer)) {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', index, 'issuer'],
          message: `issuer "${provider.issuer}" is already configured by another provider`,
        });
      }
      issuers.add(issuer);
      if (provider.role_rules.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', index, 'role_rules'],
          message:
            'a provider needs at least one [[auth.oidc.providers.role_rules]]: a token no rule matches is refused',
        });
      }
    });
  });

export type OidcConfig = z.infer<typeof oidcSectionSchema>;
export type OidcProviderConfig = OidcConfig['providers'][number];
export type OidcRoleRule = OidcProviderConfig['role_rules'][number];

/** Issuers compare without a trailing slash (`https://host/` and `https://host` are one issuer). */
export function normalizeIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}
