/**
 * Metrics of the blob garbage collector (src/gc/), NORA's names: blobs removed and bytes freed
 * (counters, applied passes only), the last pass's duration and end time (gauges, dry runs too).
 */
import type { Counter, Gauge } from 'prom-client';
import type { Metrics } from './metrics.ts';

export class GcMetrics {
  readonly blobsRemoved: Counter;
  readonly bytesFreed: Counter;
  readonly duration: Gauge;
  readonly lastRun: Gauge;

  constructor(metrics: Metrics) {
    this.blobsRemoved = metrics.counter(
      'nora_gc_blobs_removed_total',
      'Unreferenced blobs removed by garbage collection',
    );
    this.bytesFreed = metrics.counter(
      'nora_gc_bytes_freed_total',
      'Bytes freed by garbage collection (blobs and stale spool files)',
    );
    this.duration = metrics.gauge(
      'nora_gc_duration_seconds',
      'Duration of the last garbage-collection pass, seconds',
    );
    this.lastRun = metrics.gauge(
      'nora_gc_last_run_timestamp',
      'When the last garbage-collection pass ended, seconds since the epoch',
    );
  }

  /** One finished pass: `removed` blobs and `freed` bytes (0 and 0 for a dry run). */
  record(removed: number, freed: number, seconds: number): void {
    this.blobsRemoved.inc(removed);
    this.bytesFreed.inc(freed);
    this.duration.set(seconds);
    this.lastRun.set(Date.now() / 1000);
  }
}
