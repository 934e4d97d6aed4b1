/**
 * What `POST /api/v1/admin/reindex[?registry=<format>]` (NORA §3.14, http/reindex-api.ts) does
 * in this server. NORA rebuilds its in-memory indexes from the files of its storage; here the
 * SQL rows (one per version or file) are the only truth and every listing is derived from them,
 * so a reindex forgets every derived document kept in memory — the answer memo's kept answers,
 * npm packuments, Maven `maven-metadata.xml` renders and hot-file answers, Helm `index.yaml`
 * snapshots and renders — and each is rebuilt from the rows by the next read (PyPI pages are
 * checked against the rows on each request: nothing to forget, a covered no-op).
 * Useful after rows changed behind the running server's back (`nora restore`, a `nora import`
 * or a hand-edited database while it ran) and as NORA's scripts expect the endpoint.
 *
 * Formats hand their task in `register()` (`context.reindex.provide`); the run happens after the
 * answer (202), one at a time: a request while one runs, or within `cooldownMs` of the last
 * start, is refused with how long to wait (NORA's debounced 429).
 */
import { FORMAT_NAMES, type FormatName } from '../config/schema.ts';

/** Forgets one format's derived documents (sync or async); it must not leave them half-forgotten. */
export type ReindexTask = () => void | Promise<void>;

/** Where formats hand their reindex task (FormatContext.reindex). */
export interface ReindexRegistry {
  provide(format: FormatName, task: ReindexTask): void;
}

/** Default pause between two reindex runs, ms. */
export const REINDEX_COOLDOWN_MS = 10_000;

/** `request`'s answer: started (the formats it covers), or refused for `retryAfterSeconds`. */
export type ReindexStart =
  | { readonly started: true; readonly formats: readonly FormatName[] }
  | { readonly started: false; readonly retryAfterSeconds: number };

export class Reindexers implements ReindexRegistry {
  readonly #tasks = new Map<FormatName, ReindexTask[]>();
  /** Run for any reindex, whatever its registry (the answer memo keeps answers of every format). */
  readonly #always: ReindexTask[] = [];
  readonly #cooldownMs: number;
  readonly #onError: (err: unknown, format: FormatName | undefined) => void;
  #lastStart = -Infinity;
  #running: Promise<void> | undefined;

  constructor(
    onError: (err: unknown, format: FormatName | undefined) => void,
    cooldownMs = REINDEX_COOLDOWN_MS,
  ) {
    this.#onError = onError;
    this.#cooldownMs = cooldownMs;
  }

  provide(format: FormatName, task: ReindexTask): void {
    const tasks = this.#tasks.get(format) ?? [];
    tasks.push(task);
    this.#tasks.set(format, tasks);
  }

  /** A task of every reindex (the answer memo's clear). */
  provideAlways(task: ReindexTask): void {
    this.#always.push(task);
  }

  /**
   * Starts a reindex of `format` (undefined: every format) in the background unless one runs or
   * started less than the cooldown ago. A task that fails is reported to `onError`; the others
   * still run.
   */
  request(format: FormatName | undefined, now = Date.now()): ReindexStart {
    const wait = this.#lastStart + this.#cooldownMs - now;
    if (this.#running !== undefined || wait > 0) {
      return {
        started: false,
        retryAfterSeconds: Math.max(1, Math.ceil(Math.max(wait, 0) / 1000)),
      };
    }
    this.#lastStart = now;
    // Without a format: every format, in FORMAT_NAMES order, as the docs and the 202 say; one
    // with no task (PyPI: its pages are checked against the rows on each request) is a no-op.
    const formats = format === undefined ? [...FORMAT_NAMES] : [format];
    const run = async (): Promise<void> => {
      // After the 202 is on its way: the caller does not wait for the forgetting.
      await new Promise((resolve) => setImmediate(resolve));
      for (const name of formats) {
        for (const task of this.#tasks.get(name) ?? []) await this.#attempt(task, name);
      }
      // Last: answers kept while the formats forgot would otherwise outlive them.
      for (const task of this.#always) await this.#attempt(task, undefined);
    };
    this.#running = run().finally(() => {
      this.#running = undefined;
    });
    return { started: true, formats };
  }

  /** Resolves when no reindex runs (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#running;
  }

  async #attempt(task: ReindexTask, format: FormatName | undefined): Promise<void> {
    try {
      await task();
    } catch (err) {
      this.#onError(err, format);
    }
  }
}
