/**
 * PyPI proxy repositories (src/formats/pypi/proxy.ts) through their PypiSource, against a
 * scripted upstream index on loopback: PEP 691 JSON and PEP 503 HTML upstreams, sha256
 * verification (nothing cached on a mismatch), files cached forever, TTL revalidation (304),
 * stale pages when the upstream is stopped, several upstreams (first hit), PEP 658 metadata
 * (the upstream's, or extracted from the wheel), unsafe filenames dropped, oversize and garbage
 * pages as upstream failures, files listed without a hash.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { parseConfigObject } from '../../../src/config/load.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import type { ProjectPage } from '../../../src/formats/pypi/model.ts';
import { PypiProxy } from '../../../src/formats/pypi/proxy.ts';
import { isUpstreamFailure, type ProxyEngine } from '../../../src/proxy/engine.ts';
import { UpstreamClient } from '../../../src/proxy/upstream-client.ts';
import type { Repository } from '../../../src/repos/repository.ts';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { openTestEngine, type TestEngine } from '../../helpers/proxy-engine.ts';
import { FixtureUpstream, makeWheel, sha256 } from './fixture.ts';

const DEBIAN_WHEELS = '/usr/share/python-wheels';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function debianWheel(
  prefix: string,
): Promise<{ filename: string; body: Buffer } | undefined> {
  const names = await fs.readdir(DEBIAN_WHEELS).catch(() => [] as string[]);
  const filename = names.find((n) => n.startsWith(`${prefix}-`) && n.endsWith('.whl'));
  if (filename === undefined) return undefined;
  return { filename, body: await fs.readFile(path.join(DEBIAN_WHEELS, filename)) };
}

describe('pypi proxy source', () => {
  let engineParts: TestEngine;
  let blobs: BlobStore;
  let engine: ProxyEngine;
  let source: PypiProxy;
  const upstream = new FixtureUpstream();
  // Prefetch off: these tests count each upstream request a client's read causes (see the
  // prefetch test for what it adds).
  const { config } = parseConfigObject({ pypi: { prefetch: false } });
  const demo = makeWheel('demo-pkg', '1.0');
  const demo2 = makeWheel('demo-pkg', '2.0');
  const sdist = { filename: 'demo_pkg-2.0.tar.gz', body: Buffer.from('not really a tarball') };
  let repoCount = 0;

  function repo(
    upstreams: string[],
    options: { ttl?: number; serveStale?: boolean } = {},
  ): Repository {
    return {
      name: `pypi-proxy-${++repoCount}`,
      format: 'pypi',
      kind: 'proxy',
      members: [],
      writeMember: undefined,
      upstreams: upstreams.map((url) => ({ url })),
      proxyTimeout: 5,
      metadataTtl: options.ttl ?? 300,
      serveStale: options.serveStale ?? true,
      protectHostedNames: true,
      isDefault: false,
    };
  }

  before(async () => {
    engineParts = await openTestEngine('nora-pypi-proxy-', {
      dispatcher: UpstreamClient.directDispatcher(),
    });
    ({ blobs, engine } = engineParts);
    source = new PypiProxy({
      config: () => config,
      proxy: engine,
      blobs,
      log: pino({ level: 'silent' }),
    });
    await upstream.start();
    upstream
      .index('json', 'json')
      .projects.set('demo-pkg', [
        { ...demo, requiresPython: '>=3.7' },
        { ...demo2, yanked: 'broken build' },
        sdist,
      ]);
    upstream.index('html', 'html').projects.set('demo-pkg', [
      { ...demo, requiresPython: '>=3.7,<4' },
      { ...demo2, yanked: '' },
      sdist,
      // Unsafe or foreign links: all dropped.
      {
        filename: 'x',
        body: Buffer.alloc(0),
        href: '../../files/..%2F..%2Fevil-1.0.tar.gz#sha256=' + 'a'.repeat(64),
      },
      {
        filename: 'y',
        body: Buffer.alloc(0),
        href: '../../files/evil%00-1.0.tar.gz#sha256=' + 'a'.repeat(64),
      },
      {
        filename: 'z',
        body: Buffer.alloc(0),
        href: '../../files/other-1.0.tar.gz#sha256=' + 'a'.repeat(64),
      },
      { filename: 'w', body: Buffer.alloc(0), href: '../' },
      { filename: 'v', body: Buffer.alloc(0), href: 'javascript:alert(1)' },
    ]);
  });

  after(async () => {
    await upstream.stop();
    await engineParts.close();
  });

  function byName(page: ProjectPage | undefined) {
    assert.ok(page, 'a page');
    return new Map(page.files.map((f) => [f.filename, f]));
  }

  test('a PEP 691 JSON upstream: page facts, the file verified and cached forever, ranges', async () => {
    const r = repo([upstream.url('json')]);
    const files = byName(await source.projectPage(r, 'demo-pkg'));
    assert.deepEqual(
      [...files.keys()].sort(),
      [demo.filename, demo2.filename, sdist.filename].sort(),
    );
    const one = files.get(demo.filename)!;
    assert.equal(one.sha256, sha256(demo.body));
    assert.equal(one.version, '1.0');
    assert.equal(one.size, demo.body.length);
    assert.equal(one.requiresPython, '>=3.7');
    assert.equal(one.yanked, false);
    assert.equal(one.uploadTime, '2024-05-06T07:08:09.123Z');
    assert.deepEqual(one.coreMetadata, { sha256: undefined }, 'wheels offer PEP 658 metadata');
    assert.equal(files.get(demo2.filename)!.yanked, 'broken build');
    assert.equal(files.get(sdist.filename)!.coreMetadata, undefined, 'no metadata for an sdist');

    const before = upstream.count((u) => u.endsWith(`/json/files/${demo.filename}`));
    const opened = await source.openFile(r, 'demo-pkg', demo.filename);
    assert.ok(opened);
    assert.equal(opened.size, demo.body.length);
    assert.equal(opened.sha256, sha256(demo.body));
    assert.deepEqual(await readAll(await opened.open()), demo.body);
    assert.equal(
      upstream.count((u) => u.endsWith(`/json/files/${demo.filename}`)),
      before + 1,
    );
    // Wait for the commit, then the second read comes from the blob store: no upstream call.
    await waitFor(
      async () => (await blobs.stat({ algorithm: 'sha256', hex: sha256(demo.body) })) !== undefined,
    );
    const again = await source.openFile(r, 'demo-pkg', demo.filename);
    assert.ok(again);
    assert.deepEqual(
      await readAll(await again.open({ start: 0, end: 9 })),
      demo.body.subarray(0, 10),
    );
    assert.deepEqual(await readAll(await again.open()), demo.body);
    assert.equal(
      upstream.count((u) => u.endsWith(`/json/files/${demo.filename}`)),
      before + 1,
    );
    assert.equal(await source.openFile(r, 'demo-pkg', 'demo_pkg-9.9.tar.gz'), undefined);
    assert.equal(await source.openFile(r, 'demo-pkg', '../etc/passwd'), undefined);
    assert.equal(await source.projectPage(r, 'no-such-project'), undefined);
    assert.deepEqual(await source.projectNames(r), ['demo-pkg'], 'only cached projects are listed');
  });

  test('a PEP 503 HTML upstream: relative links, unescaped requires-python, unsafe links dropped', async () => {
    const r = repo([upstream.url('html')]);
    const page = await source.projectPage(r, 'demo-pkg');
    const files = byName(page);
    assert.deepEqual(
      [...files.keys()].sort(),
      [demo.filename, demo2.filename, sdist.filename].sort(),
    );
    assert.equal(files.get(demo.filename)!.requiresPython, '>=3.7,<4');
    assert.equal(files.get(demo2.filename)!.yanked, '');
    assert.equal(files.get(demo.filename)!.sha256, sha256(demo.body));
    assert.equal(files.get(demo.filename)!.size, undefined);
    assert.ok(!JSON.stringify(page).includes(upstream.base), 'no upstream URL in the page');
    const opened = await source.openFile(r, 'demo-pkg', demo2.filename);
    assert.ok(opened);
    assert.deepEqual(await readAll(await opened.open()), demo2.body);
  });

  test('hash mismatch: the upstream bytes do not match its sha256: an error, nothing cached', async () => {
    const bad = makeWheel('tampered', '1.0');
    upstream
      .index('bad', 'json')
      .projects.set('tampered', [{ ...bad, sha256: sha256('something else') }]);
    const r = repo([upstream.url('bad')]);
    const page = await source.projectPage(r, 'tampered');
    assert.equal(page?.files[0]?.sha256, sha256('something else'));
    for (let attempt = 0; attempt < 2; attempt++) {
      const failed = await (async () => {
        const opened = await source.openFile(r, 'tampered', bad.filename);
        if (!opened) return 'absent';
        try {
          await readAll(await opened.open());
          return 'served';
        } catch {
          return 'failed';
        }
      })().catch(() => 'failed');
      assert.equal(failed, 'failed');
      assert.equal(
        await blobs.stat({ algorithm: 'sha256', hex: sha256('something else') }),
        undefined,
      );
      assert.equal(await blobs.stat({ algorithm: 'sha256', hex: sha256(bad.body) }), undefined);
    }
    assert.equal(
      upstream.count((u) => u.endsWith(`/bad/files/${bad.filename}`)),
      2,
      'nothing was cached: each attempt asks the upstream',
    );
  });

  test('TTL 0: the page is revalidated with If-None-Match (304) on every read', async () => {
    upstream.index('etag', 'json').projects.set('demo-pkg', [demo]);
    const r = repo([upstream.url('etag')], { ttl: 0 });
    await source.projectPage(r, 'demo-pkg');
    const second = await source.projectPage(r, 'demo-pkg');
    assert.equal(second?.files.length, 1);
    const pages = upstream.requests.filter((q) => q.url === '/etag/simple/demo-pkg/');
    assert.equal(pages.length, 2);
    assert.equal(pages[0]!.ifNoneMatch, undefined);
    assert.ok(pages[1]!.ifNoneMatch, 'revalidated with the ETag');
    assert.equal(pages[1]!.status, 304);
    // A new release upstream shows at the next revalidation.
    upstream.indexes.get('etag')!.projects.set('demo-pkg', [demo, demo2]);
    assert.equal((await source.projectPage(r, 'demo-pkg'))?.files.length, 2);
    // With a TTL, a fresh page is not asked for again.
    const cachedRepo = repo([upstream.url('etag')], { ttl: 300 });
    await source.projectPage(cachedRepo, 'demo-pkg');
    const count = upstream.count((u) => u === '/etag/simple/demo-pkg/');
    await source.projectPage(cachedRepo, 'demo-pkg');
    assert.equal(
      upstream.count((u) => u === '/etag/simple/demo-pkg/'),
      count,
    );
  });

  test('stale: the upstream is stopped, the cached page (stale) and files are still served', async () => {
    const down = new FixtureUpstream();
    await down.start();
    down.index('idx', 'html').projects.set('demo-pkg', [demo]);
    const r = repo([down.url('idx')], { ttl: 0 });
    try {
      const page = await source.projectPage(r, 'demo-pkg');
      assert.equal(page?.stale, undefined);
      const opened = await source.openFile(r, 'demo-pkg', demo.filename);
      await readAll(await opened!.open());
    } finally {
      await down.stop();
    }
    const stale = await source.projectPage(r, 'demo-pkg');
    assert.equal(stale?.stale, true);
    assert.equal(stale.files.length, 1);
    const opened = await source.openFile(r, 'demo-pkg', demo.filename);
    assert.deepEqual(await readAll(await opened!.open()), demo.body);
    await assert.rejects(source.projectPage(r, 'never-cached'), (err: unknown) =>
      isUpstreamFailure(err),
    );
    const noStale = repo([down.url('idx')], { ttl: 0, serveStale: false });
    await assert.rejects(source.projectPage(noStale, 'demo-pkg'), (err: unknown) =>
      isUpstreamFailure(err),
    );
  });

  test('several upstreams: first hit wins (no merge), 404 and failures move on', async () => {
    const first = upstream.index('first', 'json');
    const second = upstream.index('second', 'html');
    first.projects.set('both', [makeWheel('both', '1.0')]);
    second.projects.set('both', [makeWheel('both', '9.0')]);
    second.projects.set('only-second', [makeWheel('only-second', '1.0')]);
    const r = repo([upstream.url('first'), upstream.url('second')]);
    const both = await source.projectPage(r, 'both');
    assert.deepEqual(
      both?.files.map((f) => f.version),
      ['1.0'],
      'the first upstream that has it',
    );
    const onlySecond = await source.projectPage(r, 'only-second');
    assert.deepEqual(
      onlySecond?.files.map((f) => f.version),
      ['1.0'],
    );
    const file = await source.openFile(r, 'only-second', makeWheel('only-second', '1.0').filename);
    assert.deepEqual(await readAll(await file!.open()), makeWheel('only-second', '1.0').body);
    assert.equal(await source.projectPage(r, 'nowhere'), undefined, 'absent everywhere = absent');

    // The first upstream is broken (500) or unreachable: the second one answers, not fatal.
    const broken = upstream.index('broken', 'json');
    broken.status = 500;
    const r2 = repo([upstream.url('broken'), upstream.url('second')]);
    assert.deepEqual((await source.projectPage(r2, 'only-second'))?.files.length, 1);
    const r3 = repo(['http://127.0.0.1:1/simple/', upstream.url('second')]);
    assert.deepEqual((await source.projectPage(r3, 'only-second'))?.files.length, 1);
    // Cached from the first upstream, which then fails: its copy is served stale, the project
    // is not switched to the second upstream's files.
    const a = upstream.index('switch-a', 'json');
    const b = upstream.index('switch-b', 'json');
    a.projects.set('switch', [makeWheel('switch', '1.0')]);
    b.projects.set('switch', [makeWheel('switch', '6.6')]);
    const r4 = repo([upstream.url('switch-a'), upstream.url('switch-b')], { ttl: 0 });
    assert.deepEqual(
      (await source.projectPage(r4, 'switch'))?.files.map((f) => f.version),
      ['1.0'],
    );
    a.status = 503;
    const kept = await source.projectPage(r4, 'switch');
    assert.deepEqual(
      kept?.files.map((f) => f.version),
      ['1.0'],
    );
    assert.equal(kept.stale, true);
    // Never cached: the second upstream's answer is taken (a failing first one is not fatal).
    const r5 = repo([upstream.url('switch-a'), upstream.url('switch-b')], { ttl: 0 });
    assert.deepEqual(
      (await source.projectPage(r5, 'switch'))?.files.map((f) => f.version),
      ['6.6'],
    );

    // Absent in one, failing in the other: an upstream failure, not "absent".
    await assert.rejects(source.projectPage(r2, 'nowhere'), (err: unknown) =>
      isUpstreamFailure(err),
    );
  });

  test('PEP 658: the upstream .metadata file (verified), else extracted from the wheel', async () => {
    const withMeta = makeWheel('meta-pkg', '1.0');
    const lying = makeWheel('meta-pkg', '2.0');
    upstream.index('meta', 'json').projects.set('meta-pkg', [
      { ...withMeta, metadata: Buffer.from(withMeta.metadataText) },
      { ...lying, metadata: Buffer.from(lying.metadataText), metadataSha256: sha256('other') },
    ]);
    const r = repo([upstream.url('meta')]);
    const files = byName(await source.projectPage(r, 'meta-pkg'));
    assert.deepEqual(files.get(withMeta.filename)!.coreMetadata, {
      sha256: sha256(withMeta.metadataText),
    });
    const meta = await source.openCoreMetadata(r, 'meta-pkg', withMeta.filename);
    assert.equal((await readAll(await meta!.open())).toString(), withMeta.metadataText);
    assert.equal(meta!.sha256, sha256(withMeta.metadataText));
    assert.equal(
      upstream.count((u) => u.endsWith(`${withMeta.filename}.metadata`)),
      1,
    );
    assert.equal(
      upstream.count((u) => u.endsWith(`/meta/files/${withMeta.filename}`)),
      0,
      'no wheel download',
    );
    await source.openCoreMetadata(r, 'meta-pkg', withMeta.filename);
    assert.equal(
      upstream.count((u) => u.endsWith(`${withMeta.filename}.metadata`)),
      1,
      'cached',
    );
    await assert.rejects(source.openCoreMetadata(r, 'meta-pkg', lying.filename), (err: unknown) =>
      isUpstreamFailure(err),
    );

    // The upstream's .metadata cannot be fetched now, but the wheel is cached: its METADATA
    // serves, since it hashes as the page advertised.
    const third = makeWheel('meta-pkg', '3.0');
    const down = upstream.index('meta-down', 'json');
    down.projects.set('meta-pkg', [{ ...third, metadata: Buffer.from(third.metadataText) }]);
    const rd = repo([upstream.url('meta-down')]);
    const wheel = await source.openFile(rd, 'meta-pkg', third.filename);
    await readAll(await wheel!.open());
    await waitFor(
      async () =>
        (await blobs.stat({ algorithm: 'sha256', hex: sha256(third.body) })) !== undefined,
    );
    down.filesStatus = 500;
    const fromWheel = await source.openCoreMetadata(rd, 'meta-pkg', third.filename);
    assert.equal(fromWheel?.sha256, sha256(third.metadataText));

    // No upstream metadata: extracted from the wheel (which is then cached too).
    const r2 = repo([upstream.url('json')]);
    const extracted = await source.openCoreMetadata(r2, 'demo-pkg', demo2.filename);
    assert.ok(extracted);
    assert.equal((await readAll(await extracted.open())).toString(), demo2.metadataText);
    assert.equal(extracted.sha256, sha256(demo2.metadataText));
    const wheelGets = upstream.count((u) => u.endsWith(`/json/files/${demo2.filename}`));
    await source.openCoreMetadata(r2, 'demo-pkg', demo2.filename);
    const file = await source.openFile(r2, 'demo-pkg', demo2.filename);
    assert.deepEqual(await readAll(await file!.open()), demo2.body);
    assert.equal(
      upstream.count((u) => u.endsWith(`/json/files/${demo2.filename}`)),
      wheelGets,
    );
    assert.equal(
      await source.openCoreMetadata(r2, 'demo-pkg', sdist.filename),
      undefined,
      'no sdist metadata',
    );
  });

  test("prefetch: a fetched page fetches its newest wheels' metadata, a .metadata read the wheel", async () => {
    const { config: on } = parseConfigObject({});
    const ahead = new PypiProxy({
      config: () => on,
      proxy: engine,
      blobs,
      log: pino({ level: 'silent' }),
    });
    const old = makeWheel('ahead-pkg', '1.0');
    const newest = makeWheel('ahead-pkg', '2.0');
    const pre = makeWheel('ahead-pkg', '3.0rc1');
    upstream.index('ahead', 'json').projects.set(
      'ahead-pkg',
      [old, newest, pre].map((w) => ({ ...w, metadata: Buffer.from(w.metadataText) })),
    );
    const r = repo([upstream.url('ahead')]);
    const metaGets = (w: { filename: string }) =>
      upstream.count((u) => u.endsWith(`/${w.filename}.metadata`));
    const wheelGets = (w: { filename: string }) =>
      upstream.count((u) => u.endsWith(`/ahead/files/${w.filename}`));
    await ahead.projectPage(r, 'ahead-pkg');
    await waitFor(() => Promise.resolve(metaGets(newest) === 1));
    await ahead.settle();
    assert.equal(metaGets(old), 0, 'only the newest final release');
    assert.equal(metaGets(pre), 0, 'no pre-release');
    assert.equal(wheelGets(newest), 0, 'no wheel before its metadata is asked for');
    const meta = await ahead.openCoreMetadata(r, 'ahead-pkg', newest.filename);
    assert.equal((await readAll(await meta!.open())).toString(), newest.metadataText);
    assert.equal(meta!.sha256, sha256(newest.metadataText));
    assert.equal(metaGets(newest), 1, 'served from what the prefetch fetched');
    await waitFor(
      async () =>
        (await blobs.stat({ algorithm: 'sha256', hex: sha256(newest.body) })) !== undefined,
    );
    const file = await ahead.openFile(r, 'ahead-pkg', newest.filename);
    assert.deepEqual(await readAll(await file!.open()), newest.body);
    assert.equal(wheelGets(newest), 1, 'the wheel crossed once, ahead of the client');
    // The metadata blob and its entry were written behind the answers.
    await ahead.settle();
    assert.ok(await blobs.stat({ algorithm: 'sha256', hex: sha256(newest.metadataText) }));
  });

  test('PEP 658 for a large uncached wheel: HTTP ranges of the upstream zip, not the whole file', async () => {
    const big = makeWheel('big-pkg', '1.0', randomBytes(2 * 1024 * 1024));
    const ranged = upstream.index('ranged', 'json');
    ranged.projects.set('big-pkg', [big]);
    const r = repo([upstream.url('ranged')]);
    const meta = await source.openCoreMetadata(r, 'big-pkg', big.filename);
    assert.equal((await readAll(await meta!.open())).toString(), big.metadataText);
    const gets = upstream.requests.filter((q) => q.url.endsWith(`/ranged/files/${big.filename}`));
    assert.ok(gets.length >= 1);
    assert.ok(
      gets.every((q) => q.status === 206 && q.range !== undefined),
      'only ranged reads: ' + JSON.stringify(gets),
    );
    const read = gets.reduce((sum, q) => {
      const [a, b] = q.range!.slice(6).split('-').map(Number);
      return sum + b! - a! + 1;
    }, 0);
    assert.ok(read < 256 * 1024, `read ${read} bytes of ${big.body.length}`);
    // The wheel itself is then fetched whole, verified, once.
    const file = await source.openFile(r, 'big-pkg', big.filename);
    assert.deepEqual(await readAll(await file!.open()), big.body);

    // An upstream without ranges (HTML: no size, asked with HEAD): the whole wheel, then extracted.
    const big2 = makeWheel('big-pkg', '2.0', randomBytes(2 * 1024 * 1024));
    const plain = upstream.index('noranges', 'html');
    plain.ranges = false;
    plain.projects.set('big-pkg', [big2]);
    const r2 = repo([upstream.url('noranges')]);
    const meta2 = await source.openCoreMetadata(r2, 'big-pkg', big2.filename);
    assert.equal((await readAll(await meta2!.open())).toString(), big2.metadataText);
    const full = upstream.requests.filter(
      (q) =>
        q.url.endsWith(`/noranges/files/${big2.filename}`) &&
        q.method === 'GET' &&
        q.range === undefined,
    );
    assert.equal(full.length, 1, 'the whole wheel once');
    const file2 = await source.openFile(r2, 'big-pkg', big2.filename);
    assert.deepEqual(await readAll(await file2!.open()), big2.body);
    assert.equal(
      upstream.requests.filter(
        (q) => q.url.endsWith(`/noranges/files/${big2.filename}`) && q.method === 'GET',
      ).length,
      2,
      'one ranged attempt (refused with 200), one full fetch; the file then comes from the cache',
    );
  });

  test('PEP 658 from real Debian wheels', async (t) => {
    const pip = await debianWheel('pip');
    const wheel = await debianWheel('wheel');
    if (!pip || !wheel) {
      t.skip(`python3-pip-whl / python3-wheel-whl not installed (${DEBIAN_WHEELS})`);
      return;
    }
    const index = upstream.index('debian', 'html');
    index.projects.set('pip', [pip]);
    index.projects.set('wheel', [wheel]);
    const r = repo([upstream.url('debian')]);
    for (const [project, file] of [
      ['pip', pip],
      ['wheel', wheel],
    ] as const) {
      const meta = await source.openCoreMetadata(r, project, file.filename);
      assert.ok(meta, `${project} metadata`);
      const text = (await readAll(await meta.open())).toString();
      assert.match(text, new RegExp(`^Name: ${project}$`, 'm'));
      const opened = await source.openFile(r, project, file.filename);
      assert.equal(sha256(await readAll(await opened!.open())), sha256(file.body));
    }
  });

  test('files listed without a sha256 are hashed once, then served from the cache', async () => {
    const plain = makeWheel('plain', '1.0');
    const foreign = makeWheel('plain', '2.0');
    upstream.index('nohash', 'html', false).projects.set('plain', [
      { ...plain, sha256: null },
      // Unverifiable bytes on another origin are never fetched (nor listed).
      { ...foreign, sha256: null, href: `http://localhost:1/files/${foreign.filename}` },
    ]);
    const r = repo([upstream.url('nohash')], { ttl: 0 });
    const page = await source.projectPage(r, 'plain');
    assert.deepEqual(
      page?.files.map((f) => [f.filename, f.sha256]),
      [[plain.filename, sha256(plain.body)]],
    );
    assert.equal(
      upstream.count((u) => u.endsWith(`/nohash/files/${plain.filename}`)),
      1,
    );
    await source.projectPage(r, 'plain');
    const opened = await source.openFile(r, 'plain', plain.filename);
    assert.deepEqual(await readAll(await opened!.open()), plain.body);
    assert.equal(
      upstream.count((u) => u.endsWith(`/nohash/files/${plain.filename}`)),
      1,
      'hashed once, served from the store afterwards',
    );
  });

  test('concurrent readers: one page request and one file download upstream', async () => {
    const wheel = makeWheel('busy-pkg', '1.0', Buffer.alloc(512 * 1024, 7));
    upstream.index('busy', 'json').projects.set('busy-pkg', [wheel]);
    const r = repo([upstream.url('busy')]);
    const bodies = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const opened = await source.openFile(r, 'busy-pkg', wheel.filename);
        return readAll(await opened!.open());
      }),
    );
    for (const body of bodies) assert.equal(sha256(body), sha256(wheel.body));
    assert.equal(
      upstream.count((u) => u === '/busy/simple/busy-pkg/'),
      1,
    );
    assert.equal(
      upstream.count((u) => u.endsWith(`/busy/files/${wheel.filename}`)),
      1,
    );
  });

  test('upstream credentials (user:password) are sent; a slow upstream times out (504)', async () => {
    const secured = upstream.index('secured', 'html');
    secured.auth = 'alice:s3cret';
    secured.projects.set('demo-pkg', [demo]);
    await assert.rejects(
      source.projectPage(repo([upstream.url('secured')]), 'demo-pkg'),
      (err: unknown) => isUpstreamFailure(err),
    );
    const r = repo([]);
    const withAuth: Repository = {
      ...r,
      upstreams: [{ url: upstream.url('secured'), auth: 'alice:s3cret' }],
    };
    assert.equal((await source.projectPage(withAuth, 'demo-pkg'))?.files.length, 1);
    const file = await source.openFile(withAuth, 'demo-pkg', demo.filename);
    assert.deepEqual(await readAll(await file!.open()), demo.body);

    const slow = upstream.index('slow', 'json');
    slow.delayMs = 2500;
    slow.projects.set('demo-pkg', [demo]);
    const quick: Repository = { ...repo([upstream.url('slow')]), proxyTimeout: 1 };
    await assert.rejects(source.projectPage(quick, 'demo-pkg'), (err: unknown) => {
      assert.ok(isRegistryError(err) && err.status === 504, String(err));
      return true;
    });
  });

  test('garbage and oversize pages are upstream failures (502), not 500s', async () => {
    const garbage = upstream.index('garbage', 'json');
    garbage.body = Buffer.from('{"files": 42}');
    await assert.rejects(
      source.projectPage(repo([upstream.url('garbage')]), 'demo-pkg'),
      (err: unknown) => {
        assert.ok(isRegistryError(err) && err.status === 502, String(err));
        return true;
      },
    );
    garbage.body = Buffer.from('{not json');
    await assert.rejects(
      source.projectPage(repo([upstream.url('garbage')]), 'demo-pkg'),
      (err: unknown) => isUpstreamFailure(err),
    );
    const huge = upstream.index('huge', 'html');
    huge.body = function* () {
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      for (let i = 0; i < 65; i++) yield chunk;
    };
    // 65 MB through the size check takes seconds on a loaded machine: the whole-fetch bound
    // (proxyTimeout) must not be what ends it, or the test says "timed out" instead of "exceeds".
    await assert.rejects(
      source.projectPage({ ...repo([upstream.url('huge')]), proxyTimeout: 120 }, 'demo-pkg'),
      (err: unknown) => {
        assert.ok(isRegistryError(err) && err.status === 502, String(err));
        assert.match((err as Error).message, /exceeds/);
        return true;
      },
    );
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
