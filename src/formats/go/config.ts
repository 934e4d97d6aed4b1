/**
 * `[go]` section: NORA's keys (`NORA_GO_*`, research §2.7) plus ours (`private`, `sumdb`,
 * `metadata_timeout`, `negative_cache_ttl`, `serve_stale`). NORA's default upstream is the public
 * module proxy; on an air-gapped host it is simply unreachable and the default group `go` still
 * serves go-hosted.
 */
import { z } from 'zod';
import {
  optionalUpstream,
  credentials,
  httpUrl,
  positiveSeconds,
  ttlSeconds,
  withMeta,
} from '../../config/fields.ts';
import { parseListVariable } from '../../config/env.ts';
import { isPrefixPattern } from './module.ts';

/**
 * `a,b , c` → `['a','b','c']` (empty and `none` → `[]`), in config.toml's string form and in the
 * variables. A variable may also be the file's array syntax (`'["corp.example.com"]'`): it goes
 * through the one list parser (env.ts parseListVariable), which throws EnvValueError for a
 * malformed array. The file's string form is a GOPRIVATE-style value, never an array.
 */
function commaList(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  return trimmed
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** A `[go]` list variable (NORA_GO_PRIVATE, NORA_GO_SUMDB): `none`/empty → `[]`, else a list. */
function listVariable(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  return parseListVariable(trimmed);
}

/**
 * One checksum database upstream: `https://sum.golang.org` (its name is the URL's host:
 * `sum.golang.org`) or `<name>=<url>` when the name differs from the host (a test or a mirror).
 */
const sumdbEntry = z.string().refine((value) => parseSumdbEntry(value) !== undefined, {
  message: 'expected "https://host[/path]" or "<name>=https://host[/path]"',
});

/** A checksum database NORA forwards: its GOSUMDB name and the URL its protocol is served at. */
export interface SumdbUpstream {
  /** The name `go` knows it by (`sum.golang.org`): the `<name>` of `/sumdb/<name>/…`. */
  readonly name: string;
  /** Base URL: `<url>/supported`, `<url>/lookup/…`, `<url>/tile/…`. */
  readonly url: string;
}

/** Parses one `sumdb` entry (see sumdbEntry); undefined when malformed. */
export function parseSumdbEntry(value: string): SumdbUpstream | undefined {
  const eq = value.indexOf('=');
  const name = eq < 0 ? undefined : value.slice(0, eq).trim();
  const url = (eq < 0 ? value : value.slice(eq + 1)).trim();
  if (!httpUrl.safeParse(url).success) return undefined;
  const host = new URL(url).host;
  const resolved = name ?? host;
  if (!/^[a-z0-9][a-z0-9.-]*(:\d+)?$/i.test(resolved)) return undefined;
  return { name: resolved, url: url.replace(/\/+$/, '') };
}

export const goSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /** The upstream GOPROXY (NORA_GO_PROXY); `""`/`none` = no proxy (go-hosted only). */
  proxy: optionalUpstream('https://proxy.golang.org'),
  proxy_auth: credentials.optional(),
  /** Connect + response-headers timeout of upstream requests, seconds. */
  proxy_timeout: positiveSeconds.default(30),
  /** Longest silence while a `.zip` streams in, seconds. */
  proxy_timeout_zip: positiveSeconds.default(120),
  /** Largest `.zip` taken from the upstream (and accepted by go-hosted), bytes (100 MiB). */
  max_zip_size: z.number().int().positive().default(104_857_600),
  /** Freshness of `@v/list` and `@latest`, seconds (-1 forever, 0 revalidate every read). */
  metadata_ttl: ttlSeconds.default(300),
  /**
   * Our addition (the Athens complaint): when a cached `@v/list`/`@latest` exists, its
   * revalidation waits at most this long for the upstream, then the cached copy is served.
   */
  metadata_timeout: positiveSeconds.default(5),
  /** Serve the last `@v/list`/`@latest` when every upstream fails. */
  serve_stale: z.boolean().default(true),
  /** Seconds an upstream 404/410 is remembered (0 = not at all). */
  negative_cache_ttl: ttlSeconds.default(60),
  /**
   * GOPRIVATE-style globs (NORA_GO_PRIVATE, comma-separated): matching module paths are never
   * asked of the upstream nor of a checksum database (they answer 404 from a proxy). In the file
   * a list, or a string in GOPRIVATE's own syntax (`"corp.example/*,other.example"`), as users
   * copy their GOPRIVATE value; a string was refused as "expected array".
   */
  private: withMeta(
    z
      .preprocess(
        (value) => (typeof value === 'string' ? commaList(value) : value),
        z.array(
          z.string().refine(isPrefixPattern, {
            message:
              'not a GOPRIVATE-style pattern (path.Match syntax: *, ?, [class], \\ escapes; no commas)',
          }),
        ),
      )
      .default([]),
    {
      fromEnv: listVariable,
      emptyIsValue: true,
    },
  ),
  /**
   * Checksum databases forwarded at `/go/sumdb/<name>/…` (NORA_GO_SUMDB, comma-separated);
   * `[]` = none (`go` then falls back to its direct URL). In the file a list, or a string as the
   * variable takes it (`"none"`, `""`, a comma-separated list): `sumdb = "none"` was refused as
   * "expected array" while NORA_GO_SUMDB=none worked.
   */
  sumdb: withMeta(
    z
      .preprocess(
        (value) => (typeof value === 'string' ? commaList(value) : value),
        z.array(sumdbEntry),
      )
      .default(['https://sum.golang.org']),
    {
      fromEnv: listVariable,
      emptyIsValue: true,
    },
  ),
  /**
   * The default group `go` serves a module path that go-hosted has (or ever had) from go-hosted
   * only, never from an upstream (the dependency-confusion guard).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Our addition (NORA_GO_PREFETCH): a `.mod` fetched from the upstream fetches ahead the `.mod`
   * files of its requirements that `go` reads next, and a client's `.info` of a version fetches
   * that version's `.zip` (`go mod download` asks `.info`, then `.zip`). Never for a private
   * module or a version curation refuses (docs/go.md "Prefetch").
   */
  prefetch: z.boolean().default(true),
});

export type GoSection = z.infer<typeof goSectionSchema>;

/** The checksum databases of a `[go]` section, by name. */
export function sumdbUpstreams(section: GoSection): Map<string, SumdbUpstream> {
  const out = new Map<string, SumdbUpstream>();
  for (const entry of section.sumdb) {
    const parsed = parseSumdbEntry(entry);
    if (parsed !== undefined && !out.has(parsed.name)) out.set(parsed.name, parsed);
  }
  return out;
}
