/**
 * The bounded prefetch queue the proxies share (PyPI, Go, Cargo): work a format expects its
 * client to ask for next, run in the background while the client is still busy with the previous
 * answer, so the client's request is a cache hit or joins the fill already under way.
 *
 * Bounds, whatever the client does: `concurrency` tasks at once, `queue` waiting (beyond, new
 * work is dropped: the client's own request comes anyway), each key started once per process
 * (forgotten all at once past `kept` keys), nothing started after `close` (shutdown). A task that
 * fails is logged at debug level only: the client's own request asks again and reports it.
 *
 * Metrics (cheap: counters only), `nora_proxy_prefetch_total{format, outcome}`:
 * - `started`: tasks run (each is a fill through the same path a client's request takes; a task
 *   may find the file cached already and fetch nothing);
 * - `used`: prefetched keys a client then asked for (`used(key)`, counted once per key, from the
 *   moment the key is queued: a client asking while its task waits or runs joins or follows it);
 * - `failed`: tasks that threw;
 * - `dropped`: work not queued because the queue was full.
 * `started - used` over a run is the waste: files fetched ahead that no client asked for (yet).
 */
import type { Counter } from 'prom-client';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';

export interface PrefetchQueueOptions {
  /** The `format` label of the metrics and the log lines (`pypi`, `go`, `cargo`). */
  readonly format: string;
  /** Tasks running at once, at most. */
  readonly concurrency: number;
  /** Tasks waiting, at most; beyond, `add` drops the new one. */
  readonly queue: number;
  /** Keys remembered as started (each is tried once); cleared when this many are. */
  readonly kept?: number;
  /** Read per `add` (the configuration may change on reload): false = nothing is queued. */
  readonly enabled: () => boolean;
  readonly log?: Logger | undefined;
  /** Where the counters live; absent: not counted (tests). */
  readonly metrics?: Metrics | undefined;
}

type Outcome = 'started' | 'used' | 'failed' | 'dropped';

const DEFAULT_KEPT = 100_000;

/** A bounded background queue of prefetch tasks keyed by what they fetch (see the module comment). */
export class PrefetchQueue {
  readonly #options: PrefetchQueueOptions;
  readonly #kept: number;
  /** Keys started (queued or run), so each is tried once. */
  readonly #seen = new Set<string>();
  /** Keys queued and not yet asked for by a client (what `used` counts). */
  readonly #unused = new Set<string>();
  readonly #queue: { key: string; task: () => Promise<unknown> }[] = [];
  readonly #counter: Counter<'format' | 'outcome'> | undefined;
  #running = 0;
  #closed = false;
  /** Settles when the queue is idle (tests): resolvers waiting for it. */
  #idle: (() => void)[] = [];

  constructor(options: PrefetchQueueOptions) {
    this.#options = options;
    this.#kept = options.kept ?? DEFAULT_KEPT;
    this.#counter = options.metrics?.counter(
      'nora_proxy_prefetch_total',
      'Proxy prefetches by format and outcome (started, used by a client, failed, dropped: queue full)',
      ['format', 'outcome'],
    );
  }

  /**
   * Queues `task` under `key` unless prefetch is off, the queue is closed or full, or `key` was
   * queued before. Returns whether it was queued. Never throws; the task's errors are logged.
   */
  add(key: string, task: () => Promise<unknown>): boolean {
    if (this.#closed || !this.#options.enabled() || this.#seen.has(key)) return false;
    if (this.#queue.length >= this.#options.queue) {
      this.#count('dropped');
      return false;
    }
    if (this.#seen.size >= this.#kept) {
      this.#seen.clear();
      this.#unused.clear();
    }
    this.#seen.add(key);
    // Used from now on: a client asking while the task waits or runs joins or follows it.
    this.#unused.add(key);
    this.#queue.push({ key, task });
    this.#pump();
    return true;
  }

  /** Whether `key` was queued (or run) by this process since it was last forgotten. */
  has(key: string): boolean {
    return this.#seen.has(key);
  }

  /**
   * A client asked for `key`: counted as `used` when a prefetch of it was started and this is
   * the first client request for it since. Cheap (one set look-up) when it was not.
   */
  used(key: string): void {
    if (this.#unused.delete(key)) this.#count('used');
  }

  /** Tasks waiting (tests). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Tasks running (tests). */
  get running(): number {
    return this.#running;
  }

  /** Drops the tasks still waiting and queues nothing from now on (shutdown). */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#wakeIdle();
  }

  /** Resolves once nothing is running nor waiting (tests). */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#options.concurrency && !this.#closed) {
      const next = this.#queue.shift();
      if (next === undefined) break;
      this.#running += 1;
      this.#count('started');
      let started: Promise<unknown>;
      try {
        started = next.task();
      } catch (err) {
        started = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      const run = started.catch((err: unknown) => {
        this.#count('failed');
        this.#unused.delete(next.key);
        this.#options.log?.debug(
          { key: next.key, error: err instanceof Error ? err.message : String(err) },
          `${this.#options.format} prefetch failed`,
        );
      });
      void run.finally(() => {
        this.#running -= 1;
        this.#pump();
      });
    }
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    if (this.#running > 0 || this.#queue.length > 0 || this.#idle.length === 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  #count(outcome: Outcome): void {
    this.#counter?.inc({ format: this.#options.format, outcome });
  }
}
