/**
 * Cache identity of upstream URLs, for the formats whose cached metadata must belong to the URL
 * it came from (Helm's index copies and charts, Docker's tags and referrers): after a reload or
 * restart names another URL, nothing of the old one is served as the new one's copy, not even
 * stale. Keys carry `upstreamId(url)`; rows of URLs no longer configured are dropped in the
 * background by `UpstreamSweeper` so `nora gc` can collect what only they referenced.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../core/logger.ts';
import type { ProxyStateStore } from './state.ts';

/**
 * A short hash of an upstream URL (16 hex digits; credentials are configured apart from the URL
 * and are not part of it): one id per URL as written in the config.
 */
export function upstreamId(url: string): string {
  let id = ids.get(url);
  if (id === undefined) {
    id = createHash('sha256').update(url).digest('hex').slice(0, 16);
    // Configured URLs are few; the bound only keeps a config churned by reloads from growing it.
    if (ids.size >= MAX_REMEMBERED_IDS) ids.clear();
    ids.set(url, id);
  }
  return id;
}

/** Ids already computed: the Docker proxy names its routes on every manifest GET by tag. */
const ids = new Map<string, string>();
const MAX_REMEMBERED_IDS = 1024;

/** What one sweep of a repository's cache rows looks at. */
export interface SweepRequest {
  readonly state: ProxyStateStore;
  readonly repository: string;
  /**
   * Once per process for each distinct mark (e.g. the repository and its URL ids): a reload that
   * changes nothing does not sweep again.
   */
  readonly mark: string;
  /** Key prefixes whose rows are judged. */
  readonly prefixes: readonly string[];
  /** false: the row belongs to an upstream URL no longer configured (or an older key shape). */
  readonly belongs: (key: string) => boolean;
  readonly log?: Logger | undefined;
  /** Names the format in the log line, e.g. `helm proxy`. */
  readonly what: string;
}

/** Rows read per pass of one prefix (ProxyStateStore.keys' own default). */
const SWEEP_BATCH = 10_000;

/** Drops cache rows of upstream URLs a repository no longer names (see SweepRequest). */
export class UpstreamSweeper {
  readonly #swept = new Set<string>();

  /**
   * Starts the sweep in the background, once per mark; errors are logged, nothing depends on it
   * (the rows it drops are never read again: their keys name other URLs). A prefix with more than
   * SWEEP_BATCH rows that all belong leaves what follows them to the next process.
   */
  sweep(request: SweepRequest): void {
    if (this.#swept.has(request.mark)) return;
    this.#swept.add(request.mark);
    const { state, repository, log } = request;
    void (async () => {
      let dropped = 0;
      for (const prefix of request.prefixes) {
        for (;;) {
          const keys = await state.keys(repository, prefix, SWEEP_BATCH);
          let droppedHere = 0;
          for (const key of keys) {
            if (request.belongs(key)) continue;
            await state.delete(repository, key);
            droppedHere++;
          }
          dropped += droppedHere;
          // Deleted rows leave the range: a full batch with drops may hide more behind it.
          if (keys.length < SWEEP_BATCH || droppedHere === 0) break;
        }
      }
      if (dropped > 0) {
        log?.info(
          { repository, dropped },
          `${request.what}: cached copies of upstream URLs no longer configured dropped`,
        );
      }
    })().catch((err: unknown) => {
      log?.warn({ err, repository }, 'dropping old upstream copies failed');
    });
  }
}
