/**
 * Field builders shared by the core schema and the format sections. Metadata on a field drives
 * the generic env mapping (`env`: the variable names, first wins; `fromEnv`: custom parsing) and
 * masking (`secret`). Attach `.meta()` last so the walker in env.ts sees it on the outer schema.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { tomlArray } from './env.ts';

export interface FieldMeta {
  /** Environment variable names for this key, overriding the derived `NORA_<SECTION>_<KEY>`. */
  readonly env?: readonly string[];
  /** Parses an environment value into the field's TOML shape. */
  readonly fromEnv?: (value: string) => unknown;
  /** The variable's syntax for error messages when `fromEnv` is not obvious (`url1,url2|user:pass`). */
  readonly envForm?: string;
  /**
   * The file's array form of a list variable, as an example for error messages beside `envForm`
   * (`'["push", "delete"]'`); absent: an upstream list's (load.ts UPSTREAM_ARRAY_FORM).
   */
  readonly fileForm?: string;
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

/**
 * A host name as a resolver takes it: dot-separated labels of letters, digits, `-` (not at either
 * end) and `_` (container names), at most 63 characters each and 253 in all, an optional final
 * dot. A name whose last label is all digits is an IPv4 address gone wrong (`999.1.1.1`,
 * `10.0.0`), not a name.
 */
export function isHostName(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name === '' || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((label) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label))) {
    return false;
  }
  return !/^\d+$/.test(labels.at(-1) ?? '');
}

/**
 * The address the server listens on: an IPv4 or IPv6 literal (`0.0.0.0`, `::`, no brackets) or a
 * host name. Checked at load, so `999.1.1.1` is a configuration error naming the key, not a
 * failure at listen.
 */
export const listenHost = z.string().superRefine((value, ctx) => {
  if (isIP(value) !== 0 || isHostName(value)) return;
  ctx.addIssue({
    code: 'custom',
    input: value,
    message: `expected an IPv4 or IPv6 address (such as 127.0.0.1, 0.0.0.0 or ::, without brackets) or a host name, got ${JSON.stringify(value)}`,
  });
});

/** `none` (any case, spaces around) means no upstream, like `""`; anything else is kept. */
function noneAsEmpty(value: string): string {
  const trimmed = value.trim();
  return trimmed.toLowerCase() === 'none' ? '' : trimmed;
}

/**
 * A format's `proxy` key: one upstream URL, or none (`""` or `none`, in config.toml as in its
 * NORA_*_PROXY variable). `normalize` rewrites a URL before it is checked (Cargo drops a leading
 * `sparse+`), in config.toml as in the variable.
 */
export function optionalUpstream(
  defaultUrl: string,
  normalize: (url: string) => string = (u) => u,
) {
  const read = (value: string): string => {
    const url = noneAsEmpty(value);
    return url === '' ? url : normalize(url);
  };
  return withMeta(
    z
      .preprocess(
        (value) => (typeof value === 'string' ? read(value) : value),
        z.union([httpUrl, z.literal('')]),
      )
      .default(defaultUrl),
    { fromEnv: read, emptyIsValue: true },
  );
}

/**
 * A format's `proxy` key without a built-in upstream (npm): one upstream URL, or unset — which
 * `""` and `none` also mean (in config.toml as in its NORA_*_PROXY variable), as for the formats
 * that have a default upstream (optionalUpstream).
 */
export function upstreamIfSet() {
  return withMeta(
    z.preprocess(
      (value) => (typeof value === 'string' && noneAsEmpty(value) === '' ? undefined : value),
      httpUrl.optional(),
    ),
    { fromEnv: noneAsEmpty, emptyIsValue: true },
  );
}

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
 * left out. `""` or `none` is no upstream at all. A value starting with `[` is the file's own
 * array syntax (`'["https://a.example", { url = "https://b.example", auth = "user:pass" }]'`),
 * its items taken as the file takes them (a string is `{ url }`, a table is kept for the schema
 * to check; env.ts tomlArray throws EnvValueError when it is not such an array): it was refused as "expected an http(s) URL" (trial 20 authx F4). Returns the TOML shape
 * for the schema to check.
 */
