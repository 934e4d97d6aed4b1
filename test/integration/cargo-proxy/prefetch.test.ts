/**
 * Cargo proxy prefetch ([cargo] prefetch) over HTTP against the scripted sparse index
 * (fixture.ts): an index file filled from the upstream queues the index files of its newest
 * versions' normal and build dependencies (not dev nor optional ones, not a crate in an internal
 * namespace nor one curation refuses, at most PREFETCH_NAMES), a request arriving while its
 * prefetch runs joins it (one upstream request), and `prefetch = false` prefetches nothing. The
 * real `cargo` run is test/e2e/cargo-proxy/prefetch.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PREFETCH_NAMES } from '../../../src/formats/cargo/proxy.ts';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { CargoFixtureUpstream, fakeCrate } from './fixture.ts';

function dep(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    req: '^1',
    features: [],
    optional: false,
    default_features: true,
    target: null,
    kind: 'normal',
    ...extra,
  };
}

const indexUrl = (name: string): string => `/index/${indexPath(name)}`;

/** Resolves once the upstream was asked `url` (polled: the test waits on the upstream). */
async function asked(upstream: CargoFixtureUpstream, url: string): Promise<void> {
  while (!upstream.requests.some((r) => r.url === url)) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** nora_proxy_coalesced_total of the default Cargo proxy. */
async function coalesced(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('nora_proxy_coalesced_total{registry="cargo-proxy"}'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('cargo proxy prefetch', { timeout: 120_000 }, () => {
  const upstream = new CargoFixtureUpstream();
  let work: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  let off: TestServer;

  before(async () => {
    await upstream.start();
    work = await tempDir('nora-cargo-prefetch-');
    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'cargo', name: 'evil-crate', version: '*', reason: 'test' }],
      }),
    );
    const config = (prefetch: boolean) => ({
      cargo: { proxy: upstream.url, metadata_ttl: 300, prefetch },
      curation: {
        mode: 'enforce',
        blocklist_path: blocklist,
        internal_namespaces: ['cargo:corp-*'],
      },
    });
    server = await startTestServer({ config: config(true) });
    off = await startTestServer({ config: config(false) });
  });
  after(async () => {
    await server.close();
    await off.close();
    await upstream.stop();
    await work[Symbol.asyncDispose]();
  });

  test('dependencies prefetched: normal and build only, never internal or blocked', async () => {
    upstream.add('top', {
      vers: '1.0.0',
      body: fakeCrate('top', '1.0.0'),
      deps: [
        dep('corp-secret'),
        dep('evil-crate'),
        dep('dev-only', { kind: 'dev' }),
        dep('maybe', { optional: true }),
        dep('other-registry', { registry: 'https://example.invalid/index' }),
        dep('builder', { kind: 'build' }),
        dep('Mixed_Case'),
        dep('renamed', { package: 'real-name' }),
      ],
    });
    for (const name of ['builder', 'mixed_case', 'real-name', 'corp-secret', 'evil-crate']) {
      upstream.add(name, { vers: '1.0.0', body: fakeCrate(name, '1.0.0') });
    }
    const res = await fetch(`${server.url}/cargo/index/${indexPath('top')}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    for (const name of ['builder', 'mixed_case', 'real-name'])
      await asked(upstream, indexUrl(name));
    // The names were judged together, in one turn: the others were never queued.
    for (const name of [
      'corp-secret',
      'evil-crate',
      'dev-only',
      'maybe',
      'other-registry',
      'renamed',
    ]) {
      assert.equal(
        upstream.count((u) => u === indexUrl(name)),
        0,
        name,
      );
    }
    // cargo's own request for a prefetched file: no second upstream request.
    const builder = await fetch(`${server.url}/cargo/index/${indexPath('builder')}`);
    assert.equal(builder.status, 200);
    await builder.arrayBuffer();
    assert.equal(
      upstream.count((u) => u === indexUrl('builder')),
      1,
    );
  });

  test('a request arriving while its prefetch runs joins it: one upstream request', async () => {
    upstream.add('jtop', { vers: '1.0.0', body: fakeCrate('jtop', '1.0.0'), deps: [dep('jdep')] });
    upstream.add('jdep', { vers: '1.0.0', body: fakeCrate('jdep', '1.0.0') });
    let release!: () => void;
    upstream.held.set(indexUrl('jdep'), new Promise<void>((resolve) => (release = resolve)));
    const before = await coalesced(server);
    await (await fetch(`${server.url}/cargo/index/${indexPath('jtop')}`)).arrayBuffer();
    await asked(upstream, indexUrl('jdep'));
    const client = fetch(`${server.url}/cargo/index/${indexPath('jdep')}`).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
    // Released once the client's request joined the prefetch's fill (the engine counts joins).
    while ((await coalesced(server)) < before + 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    const got = await client;
    assert.equal(got.status, 200);
    assert.match(got.body, /"name":"jdep"/);
    assert.equal(
      upstream.count((u) => u === indexUrl('jdep')),
      1,
    );
  });

  test('at most PREFETCH_NAMES names per index file, each once', async () => {
    const deps = Array.from({ length: PREFETCH_NAMES + 10 }, (_, i) => dep(`wide-${i}`));
    upstream.add('wide', { vers: '1.0.0', body: fakeCrate('wide', '1.0.0'), deps });
    upstream.add('wide2', { vers: '1.0.0', body: fakeCrate('wide2', '1.0.0'), deps });
    await (await fetch(`${server.url}/cargo/index/${indexPath('wide')}`)).arrayBuffer();
    await asked(upstream, indexUrl(`wide-${PREFETCH_NAMES - 1}`));
    // A second file naming the same crates: the ones already queued are not queued again, so
    // the next PREFETCH_NAMES (the 10 left) are.
    await (await fetch(`${server.url}/cargo/index/${indexPath('wide2')}`)).arrayBuffer();
    await asked(upstream, indexUrl(`wide-${PREFETCH_NAMES + 9}`));
    for (let i = 0; i < PREFETCH_NAMES + 10; i++) {
      assert.equal(
        upstream.count((u) => u === indexUrl(`wide-${i}`)),
        1,
        `wide-${i}`,
      );
    }
  });

  test('prefetch = false: nothing but what is asked', async () => {
    upstream.add('otop', { vers: '1.0.0', body: fakeCrate('otop', '1.0.0'), deps: [dep('odep')] });
    upstream.add('odep', { vers: '1.0.0', body: fakeCrate('odep', '1.0.0') });
    await (await fetch(`${off.url}/cargo/index/${indexPath('otop')}`)).arrayBuffer();
    // Then a file that is asked: once its request is answered, a prefetch queued by the first
    // would have been started (the queue starts work in the order it was queued).
    await (await fetch(`${off.url}/cargo/index/${indexPath('jdep')}`)).arrayBuffer();
    const metrics = await (await fetch(`${off.url}/metrics`)).text();
    assert.doesNotMatch(
      metrics,
      /nora_proxy_prefetch_total\{format="cargo",outcome="started"\} [1-9]/,
    );
    assert.equal(
      upstream.count((u) => u === indexUrl('odep')),
      0,
    );
  });
});
