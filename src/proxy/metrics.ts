/** The proxy engine's metrics, declared through the app's get-or-create helpers. */
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../metrics/metrics.ts';
import { noteProxyResult } from '../audit/requests.ts';

export type CacheResult = 'hit' | 'miss' | 'stale' | 'revalidated' | 'coalesced' | 'error';

export class ProxyMetrics {
  /** NORA's names: content served from the cache / fetched from an upstream. */
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly cacheRequests: Counter<'registry' | 'result'>;
  readonly upstreamDuration: Histogram<'registry' | 'status'>;
  readonly coalesced: Counter<'registry'>;
  readonly circuitState: Gauge<'registry'>;

  /** `refreshCircuits` updates the circuit gauge before a scrape (open → half-open is timed). */
  constructor(metrics: Metrics, refreshCircuits: () => void) {
    this.cacheHits = metrics.counter(
      'nora_cache_hits_total',
      'Proxied content served from the local cache',
    );
    this.cacheMisses = metrics.counter(
      'nora_cache_misses_total',
      'Proxied content fetched from an upstream',
    );
    this.cacheRequests = metrics.counter(
      'nora_cache_requests_total',
      'Proxy cache lookups by registry and result',
      ['registry', 'result'],
    );
    this.upstreamDuration = metrics.histogram(
      'nora_upstream_request_duration_seconds',
      'Upstream request duration (until response headers) by registry and status',
      ['registry', 'status'],
    );
    this.coalesced = metrics.counter(
      'nora_proxy_coalesced_total',
      'Requests that joined an in-flight upstream fetch instead of starting one',
      ['registry'],
    );
    this.circuitState = metrics.gauge(
      'nora_circuit_breaker_state',
      'Upstream circuit state (0 closed, 1 half-open, 2 open)',
      ['registry'],
      refreshCircuits,
    );
  }

  /**
   * Records one lookup: `hit`/`revalidated`/`stale` count as hits, `miss` as a miss. Also what
   * makes the current request's audit event a `cache_hit` or `proxy_fetch` (src/audit/requests.ts):
   * every format's proxy calls this, so the audit needs no call of its own in each.
   */
  record(registry: string, result: CacheResult): void {
    noteProxyResult(result, registry);
    this.cacheRequests.inc({ registry, result });
    if (result === 'hit' || result === 'revalidated' || result === 'stale') this.cacheHits.inc();
    else if (result === 'miss') this.cacheMisses.inc();
  }
}
