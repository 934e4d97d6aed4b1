/**
 * Issue 11 §3: lists a proxy reads from its upstream are whole, or not answered.
 * - tags/list of an upstream that pages (50 a page with `Link: <…>; rel="next"`, as Quay does):
 *   every page is read (relative and absolute links), bounded (UPSTREAM_LIST_LIMITS), never
 *   following a link to another origin; our own `n`/`last`/Link paging then covers the whole list;
 *   a page that fails makes the list fail (502 for a proxy addressed alone), never a short 200;
 * - referrers of a proxied image: from the upstream's referrers API (paged too), or its
 *   `<alg>-<hex>` tag-schema fallback when that API answers 404, cached under metadata_ttl and
 *   served stale when the upstream goes down; with no upstream and nothing cached: 502, never an
 *   empty 200.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UPSTREAM_LIST_LIMITS } from '../../../src/proxy/pagination.ts';
import { freePort } from '../../helpers/process.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import {
  type Fixture,
  fixtureUpstream,
  MANIFEST_TYPE,
  publishImage,
  sha,
} from './fixture-upstream.ts';

const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

/** Serves `tags` for `name` on the fixture, `size` a page, linked as `link(page)` says. */
function pagedTags(
  fixture: Fixture,
  name: string,
  tags: readonly string[],
  size: number,
  link: (nextPath: string) => string = (nextPath) => nextPath,
): void {
  const first = `/v2/${name}/tags/list`;
  for (let start = 0; start < tags.length; start += size) {
    const page = tags.slice(start, start + size);
    const path = start === 0 ? first : `${first}?n=${size}&last=${tags[start - 1] ?? ''}`;
    const more = start + size < tags.length;
    const nextPath = `${first}?n=${size}&last=${page.at(-1) ?? ''}`;
    fixture.routes.set(path, {
      status: 200,
      headers: {
        'content-type': 'application/json',
        ...(more ? { link: `<${link(nextPath)}>; rel="next"` } : {}),
      },
      body: JSON.stringify({ name, tags: page }),
    });
  }
}

function tagNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `t${String(i).padStart(3, '0')}`);
}

async function tagsOf(
  url: string,
): Promise<{ status: number; tags: string[]; link: string | null }> {
  const res = await fetch(url);
  const text = await res.text();
  const tags =
    res.status === 200 ? ((JSON.parse(text) as { tags: string[] | null }).tags ?? []) : [];
  return { status: res.status, tags, link: res.headers.get('link') };
}

/** A referrer artifact manifest of `subject` (what `oras attach` pushes). */
function referrer(subject: { digest: string; size: number }, artifactType: string, n: number) {
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
    layers: [],
    subject: { mediaType: MANIFEST_TYPE, ...subject },
    annotations: { n: String(n) },
  });
  return {
    body,
    descriptor: {
      mediaType: MANIFEST_TYPE,
      digest: sha(body),
      size: Buffer.byteLength(body),
      artifactType,
      annotations: { n: String(n) },
    },
  };
}

