/**
 * Prometheus metrics with NORA's names. One registry per app instance (no globals), labels
 * bounded: `registry` is a format or configured repository name, never a raw path.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface RequestSlot {
  duration: HistogramEntry | undefined;
  readonly statuses: Map<number, CounterEntry>;
}

/**
 * prom-client 15 keeps each series of a metric in `hashMap[hash]`: `{labels, value}` for a
 * counter, `{labels, bucketValues: {[upperBound]: count}, sum, count}` for a histogram (bucket
 * counts per bucket, cumulated when exported). The entries below hold one such series and update
 * it in place; `isLive` says whether the metric still holds that very entry (a `reset()` replaces
 * them), else the caller looks it up again. Covered by test/unit/metrics (same exposition as
 * `inc`/`observe`).
 */
interface SeriesMap {
  hashMap: Record<string, { labels: Record<string, string> } & Record<string, unknown>>;
}

interface CounterEntry {
  isLive(): boolean;
  add(value: number): void;
}

interface HistogramEntry {
  isLive(): boolean;
  observe(seconds: number): void;
}

/** The series of `labels` in `metric`, created at 0 when absent. */
function seriesOf(
  metric: SeriesMap,
  create: () => void,
  labels: Record<string, string>,
): { key: string; entry: Record<string, unknown> } {
  const find = () =>
    Object.entries(metric.hashMap).find(([, e]) =>
      Object.entries(labels).every(([k, v]) => e.labels[k] === v),
    );
  let found = find();
  if (found === undefined) {
    create();
    found = find();
  }
  if (found === undefined) throw new Error('prom-client did not create the series');
  return { key: found[0], entry: found[1] };
}

function counterEntry(counter: Counter, labels: Record<string, string>): CounterEntry {
  const metric = counter as unknown as SeriesMap;
  const { key, entry } = seriesOf(
    metric,
    () => {
      counter.inc(labels, 0);
    },
    labels,
  );
  return {
    isLive: () => metric.hashMap[key] === entry,
    add(value) {
      (entry as { value: number }).value += value;
    },
  };
}

function histogramEntry(
  histogram: Histogram,
  labels: Record<string, string>,
  buckets: readonly number[],
): HistogramEntry {
  const metric = histogram as unknown as SeriesMap;
  const { key, entry } = seriesOf(
    metric,
    () => {
      histogram.zero(labels);
    },
    labels,
  );
  const series = entry as { sum: number; count: number; bucketValues: Record<string, number> };
  // The bucket keys as strings once: a number key (0.005) made every observe a keyed store
  // through V8's runtime (Runtime_SetKeyedProperty, ~1% of a memo hit's CPU in perf).
  const bounds = buckets.map((bound) => ({ bound, key: String(bound) }));
  return {
    isLive: () => metric.hashMap[key] === entry,
    observe(seconds) {
      if (!Number.isFinite(seconds)) return;
      series.sum += seconds;
      series.count += 1;
      for (const { bound, key } of bounds) {
        if (seconds <= bound) {
          series.bucketValues[key] = (series.bucketValues[key] ?? 0) + 1;
          return;
        }
      }
    },
  };
}

/**
 * prom-client's event-loop delay series, in the order its collect sets them (lib/metrics/
 * eventLoopLag.js, prom-client 15): min first.
 */
const LAG_SERIES = [
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
] as const;

/**
 * prom-client sets the event-loop delay series from a histogram it resets at every scrape; a
 * scrape whose window recorded no sample (a quiet server whose loop slept through it, or two
 * scrapes back to back) read an empty histogram: min 9223372036.854776 (int64's largest, in
 * ns), mean and stddev `Nan`, p99 noise (trial 35): bogus figures that trip alerts. Such a
 * window now leaves every series at the figures of the last window with samples (0 before the
 * first). The empty window is told by its min (set first), which only an empty histogram gives.
 */
function keepLastLagWindow(registry: Registry): void {
  let empty = false;
  LAG_SERIES.forEach((name, index) => {
    const gauge = registry.getSingleMetric(name);
    if (!(gauge instanceof Gauge)) return;
    const set = gauge.set.bind(gauge) as (labels: object | number, value?: number) => void;
    // prom-client's collect calls set(labels, value); the one-argument form is left as it is.
    gauge.set = (labels: object | number, value?: number): void => {
      if (typeof labels === 'number' || value === undefined) {
        set(labels);
        return;
      }
      // int64's largest nanosecond count (~292 years): no real delay comes near 1e9 seconds.
      if (index === 0) empty = !(value < 1e9);
      if (!empty && Number.isFinite(value)) set(labels, value);
    };
  });
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'registry' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'registry' | 'method'>;
  /** Group reads a member could not answer (its upstream unreachable): see repos/group-read.ts. */
  readonly groupMemberFailures: Counter<'repository' | 'member'>;
  readonly #started = Date.now();
  readonly #requestSlots = new Map<string, Map<string, RequestSlot>>();

  constructor() {
    // Event-loop lag sampled every 100 ms, not prom-client's default 10: its timer wakes the
    // loop at that rate even when the server is idle (100 wake-ups a second, each a trip
    // through epoll and the timer queue), and a registry's lag worth alerting on is far longer.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    keepLastLagWindow(this.registry);
    this.httpRequests = new Counter({
      name: 'nora_http_requests_total',
      help: 'HTTP requests by registry, method and status',
      labelNames: ['registry', 'method', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'nora_http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      labelNames: ['registry', 'method'],
      buckets: [...DURATION_BUCKETS],
      registers: [this.registry],
    });
    this.groupMemberFailures = new Counter({
      name: 'nora_group_member_failures_total',
      help: 'Group reads answered without a member whose upstream failed, by group and member',
      labelNames: ['repository', 'member'],
      registers: [this.registry],
    });
    const started = this.#started;
    new Gauge({
      name: 'nora_uptime_seconds',
      help: 'Seconds since the server started',
      registers: [this.registry],
      collect() {
        this.set((Date.now() - started) / 1000);
      },
    });
  }

  /**
   * Counts one finished HTTP request: `nora_http_requests_total{registry,method,status}` + 1 and
   * `nora_http_request_duration_seconds{registry,method}` observes `seconds`. The same series
   * `inc`/`observe` would write, without their per-call label hashing and validation (~1.5 µs of
   * every request): each label set's entries are looked up once and then updated in place.
   */
  recordRequest(registry: string, method: string, status: number, seconds: number): void {
    let byMethod = this.#requestSlots.get(registry);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#requestSlots.set(registry, byMethod);
    }
    let slot = byMethod.get(method);
    if (slot === undefined) {
      slot = { duration: undefined, statuses: new Map() };
      byMethod.set(method, slot);
    }
    let count = slot.statuses.get(status);
    if (count === undefined || !count.isLive()) {
      count = counterEntry(this.httpRequests, { registry, method, status: String(status) });
      slot.statuses.set(status, count);
    }
    count.add(1);
    if (slot.duration === undefined || !slot.duration.isLive()) {
      slot.duration = histogramEntry(this.httpDuration, { registry, method }, DURATION_BUCKETS);
    }
    slot.duration.observe(seconds);
  }

  get uptimeSeconds(): number {
    return Math.floor((Date.now() - this.#started) / 1000);
  }

  /** Get-or-create, so formats and the proxy engine can declare their metrics where they use them. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing instanceof Counter) return existing;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** `collect` runs before each scrape, for values that change with time rather than events. */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: () => void,
  ): Gauge<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing instanceof Gauge) return existing;
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect === undefined ? {} : { collect }),
    });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
  ): Histogram<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing instanceof Histogram) return existing;
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
