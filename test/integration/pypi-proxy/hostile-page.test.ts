/**
 * A hostile upstream simple page through a listening NORA (finding F1 of the hostile-upstream
 * trial): a 2.5 MB page of 500,000 nested `<div>`s used to hold the event loop for ~108 s (the
 * tree builder's quadratic stack work), so no format and not /health answered. Now it is parsed in
 * linear time with the event loop served in between: /health answers throughout, the cached page
 * is answered stale, and a page past a bound (tags, attribute length) is a 502 in PyPI's own
 * text/plain error form when nothing is cached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { FixtureUpstream, makeWheel } from './fixture.ts';

describe('pypi proxy: a hostile upstream page', () => {
  const upstream = new FixtureUpstream();
  let server: TestServer;
  const demo = makeWheel('demo-pkg', '1.0');

  before(async () => {
    await upstream.start();
    upstream.index('html', 'html').projects.set('demo-pkg', [demo]);
    server = await startTestServer({
      config: {
        repositories: [
          {
            name: 'py-hostile',
            format: 'pypi',
            kind: 'proxy',
            metadata_ttl: 0,
            upstreams: [{ url: upstream.url('html') }],
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.stop();
  });

  /** Polls /health every 50 ms while `work` runs; returns the slowest answer in ms. */
  async function healthDuring(work: () => Promise<void>): Promise<number> {
    let slowest = 0;
    const state = { done: false };
    const poll = (async () => {
      while (!state.done) {
        const started = performance.now();
        const res = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        slowest = Math.max(slowest, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      await work();
    } finally {
      state.done = true;
      await poll;
    }
    return slowest;
  }

  const page = (project: string) =>
    fetch(`${server.url}/repository/py-hostile/simple/${project}/`, {
      signal: AbortSignal.timeout(30_000),
    });

  test('deeply nested and over-bound pages: cached page served stale, /health answers', async () => {
    const index = upstream.indexes.get('html')!;
    const first = await page('demo-pkg');
    assert.equal(first.status, 200);
    assert.match(await first.text(), new RegExp(demo.filename.replaceAll('.', '\\.')));

    const hostile: Record<string, Buffer> = {
      'nested 2.5 MB': Buffer.from('<div>'.repeat(500_000) + '</body></html>'),
      'over the tag bound': Buffer.from('<b>'.repeat(1_000_001)),
      'a 1 MB href': Buffer.from(`<a href="${'x'.repeat(1 << 20)}">demo_pkg-1.0.tar.gz</a>`),
    };
    for (const [shape, body] of Object.entries(hostile)) {
      index.body = body;
      let status = 0;
      let stale: string | null = null;
      let text = '';
      const started = performance.now();
      const slowest = await healthDuring(async () => {
        const res = await page('demo-pkg');
        status = res.status;
        stale = res.headers.get('x-nora-stale');
        text = await res.text();
      });
      const ms = performance.now() - started;
      assert.equal(status, 200, `${shape}: ${text}`);
      assert.equal(stale, 'true', shape);
      assert.ok(text.includes(demo.filename), shape);
      // Before the fix the nested page alone took ~108 s, /health unanswered all along.
      assert.ok(ms < 10_000, `${shape}: the page took ${ms.toFixed(0)} ms`);
      assert.ok(slowest < 3_000, `${shape}: /health took up to ${slowest.toFixed(0)} ms`);
    }
    delete index.body;
    const back = await page('demo-pkg');
    assert.equal(back.status, 200);
    assert.equal(back.headers.get('x-nora-stale'), null);
    await back.arrayBuffer();
  });

  test('nothing cached: a page past a bound is a 502 in PyPI text/plain naming the bound', async () => {
    const index = upstream.indexes.get('html')!;
    index.projects.set('other-pkg', [makeWheel('other-pkg', '1.0')]);
    for (const [body, reason] of [
      ['<b>'.repeat(1_000_001), /more than 1000000 tags/],
      [`<a href="${'x'.repeat(70_000)}">x</a>`, /attribute longer than 65536 characters/],
    ] as const) {
      index.body = Buffer.from(body);
      const res = await page('other-pkg');
      const text = await res.text();
      assert.equal(res.status, 502, text);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(text, reason);
      assert.ok(!text.includes(upstream.base), 'no upstream host in the error');
    }
    delete index.body;
  });
});
