/**
 * One full garbage collection when the server falls quiet after work, so the memory a load left
 * behind goes back before the next one instead of sitting in garbage.
 *
 * Why it is needed: the server runs V8 with a large heap growth factor (server.ts) so that
 * streaming does not set off a full GC every few MB; the other side of that is that V8 collects
 * only when it allocates, so once requests stop, whatever garbage was on the heap (and every
 * Buffer it alone keeps alive: socket reads, request bodies, rendered documents) stays until the
 * next request wave. Measured with bench/soak (docs/performance.md): without it, heap used and
 * external memory stayed at their end-of-load values for the whole idle period.
 *
 * The collection is Node's `gc()` (exposed at run time into a throw-away context, so it is
 * never a global of ours), run once per quiet period, only when the event loop was busy since the
 * last one; a quiet period is `quietSamples` consecutive samples of event-loop utilisation below
 * `quietUtilization` in which no request arrived (`requests`). It costs two full GCs (tens of ms
 * for our heap on a quiet machine, hundreds on a loaded one) during which nothing else runs: low
 * utilisation alone is not quiet, since a client that spends most of its time on its own CPU
 * (pip installing, cargo unpacking) keeps the server's utilisation at a few percent while every
 * one of its requests would wait behind the collection.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCollectorOptions {
  /** Sampling period, ms (default 5000). */
  readonly intervalMs?: number;
  /** Consecutive quiet samples before collecting (default 2: 10 s of quiet). */
  readonly quietSamples?: number;
  /** Event-loop utilisation (0-1) below which a sample is quiet (default 0.05). */
  readonly quietUtilization?: number;
  /**
   * A count of the requests received so far (only its changes matter): a sample in which it
   * moved is never quiet. Default: utilisation alone decides.
   */
  readonly requests?: () => number;
  /** The collector (default: V8's full GC); tests pass a spy. */
  readonly collect?: () => void;
  /** Told the resident set size before and after each collection, bytes. */
  readonly onCollect?: (rssBefore: number, rssAfter: number) => void;
}

export interface IdleCollector {
  stop(): void;
}

/**
 * The decision, apart from the clock: fed one event-loop utilisation sample (0-1) at a time,
 * `observe` answers true when this sample ends a quiet period that followed work (collect now).
 */
export class QuietAfterWork {
  readonly #quietSamples: number;
  readonly #quietUtilization: number;
  #quiet = 0;
  #busySinceCollect = false;

  constructor(quietSamples: number, quietUtilization: number) {
    this.#quietSamples = quietSamples;
    this.#quietUtilization = quietUtilization;
  }

  observe(utilization: number): boolean {
    if (utilization >= this.#quietUtilization) {
      this.#quiet = 0;
      this.#busySinceCollect = true;
      return false;
    }
    this.#quiet += 1;
    if (this.#quiet < this.#quietSamples || !this.#busySinceCollect) return false;
    this.#busySinceCollect = false;
    return true;
  }
}

/** Starts sampling (an unref'd timer: it never keeps the process alive). */
export function collectWhenIdle(options: IdleCollectorOptions = {}): IdleCollector {
  const gate = new QuietAfterWork(options.quietSamples ?? 2, options.quietUtilization ?? 0.05);
  const collect = options.collect ?? fullGc();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const requests = options.requests;
  let lastRequests = requests?.() ?? 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    const received = requests?.() ?? 0;
    // A request in the sample makes it work, whatever the utilisation (see the module comment).
    const served = received !== lastRequests;
    lastRequests = received;
    if (!gate.observe(served ? 1 : utilization)) return;
    const before = process.memoryUsage.rss();
    collect();
    options.onCollect?.(before, process.memoryUsage.rss());
    // The collection itself shows up as utilisation in the next sample; it is not work.
    last = performance.eventLoopUtilization();
  }, options.intervalMs ?? 5000);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
    },
  };
}

/**
 * One full GC now (synchronous). For the server once listening (server.ts): V8 sets the old
 * generation's next limit at the end of each full GC, so the growth factor set then applies only
 * from the next one on; until that one, the limit is what start-up's last full GC left, a few MB
 * above the live heap, and the first cold fills after a start paid a full GC of their own (a cold
 * `go mod download` of 63 modules: one, at 52.6 MB with 44 MB live, ~0.1 s of CPU). Collected
 * here, start-up's garbage goes and the limit is set with the factor (docs/performance.md).
 */
export function collectNow(): void {
  fullGc(1)();
}

/**
 * V8's full GC, from a throw-away context with `--expose-gc` set for it (the flag only decides
 * whether new contexts get a `gc` function; ours keeps none).
 */
function fullGc(times = 2): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'sync' }) => void;
  v8.setFlagsFromString('--no-expose-gc');
  return () => {
    // Twice by default: the first frees what is dead; V8 settles the external memory (the
    // Buffers those objects held) and releases emptied pages on the next one.
    for (let i = 0; i < times; i++) gc({ type: 'major', execution: 'sync' });
  };
}
