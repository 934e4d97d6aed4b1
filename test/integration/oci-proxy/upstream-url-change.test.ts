/**
 * Trial 13 oci F8 (Docker half): what the Docker proxy caches as metadata — a tag's manifest, the
 * cached tags a tags/list falls back to, a referrers list — belongs to the upstream URL it came
 * from. After `[docker] upstreams` (or a named proxy's `upstreams`) names another URL, by a reload
 * or a restart, none of it is served as the new upstream's copy, not even as a stale one while
 * the new upstream is unreachable. Found 2026-12-03: the copies were keyed by the upstream's
 * label (`docker-proxy/0`), so after a SIGHUP to a black-hole URL `library/fresh:1` was still
 * answered ("revalidation is slow, serving stale copy"), and a reload to another registry kept
 * serving the old one's manifest for the tag until metadata_ttl ran out. Manifests and blobs by
 * digest stay shared: the digest is their identity, verified whichever upstream sent them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import type { AppConfig } from '../../../src/config/schema.ts';
import { freePort } from '../../helpers/process.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { upstreamId } from '../../../src/proxy/upstream-id.ts';
import {
  type Fixture,
  fixtureUpstream,
  MANIFEST_TYPE,
  publishImage,
  sha,
} from './fixture-upstream.ts';

const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

/** Keys of `repository`'s cache rows starting with `prefix`, once the sweep has dropped `gone`. */
async function keysOnceSwept(
  server: TestServer,
  prefix: string,
  gone: (key: string) => boolean,
  repository = 'docker-proxy',
): Promise<string[]> {
  const state = server.app.context.proxy.state;
  // The sweep runs in the background; each look is a database read, so 2,000 of them are a
  // generous bound on a sweep of two rows (the test fails rather than hangs without one).
  for (let look = 0; look < 2000; look++) {
    const keys = await state.keys(repository, prefix);
    if (!keys.some(gone)) return keys;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return assert.fail(
    `rows under ${prefix} not dropped: ${(await state.keys(repository, prefix)).join(' ')}`,
  );
}

describe('Docker proxy metadata belongs to the upstream URL it came from', () => {
  let first: Fixture;
  let second: Fixture;
  let blackHole: string;
  let nora: TestServer;

  /** `[docker] upstreams` (metadata_ttl 0) and the `mirror` proxy (metadata_ttl 3600) at `url`. */
  const sections = (url: string) => ({
    docker: { upstreams: [{ url }], metadata_ttl: 0, proxy_timeout: 2 },
    repositories: [
      { name: 'mirror', format: 'docker', kind: 'proxy', upstreams: [{ url }], metadata_ttl: 3600 },
    ],
  });
  /** The running config pointed at `url`, for a reload (what SIGHUP applies). */
  const pointedAt = (url: string): AppConfig =>
    parseConfigObject(
      {
        server: { host: '127.0.0.1', port: 0 },
        storage: nora.config.storage,
        auth: { htpasswd_file: nora.config.auth.htpasswd_file },
        rate_limit: { enabled: false },
        ...sections(url),
      },
      {},
    ).config;

  before(async () => {
    first = await fixtureUpstream();
    second = await fixtureUpstream();
    blackHole = `http://127.0.0.1:${await freePort()}`;
    nora = await startTestServer({ config: sections(first.url) });
  });
  after(async () => {
    await nora.close();
    await first.close();
    await second.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${nora.url}${path}`, {
      headers: { accept: `${MANIFEST_TYPE}, ${INDEX_TYPE}` },
    });
    return {
      status: res.status,
      digest: res.headers.get('docker-content-digest'),
      stale: res.headers.get('x-nora-stale'),
      body: await res.text(),
    };
  };
  const proxy = '/repository/docker-proxy/v2';
  const mirror = '/repository/mirror/v2';

  test('a tag, its tag list and its referrers of a URL no longer configured are not served', async () => {
    const image = publishImage(first, 'library/fresh', '1', ['first layer']);
    const sig = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: 'application/vnd.example.sig',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
      layers: [],
      subject: {
        mediaType: MANIFEST_TYPE,
        digest: image.digest,
        size: Buffer.byteLength(image.manifest),
      },
    });
    first.routes.set(`/v2/library/fresh/referrers/${image.digest}`, {
      status: 200,
      headers: { 'content-type': INDEX_TYPE },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX_TYPE,
        manifests: [
          {
            mediaType: MANIFEST_TYPE,
            digest: sha(sig),
            size: Buffer.byteLength(sig),
            artifactType: 'application/vnd.example.sig',
          },
        ],
      }),
    });
    first.routes.set('/v2/library/fresh/tags/list', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'library/fresh', tags: ['1'] }),
    });

    const pulled = await get(`${proxy}/library/fresh/manifests/1`);
    assert.equal(pulled.status, 200, pulled.body);
    assert.equal(pulled.digest, image.digest);
    assert.equal((await get(`${proxy}/library/fresh/tags/list`)).status, 200);
    const referrers = await get(`${proxy}/library/fresh/referrers/${image.digest}`);
    assert.equal(referrers.status, 200, referrers.body);
    assert.equal((JSON.parse(referrers.body) as { manifests: unknown[] }).manifests.length, 1);

    // The upstream as it was, down: the same URL's copies are served stale (unchanged behaviour).
    first.routes.delete('/v2/library/fresh/manifests/1');
    first.routes.set('/v2/library/fresh/manifests/1', { status: 503, body: 'down' });
    const stale = await get(`${proxy}/library/fresh/manifests/1`);
    assert.equal(stale.status, 200, stale.body);
    assert.equal(stale.stale, 'true');

    // The reporter's repro: `[docker] upstreams` repointed at a black hole, metadata_ttl 0.
    assert.deepEqual(nora.app.reload(pointedAt(blackHole)), []);
    const tag = await get(`${proxy}/library/fresh/manifests/1`);
    assert.ok(tag.status === 502 || tag.status === 504, `${tag.status} ${tag.body}`);
    assert.notEqual(tag.digest, image.digest);
    const tags = await get(`${proxy}/library/fresh/tags/list`);
    assert.ok(tags.status === 502 || tags.status === 504, `${tags.status} ${tags.body}`);
    const signed = await get(`${proxy}/library/fresh/referrers/${image.digest}`);
    assert.ok(signed.status === 502 || signed.status === 504, `${signed.status} ${signed.body}`);

    // By digest, content stays shared: its digest is verified whichever upstream sent it.
    const byDigest = await get(`${proxy}/library/fresh/manifests/${image.digest}`);
    assert.equal(byDigest.status, 200, byDigest.body);
    assert.equal(byDigest.digest, image.digest);
  });

  test('a fresh copy (within metadata_ttl) of the old URL is not the new URL’s answer', async () => {
    assert.deepEqual(nora.app.reload(pointedAt(first.url)), []);
    const old = publishImage(first, 'team/app', 'v1', ['old layer']);
    const cached = await get(`${mirror}/team/app/manifests/v1`);
    assert.equal(cached.digest, old.digest, cached.body);

    const current = publishImage(second, 'team/app', 'v1', ['new layer']);
    assert.deepEqual(nora.app.reload(pointedAt(second.url)), []);
    const asked = second.hits.length;
    const answer = await get(`${mirror}/team/app/manifests/v1`);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.digest, current.digest, 'the new upstream’s tag, not the old cached one');
    assert.ok(second.hits.length > asked, 'the new upstream was asked');
    const firstRoute = upstreamId(first.url);
    await keysOnceSwept(nora, 'tag@', (key) => key.startsWith(`tag@${firstRoute}:`), 'mirror');
    // metadata_ttl 3600 holds for the new URL's own copy: no upstream request the second time.
    const again = second.hits.length;
    assert.equal((await get(`${mirror}/team/app/manifests/v1`)).digest, current.digest);
    assert.equal(second.hits.length, again);
  });

  test('after a restart: rows keyed the old way are ignored and dropped, another URL starts cold', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-urlchange-'));
    const start = (url: string) =>
      startTestServer({
        dataDir,
        config: { docker: { upstreams: [{ url }], metadata_ttl: 0, proxy_timeout: 2 } },
      });
    const pull = async (server: TestServer, name: string) => {
      const res = await fetch(`${server.url}${proxy}/${name}/manifests/1`, {
        headers: { accept: MANIFEST_TYPE },
      });
      return {
        status: res.status,
        digest: res.headers.get('docker-content-digest'),
        body: await res.text(),
      };
    };
    const image = publishImage(first, 'team/restart', '1', ['restart layer']);
    const legacy = publishImage(first, 'team/legacy', '1', ['legacy layer']);
    const firstRoute = upstreamId(first.url);
    try {
      // Run 1: both tags cached; team/legacy's row is then rewritten the way releases before
      // this fix keyed it (by the upstream's label only), as an upgraded data directory holds it.
      const once = await start(first.url);
      try {
        assert.equal((await pull(once, 'team/restart')).digest, image.digest);
        assert.equal((await pull(once, 'team/legacy')).digest, legacy.digest);
        const state = once.app.context.proxy.state;
        const key = `tag@${firstRoute}:team/legacy:1`;
        const row = await state.get('docker-proxy', key);
        assert.ok(row, `cached under ${key}`);
        await state.put(
          'docker-proxy',
          'tag:team/legacy:1',
          { ...row, upstream: 'docker-proxy/0 team/legacy' },
          row.fetchedAt,
        );
        await state.delete('docker-proxy', key);
        await state.flush();
      } finally {
        await once.close();
      }

      // Run 2, the same URL, team/legacy's upstream down: the old-shape row is not served (its
      // URL cannot be told) and is dropped; the new-shape row of the same URL still serves.
      first.routes.set('/v2/team/legacy/manifests/1', { status: 503, body: 'down' });
      const upgraded = await start(first.url);
      try {
        const old = await pull(upgraded, 'team/legacy');
        assert.ok(old.status === 502 || old.status === 504, `${old.status} ${old.body}`);
        assert.equal((await pull(upgraded, 'team/restart')).digest, image.digest);
        assert.deepEqual(await keysOnceSwept(upgraded, 'tag:', () => true), []);
      } finally {
        await upgraded.close();
      }

      // Run 3, another URL: the first URL's copies are not served, and their rows are dropped.
      const moved = await start(blackHole);
      try {
        const gone = await pull(moved, 'team/restart');
        assert.ok(gone.status === 502 || gone.status === 504, `${gone.status} ${gone.body}`);
        await keysOnceSwept(moved, 'tag@', (key) => key.startsWith(`tag@${firstRoute}:`));
      } finally {
        await moved.close();
      }
    } finally {
      await removeDir(dataDir);
    }
  });
});
