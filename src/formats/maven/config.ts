/**
 * `[maven]` section: NORA's keys (`NORA_MAVEN_*`). NORA's default upstream is Maven Central; on an
 * air-gapped host it is simply unreachable, and the default `/maven2/` group still serves
 * maven-hosted.
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

/** NORA_MAVEN_PROXIES: `url1,url2|user:pass` (asked in order); `""` or `none` = no upstream. */
export const parseMavenUpstreamList = parseUrlAuthList;

export const mavenSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /** Upstream Maven 2 repository roots in order (NORA_MAVEN_PROXIES, `url|auth,…`). */
  proxies: withMeta(
    z.array(upstreamEntry(urlAuthUpstream)).default([{ url: 'https://repo1.maven.org/maven2' }]),
    { fromEnv: parseMavenUpstreamList, envForm: 'url1,url2|user:pass', emptyIsValue: true },
  ),
  proxy_timeout: positiveSeconds.default(30),
  /**
   * Seconds an upstream gets to connect and send its response headers (at most `proxy_timeout`,
   * which still bounds a metadata fetch as a whole and each silence of a file's body): a stalled
   * upstream gives way to the next one, the cached copy or a 502 within it instead of holding mvn
   * for `proxy_timeout`. Our addition, as `[go] metadata_timeout`, `[helm] index_timeout`.
   */
  header_timeout: positiveSeconds.default(10),
  /** Verify uploaded checksum files against the computed hashes (mismatch → 400). */
  checksum_verify: z.boolean().default(true),
  /** A deployed release file can never be replaced (re-deploy → 409). */
  immutable_releases: z.boolean().default(true),
  /** Freshness of proxied `maven-metadata.xml`, seconds (-1 forever, 0 always revalidate). */
  metadata_ttl: ttlSeconds.default(300),
  serve_stale: z.boolean().default(true),
  /** How long a proxied miss is remembered, seconds (Maven probes every repository). Our addition. */
  negative_cache_ttl: ttlSeconds.default(300),
  /** Largest file a deploy may carry, MB. Our addition. */
  max_upload_mb: z.number().int().positive().default(2048),
  /**
   * The default `/maven2/` group serves a groupId:artifactId that maven-hosted has from
   * maven-hosted only, never from an upstream (the dependency-confusion guard).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Artifacts (`groupId:artifactId` globs: `*` = any run of characters, case as written) whose
   * first deploy may take the coordinate over from a group's proxy (NORA_MAVEN_SHADOW_NAMES,
   * comma-separated). Any other first deploy of an artifact a guarding group's proxy serves is
   * refused (409), as Cargo's and Go's first publishes are: the takeover hides every upstream
   * version from the builds through the group (docs/maven.md, "Group").
   */
  shadow_names: z
    .array(
      z.string().regex(/^[A-Za-z0-9_.*:-]{1,256}$/, {
        message:
          'expected groupId:artifactId or a glob of one ("com.corp.*:*"): letters, digits, ".", "-", "_", ":", "*"',
      }),
    )
    .default([]),
  /**
   * Proxies fetch a jar ahead once its POM was fetched from an upstream (our addition): Maven reads
   * a plugin's whole tree of POMs before it downloads the jars, one request at a time.
   */
  prefetch: z.boolean().default(true),
});

export type MavenSection = z.infer<typeof mavenSectionSchema>;