export function parseUpstreamList(value: string, keys: readonly string[]): unknown[] {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  const array = tomlArray(trimmed, 'upstreams');
  if (array !== undefined)
    return array.map((item) => (typeof item === 'string' ? { url: item } : item));
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

/**
 * An upstream that is a URL and optional "user:password" (the entries of `[maven] proxies`,
 * `[pypi] proxies`, `[helm] proxies`): what the URL points at is the format's business.
 */
export const urlAuthUpstream = z.object({
  url: httpUrl,
  auth: credentials.optional(),
});

export type UrlAuthUpstream = z.infer<typeof urlAuthUpstream>;

/** An upstream list of `urlAuthUpstream`s in NORA's environment syntax: `url1,url2|user:pass`. */
export function parseUrlAuthList(value: string): unknown[] {
  return parseUpstreamList(value, ['url', 'auth']);
}

/** What an upstream list entry may be, for error messages (the forms `upstreamEntry` accepts). */
export const UPSTREAM_FORMS =
  'a URL string "https://…" or a table { url = "https://…", auth = "user:pass" }';

/**
 * One entry of an upstream list (`[maven] proxies`, `[docker] upstreams`, a repository's
 * `upstreams`, …): the table `{ url = "https://…", auth = "user:pass", … }` or, as NORA's own
 * `[maven]`/`[pypi] proxies` accept (its untagged `Simple(String) | Full(table)` entry), a bare URL
 * string, shorthand for `{ url = "…" }`. Anything else is refused with both forms named. The
 * wrapper is a preprocess pipe: the schema walkers (env.ts `unwrap`) see through it to `table`.
 */
export function upstreamEntry<T extends z.ZodObject>(table: T) {
  return z.preprocess((value, ctx) => {
    if (typeof value === 'string') return { url: value };
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
    ctx.addIssue({
      code: 'custom',
      input: value,
      message: `expected ${UPSTREAM_FORMS}, got ${describeValue(value)}`,
    });
    return z.NEVER;
  }, table);
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'nothing';
  return `${typeof value} ${JSON.stringify(value)}`;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3_600,
  d: 86_400,
  w: 604_800,
};

/**
 * A duration in NORA's syntax → whole seconds: a number of seconds (`3600`), or digits with one
 * unit `s`, `m`, `h`, `d` or `w` (`90s`, `30m`, `12h`, `3d`, `1w`; spaces around ignored, unit in
 * any case). Undefined when `value` is none of these (a negative number, `1.5h`, `3 days`, `1d12h`).
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  const match = /^\s*(\d{1,12})\s*([smhdw]?)\s*$/i.exec(value);
  if (match === null) return undefined;
  const seconds = Number(match[1]) * (DURATION_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** `3d`, `12h`, `90s`: the shortest exact spelling of `seconds` in parseDuration's syntax. */
export function formatDuration(seconds: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    const size = DURATION_UNITS[unit] ?? 1;
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/**
 * A duration key (`[curation] min_release_age`, `quarantine_ttl`): seconds as a TOML integer, or
 * a string in parseDuration's syntax (`"12h"`, `"3d"`, `"1w"`), in config.toml as in its
 * NORA_* variable. Parsed to whole seconds; anything else is refused naming both forms. Chain
 * `.default()`/`.optional()` then `withMeta(…, DURATION_META)` last.
 */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds !== undefined) return seconds;
  ctx.addIssue({
    code: 'custom',
    input: value,
    message: `expected a duration: seconds (3600) or a number with a unit s, m, h, d or w ("90s", "30m", "12h", "3d", "1w"), got ${JSON.stringify(value)}`,
  });
  return z.NEVER;
});

/** A duration's variable is read as the file's string (`NORA_CURATION_MIN_RELEASE_AGE=3d`). */
export const DURATION_META: FieldMeta = { fromEnv: (value) => value };
