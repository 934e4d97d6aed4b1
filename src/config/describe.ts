/** Renders the effective configuration for humans (`nora config check`), secrets masked. */
import { stringify } from 'smol-toml';
import { z } from 'zod';
import { looksLikeToken } from '../auth/users.ts';
import { redactText } from '../core/redact.ts';
import { fieldMeta, unwrap } from './env.ts';
import { isRecord } from './load.ts';
import { type AppConfig, configSchema } from './schema.ts';

export const MASK = '********';

export function maskSecrets(config: AppConfig): Record<string, unknown> {
  return mask(config, configSchema) as Record<string, unknown>;
}

export function describeConfig(config: AppConfig): string {
  return stringify(maskSecrets(config));
}

function mask(value: unknown, schema: z.ZodType): unknown {
  if (isSecretField(schema)) return value === undefined ? value : MASK;
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && isRecord(value)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => {
        const childSchema = shape[key];
        if (typeof child === 'string' && looksSecret(key)) return [key, MASK];
        return [key, childSchema ? mask(child, childSchema) : child];
      }),
    );
  }
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    return value.map((item) => mask(item, inner.element as z.ZodType));
  }
  if (inner instanceof z.ZodPipe) return mask(value, inner.in as z.ZodType);
  // Credentials inside ordinary values (userinfo in an upstream URL) are masked too, and so is a
  // value that is an API token secret (a rule's `tokens` item, which config check warns about:
  // its output ends up in CI logs; trial 23 authx F3), spaces around it or not.
  if (typeof value !== 'string') return value;
  return looksLikeToken(value.trim()) ? maskedToken(value.trim()) : redactText(value);
}

/**
 * `text` (an error, warning or note line about the configuration) with every API-token-shaped
 * word (`looksLikeToken`: `nra_`/`nora_` and 20 or more base64url characters) written
 * `nra_…(masked)`, as the dump writes such a value: a token pasted into the wrong variable was
 * masked in the dump but quoted whole in the line saying it is wrong, which lands in CI logs
 * (trial 25 ops F3). Other text is unchanged (the caller still applies `redactText`).
 */
export function maskTokensIn(text: string): string {
  if (!text.includes('ra_')) return text;
  return text.replace(TOKEN_WORD, (word) => maskedToken(word));
}

/** A token-shaped word: not inside a longer base64url run (`x_nra_…` is no token). */
const TOKEN_WORD = /(?<![A-Za-z0-9_-])(?:nra|nora)_[A-Za-z0-9_-]{20,}/g;

/** `nra_…(masked)`: the token's prefix, which says what it was, and nothing of the secret. */
function maskedToken(token: string): string {
  return `${token.slice(0, token.indexOf('_') + 1)}…(masked)`;
}

function isSecretField(schema: z.ZodType): boolean {
  let current: z.ZodType = schema;
  for (;;) {
    if (fieldMeta(current).secret === true) return true;
    const next = unwrap(current);
    if (next === current) return false;
    current = next;
  }
}

/**
 * A key whose name says its value is a credential (`proxy_auth`, `client_secret`, `password`,
 * `s3_secret_key`, `bind_token`): masked even when its schema field forgot `secret: true`.
 * Names of files and places (`htpasswd_file`, `token_storage`, `jwks_uri`) are not secrets.
 */
export function looksSecret(key: string): boolean {
  return /(?:^|_)(?:auth|password|passwd|secret|token|credentials?|(?:api|access|secret|private)_key)$/i.test(
    key,
  );
}
