/**
 * Field builders shared by the core schema and the format sections. Metadata on a field drives
 * the generic env mapping (`env`: the variable names, first wins; `fromEnv`: custom parsing) and
 * masking (`secret`). Attach `.meta()` last so the walker in env.ts sees it on the outer schema.
 */
import { z } from 'zod';

export interface FieldMeta {
  /** Environment variable names for this key, overriding the derived `NORA_<SECTION>_<KEY>`. */
  readonly env?: readonly string[];
  /** Parses an environment value into the field's TOML shape. */
  readonly fromEnv?: (value: string) => unknown;
  /**
   * An empty variable is a value (handed to `fromEnv`), not "unset": `NORA_DOCKER_UPSTREAMS=""`
   * means no upstreams. Other fields treat an empty variable as absent.
   */
  readonly emptyIsValue?: boolean;
  /** Masked by `nora config check` and in logs. */
  readonly secret?: boolean;
  readonly description?: string;
}

export function withMeta<T extends z.ZodType>(schema: T, meta: FieldMeta): T {
  return schema.meta(meta as Record<string, unknown>);
}

export const httpUrl = z
  .string()
  .refine((value) => /^https?:\/\/[^\s/]+/.test(value) && URL.canParse(value), {
    message: 'expected an http(s) URL such as "https://host[:port][/path]"',
  });

/** Seconds; -1 = forever, 0 = always revalidate, >0 = seconds (one rule for every cache). */
export const ttlSeconds = z.number().int().min(-1);

export const positiveSeconds = z.number().positive();

/** "user:password" credentials for an upstream; masked when printed. */
export const credentials = withMeta(
  z.string().regex(/^[^:]+:.*$/, { message: 'expected "user:password"' }),
  { secret: true },
);

/**
 * An upstream list in NORA's environment syntax: `url1,url2` or `url|user:pass|extra,…`, each
 * entry's `|`-separated parts named by `keys` (e.g. `['url', 'auth', 'prefix']`); empty parts are
 * left out. `""` or `none` is no upstream at all. Returns the TOML shape for the schema to check.
 */
export function parseUpstreamList(value: string, keys: readonly string[]): unknown[] {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  return trimmed
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const parts = entry.split('|').map((part) => part.trim());
      return Object.fromEntries(
        keys.flatMap((key, i) => (i === 0 || parts[i] ? [[key, parts[i]]] : [])),
      );
    });
}
