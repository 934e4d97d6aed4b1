/**
 * `[helm]` section (`NORA_HELM_*`): classic Helm chart repositories at `/helm/` (NORA serves Helm
 * charts over OCI only; these keys are ours). The default upstream list is empty: a
 * `helm-proxy` repository exists only when `proxies` is configured.
 */
import { z } from 'zod';
import {
  parseUrlAuthList,
  positiveSeconds,
  ttlSeconds,
  upstreamEntry,
  urlAuthUpstream,
  withMeta,
} from '../../config/fields.ts';

/**
 * NORA_HELM_PROXIES: `url1,url2|user:pass` (each a chart repository URL, the one `helm repo add`
 * takes); `""` or `none` = no upstream.
 */
export const parseHelmUpstreamList = parseUrlAuthList;

export const helmSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /** Upstream chart repositories of the default `helm-proxy` (none by default). */
  proxies: withMeta(z.array(upstreamEntry(urlAuthUpstream)).default([]), {
    fromEnv: parseHelmUpstreamList,
    envForm: 'url1,url2|user:pass',
    emptyIsValue: true,
  }),
  proxy_timeout: positiveSeconds.default(30),
  /**
   * Seconds a proxy's `index.yaml` fetch (or revalidation) waits for its upstream's connection,
   * headers and each silence of the body (at most `proxy_timeout`); past it the cached copy is
   * served (serve_stale) or the member counts as failed, so a group answers from its other
   * members instead of waiting `proxy_timeout` for a hung upstream.
   */
  index_timeout: positiveSeconds.default(5),
  /** Freshness of a proxied `index.yaml`, seconds (-1 forever, 0 always revalidate). */
  index_ttl: ttlSeconds.default(300),
  serve_stale: z.boolean().default(true),
  /** Largest chart archive (or `.prov`) an upload may carry, MB (413 past it). */
  max_upload_mb: z.number().int().positive().default(20),
  /** `?force` on an upload may replace an existing version (ChartMuseum's default). */
  allow_overwrite: z.boolean().default(true),
  /**
   * The default `/helm/` group serves a chart name that helm-hosted has from helm-hosted only,
   * never from an upstream (the dependency-confusion guard).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Chart names (globs: `*` = any run of characters, case as written) whose first upload may take
   * the name over from a group's proxy (NORA_HELM_SHADOW_NAMES, comma-separated). Any other first
   * upload of a chart name a guarding group's proxy serves is refused (409), as Maven's and
   * Cargo's are: the takeover hides every upstream version of the chart from the users of the
   * group (docs/helm.md, "Group").
   */
  shadow_names: z
    .array(
      z.string().regex(/^[A-Za-z0-9_.*-]{1,256}$/, {
        message:
          'expected a chart name or a glob of one ("corp-*"): letters, digits, ".", "-", "_", "*"',
      }),
    )
    .default([]),
});

export type HelmSection = z.infer<typeof helmSectionSchema>;
