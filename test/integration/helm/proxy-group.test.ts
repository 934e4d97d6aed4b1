/**
 * Helm proxy and group repositories against local upstreams: a second NORA (a real chart
 * repository with relative chart URLs) and a fixture server (absolute URLs on another origin,
 * a lying digest, an upstream going down). Checks: index URLs rewritten to ours, charts fetched
 * once and verified against the index digest (a mismatch is a 502 and nothing is cached),
 * revalidation with the upstream's ETag, stale serving, group merge with the hosted-name guard.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { upstreamId } from '../../../src/proxy/upstream-id.ts';
import { buildChart, helmPull, sha256 } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

interface Fixture {
  readonly url: string;
  readonly hits: Map<string, number>;
  index: string;
  files: Map<string, Buffer>;
  down: boolean;
  close(): Promise<void>;
}

async function startFixture(): Promise<Fixture> {
  const hits = new Map<string, number>();
  const state = { index: '', files: new Map<string, Buffer>(), down: false };
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (state.down) {
      res.writeHead(503).end();
      return;
    }
    if (path === '/repo/index.yaml') {
      const etag = `"${sha256(Buffer.from(state.index))}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-yaml', etag }).end(state.index);
      return;
    }
    const file = state.files.get(path);
    if (file) res.writeHead(200, { 'content-length': file.length }).end(file);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fixture: Fixture = {
    url: `http://127.0.0.1:${port}`,
    hits,
    get index() {
      return state.index;
    },
    set index(v) {
      state.index = v;
    },
    get files() {
      return state.files;
    },
    set files(v) {
      state.files = v;
    },
    get down() {
      return state.down;
    },
    set down(v) {
      state.down = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  return fixture;
}

describe('helm proxy and group', () => {
  let upstream: TestServer;
  let fixture: Fixture;
  let nora: TestServer;
  const good: Record<'v1' | 'v2' | 'fx' | 'liar', Buffer> = {
    v1: Buffer.alloc(0),
    v2: Buffer.alloc(0),
    fx: Buffer.alloc(0),
    liar: Buffer.alloc(0),
  };

  before(async () => {
    upstream = await startTestServer({});
    fixture = await startFixture();
    good.v1 = await buildChart({ name: 'remote', version: '1.0.0' });
    good.v2 = await buildChart({ name: 'remote', version: '2.0.0' });
    for (const chart of [good.v1, good.v2]) {
      const r = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart });
      assert.equal(r.status, 201);
    }
    good.fx = await buildChart({ name: 'fx', version: '0.1.0' });
    good.liar = await buildChart({ name: 'liar', version: '1.0.0' });
    fixture.files.set('/cdn/fx-0.1.0.tgz', good.fx);
    fixture.files.set('/cdn/liar-1.0.0.tgz', good.liar);
    fixture.index = [
      'apiVersion: v1',
      'entries:',
      '  fx:',
      `  - {apiVersion: v2, name: fx, version: 0.1.0, digest: ${sha256(good.fx)}, urls: ["${fixture.url}/cdn/fx-0.1.0.tgz"]}`,
      '  liar:',
      `  - {apiVersion: v2, name: liar, version: 1.0.0, digest: "${'f'.repeat(64)}", urls: ["../cdn/liar-1.0.0.tgz"]}`,
      '  mine:',
      `  - {apiVersion: v2, name: mine, version: 9.9.9, digest: "${'e'.repeat(64)}", urls: ["../cdn/mine-9.9.9.tgz"]}`,
      'generated: "2026-01-01T00:00:00Z"',
    ].join('\n');
    nora = await startTestServer({
      config: {
        // `mine` (which fx-proxy serves) is taken over on purpose (takeover.test.ts).
        helm: { proxies: [{ url: `${upstream.url}/helm` }], index_ttl: 0, shadow_names: ['mine'] },
        repositories: [
          {
            name: 'fx-proxy',
            format: 'helm',
            kind: 'proxy',
            upstreams: [{ url: `${fixture.url}/repo` }],
            metadata_ttl: 300,
          },
          {
            name: 'all',
            format: 'helm',
            kind: 'group',
            members: ['helm-hosted', 'helm-proxy', 'fx-proxy'],
          },
        ],
      },
    });
  });
  after(async () => {
    await nora.close();
    await upstream.close();
    await fixture.close();
  });

  test('proxy: index rewritten to ours, chart fetched once and served from cache', async () => {
    const r = await fetch(`${nora.url}/repository/helm-proxy/index.yaml`);
    assert.equal(r.status, 200);
    const doc = parseYaml(await r.text()) as {
      entries: Record<string, { version: string; urls: string[]; digest: string }[]>;
    };
    assert.deepEqual(
      doc.entries['remote']?.map((e) => e.urls[0]),
      ['charts/remote-2.0.0.tgz', 'charts/remote-1.0.0.tgz'],
    );
    const pulled = await helmPull(`${nora.url}/repository/helm-proxy`, 'remote');
    assert.equal(pulled.version, '2.0.0');
    assert.deepEqual(pulled.bytes, good.v2);
    // Served from the blob store once the upstream is gone.
    await upstream.app.fastify.close().catch(() => undefined);
    const again = await fetch(`${nora.url}/repository/helm-proxy/charts/remote-2.0.0.tgz`);
    assert.equal(again.status, 200);
    assert.deepEqual(Buffer.from(await again.arrayBuffer()), good.v2);
    // index_ttl 0 + upstream down + serve_stale: the last index is served.
    const stale = await fetch(`${nora.url}/repository/helm-proxy/index.yaml`);
    assert.equal(stale.status, 200);
    // A chart never fetched cannot be served now: an upstream failure (502), not a 500.
    const missing = await fetch(`${nora.url}/repository/helm-proxy/charts/remote-1.0.0.tgz`);
    assert.equal(missing.status, 502);
  });

  test('proxy: absolute URL on another origin, digest verified; a lying digest is refused, nothing cached', async () => {
    const pulled = await helmPull(`${nora.url}/repository/fx-proxy`, 'fx');
    assert.deepEqual(pulled.bytes, good.fx);
    const before = fixture.hits.get('/cdn/fx-0.1.0.tgz');
    await helmPull(`${nora.url}/repository/fx-proxy`, 'fx');
    assert.equal(fixture.hits.get('/cdn/fx-0.1.0.tgz'), before, 'second pull served from cache');
    for (let i = 0; i < 2; i++) {
      // Streamed through while it downloads: the bytes that fail the digest end in an aborted
      // response (or a 502 when the check fails before the answer starts), never a complete one.
      const r = await fetch(`${nora.url}/repository/fx-proxy/charts/liar-1.0.0.tgz`);
      const complete = await r.arrayBuffer().then(
        () => true,
        () => false,
      );
      assert.ok(
        r.status === 502 || !complete,
        `refused (status ${r.status}, complete ${complete})`,
      );
    }
    assert.equal(fixture.hits.get('/cdn/liar-1.0.0.tgz'), 2, 'a refused fill is not cached');
    const absent = await fetch(`${nora.url}/repository/fx-proxy/charts/nope-1.0.0.tgz`);
    assert.equal(absent.status, 404);
    const put = await fetch(`${nora.url}/repository/fx-proxy/fx-0.1.0.tgz`, {
      method: 'PUT',
      body: good.fx,
    });
    assert.equal(put.status, 405);
  });

  test('group: merged index, hosted names shadow proxies', async () => {
    const mine = await buildChart({ name: 'mine', version: '1.0.0' });
    const r0 = await fetch(`${nora.url}/repository/all/api/charts`, { method: 'POST', body: mine });
    assert.equal(r0.status, 201);
    const r = await fetch(`${nora.url}/repository/all/index.yaml`);
    assert.equal(r.status, 200);
    const doc = parseYaml(await r.text()) as { entries: Record<string, { version: string }[]> };
    assert.deepEqual(Object.keys(doc.entries).sort(), ['fx', 'liar', 'mine', 'remote']);
    assert.deepEqual(
      doc.entries['mine']?.map((e) => e.version),
      ['1.0.0'],
      'fx-proxy mine 9.9.9 hidden',
    );
    const pulled = await helmPull(`${nora.url}/repository/all`, 'fx');
    assert.deepEqual(pulled.bytes, good.fx);
    const guarded = await fetch(`${nora.url}/repository/all/charts/mine-9.9.9.tgz`);
    assert.equal(guarded.status, 404);
    // The default group at /helm/ (hosted + helm-proxy): helm-proxy's upstream is down now, its
    // stale index still merges.
    const def = await fetch(`${nora.url}/helm/index.yaml`);
    assert.equal(def.status, 200);
    const merged = parseYaml(await def.text()) as { entries: Record<string, unknown[]> };
    assert.deepEqual(Object.keys(merged.entries).sort(), ['mine', 'remote']);
  });

  test('proxy: index revalidated with the upstream ETag (304), not refetched', async () => {
    fixture.hits.delete('/repo/index.yaml');
    const engine = nora.app.context.proxy;
    // Age the cached index so the next read revalidates.
    // Keyed by the upstream's URL (a changed URL starts fresh).
    const upstreamUrl = nora.app.context.repositories.get('fx-proxy')?.upstreams[0]?.url ?? '';
    const key = `index#0@${upstreamId(upstreamUrl)}`;
    const entry = await engine.lookup('fx-proxy', key);
    assert.ok(entry);
    await engine.state.touch('fx-proxy', key, Date.now() - 3_600_000, { etag: entry.etag });
    const r = await fetch(`${nora.url}/repository/fx-proxy/index.yaml`);
    assert.equal(r.status, 200);
    assert.equal(fixture.hits.get('/repo/index.yaml'), 1);
    fixture.down = true;
    await engine.state.touch('fx-proxy', key, Date.now() - 3_600_000, { etag: entry.etag });
    const stale = await fetch(`${nora.url}/repository/fx-proxy/index.yaml`);
    assert.equal(stale.status, 200, 'served stale while the upstream is down');
    fixture.down = false;
  });
});
