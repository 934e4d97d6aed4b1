/**
 * The timer the in-server background passes share (gc: src/gc/scheduler.ts, retention:
 * src/retention/scheduler.ts): a first pass `firstDelayMs` after start-up (start-up and the
 * first requests go first), then one every `intervalSeconds()`; passes never overlap (a pass
 * asked for by hand queues behind the timer's, and the timer's behind it); a reload that changes
 * the section's `enabled` or `interval` moves the timer (reschedule). `enabled` and
 * `intervalSeconds` are read from the running configuration each time, so a SIGHUP reload
 * applies to the next pass.
 */

/** The timer's settings and its pass. */
export interface PeriodicPassOptions {
  /** Delay of the first pass after start, ms. */
  readonly firstDelayMs: number;
  /** Seconds between passes (the section's `interval`), read when the next one is timed. */
  readonly intervalSeconds: () => number;
  /** Whether the timer's pass runs at all (the section's `enabled`), read when it is due. */
  readonly enabled: () => boolean;
  /** The timer's pass. It must not throw: it logs its own failure. */
  readonly pass: () => Promise<unknown>;
}

export interface PeriodicPass {
  /**
   * Runs `work` after the running pass (the timer's or another queued one), never beside it;
   * resolves or rejects with its outcome. A failure does not hold up the passes queued after it.
   */
  queue<T>(work: () => Promise<T>): Promise<T>;
  /**
   * As the timer runs a pass: queued as `queue` does, then skipped (undefined) when `enabled()`
   * is false or stop() was called by then; a pass that runs is the one `reschedule` times from.
   */
  queueTimed<T>(work: () => Promise<T>): Promise<T | undefined>;
  /**
   * Moves the timer after a reload changed `enabled` or `interval`: the next pass comes at the
   * last pass + the new interval (at once when that is past), or, when no pass has run yet,
   * `firstDelayMs` from now (sooner when the interval is shorter). A pass the timer started is
   * left to finish; its end schedules the next one with the new interval.
   */
  reschedule(): void;
  /** Stops the timer and waits for a running pass. */
  stop(): Promise<void>;
}

/** setTimeout's longest delay (2^31-1 ms, ~24.8 days): a longer interval waits that long. */
const LONGEST_DELAY_MS = 2 ** 31 - 1;

export function startPeriodicPass(options: PeriodicPassOptions): PeriodicPass {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  /** When the last pass that ran (`enabled`) started, ms since the epoch. */
  let lastPassAt: number | undefined;

  const queue = <T>(work: () => Promise<T>): Promise<T> => {
    const next = running.then(work);
    running = next.catch(() => undefined);
    return next;
  };

  const queueTimed = <T>(work: () => Promise<T>): Promise<T | undefined> =>
    queue(async () => {
      if (stopped || !options.enabled()) return undefined;
      lastPassAt = Date.now();
      return work();
    });

  const schedule = (ms: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        timer = undefined;
        void queueTimed(options.pass)
          .catch(() => undefined)
          .finally(() => {
            schedule(options.intervalSeconds() * 1000);
          });
      },
      Math.min(ms, LONGEST_DELAY_MS),
    );
    timer.unref();
  };
  schedule(options.firstDelayMs);

  return {
    queue,
    queueTimed,
    reschedule() {
      // No timer: the timer's pass is queued or running, and its end schedules with the new
      // interval.
      if (stopped || timer === undefined) return;
      const intervalMs = options.intervalSeconds() * 1000;
      schedule(
        lastPassAt === undefined
          ? Math.min(options.firstDelayMs, intervalMs)
          : Math.max(0, lastPassAt + intervalMs - Date.now()),
      );
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * A fixed-interval housekeeping pass that is always on (S3 stale uploads, first-seen prunes):
 * the first `intervalSeconds` after start (the start did its own), then every `intervalSeconds`.
 */
export function startEveryInterval(
  intervalSeconds: number,
  pass: () => Promise<unknown>,
): PeriodicPass {
  return startPeriodicPass({
    firstDelayMs: intervalSeconds * 1000,
    intervalSeconds: () => intervalSeconds,
    enabled: () => true,
    pass,
  });
}
