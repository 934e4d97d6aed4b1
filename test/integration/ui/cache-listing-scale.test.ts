/**
 * The UI's listing of a big proxy cache (docs/performance.md "Web UI on a big proxy cache"):
 * 100,000 cached crate files (20,000 crates × 5 versions) written through the proxy state
 * store's own API, then a first page, a deep page, a search and a detail page, each timed and
 * printed for the document. A proxy's page reads its names from the per-name summaries
 * (src/ui/cache-index.ts) by index: 10–100 ms here, against 1–2 s when every page regrouped
 * the cache rows; the bound (1 s a request, ~10× the measured time on a shared core) fails on
 * a return to regrouping.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

const CRATES = 20_000;
const VERSIONS = 5;

interface ListJson {
  entries: { name: string; versions?: number; latest?: string; cached?: boolean }[];
  total?: number;
}

describe('web UI: a big proxy cache', () => {
  test(`list, deep page, search and detail over ${CRATES * VERSIONS} cached files`, async () => {
    await using server = await startTestServer({
      config: {
        repositories: [
          {
            name: 'cargo-px',
            format: 'cargo',
            kind: 'proxy',
            // Never asked: the UI reads the cache only.
            upstreams: [{ url: 'http://127.0.0.1:9/index/' }],
          },
        ],
      },
    });
    const state = server.app.context.proxy.state;
    const filled = performance.now();
    for (let i = 0; i < CRATES; i++) {
      for (let v = 0; v < VERSIONS; v++) {
        void state.put(
          'cargo-px',
          `cargo-crate:crate-${String(i).padStart(5, '0')}/1.${v}.0`,
          {
            digest: `sha256:${'0'.repeat(64)}`,
            size: 1000 + v,
            mediaType: undefined,
            etag: undefined,
            upstream: 'cargo-px#0',
          },
          1_700_000_000_000 + i * VERSIONS + v,
        );
      }
      if (i % 1000 === 999) await state.flush();
    }
    await state.flush();
    const fillMs = performance.now() - filled;

    const timed = async <T>(url: string): Promise<[T, number]> => {
      const started = performance.now();
      const res = await fetch(`${server.url}${url}`);
      const body = (await res.json()) as T;
      assert.equal(res.status, 200, JSON.stringify(body));
      return [body, performance.now() - started];
    };
    // Warm the statement cache once, as a running server has.
    await timed('/api/ui/cargo/list?repo=cargo-px&limit=50');
    const [first, firstMs] = await timed<ListJson>('/api/ui/cargo/list?repo=cargo-px&limit=50');
    const [deep, deepMs] = await timed<ListJson>(
      '/api/ui/cargo/list?repo=cargo-px&offset=19950&limit=50',
    );
    const [found, searchMs] = await timed<ListJson>(
      '/api/ui/cargo/search?repo=cargo-px&q=crate-1999&limit=50',
    );
    const [, detailMs] = await timed<unknown>('/api/ui/cargo/crate-12345?repo=cargo-px');
    const started = performance.now();
    const page = await fetch(`${server.url}/ui/cargo?repo=cargo-px&offset=10000`);
    assert.equal(page.status, 200);
    await page.text();
    const htmlMs = performance.now() - started;

    assert.equal(first.total, CRATES);
    assert.equal(first.entries.length, 50);
    assert.deepEqual(first.entries[0], {
      name: 'crate-00000',
      versions: VERSIONS,
      latest: '1.4.0',
      updatedAt: 1_700_000_000_004,
      bytes: 5010,
      cached: true,
    });
    assert.equal(deep.entries[0]?.name, 'crate-19950');
    assert.equal(found.total, 10); // crate-19990…19999
    const figures = { fillMs, firstMs, deepMs, searchMs, detailMs, htmlMs };
    console.log(
      `cache listing, ${CRATES * VERSIONS} rows: ${Object.entries(figures)
        .map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`)
        .join(', ')}`,
    );
    for (const [what, ms] of Object.entries(figures)) {
      if (what !== 'fillMs') assert.ok(ms < 1_000, `${what}: ${ms} ms`);
    }
  });
});
