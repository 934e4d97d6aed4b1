/**
 * The in-server garbage collector: NORA's `[gc]` (enabled, interval, dry_run, grace), read from
 * the running configuration at each pass so a SIGHUP reload applies to the next one; a reload that
 * changes `enabled` or `interval` also moves the timer (reschedule). The first pass runs shortly
 * after start-up, off the start-up path; passes never overlap (the timer: src/core/periodic-pass.ts). Metrics:
 * src/metrics/gc.ts. The pass is the one `nora gc` runs (src/gc/collector.ts).
 */
import type { AppConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../db/database.ts';
import type { FormatModule } from '../formats/format.ts';
import { startPeriodicPass } from '../core/periodic-pass.ts';
import { GcMetrics } from '../metrics/gc.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { collectGarbage, type GcReport } from './collector.ts';
import { describeGcReport } from './report.ts';

/** Delay of the first pass after start-up, ms (start-up and the first requests go first). */
export const FIRST_PASS_DELAY_MS = 5_000;

export interface GcSchedulerOptions {
  readonly config: () => AppConfig;
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly formats: readonly FormatModule[];
  readonly metrics: Metrics;
  readonly log: () => Logger;
  /** Runs before each mark (the proxy engine's queued rows written). */
  readonly beforeMark?: () => Promise<void>;
  /** Runs a pass (work that frees space: db/reserve.ts freesSpace); default: as it is. */
  readonly freesSpace?: <R>(work: () => R) => R;
  /** Runs after each pass that removed something (the database's space reserve made again). */
  readonly afterPass?: () => void;
  /** Overrides FIRST_PASS_DELAY_MS (tests). */
  readonly firstDelayMs?: number;
}

export interface GcScheduler {
  /** Runs one pass now with the configured settings (waits for a running one first). */
  runNow(): Promise<GcReport | undefined>;
  /**
   * Moves the timer after a reload changed `[gc] enabled` or `interval`: the next pass comes at
   * the last pass + the new interval (at once when that is past), or, when no pass has run yet,
   * FIRST_PASS_DELAY_MS from now (sooner when the interval is shorter). A pass the timer started
   * is left to finish; its end schedules the next one with the new interval.
   */
  reschedule(): void;
  /** Stops the timer and waits for a running pass. */
  stop(): Promise<void>;
}

export function startGcScheduler(options: GcSchedulerOptions): GcScheduler {
  const metrics = new GcMetrics(options.metrics);

  const pass = async (): Promise<GcReport | undefined> => {
    const settings = options.config().gc;
    try {
      const collect = (): ReturnType<typeof collectGarbage> =>
        collectGarbage({
          db: options.db,
          blobs: options.blobs,
          formats: options.formats,
          graceSeconds: settings.grace,
          apply: !settings.dry_run,
          ...(options.beforeMark === undefined ? {} : { beforeMark: options.beforeMark }),
        });
      const report = await (options.freesSpace === undefined
        ? collect()
        : options.freesSpace(collect));
      if (report.apply) options.afterPass?.();
      metrics.record(
        report.apply ? report.blobs : 0,
        report.apply ? report.bytes + report.spoolBytes : 0,
        report.seconds,
      );
      options
        .log()
        .info(
          { gc: { ...report, examples: report.examples.map((e) => e.digest) } },
          describeGcReport(report).join('; '),
        );
      return report;
    } catch (err) {
      options.log().error({ err }, 'garbage collection failed: nothing more was removed');
      return undefined;
    }
  };

  const timer = startPeriodicPass({
    firstDelayMs: options.firstDelayMs ?? FIRST_PASS_DELAY_MS,
    intervalSeconds: () => options.config().gc.interval,
    enabled: () => options.config().gc.enabled,
    pass,
  });

  return {
    runNow: () => timer.queueTimed(pass),
    reschedule: () => {
      timer.reschedule();
    },
    stop: () => timer.stop(),
  };
}
