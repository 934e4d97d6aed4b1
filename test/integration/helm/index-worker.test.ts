/**
 * A large upstream index.yaml is parsed off the event loop (src/formats/helm/index-parser.ts):
 * while a Helm proxy's parse is in progress, the same server answers other requests (/health, a
 * raw file, another Helm repository's index). Deterministic, no timing: the server's parser is
 * built with a shared gate (`hold`) that keeps the worker's parse from finishing until the other
 * answers are in; had the parse run on the event loop, the parse would never be seen starting
 * in the worker (and the index request would answer first, which fails the test). Covered for a
 * fresh upstream fetch and for the cached index re-read from the blob store after a restart.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { FORMATS } from '../../../src/formats/index.ts';
import { createHelmFormat } from '../../../src/formats/helm/index.ts';
import { UpstreamIndexParser } from '../../../src/formats/helm/index-parser.ts';
import { bigUpstreamIndex } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const CHARTS = 4;
const VERSIONS = 500; // 2,000 chart versions, ~2.3 MB

function gated(hold: Int32Array) {
  const helm = createHelmFormat({ indexParser: () => new UpstreamIndexParser({ hold }) });
  return FORMATS.map((f) => (f.format === 'helm' ? helm : f));
}

/** Resolves when the worker has begun parse number `n` (hold[1] reached n). */
async function parseStarted(hold: Int32Array, n: number): Promise<void> {
  for (;;) {
    const seen = Atomics.load(hold, 1);
    if (seen >= n) return;
    const waited = Atomics.waitAsync(hold, 1, seen);
    if (waited.async) await waited.value;
  }
}

/**
 * `GET url`, and a flag saying whether it has answered: the other requests must be answered
 * while it has not.
 */
function pending(url: string) {
  const state = { answered: false };
  const response = fetch(url).then(async (r) => {
    const body = await r.text();
    state.answered = true;
    return { status: r.status, body };
  });
  return { state, response };
}

describe('helm proxy: a large upstream index.yaml leaves the event loop free', () => {
  test('other requests are answered while the index is parsed (fresh and after a restart)', async () => {
    const index = bigUpstreamIndex(CHARTS, VERSIONS);
    let fetches = 0;
    const upstream = http.createServer((request, response) => {
      if (request.url === '/index.yaml') {
        fetches++;
        response.writeHead(200, { 'content-type': 'application/x-yaml' }).end(index);
        return;
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    await using dir = await tempDir('nora-helm-worker-');
    try {
      const port = (upstream.address() as net.AddressInfo).port;
      const config = {
        repositories: [
          {
            name: 'big',
            format: 'helm',
            kind: 'proxy',
            metadata_ttl: -1, // never revalidated: after the restart, the cached copy is re-read
            upstreams: [{ url: `http://127.0.0.1:${port}/` }],
          },
          { name: 'small', format: 'helm', kind: 'hosted' },
        ],
      };
      for (const round of ['fresh', 'cached after a restart']) {
        const hold = new Int32Array(new SharedArrayBuffer(8));
        await using server = await startTestServer({
          dataDir: dir.path,
          formats: gated(hold),
          config,
        });
        const big = pending(`${server.url}/repository/big/index.yaml`);
        await Promise.race([
          parseStarted(hold, 1),
          big.response.then(() => assert.fail(`${round}: index.yaml answered before a parse`)),
        ]);
        // The parse is held in the worker: every other request must be answered now.
        const health = await fetch(`${server.url}/health`);
        assert.equal(health.status, 200, round);
        await health.arrayBuffer();
        const file = `${server.url}/raw/notes/${round.length}.txt`;
        const put = await fetch(file, { method: 'PUT', body: round });
        assert.equal(put.status, 201, round);
        assert.equal(await (await fetch(file)).text(), round);
        const small = await fetch(`${server.url}/repository/small/index.yaml`);
        assert.equal(small.status, 200, round);
        assert.match(await small.text(), /^entries: \{\}$/m, round);
        assert.equal(big.state.answered, false, `${round}: index.yaml answered while held`);
        Atomics.store(hold, 0, 1);
        Atomics.notify(hold, 0);
        const answer = await big.response;
        assert.equal(answer.status, 200, round);
        const urls = answer.body.match(/"urls":\["charts\/chart-[0-9a-z]+-[^"]+\.tgz"\]/g) ?? [];
        assert.equal(urls.length, CHARTS * VERSIONS, round);
        assert.equal(Atomics.load(hold, 1), 1, `${round}: one parse`);
      }
      assert.equal(fetches, 1, 'the restart read the cached copy, not the upstream');
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  test('a large index is parsed once per change, not once per request', async () => {
    // 100 versions with 95 KB descriptions: ~9.5 MB of YAML that parses in about a second, and
    // more entry text than a 64 MiB LRU kept (a quarter of it at most), which made every
    // index.yaml GET and chart download read and parse the cached copy again.
    const description = 'a long description '.repeat(5000);
    const lines = ['apiVersion: v1', 'entries:', '  wide:'];
    for (let v = 0; v < 100; v++) {
      lines.push('  - name: wide', `    version: 1.0.${v}`, `    description: ${description}`);
      lines.push(`    urls: [wide-1.0.${v}.tgz]`);
    }
    const index = lines.join('\n');
    const upstream = http.createServer((request, response) => {
      response.writeHead(request.url === '/index.yaml' ? 200 : 404).end(index);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const port = (upstream.address() as net.AddressInfo).port;
      const hold = new Int32Array(new SharedArrayBuffer(8));
      hold[0] = 1; // the gate open: the worker only counts its parses
      await using server = await startTestServer({
        formats: gated(hold),
        config: {
          repositories: [
            {
              name: 'wide',
              format: 'helm',
              kind: 'proxy',
              metadata_ttl: 300,
              upstreams: [{ url: `http://127.0.0.1:${port}/` }],
            },
          ],
        },
      });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/repository/wide/index.yaml`);
        assert.equal(res.status, 200);
        assert.equal((await res.text()).match(/"urls":\["charts\/wide-/g)?.length, 100);
        const versions = await fetch(`${server.url}/repository/wide/api/charts/wide`);
        assert.equal(((await versions.json()) as unknown[]).length, 100);
      }
      assert.equal(Atomics.load(hold, 1), 1, 'parses');
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});
