/**
 * The in-server retention pass: NORA's `[retention]` (enabled, interval, dry_run, rules), read
 * from the running configuration at each pass so a SIGHUP reload applies to the next one; a
 * reload that changes `enabled` or `interval` moves the timer. Built on gc's scheduler pattern
 * (src/gc/scheduler.ts): first pass FIRST_PASS_DELAY_MS after start-up, passes never overlap,
 * and the admin endpoint's passes queue behind the timer's. A dry run logs the plan.
 */
import type { AppConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import { FIRST_PASS_DELAY_MS } from '../gc/scheduler.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { RetentionMetrics } from '../metrics/retention.ts';
import type { RepositoryRegistry } from '../repos/repository.ts';
import {
  describeRetentionReport,
  type RetentionReport,
  reportJson,
  runRetention,
} from './engine.ts';
import type { RetentionRegistry } from './types.ts';

export interface RetentionSchedulerOptions {
  readonly config: () => AppConfig;
  readonly repositories: RepositoryRegistry;
  readonly adapters: RetentionRegistry;
  readonly metrics: Metrics;
  readonly log: () => Logger;
  /** Overrides FIRST_PASS_DELAY_MS (tests). */
  readonly firstDelayMs?: number;
}

export interface RetentionScheduler {
  /**
   * Runs one pass now (after a running one). `apply` undefined: as configured (`dry_run`);
   * runs whether `enabled` or not (the admin endpoint). Throws when a listing fails.
   */
  runNow(apply?: boolean): Promise<RetentionReport>;
  /** Moves the timer after a reload changed `enabled` or `interval` (GcScheduler.reschedule). */
  reschedule(): void;
  /** Stops the timer and waits for a running pass. */
  stop(): Promise<void>;
}

export function startRetentionScheduler(options: RetentionSchedulerOptions): RetentionScheduler {
  const metrics = new RetentionMetrics(options.metrics);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let lastPassAt: number | undefined;
  const firstDelayMs = options.firstDelayMs ?? FIRST_PASS_DELAY_MS;

  const pass = async (apply: boolean): Promise<RetentionReport> => {
    const settings = options.config().retention;
    const report = await runRetention({
      rules: settings.rules,
      repositories: options.repositories,
      adapters: options.adapters,
      apply,
      log: options.log(),
    });
    metrics.record(report.deleted, report.bytes, report.seconds);
    const { delete: planned, spared, ...summary } = reportJson(report);
    options
      .log()
      .info(
        { retention: { ...summary, delete: planned, spared } },
        describeRetentionReport(report).join('; '),
      );
    return report;
  };

  const timed = async (): Promise<void> => {
    const settings = options.config().retention;
    if (!settings.enabled || stopped) return;
    lastPassAt = Date.now();
    try {
      await pass(!settings.dry_run);
    } catch (err) {
      options.log().error({ err }, 'retention pass failed: nothing more was deleted');
    }
  };

  const schedule = (ms: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        timer = undefined;
        const next = running.then(timed);
        running = next;
        void next.finally(() => {
          schedule(options.config().retention.interval * 1000);
        });
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    timer.unref();
  };
  schedule(firstDelayMs);

  return {
    runNow(apply) {
      const next = running.then(() => pass(apply ?? !options.config().retention.dry_run));
      running = next.catch(() => undefined);
      return next;
    },
    reschedule() {
      if (stopped || timer === undefined) return;
      const intervalMs = options.config().retention.interval * 1000;
      schedule(
        lastPassAt === undefined
          ? Math.min(firstDelayMs, intervalMs)
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
