/**
 * `[raw]` section: NORA's keys (NORA §2.8: `NORA_RAW_ENABLED`, `NORA_RAW_MAX_FILE_SIZE`,
 * `NORA_RAW_CACHE_CONTROL`) plus our additions for overwrites, listings and raw proxy
 * repositories (`[[repositories]] format = "raw", kind = "proxy"`: any HTTP origin). NORA's raw
 * store is hosted only: no default upstream, so the default `/raw/` repository is hosted.
 */
import { z } from 'zod';
import { positiveSeconds, ttlSeconds } from '../../config/fields.ts';

export const rawSectionSchema = z.object({
  enabled: z.boolean().default(true),
  /** Largest file a PUT may carry, bytes (NORA_RAW_MAX_FILE_SIZE; 413 past it, mid-stream too). */
  max_file_size: z.number().int().positive().default(104_857_600),
  /** `Cache-Control` of file answers (NORA_RAW_CACHE_CONTROL). */
  cache_control: z
    .string()
    .regex(/^[\x20-\x7e]{1,256}$/, { message: 'expected a printable header value' })
    .default('no-cache'),
  /**
   * A stored file can only be replaced by a PUT with `If-Match: <etag>` (a plain second PUT → 409),
   * as NORA. `false`: a plain PUT replaces. Our addition (NORA_RAW_IMMUTABLE).
   */
  immutable: z.boolean().default(true),
  /** Entries per listing page unless `?limit=` asks for fewer (at most 10,000). Our addition. */
  list_page_size: z.number().int().min(1).max(10_000).default(1000),
  /** Raw proxy repositories: connect/header and per-chunk read timeout, seconds. */
  proxy_timeout: positiveSeconds.default(60),
  /**
   * Raw proxy repositories: how long a cached file is fresh, seconds (-1 forever: release
   * downloads never change; 0 revalidate every read; >0 revalidate after that long with
   * If-None-Match / If-Modified-Since). A repository's `metadata_ttl` overrides it.
   */
  proxy_ttl: ttlSeconds.default(-1),
  /** Serve the cached copy when every upstream fails during a revalidation. */
  serve_stale: z.boolean().default(true),
  /** How long a proxied 404 is remembered, seconds (0 = not at all). */
  negative_cache_ttl: ttlSeconds.default(60),
  /** Largest file taken from an upstream, bytes (default 8 GiB). */
  proxy_max_file_size: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024 * 1024),
});

export type RawSection = z.infer<typeof rawSectionSchema>;
