/**
 * Metrics.recordRequest (the request hook's fast path) writes exactly what prom-client's own
 * `inc`/`observe` write: the same exposition for the same requests, including after a reset.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../../src/metrics/metrics.ts';

const REQUESTS: [string, string, number, number][] = [
  ['raw', 'GET', 200, 0.0004],
  ['raw', 'GET', 200, 0.003],
  ['raw', 'GET', 404, 0.02],
  ['raw', 'HEAD', 200, 0.7],
  ['npm', 'PUT', 201, 12],
  ['system', 'GET', 200, 0.001],
  ['raw', 'GET', 200, 0.25],
];

function httpLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('nora_http_'));
}

async function expositions(): Promise<{ fast: string[]; slow: string[] }> {
  const fast = new Metrics();
  const slow = new Metrics();
  for (const [registry, method, status, seconds] of REQUESTS) {
    fast.recordRequest(registry, method, status, seconds);
    slow.httpRequests.inc({ registry, method, status: String(status) });
    slow.httpDuration.observe({ registry, method }, seconds);
  }
  return {
    fast: httpLines(await fast.registry.metrics()),
    slow: httpLines(await slow.registry.metrics()),
  };
}

test('recordRequest exposes the same series as inc + observe', async () => {
  const { fast, slow } = await expositions();
  assert.ok(slow.length > 20);
  assert.deepEqual(fast, slow);
  assert.ok(fast.includes('nora_http_requests_total{registry="raw",method="GET",status="200"} 3'));
  assert.ok(
    fast.includes(
      'nora_http_request_duration_seconds_bucket{le="0.005",registry="raw",method="GET"} 2',
    ),
  );
});

test('recordRequest keeps counting after the metrics are reset', async () => {
  const metrics = new Metrics();
  metrics.recordRequest('raw', 'GET', 200, 0.001);
  metrics.registry.resetMetrics();
  metrics.recordRequest('raw', 'GET', 200, 0.001);
  metrics.recordRequest('raw', 'GET', 200, 0.001);
  const lines = httpLines(await metrics.registry.metrics());
  assert.ok(lines.includes('nora_http_requests_total{registry="raw",method="GET",status="200"} 2'));
  assert.ok(
    lines.includes('nora_http_request_duration_seconds_count{registry="raw",method="GET"} 2'),
  );
});
