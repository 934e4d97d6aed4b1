/**
 * The in-server retention pass: NORA's `[retention]` (enabled, interval, dry_run, rules), read
 * from the running configuration at each pass so a SIGHUP reload applies to the next one; a
 * reload that changes `enabled` or `interval` moves the timer. The timer is gc's
 * (src/core/periodic-pass.ts): first pass FIRST_PASS_DELAY_MS after start-up, passes never
 * overlap, and the admin endpoint's passes queue behind the timer's. A dry run logs the plan.
 */
import type { AppConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import { startPeriodicPass } from '../core/periodic-pass.ts';
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
import type { AuditSink } from '../audit/types.ts';

export interface RetentionSchedulerOptions {
  readonly config: () => AppConfig;
  readonly repositories: RepositoryRegistry;
  readonly adapters: RetentionRegistry;
  readonly metrics: Metrics;
  readonly log: () => Logger;
  /** Where deletions are recorded (`retention-apply`, src/audit/). */
  readonly audit?: AuditSink;
  /** Overrides FIRST_PASS_DELAY_MS (tests). */
  readonly firstDelayMs?: number;
}

export interface RetentionScheduler {
  /**
   * Runs one pass now (after a running one). `apply` undefined: as configured (`dry_run`);
   * runs whether `enabled` or not (the admin endpoint). `actor`: who asked (the admin's name),
   * audited as the deletions' actor; undefined: `system`, as a timer pass. Throws when a
   * listing fails.
   */
  runNow(apply?: boolean, actor?: string): Promise<RetentionReport>;
  /** Moves the timer after a reload changed `enabled` or `interval` (GcScheduler.reschedule). */
  reschedule(): void;
  /** Stops the timer and waits for a running pass. */
  stop(): Promise<void>;
}

export function startRetentionScheduler(options: RetentionSchedulerOptions): RetentionScheduler {
  const metrics = new RetentionMetrics(options.metrics);

  const pass = async (apply: boolean, actor?: string): Promise<RetentionReport> => {
    const settings = options.config().retention;
    const report = await runRetention({
      rules: settings.rules,
      repositories: options.repositories,
      adapters: options.adapters,
      apply,
      log: options.log(),
      ...(options.audit === undefined ? {} : { audit: options.audit }),
      ...(actor === undefined ? {} : { actor }),
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

  const timer = startPeriodicPass({
    firstDelayMs: options.firstDelayMs ?? FIRST_PASS_DELAY_MS,
    intervalSeconds: () => options.config().retention.interval,
    enabled: () => options.config().retention.enabled,
    pass: async () => {
      try {
        await pass(!options.config().retention.dry_run);
      } catch (err) {
        options.log().error({ err }, 'retention pass failed: nothing more was deleted');
      }
    },
  });

  return {
    runNow: (apply, actor) =>
      timer.queue(() => pass(apply ?? !options.config().retention.dry_run, actor)),
    reschedule: () => {
      timer.reschedule();
    },
    stop: () => timer.stop(),
  };
}
