/**
 * Metrics of retention (src/retention/), NORA's names: versions deleted and their bytes
 * (counters, applied passes only), the last pass's duration and end time (gauges, dry runs too).
 */
import type { Counter, Gauge } from 'prom-client';
import type { Metrics } from './metrics.ts';

export class RetentionMetrics {
  readonly versionsDeleted: Counter;
  readonly bytesFreed: Counter;
  readonly duration: Gauge;
  readonly lastRun: Gauge;

  constructor(metrics: Metrics) {
    this.versionsDeleted = metrics.counter(
      'nora_retention_versions_deleted_total',
      'Versions deleted by retention rules',
    );
    this.bytesFreed = metrics.counter(
      'nora_retention_bytes_freed_total',
      'Bytes of the versions retention deleted (their blobs are freed by gc once unreferenced)',
    );
    this.duration = metrics.gauge(
      'nora_retention_duration_seconds',
      'Duration of the last retention pass, seconds',
    );
    this.lastRun = metrics.gauge(
      'nora_retention_last_run_timestamp',
      'When the last retention pass ended, seconds since the epoch',
    );
  }

  /** One finished pass: `deleted` versions of `bytes` bytes (0 and 0 for a dry run). */
  record(deleted: number, bytes: number, seconds: number): void {
    this.versionsDeleted.inc(deleted);
    this.bytesFreed.inc(bytes);
    this.duration.set(seconds);
    this.lastRun.set(Date.now() / 1000);
  }
}
