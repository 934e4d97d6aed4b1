/**
 * `/health`, `/ready` and `/metrics`, never behind a format. `/health` and `/ready` are always
 * public; `/metrics` is unless `[auth] public_metrics = false` (both enforced in hooks.ts). Each
 * answers GET and HEAD (Fastify's exposed HEAD route: same status and headers, no body); any other
 * method gets 405 with `Allow`, whatever body it carries.
 */
import type { FastifyInstance } from 'fastify';
import type { FormatName } from '../config/schema.ts';
import { errnoCode } from '../core/errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { lowSpaceReason, type SpaceState } from '../storage/free-space.ts';

export interface HealthSources {
  readonly version: string;
  readonly metrics: Metrics;
  readonly storageBackend: string;
  readonly checkStorage: () => Promise<void>;
  /**
   * Stores and removes a tiny object where blobs go (StorageDriver.probeWrite); throws the
   * storage's error. Run at most once per WRITE_PROBE_TTL_MS, however often /health is polled.
   */
  readonly probeWrite?: () => Promise<void>;
  readonly checkDatabase: () => Promise<void>;
  /**
   * A write the metadata database refuses as it would refuse an upload's row (db/database.ts
   * probeDatabaseWrite); throws DatabaseWriteError. Cached like probeWrite.
   */
  readonly probeDatabaseWrite?: () => Promise<void>;
  /**
   * The database's disk space (db/reserve.ts): `full` when a write met SQLITE_FULL since the
   * reserve was last made, and the reserve's state. Undefined: an in-memory database.
   */
  readonly databaseSpace?: () =>
    { readonly full: boolean; readonly reserve: 'held' | 'released' | 'none' } | undefined;
  /**
   * The storage's disk (storage/free-space.ts StorageSpace); undefined where there is none to ask
   * (S3). Nearly full (lowSpaceReason), or `full` (a write met ENOSPC), is `degraded`.
   */
  readonly freeSpace?: () => Promise<SpaceState | undefined>;
  readonly totalSizeBytes: () => Promise<number>;
  /** Format → enabled; answers `registries` in /health. */
  readonly registries: () => ReadonlyMap<FormatName, boolean>;
  /** Per-upstream circuit state, when a proxy engine reports it. */
  readonly upstreams?: () => Record<string, unknown>;
}

/** How long a write probe's answer is kept (ms): a polled /health costs one probe per 5 s. */
export const WRITE_PROBE_TTL_MS = 5_000;

/**
 * The write probe's verdict: undefined when writable, else the error's `summary` (a
 * DatabaseWriteError: code and file), code (an errno) or message.
 */
function cachedWriteProbe(
  probe: (() => Promise<void>) | undefined,
): () => Promise<string | undefined> {
  let kept: { at: number; answer: Promise<string | undefined> } | undefined;
  return () => {
    if (probe === undefined) return Promise.resolve(undefined);
    const now = Date.now();
    if (kept === undefined || now - kept.at >= WRITE_PROBE_TTL_MS) {
      // Concurrent requests share the probe in flight.
      kept = {
        at: now,
        answer: probe().then(
          () => undefined,
          (err: unknown) =>
            (err as { summary?: string }).summary ??
            errnoCode(err) ??
            (err instanceof Error ? err.message : String(err)),
        ),
      };
    }
    return kept.answer;
  };
}

export function registerSystemRoutes(app: FastifyInstance, sources: HealthSources): void {
  const writeProblem = cachedWriteProbe(sources.probeWrite);
  const databaseWriteProblem = cachedWriteProbe(sources.probeDatabaseWrite);
  app.get('/health', async (_request, reply) => {
    const reachable = await sources.checkStorage().then(
      () => true,
      () => false,
    );
    // Readable but not writable (read-only mount, immutable files, a full disk): reads go on,
    // every upload fails; "degraded", still 200 (see docs/storage.md, Health and readiness).
    const writeError = reachable ? await writeProblem() : undefined;
    const writable = reachable && writeError === undefined;
    // The metadata database refusing writes refuses every upload just the same (503 "the
    // metadata database is not writable"): "degraded" too, naming the file that stops it.
    const databaseError = await databaseWriteProblem();
    const space = sources.databaseSpace?.();
    const databaseFull = space?.full === true;
    const total = reachable ? await sources.totalSizeBytes().catch(() => 0) : 0;
    // The write probe stores one byte: it passes on a disk with room for no real upload, so
    // free space is judged too (trial 25 ops F10).
    const room = reachable ? await sources.freeSpace?.().catch(() => undefined) : undefined;
    const lowSpace = room === undefined ? undefined : lowSpaceReason(room);
    const registries = Object.fromEntries(
      [...sources.registries()].map(([name, enabled]) => [name, enabled ? 'ok' : 'disabled']),
    );
    const body = {
      status: !reachable
        ? 'unhealthy'
        : writable &&
            databaseError === undefined &&
            !databaseFull &&
            lowSpace === undefined &&
            room?.full !== true
          ? 'healthy'
          : 'degraded',
      version: sources.version,
      uptime_seconds: sources.metrics.uptimeSeconds,
      storage: {
        backend: sources.storageBackend,
        reachable,
        writable,
        ...(writeError === undefined ? {} : { write_error: writeError }),
        total_size_bytes: total,
        // A write met a full disk (ENOSPC, EDQUOT), and the space is not back.
        ...(room === undefined ? {} : { full: room.full, free_bytes: room.free }),
        ...(lowSpace === undefined ? {} : { low_space: lowSpace }),
      },
      database: {
        writable: databaseError === undefined,
        ...(databaseError === undefined ? {} : { write_error: databaseError }),
        // A write met a full disk (SQLITE_FULL): the reserve was used for it, or there was none.
        ...(space === undefined ? {} : { full: databaseFull, space_reserve: space.reserve }),
      },
      registries,
      upstreams: sources.upstreams?.() ?? {},
    };
    return reply
      .code(reachable ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(body);
  });

  app.get('/ready', async (_request, reply) => {
    try {
      await sources.checkStorage();
      await sources.checkDatabase();
      return await reply.header('cache-control', 'no-store').send({ status: 'ready' });
    } catch (err) {
      return reply.code(503).send({ status: 'not ready', reason: (err as Error).message });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await sources.metrics.registry.metrics();
    // Counters change with every request: a cache in front must never hand a scraper an old copy.
    return reply
      .header('content-type', sources.metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(text);
  });

  for (const url of ['/health', '/ready', '/metrics']) {
    app.route({
      method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url,
      handler: async (request, reply) =>
        reply
          .code(405)
          .header('allow', 'GET, HEAD')
          .send({ error: `${request.method} is not supported on ${url}` }),
    });
  }
}
