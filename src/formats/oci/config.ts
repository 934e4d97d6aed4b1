/** `[docker]` section: NORA's keys and environment variables, exactly. */
import { z } from 'zod';
import {
  credentials,
  parseUpstreamList,
  httpUrl,
  positiveSeconds,
  ttlSeconds,
  upstreamEntry,
  withMeta,
} from '../../config/fields.ts';

export const dockerUpstreamSchema = z.object({
  url: httpUrl,
  auth: credentials.optional(),
  /** Cache namespace for this upstream's content (defaults to the upstream host). */
  namespace: z.string().min(1).optional(),
  /** First path segment that routes a name to this upstream (`/v2/<prefix>/<image>`). */
  prefix: z
    .string()
    .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, { message: 'expected a lowercase path segment' })
    .optional(),
});

export type DockerUpstreamConfig = z.infer<typeof dockerUpstreamSchema>;

/**
 * `url1,url2` or `url|auth|prefix,url2|auth2` (NORA's NORA_DOCKER_PROXIES format); `""` or
 * `none` is no upstream at all (the Docker cache off, as `upstreams = []` in config.toml).
 */
export function parseDockerUpstreamList(value: string): unknown[] {
  return parseUpstreamList(value, ['url', 'auth', 'prefix']);
}

export const dockerSectionSchema = z.object({
  enabled: z.boolean().default(true),
  proxy_timeout: positiveSeconds.default(60),
  /** Per-chunk read timeout while streaming from an upstream, seconds. */
  read_timeout: positiveSeconds.default(60),
  /**
   * Our addition (as `[go] metadata_timeout`, `[helm] index_timeout`): seconds an upstream gets,
   * whole fetch, for what is metadata — manifests, tag lists, referrers and blob HEADs (the
   * existence checks every push through the `/v2/` group makes); at most proxy_timeout. Blob
   * bodies keep proxy_timeout (connect + headers) and read_timeout (silence). Without it an
   * upstream that accepts connections and never answers cost each pushed blob proxy_timeout.
   */
  metadata_timeout: positiveSeconds.default(5),
  /** Tag freshness: 0 revalidates every pull with one HEAD, >0 trusts a tag that long. */
  metadata_ttl: ttlSeconds.default(0),
  serve_stale: z.boolean().default(true),
  /** For names that match no upstream prefix: try the upstreams (allow) or not (deny). */
  default_action: z.enum(['allow', 'deny']).default('allow'),
  /**
   * Once a client starts downloading an image's layers through a proxy, fetch the image's other
   * layers in the background (3 at a time) so they are cached by the time it asks (our addition).
   */
  prefetch_layers: z.boolean().default(true),
  /**
   * The default `/v2/` group serves an image name that has a manifest in docker-hosted from
   * docker-hosted only: tags and manifests by tag are never taken from an upstream for it
   * (the dependency-confusion guard; `[[repositories]] protect_hosted_names` for named groups).
   */
  protect_hosted_names: z.boolean().default(true),
  /**
   * Image names (globs: `*` = any run of characters but `/`, `**` any run) whose first push may
   * take the name over from a group's proxy (NORA_DOCKER_SHADOW_NAMES, comma-separated). Any other
   * first push of a name a guarding group's proxy member has cached is refused (409 DENIED), as
   * npm's, PyPI's, Maven's and Helm's are: the takeover hides every upstream tag of the image from
   * the pulls through the group (docs/oci.md, "Repositories and URLs").
   */
  shadow_names: z
    .array(
      z.string().regex(/^[a-z0-9._/*-]{1,255}$/, {
        message:
          'expected an image name or a glob of one ("corp/*"): lowercase letters, digits, ".", "-", "_", "/", "*"',
      }),
    )
    .default([]),
  upstreams: withMeta(
    z.array(upstreamEntry(dockerUpstreamSchema)).default([{ url: 'https://registry-1.docker.io' }]),
    {
      env: ['NORA_DOCKER_UPSTREAMS', 'NORA_DOCKER_PROXIES'],
      fromEnv: parseDockerUpstreamList,
      envForm: 'url1,url2|user:token|prefix',
      emptyIsValue: true,
    },
  ),
  max_upload_sessions: withMeta(z.number().int().positive().default(100), {
    env: ['NORA_MAX_UPLOAD_SESSIONS'],
  }),
  /**
   * Upload sessions one client may hold at once (a signed-in user, or an address for anonymous
   * clients), within max_upload_sessions. Our addition: the server-wide limit alone let one
   * client's abandoned sessions refuse every other push until they were purged.
   */
  max_upload_sessions_per_client: withMeta(z.number().int().positive().default(25), {
    env: ['NORA_MAX_UPLOAD_SESSIONS_PER_CLIENT'],
  }),
  max_upload_session_size_mb: withMeta(z.number().int().positive().default(2048), {
    env: ['NORA_MAX_UPLOAD_SESSION_SIZE_MB'],
  }),
  /**
   * Memory for manifest bodies kept to answer pulls without a storage read, MB (what the bodies
   * keep alive, counted exactly; 0 = off). Our addition.
   */
  manifest_cache_mb: z.number().int().nonnegative().default(32),
  /** Idle upload sessions older than this are purged, seconds. */
  upload_session_ttl: z.number().int().positive().default(1800),
  /**
   * Seconds without a byte after which a session may be reclaimed: a client at
   * max_upload_sessions_per_client (or the server at max_upload_sessions) has its own sessions
   * idle this long cancelled, least recently used first, before its next one is refused. Our
   * addition: a killed push's sessions otherwise locked a shared CI account out for the TTL.
   */
  upload_session_idle: z.number().int().positive().default(60),
});

export type DockerSection = z.infer<typeof dockerSectionSchema>;
