/**
 * `[cargo]` section: NORA's keys (`NORA_CARGO_*`, research §2.5). NORA's default upstream is
 * crates.io; on an air-gapped host it is simply unreachable, and the default `/cargo/` group
 * still serves cargo-hosted.
 */
import { z } from 'zod';
import { credentials, optionalUpstream, positiveSeconds, ttlSeconds } from '../../config/fields.ts';

/**
 * Cargo names a sparse index `sparse+https://…`; NORA's upstream keys take the URL without it
 * (`[cargo] proxy`, a cargo proxy repository's `upstreams`), so the prefix is dropped when read.
 */
export function dropSparsePrefix(url: string): string {
  return /^sparse\+/i.test(url) ? url.slice('sparse+'.length) : url;
}

export const cargoSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /**
   * The upstream registry (NORA_CARGO_PROXY): crates.io, or the root of a sparse index laid out
   * like crates.io's (`config.json` + index files); `""`/`none` = no upstream (no cargo-proxy).
   * A leading `sparse+` (Cargo's own spelling, as users copy it from `.cargo/config.toml`) is
   * dropped.
   */
  proxy: optionalUpstream('https://crates.io', dropSparsePrefix),
  /** "user:password" for the upstream (NORA_CARGO_PROXY_AUTH). */
  proxy_auth: credentials.optional(),
  proxy_timeout: positiveSeconds.default(30),
  /**
   * Our addition: how long a proxied index file waits for the upstream (connection, headers,
   * each silence of the body), seconds, at most proxy_timeout. cargo's own `http.timeout` is 30 s:
   * an uncached index file of a hung upstream must get NORA's answer (a 404 naming the timeout
   * through the group, 504 from the proxy) before cargo gives up and retries. `.crate` downloads
   * keep proxy_timeout. A cached copy is answered stale after `[circuit_breaker] stale_after`.
   */
  index_timeout: positiveSeconds.default(10),
  /** Freshness of proxied index files, seconds (-1 forever, 0 revalidate every read). */
  metadata_ttl: ttlSeconds.default(300),
  serve_stale: z.boolean().default(true),
  /** Largest `cargo publish` body (JSON metadata + `.crate`), MB. Our addition. */
  max_upload_mb: z.number().int().positive().default(256),
  /**
   * The default `/cargo/` group serves a crate that cargo-hosted has from cargo-hosted only,
   * never from the upstream (the dependency-confusion guard).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Crate names (globs: `*` = any run of characters; compared as crates.io compares names, any
   * case, `-` = `_`) whose first publish may take the name over from a group's proxy
   * (NORA_CARGO_SHADOW_NAMES, comma-separated). Any other first publish of a crate a guarding
   * group's proxy serves is refused (409), as Go's is without `--shadow`: the takeover hides the
   * upstream's crate from every build through the group and cannot be undone.
   */
  shadow_names: z
    .array(
      z.string().regex(/^[A-Za-z0-9_*-]{1,64}$/, {
        message:
          'expected a crate name or a glob of one ("corp-*"): letters, digits, "-", "_", "*"',
      }),
    )
    .default([]),
  /**
   * Our addition (NORA_CARGO_PREFETCH): an index file fetched from the upstream fetches ahead
   * the index files of the crates its newest versions depend on (normal and build dependencies),
   * which cargo asks in its next wave. Never for a name curation keeps internal or refuses
   * (docs/cargo.md "Prefetch").
   */
  prefetch: z.boolean().default(true),
});

export type CargoSection = z.infer<typeof cargoSectionSchema>;
