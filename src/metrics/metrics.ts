/**
 * Prometheus metrics with NORA's names. One registry per app instance (no globals), labels
 * bounded: `registry` is a format or configured repository name, never a raw path.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'registry' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'registry' | 'method'>;
  /** Group reads a member could not answer (its upstream unreachable): see repos/group-read.ts. */
  readonly groupMemberFailures: Counter<'repository' | 'member'>;
  readonly #started = Date.now();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
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
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
