/** `[npm]` section: NORA's keys. There is no built-in upstream host: `proxy` must be configured. */
import { z } from 'zod';
import { credentials, positiveSeconds, ttlSeconds, upstreamIfSet } from '../../config/fields.ts';

export const npmSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /** Upstream registry URL; unset, `""` or `none` = hosted only. */
  proxy: upstreamIfSet(),
  proxy_auth: credentials.optional(),
  proxy_timeout: positiveSeconds.default(30),
  metadata_ttl: ttlSeconds.default(300),
  serve_stale: z.boolean().default(true),
  revalidate: z.boolean().default(true),
  /**
   * Memory for rendered packuments (and their gzip) kept ready to send, MB, counted by what the
   * documents keep alive; 0 = off. Our addition.
   */
  packument_cache_mb: z.number().int().nonnegative().default(64),
  /**
   * The default `/npm/` group serves a package name that npm-hosted has (a live version) from
   * npm-hosted only, never from the upstream (the dependency-confusion guard).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Package names (globs: `*` = any run of characters, `@corp/*`) whose first publish may take the
   * name over from a group's proxy (NORA_NPM_SHADOW_NAMES, comma-separated). Any other first
   * publish of a name a guarding group's proxy member serves (from its cache) is refused (409),
   * as Maven's, Helm's and Cargo's are: the takeover hides every upstream version of the package
   * from the installs through the group (docs/npm.md, "Group").
   */
  /**
   * Whether the takeover check of a first publish (see `shadow_names`) also asks a proxy's
   * upstream about a package name nobody fetched through NORA yet (NORA_NPM_SHADOW_CHECK_UPSTREAM),
   * as Cargo's, Go's, Maven's and Helm's do: the name is sent upstream, waited for at most
   * `[circuit_breaker] stale_after` (`proxy_timeout` when that is 0); an upstream that cannot be
   * asked in that time does not block the publish (it goes ahead with a warning). Off by default:
   * a write never sends a name upstream. Per proxy: `[[repositories]] shadow_check_upstream`.
   */
  shadow_check_upstream: z.boolean().default(false),
  shadow_names: z
    .array(
      z.string().regex(/^[A-Za-z0-9@/_.~*-]{1,214}$/, {
        message:
          'expected a package name or a glob of one ("@corp/*", "corp-*"): letters, digits, "@", "/", ".", "-", "_", "~", "*"',
      }),
    )
    .default([]),
});

export type NpmSection = z.infer<typeof npmSectionSchema>;