describe('lists from upstreams (fixture upstream)', () => {
  let hub: Fixture;
  let elsewhere: Fixture;
  let nora: TestServer;
  let dead: TestServer;
  const proxy = (server: TestServer) => `${server.url}/repository/docker-proxy/v2`;

  before(async () => {
    hub = await fixtureUpstream();
    elsewhere = await fixtureUpstream();
    nora = await startTestServer({
      config: {
        docker: { upstreams: [{ url: hub.url }], metadata_ttl: 0 },
        repositories: [
          {
            name: 'mirror',
            format: 'docker',
            kind: 'proxy',
            upstreams: [{ url: hub.url }],
            metadata_ttl: 300,
          },
        ],
      },
    });
    dead = await startTestServer({
      config: {
        docker: { upstreams: [{ url: `http://127.0.0.1:${await freePort()}` }], proxy_timeout: 2 },
      },
    });
  });

  after(async () => {
    await nora.close();
    await dead.close();
    await hub.close();
    await elsewhere.close();
  });

  test('an upstream paging tags/list at 50 (Link, relative and absolute): all 120 tags, our paging over all', async () => {
    const all = tagNames(120);
    // Page 1 links relative to its own URL (`list?n=…`), page 2 with a full URL on the origin.
    let page = 0;
    pagedTags(hub, 'quay/big', all, 50, (next) =>
      ++page === 1 ? next.slice(next.lastIndexOf('/') + 1) : `${hub.url}${next}`,
    );
    const whole = await tagsOf(`${proxy(nora)}/quay/big/tags/list`);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.tags, all);
    assert.equal(whole.link, null);

    const past = await tagsOf(`${proxy(nora)}/quay/big/tags/list?last=t060`);
    assert.deepEqual(past.tags, all.slice(61), '`last` past the upstream first page');

    // Our own paging: n=50 with Link, followed to the end, covers the whole list.
    const seen: string[] = [];
    let next: string | undefined = `/repository/docker-proxy/v2/quay/big/tags/list?n=50`;
    let pages = 0;
    while (next !== undefined) {
      const res = await tagsOf(`${nora.url}${next}`);
      assert.equal(res.status, 200);
      seen.push(...res.tags);
      next = /^<([^>]+)>; rel="next"$/.exec(res.link ?? '')?.[1];
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, all);

    // Through the default group too.
    const group = await tagsOf(`${nora.url}/v2/quay/big/tags/list`);
    assert.deepEqual(group.tags, all);
  });

  test('a next link to another origin is not followed (credentials stay home); page 1 is served', async () => {
    const all = tagNames(80);
    pagedTags(hub, 'team/offsite', all, 50, (next) => `${elsewhere.url}${next}`);
    const before = elsewhere.hits.length;
    const res = await tagsOf(`${proxy(nora)}/team/offsite/tags/list`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.tags, all.slice(0, 50));
    assert.equal(elsewhere.hits.length, before, 'the other origin was never asked');
  });

  test('an endless upstream stops at the page bound and serves what it read', async () => {
    const pages = UPSTREAM_LIST_LIMITS.pages;
    const all = tagNames(pages + 5);
    pagedTags(hub, 'team/endless', all, 1);
    const before = hub.hits.length;
    const res = await tagsOf(`${proxy(nora)}/team/endless/tags/list`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.tags, all.slice(0, pages));
    assert.equal(hub.hits.length - before, pages, `${pages} upstream requests, no more`);
  });

  test('a link that loops back stops without repeating pages', async () => {
    hub.routes.set('/v2/team/loop/tags/list', {
      status: 200,
      headers: { link: '</v2/team/loop/tags/list>; rel="next"' },
      body: JSON.stringify({ name: 'team/loop', tags: ['a'] }),
    });
    const before = hub.hits.length;
    const res = await tagsOf(`${proxy(nora)}/team/loop/tags/list`);
    assert.deepEqual(res.tags, ['a']);
    assert.equal(hub.hits.length - before, 1);
  });

  test('a later page that fails: 502 for the list, never its first page as a 200', async () => {
    const all = tagNames(100);
    pagedTags(hub, 'team/halfway', all, 50);
    hub.routes.set('/v2/team/halfway/tags/list?n=50&last=t049', { status: 500, body: 'oops' });
    const res = await fetch(`${proxy(nora)}/team/halfway/tags/list`);
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /"errors"/);
    assert.doesNotMatch(text, /127\.0\.0\.1/);
  });

  test('referrers from the upstream referrers API (paged), filtered by artifactType', async () => {
    const image = publishImage(hub, 'sig/app', 'v1', ['app layer']);
    const subject = { digest: image.digest, size: Buffer.byteLength(image.manifest) };
    const sbom = referrer(subject, 'application/spdx+json', 1);
    const signature = referrer(subject, 'application/vnd.dev.cosign.artifact.sig.v1+json', 2);
    const path = `/v2/sig/app/referrers/${image.digest}`;
    hub.routes.set(path, {
      status: 200,
      headers: { 'content-type': INDEX_TYPE, link: `<${path}?page=2>; rel="next"` },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX_TYPE,
        manifests: [sbom.descriptor],
      }),
    });
    hub.routes.set(`${path}?page=2`, {
      status: 200,
      headers: { 'content-type': INDEX_TYPE },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX_TYPE,
        manifests: [signature.descriptor],
      }),
    });
    const res = await fetch(`${proxy(nora)}/sig/app/referrers/${image.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), INDEX_TYPE);
    const index = (await res.json()) as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(
      index.manifests.map((m) => m.digest).sort(),
      [sbom.descriptor.digest, signature.descriptor.digest].sort(),
    );
    assert.deepEqual(
      index.manifests.find((m) => m.digest === sbom.descriptor.digest),
      sbom.descriptor,
    );

    const filtered = await fetch(
      `${proxy(nora)}/sig/app/referrers/${image.digest}?artifactType=application/spdx%2Bjson`,
    );
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    const only = (await filtered.json()) as { manifests: { digest: string }[] };
    assert.deepEqual(
      only.manifests.map((m) => m.digest),
      [sbom.descriptor.digest],
    );

    // Through the default group as well.
    const group = await fetch(`${nora.url}/v2/sig/app/referrers/${image.digest}`);
    const merged = (await group.json()) as { manifests: unknown[] };
    assert.equal(merged.manifests.length, 2);
  });

  test('referrers from the tag-schema fallback when the upstream has no referrers API', async () => {
    const image = publishImage(hub, 'sig/old', 'v1', ['old layer']);
    const subject = { digest: image.digest, size: Buffer.byteLength(image.manifest) };
    const one = referrer(subject, 'application/spdx+json', 1);
    const two = referrer(subject, 'application/vnd.example.sig', 2);
    const fallback = JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX_TYPE,
      manifests: [one.descriptor, two.descriptor],
    });
    // No referrers route: the fixture answers 404 for the API, as Distribution 2.x does.
    hub.routes.set(`/v2/sig/old/manifests/${image.digest.replace(':', '-')}`, {
      status: 200,
      headers: { 'content-type': INDEX_TYPE, 'docker-content-digest': sha(fallback) },
      body: fallback,
    });
    const ask = async () => {
      const res = await fetch(`${proxy(nora)}/sig/old/referrers/${image.digest}`);
      assert.equal(res.status, 200);
      const index = (await res.json()) as { manifests: { digest: string }[] };
      assert.deepEqual(
        index.manifests.map((m) => m.digest),
        [one.descriptor.digest, two.descriptor.digest],
      );
    };
    await ask();
    // A registry without the route answering 405 instead of the spec's 404: the same fallback.
    hub.routes.set(`/v2/sig/old/referrers/${image.digest}`, { status: 405, body: 'no' });
    await ask();
  });

  test('referrers follow metadata_ttl and are served stale when the upstream fails', async () => {
    const image = publishImage(hub, 'sig/ttl', 'v1', ['ttl layer']);
    const subject = { digest: image.digest, size: Buffer.byteLength(image.manifest) };
    const sig = referrer(subject, 'application/vnd.example.sig', 1);
    const path = `/v2/sig/ttl/referrers/${image.digest}`;
    hub.routes.set(path, {
      status: 200,
      headers: { 'content-type': INDEX_TYPE },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX_TYPE,
        manifests: [sig.descriptor],
      }),
    });
    const count = async (url: string) => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      return ((await res.json()) as { manifests: unknown[] }).manifests.length;
    };
    // metadata_ttl 300 (mirror): asked once.
    const mirror = `${nora.url}/repository/mirror/v2/sig/ttl/referrers/${image.digest}`;
    const before = hub.hits.filter((h) => h === `GET ${path}`).length;
    assert.equal(await count(mirror), 1);
    assert.equal(await count(mirror), 1);
    assert.equal(hub.hits.filter((h) => h === `GET ${path}`).length - before, 1);
    // metadata_ttl 0 (docker-proxy): asked every time; the upstream failing → the cached copy.
    const direct = `${proxy(nora)}/sig/ttl/referrers/${image.digest}`;
    assert.equal(await count(direct), 1);
    hub.routes.set(path, { status: 503, body: 'down' });
    assert.equal(await count(direct), 1, 'stale copy served');
  });

  test('an upstream with neither the API nor the tag: 200 with no referrers (it was asked)', async () => {
    const image = publishImage(hub, 'sig/none', 'v1', ['plain layer']);
    const res = await fetch(`${proxy(nora)}/sig/none/referrers/${image.digest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { manifests: unknown[] }).manifests, []);
  });

  test('upstream unreachable and nothing cached: 502/504 in the OCI envelope, never an empty 200', async () => {
    const digest = sha('anything');
    const res = await fetch(`${proxy(dead)}/sig/app/referrers/${digest}`);
    const text = await res.text();
    assert.ok(res.status === 502 || res.status === 504, `${res.status} ${text}`);
    assert.match(text, /"errors"/);
  });
});
