/**
 * index.yaml rendered incrementally (renderIndex): a 10,000-version index blocked the event loop
 * for 40-55 ms in one piece (docs/performance.md "Helm index.yaml off the event loop"); it is now
 * joined, encoded and hashed RENDER_SLICE entries per event-loop turn, with the same bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { entryFragment } from '../../../src/formats/helm/chart.ts';
import {
  RENDER_SLICE,
  renderIndex,
  renderIndexText,
  sortEntries,
} from '../../../src/formats/helm/index-render.ts';
import type { SnapshotEntry } from '../../../src/formats/helm/model.ts';

/** `count` versions over 37 chart names, descriptions with multi-byte characters. */
function entries(count: number): SnapshotEntry[] {
  const list: SnapshotEntry[] = [];
  for (let i = 0; i < count; i += 1) {
    const name = `chart-${i % 37}`;
    const version = `1.${Math.floor(i / 37)}.0`;
    const fragment = entryFragment({ name, version, description: `é✓ ${i}`, urls: ['x'] });
    list.push({ name, version, fragment });
  }
  return sortEntries(list);
}

test('renderIndex gives renderIndexText bytes, gzip and ETag, whatever the slice boundaries', async () => {
  for (const count of [0, 1, RENDER_SLICE, RENDER_SLICE + 1, 3 * RENDER_SLICE + 7]) {
    const list = entries(count);
    const modifiedAt = Date.UTC(2026, 11, 5);
    const text = renderIndexText(list, modifiedAt);
    const rendered = await renderIndex({ key: 'k', validUntil: 1, modifiedAt, entries: list });
    assert.equal(rendered.body.toString('utf8'), text, `${count} entries`);
    const sha = createHash('sha256').update(text).digest('hex');
    assert.equal(rendered.etag, `"${sha}"`);
    assert.equal(gunzipSync(await rendered.gzip).toString('utf8'), text);
  }
});

test('a 10,000-version index yields the event loop while it renders', async () => {
  const list = entries(10_000);
  let turns = 0;
  let done = false;
  const spin = (): void => {
    turns += 1;
    if (!done) setImmediate(spin);
  };
  setImmediate(spin);
  const started = performance.now();
  await renderIndex({ key: 'k', validUntil: 1, modifiedAt: 1, entries: list });
  done = true;
  const ms = performance.now() - started;
  // One turn per slice at least (before: none, the render ran in one piece).
  assert.ok(turns >= Math.floor(10_000 / RENDER_SLICE) - 1, `${turns} turns in ${ms} ms`);
});
