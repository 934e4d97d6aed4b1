/**
 * The event-loop delay series on /metrics stay sane when a scrape's window recorded no sample
 * (trial 35: a quiet server showed min 9223372036.854776, mean and stddev `Nan`): two scrapes
 * back to back give the second an empty window (no loop turn between them), whose figures must
 * be the last window's (a turn under load would give it real ones: sane either way).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../../src/metrics/metrics.ts';

/** The `nodejs_eventloop_lag_*_seconds` samples of one exposition, by series name. */
function lagSeries(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(nodejs_eventloop_lag_[a-z0-9]+_seconds) (\S+)$/.exec(line);
    if (match !== null) found.set(match[1] ?? '', match[2] ?? '');
  }
  return found;
}

test('an empty event-loop delay window keeps the last figures: no int64 min, no Nan', async () => {
  const metrics = new Metrics();
  // A few 100 ms ticks sampled, then two scrapes with no loop turn between them.
  await new Promise((resolve) => setTimeout(resolve, 350));
  const first = lagSeries(await metrics.registry.metrics());
  const second = lagSeries(await metrics.registry.metrics());
  assert.equal(first.size, 7, [...first.keys()].join(', '));
  for (const series of [first, second]) {
    for (const [name, value] of series) {
      const seconds = Number(value);
      assert.ok(Number.isFinite(seconds) && seconds >= 0 && seconds < 60, `${name} ${value}`);
    }
  }
  assert.equal(second.size, 7);
});
