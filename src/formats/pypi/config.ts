/**
 * `[pypi]` section: NORA's keys (`NORA_PYPI_*`). NORA's default upstream is the public index; on
 * an air-gapped host it is simply unreachable, and the default group still serves pypi-hosted.
 */
import { z } from 'zod';
import {
  optionalUpstream,
  credentials,
  parseUrlAuthList,
  positiveSeconds,
  ttlSeconds,
  upstreamEntry,
  urlAuthUpstream,
  type UrlAuthUpstream,
  withMeta,
} from '../../config/fields.ts';

/**
 * NORA_PYPI_PROXIES: `url1,url2` or `url|user:pass,url2` (first = the `--index-url`, the rest =
 * `--extra-index-url`s, asked in order); `""` or `none` = no upstream.
 */
export const parsePypiUpstreamList = parseUrlAuthList;

export const pypiSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /**
   * The upstream simple index (NORA_PYPI_PROXY); `""`/`none` = none. Used when `proxies` is
   * empty; `proxy_auth` applies to it.
   */
  proxy: optionalUpstream('https://pypi.org/simple/'),
  proxy_auth: credentials.optional(),
  /**
   * Several upstream simple index roots in order (NORA_PYPI_PROXIES, e.g. `https://pypi.org/simple/`,
   * what pip's `--index-url` takes); when set, replaces `proxy`.
   */
  proxies: withMeta(z.array(upstreamEntry(urlAuthUpstream)).default([]), {
    fromEnv: parsePypiUpstreamList,
    envForm: 'url1,url2|user:pass',
  }),
  proxy_timeout: positiveSeconds.default(30),
  /** Freshness of proxied project pages, seconds (-1 forever, 0 revalidate every read). Our addition. */
  metadata_ttl: ttlSeconds.default(300),
  serve_stale: z.boolean().default(true),
  /** Largest file an upload may carry, MB. Our addition. */
  max_upload_mb: z.number().int().positive().default(1024),
  /**
   * The default `/simple/` group serves a project that pypi-hosted has (a file of it) from
   * pypi-hosted only, never from an upstream (the dependency-confusion guard).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Project names (globs: `*` = any run of characters; compared PEP 503-normalised) whose first
   * upload may take the name over from a group's proxy (NORA_PYPI_SHADOW_NAMES, comma-separated).
   * Any other first upload of a project a guarding group's proxy member serves (from its cache)
   * is refused (409), as Maven's, Helm's and Cargo's are: the takeover hides every upstream
   * release from the installs through the group (docs/pypi.md, "Group").
   */
  /**
   * Whether the takeover check of a first publish (see `shadow_names`) also asks a proxy's
   * upstream about a project name nobody fetched through NORA yet (NORA_PYPI_SHADOW_CHECK_UPSTREAM),
   * as Cargo's, Go's, Maven's and Helm's do: the name is sent upstream, waited for at most
   * `[circuit_breaker] stale_after` (`proxy_timeout` when that is 0); an upstream that cannot be
   * asked in that time does not block the publish (it goes ahead with a warning). Off by default:
   * a write never sends a name upstream. Per proxy: `[[repositories]] shadow_check_upstream`.
   */
  shadow_check_upstream: z.boolean().default(false),
  shadow_names: z
    .array(
      z.string().regex(/^[A-Za-z0-9_.*-]{1,200}$/, {
        message:
          'expected a project name or a glob of one ("corp-*"): letters, digits, ".", "-", "_", "*"',
      }),
    )
    .default([]),
  /**
   * Proxies fetch ahead what pip asks for next (our addition): the PEP 658 metadata of the newest
   * release's wheels once a project page is fetched, and a wheel once its metadata is asked for.
   */
  prefetch: z.boolean().default(true),
});

export type PypiSection = z.infer<typeof pypiSectionSchema>;

/** The upstreams a default `pypi-proxy` asks, in order (`proxies`, else `proxy`). */
export function pypiUpstreams(section: PypiSection): UrlAuthUpstream[] {
  if (section.proxies.length > 0) return section.proxies;
  if (section.proxy === '') return [];
  return [{ url: section.proxy, ...(section.proxy_auth ? { auth: section.proxy_auth } : {}) }];
}
