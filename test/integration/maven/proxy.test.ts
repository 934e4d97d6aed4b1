/**
 * Maven proxy and group sources against a fixture upstream (real artifacts copied from
 * ~/.m2/repository, served by node:http on loopback): files cached forever (upstream hits
 * counted), verification against the upstream's .sha1/.sha256 (a mismatch caches nothing),
 * unverified files recorded, metadata TTL/revalidation/stale serving, the negative cache,
 * upstreams in order with Basic credentials, and the group: merged metadata, a failing member
 * is "not here", the dependency-confusion guard.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import pino from 'pino';
import type { AppConfig, RepositoryConfig } from '../../../src/config/schema.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { readAllBounded } from '../../../src/core/streams.ts';
import type { Db } from '../../../src/db/database.ts';
import { mavenSectionSchema } from '../../../src/formats/maven/config.ts';
import { MavenGroup } from '../../../src/formats/maven/group.ts';
import { EMPTY_METADATA, renderMetadata } from '../../../src/formats/maven/metadata.ts';
import type {
  MavenMetadata,
  MavenSource,
  MetadataValidity,
  OpenedMavenFile,
} from '../../../src/formats/maven/model.ts';
import { MavenProxy, mavenProxyMigrations } from '../../../src/formats/maven/proxy.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { isUpstreamFailure, type ProxyEngine } from '../../../src/proxy/engine.ts';
import { proxyMigrations } from '../../../src/proxy/state.ts';
import { GroupReader } from '../../../src/repos/group-read.ts';
import { type Repository, toRepository } from '../../../src/repos/repository.ts';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { openTestEngine, type TestEngine } from '../../helpers/proxy-engine.ts';
import { type FixtureUpstream, realArtifacts, startFixtureUpstream } from './fixture-upstream.ts';

function repo(config: Partial<RepositoryConfig> & { name: string }): Repository {
  return toRepository(
    { format: 'maven', kind: 'proxy', members: [], upstreams: [], ...config },
    false,
  );
}

async function bytesOf(file: OpenedMavenFile): Promise<Buffer> {
  return readAllBounded(await file.open(), 1 << 30, 'test');
}

function hex(algorithm: string, body: Buffer): string {
  return createHash(algorithm).update(body).digest('hex');
}

describe('maven proxy and group', () => {
  let engineParts: TestEngine;
  let db: Db;
  let blobs: BlobStore;
  let engine: ProxyEngine;
  let upstream: FixtureUpstream;
  let second: FixtureUpstream;
  let proxy: MavenProxy;
  let maven = mavenSectionSchema.parse({ proxies: [] });
  let artifacts: { path: string; body: Buffer }[];
  const metrics = new Metrics();

  before(async () => {
    engineParts = await openTestEngine('nora-maven-proxy-', {
      migrations: { ...proxyMigrations, ...mavenProxyMigrations },
      metrics,
      circuitBreaker: () => ({ enabled: false, threshold: 5, resetTimeoutMs: 1000 }),
    });
    ({ db, blobs, engine } = engineParts);
    upstream = await startFixtureUpstream();
    second = await startFixtureUpstream({ credentials: 'reader:s3cret' });
    artifacts = await realArtifacts();
    if (artifacts.length === 0) {
      // A machine without a local Maven repository: synthetic artifacts in the same layout.
      artifacts = [
        { path: 'junit/junit/3.8.1/junit-3.8.1.jar', body: Buffer.from('jar 3.8.1') },
        { path: 'junit/junit/3.8.1/junit-3.8.1.pom', body: Buffer.from('<project/>') },
        { path: 'junit/junit/3.8.2/junit-3.8.2.jar', body: Buffer.from('jar 3.8.2') },
        { path: 'javax/inject/javax.inject/1/javax.inject-1.jar', body: Buffer.from('inject') },
      ];
    }
    for (const a of artifacts) await upstream.put(a.path, a.body);
    proxy = new MavenProxy({
      config: () => ({ maven }) as unknown as AppConfig,
      db,
      blobs,
      proxy: engine,
    });
  });

  after(async () => {
    await upstream.close();
    await second.close();
    await engineParts.close();
  });

  beforeEach(() => {
    maven = mavenSectionSchema.parse({ proxies: [] });
  });

  test('an artifact is fetched once, verified against .sha1, then served from the cache', async () => {
    const proxyRepo = repo({ name: 'p-forever', upstreams: [{ url: upstream.url() }] });
    const artifact = artifacts[0];
    assert.ok(artifact);
    const before = upstream.hits.length;
    const file = await proxy.openFile(proxyRepo, artifact.path);
    assert.ok(file);
    assert.ok((await bytesOf(file)).equals(artifact.body));
    assert.equal(file.size, artifact.body.length);
    for (const algorithm of ['sha1', 'sha256'] as const)
      assert.equal(file.checksums[algorithm], hex(algorithm, artifact.body), algorithm);
    // md5 and sha512: computed on their first request (see the test of lateChecksum below).
    for (const algorithm of ['md5', 'sha512'] as const)
      assert.equal(await file.lateChecksum?.(algorithm), hex(algorithm, artifact.body), algorithm);
    assert.deepEqual(upstream.hits.slice(before), [
      `GET /${artifact.path}.sha1`,
      `GET /${artifact.path}`,
    ]);
    // Concurrent and later reads: no upstream request at all.
    const again = await Promise.all([1, 2, 3].map(() => proxy.openFile(proxyRepo, artifact.path)));
    for (const f of again) assert.ok(f && (await bytesOf(f)).equals(artifact.body));
    assert.equal(upstream.hits.length, before + 2, 'cached forever');
    // Even with the upstream down.
    await upstream.stop();
    try {
      const offline = await proxy.openFile(proxyRepo, artifact.path);
      assert.ok(offline && (await bytesOf(offline)).equals(artifact.body));
    } finally {
      await upstream.start();
    }
    await proxy.settled(); // the row is written after the file is served
    const row = await db
      .selectFrom('maven_proxy_files' as never)
      .selectAll()
      .where('path' as never, '=', artifact.path as never)
      .executeTakeFirst();
    assert.equal((row as { verified_by?: string } | undefined)?.verified_by, 'sha1');
  });

  test('concurrent first requests share one download', async () => {
    const proxyRepo = repo({ name: 'p-flight', upstreams: [{ url: upstream.url() }] });
    const artifact = artifacts[1] ?? artifacts[0];
    assert.ok(artifact);
    const before = upstream.hitsFor(`GET /${artifact.path}`);
    const files = await Promise.all(
      Array.from({ length: 5 }, () => proxy.openFile(proxyRepo, artifact.path)),
    );
    for (const f of files) assert.ok(f && (await bytesOf(f)).equals(artifact.body));
    assert.equal(upstream.hitsFor(`GET /${artifact.path}`) - before, 1);
  });

  test('a .sha1 mismatch caches nothing and is an upstream failure', async () => {
    const proxyRepo = repo({ name: 'p-bad-sha1', upstreams: [{ url: upstream.url() }] });
    const target = 'org/evil/tampered/1.0/tampered-1.0.jar';
    await upstream.put(target, 'tampered bytes', []);
    await upstream.put(`${target}.sha1`, `${'0'.repeat(40)}\n`, []);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(proxy.openFile(proxyRepo, target), (err: unknown) => {
        assert.ok(isUpstreamFailure(err), String(err));
        assert.match((err as Error).message, /not matching its \.sha1/);
        return true;
      });
    }
    // Nothing was recorded: each try asked the upstream again.
    assert.equal(upstream.hitsFor(`GET /${target}`), 2);
    const rows = await db
      .selectFrom('maven_proxy_files' as never)
      .selectAll()
      .where('path' as never, '=', target as never)
      .execute();
    assert.equal(rows.length, 0);
    // Fixed upstream: now it is served.
    await upstream.put(target, 'tampered bytes');
    const file = await proxy.openFile(proxyRepo, target);
    assert.ok(file && (await bytesOf(file)).toString() === 'tampered bytes');
  });

  test('.sha256 only (the .sha1, asked with the file, is 404): it verifies the file; a mismatch caches nothing', async () => {
    const proxyRepo = repo({ name: 'p-sha256', upstreams: [{ url: upstream.url() }] });
    const good = 'org/example/modern/2.0/modern-2.0.jar';
    const body = Buffer.from('modern artifact bytes '.repeat(1000));
    await upstream.put(good, body, ['sha256']);
    const file = await proxy.openFile(proxyRepo, good);
    assert.ok(file);
    assert.ok((await bytesOf(file)).equals(body));
    assert.equal(file.checksums.sha1, hex('sha1', body));
    assert.equal(file.checksums.sha256, hex('sha256', body));
    assert.equal(await file.lateChecksum?.('md5'), hex('md5', body));
    assert.equal(await file.lateChecksum?.('sha512'), hex('sha512', body));
    // The file and its .sha1 are asked for at once; .sha256 only after the .sha1 404.
    const asked = upstream.hits.filter((h) => h.includes('modern-2.0.jar'));
    assert.deepEqual([...asked].sort(), [
      `GET /${good}`,
      `GET /${good}.sha1`,
      `GET /${good}.sha256`,
    ]);
    assert.ok(asked.indexOf(`GET /${good}.sha256`) > asked.indexOf(`GET /${good}.sha1`));
    const bad = 'org/example/modern/2.1/modern-2.1.jar';
    await upstream.put(bad, 'other bytes', []);
    await upstream.put(`${bad}.sha256`, 'a'.repeat(64), []);
    await assert.rejects(proxy.openFile(proxyRepo, bad), (err: unknown) => isUpstreamFailure(err));
    await assert.rejects(proxy.openFile(proxyRepo, bad), (err: unknown) => isUpstreamFailure(err));
    assert.equal(upstream.hitsFor(`GET /${bad}`), 2, 'nothing cached: asked again');
  });

  test('no checksum upstream: accepted and recorded as unverified', async () => {
    const proxyRepo = repo({ name: 'p-nosum', upstreams: [{ url: upstream.url() }] });
    const target = 'org/example/bare/1.0/bare-1.0.pom';
    await upstream.put(target, '<project/>', []);
    const file = await proxy.openFile(proxyRepo, target);
    assert.ok(file);
    assert.equal(file.checksums.sha1, hex('sha1', Buffer.from('<project/>')));
    await proxy.settled(); // the row is written after the file is served
    const row = (await db
      .selectFrom('maven_proxy_files' as never)
      .selectAll()
      .where('path' as never, '=', target as never)
      .executeTakeFirst()) as { verified_by?: string } | undefined;
    assert.equal(row?.verified_by, 'none');
  });

  test('a POM fetched from the upstream prefetches its jar; a pom packaging or prefetch off does not', async () => {
    const proxyRepo = repo({ name: 'p-prefetch', upstreams: [{ url: upstream.url() }] });
    const waitFor = async (ok: () => boolean) => {
      const deadline = Date.now() + 10_000; // bounds a failure only
      while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    const pom = 'org/example/pre/1.0/pre-1.0.pom';
    const jar = 'org/example/pre/1.0/pre-1.0.jar';
    const pomBody = Buffer.from(
      '<project><!-- <packaging>pom</packaging> --><packaging>jar</packaging></project>',
    );
    await upstream.put(pom, pomBody);
    await upstream.put(jar, 'the jar');
    const file = await proxy.openFile(proxyRepo, pom);
    assert.ok(file?.body?.equals(pomBody), 'a small fetched file carries its verified body');
    await waitFor(() => upstream.hitsFor(`GET /${jar}`) === 1);
    assert.equal(upstream.hitsFor(`GET /${jar}`), 1, 'the jar was fetched ahead');
    // The prefetch ends once the jar is verified; its row is written in the background.
    await proxy.settled();
    const fetched = await proxy.openFile(proxyRepo, jar);
    assert.ok(fetched && (await bytesOf(fetched)).toString() === 'the jar');
    assert.equal(upstream.hitsFor(`GET /${jar}`), 1, 'and the request for it is a hit');
    // Its first read is handed the verified body (no read of the blob); later ones use the store.
    assert.equal(fetched.body?.toString(), 'the jar');
    // The upstream counted the jar's GET before the fill registered: a loaded machine can run the
    // first read while it still fills (it joins it). Its row is written once this settles.
    await proxy.settled();
    const again = await proxy.openFile(proxyRepo, jar);
    assert.ok(again && (await bytesOf(again)).toString() === 'the jar');
    assert.equal(again.body, undefined);
    // A parent POM (packaging pom) has no jar to fetch; nor does anything with prefetch off.
    const parent = 'org/example/parent/1.0/parent-1.0.pom';
    await upstream.put(parent, '<project>\n  <packaging> pom </packaging>\n</project>');
    await upstream.put(parent.replace(/\.pom$/, '.jar'), 'not wanted');
    const off = 'org/example/off/1.0/off-1.0.pom';
    await upstream.put(off, '<project/>');
    await upstream.put(off.replace(/\.pom$/, '.jar'), 'not wanted');
    assert.ok(await proxy.openFile(proxyRepo, parent));
    maven = { ...maven, prefetch: false };
    assert.ok(await proxy.openFile(proxyRepo, off));
    await new Promise((r) => setTimeout(r, 100));
    await proxy.settled();
    assert.equal(upstream.hitsFor(`GET /${parent.replace(/\.pom$/, '.jar')}`), 0);
    assert.equal(upstream.hitsFor(`GET /${off.replace(/\.pom$/, '.jar')}`), 0);
  });

  test("a cold POM's answer is handed over before its jar's prefetch asks the upstream (perfK)", async () => {
    // mvn reads POMs one at a time: the prefetch (and its packaging parse, its jar's row lookup,
    // its two upstream requests) must not run on the POM's critical path, before its answer.
    const proxyRepo = repo({ name: 'p-prefetch-after', upstreams: [{ url: upstream.url() }] });
    const pom = 'org/example/after/1.0/after-1.0.pom';
    const jar = 'org/example/after/1.0/after-1.0.jar';
    const pomBody = Buffer.from('<project><packaging>jar</packaging></project>');
    await upstream.put(pom, pomBody);
    await upstream.put(jar, 'the jar');
    const client = engine.client;
    const request = client.request.bind(client);
    let answered = false;
    const asked: { path: string; answered: boolean }[] = [];
    client.request = (target, options) => {
      asked.push({ path: options.path, answered });
      return request(target, options);
    };
    try {
      const file = await proxy.openFile(proxyRepo, pom);
      answered = true;
      assert.ok(file?.body?.equals(pomBody));
      const deadline = Date.now() + 10_000; // bounds a failure only
      while (upstream.hitsFor(`GET /${jar}`) === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await proxy.settled();
    } finally {
      client.request = request;
    }
    const jarAsks = asked.filter((a) => a.path.includes('.jar'));
    assert.equal(jarAsks.length, 2, 'the jar and its .sha1 were prefetched');
    assert.deepEqual(
      jarAsks.map((a) => a.answered),
      [true, true],
      'the prefetch asked the upstream only once the POM was answered',
    );
  });

  test('an upstream whose last file had no .sha1 is asked for the SHA-2 fallbacks at once; they still verify', async () => {
    const proxyRepo = repo({ name: 'p-sha512', upstreams: [{ url: upstream.url() }] });
    const first = 'org/example/late/1.0/late-1.0.jar';
    const second = 'org/example/late/1.1/late-1.1.jar';
    const bad = 'org/example/late/1.2/late-1.2.jar';
    await upstream.put(first, 'first bytes', ['sha512']);
    await upstream.put(second, 'second bytes', ['sha512']);
    await upstream.put(bad, 'bad bytes', []);
    await upstream.put(`${bad}.sha512`, 'b'.repeat(128), []);
    for (const target of [first, second]) {
      const file = await proxy.openFile(proxyRepo, target);
      assert.ok(file && (await bytesOf(file)).toString().endsWith('bytes'));
      const asked = upstream.hits.filter((h) => h.startsWith(`GET /${target}`));
      assert.deepEqual([...asked].sort(), [
        `GET /${target}`,
        `GET /${target}.sha1`,
        `GET /${target}.sha256`,
        `GET /${target}.sha512`,
      ]);
    }
    await assert.rejects(proxy.openFile(proxyRepo, bad), (err: unknown) => {
      assert.match((err as Error).message, /not matching its \.sha512/);
      return isUpstreamFailure(err);
    });
    await proxy.settled();
    const row = (await db
      .selectFrom('maven_proxy_files' as never)
      .selectAll()
      .where('path' as never, '=', second as never)
      .executeTakeFirst()) as { verified_by?: string } | undefined;
    assert.equal(row?.verified_by, 'sha512');
  });

  test('md5 and sha512 are not hashed at the fill: computed on first demand, once, and recorded in the row', async () => {
    const proxyRepo = repo({ name: 'p-late-sums', upstreams: [{ url: upstream.url() }] });
    const target = 'org/example/late-sums/1.0/late-sums-1.0.jar';
    const body = Buffer.from('late checksum bytes '.repeat(500));
    await upstream.put(target, body);
    const file = await proxy.openFile(proxyRepo, target);
    assert.ok(file && (await bytesOf(file)).equals(body));
    await proxy.settled();
    const rowOf = async () =>
      (await db
        .selectFrom('maven_proxy_files' as never)
        .selectAll()
        .where('repository' as never, '=', 'p-late-sums' as never)
        .where('path' as never, '=', target as never)
        .executeTakeFirst()) as Record<string, string> | undefined;
    // The fill hashed sha256 (the blob's address) and sha1 (verified, the ETag) only.
    assert.equal(file.checksums.sha1, hex('sha1', body));
    assert.equal(file.checksums.sha256, hex('sha256', body));
    assert.equal(file.checksums.md5, '');
    assert.equal(file.checksums.sha512, '');
    assert.equal((await rowOf())?.['md5'], '');
    assert.equal((await rowOf())?.['sha512'], '');
    // Asked for: computed from the bytes (concurrent asks share one), kept with the file, recorded.
    const [md5, again] = await Promise.all([
      file.lateChecksum?.('md5'),
      file.lateChecksum?.('md5'),
    ]);
    assert.equal(md5, hex('md5', body));
    assert.equal(again, md5);
    assert.equal(file.checksums.md5, md5);
    assert.equal((await rowOf())?.['md5'], md5);
    assert.equal((await rowOf())?.['sha512'], '');
    // A restart reads it from the row; the other one is computed from the stored blob.
    const restarted = new MavenProxy({
      config: () => ({ maven }) as unknown as AppConfig,
      db,
      blobs,
      proxy: engine,
    });
    const cached = await restarted.openFile(proxyRepo, target);
    assert.ok(cached);
    assert.equal(cached.checksums.md5, md5);
    assert.equal(cached.checksums.sha512, '');
    assert.equal(await cached.lateChecksum?.('sha512'), hex('sha512', body));
    assert.equal((await rowOf())?.['sha512'], hex('sha512', body));
    assert.equal(upstream.hitsFor(`GET /${target}`), 1, 'fetched once');
  });

  test('a file over the in-memory bound verified by a .sha512 alone (hashed from the spool file, not during the fill)', async () => {
    const proxyRepo = repo({ name: 'p-big-sha512', upstreams: [{ url: upstream.url() }] });
    const good = 'org/example/big512/1.0/big512-1.0.jar';
    const bad = 'org/example/big512/1.1/big512-1.1.jar';
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'big sha512 bytes ');
    await upstream.put(good, body, ['sha512']);
    await upstream.put(bad, body, []);
    await upstream.put(`${bad}.sha512`, hex('sha512', Buffer.from('other bytes')), []);
    const file = await proxy.openFile(proxyRepo, good);
    assert.ok(file);
    const served = await bytesOf(file.verified === undefined ? file : await file.verified);
    assert.ok(served.equals(body));
    await proxy.settled();
    const row = (await db
      .selectFrom('maven_proxy_files' as never)
      .selectAll()
      .where('repository' as never, '=', 'p-big-sha512' as never)
      .where('path' as never, '=', good as never)
      .executeTakeFirst()) as Record<string, string> | undefined;
    assert.equal(row?.['verified_by'], 'sha512');
    assert.equal(row['sha512'], hex('sha512', body), 'the verifying hash is recorded');
    await assert.rejects(
      async () => {
        const f = await proxy.openFile(proxyRepo, bad);
        if (f?.verified !== undefined) await f.verified;
      },
      (err: unknown) => {
        assert.match((err as Error).message, /not matching its \.sha512/);
        return isUpstreamFailure(err);
      },
    );
  });

  test('a miss is remembered for negative_cache_ttl (counted upstream requests)', async () => {
    const proxyRepo = repo({ name: 'p-negative', upstreams: [{ url: upstream.url() }] });
    const missing = 'org/example/missing/1.0/missing-1.0.pom';
    assert.equal(await proxy.openFile(proxyRepo, missing), undefined);
    const asked = upstream.hits.filter((h) => h.includes('missing-1.0.pom')).length;
    assert.ok(asked >= 1);
    for (let i = 0; i < 5; i++) assert.equal(await proxy.openFile(proxyRepo, missing), undefined);
    assert.equal(upstream.hits.filter((h) => h.includes('missing-1.0.pom')).length, asked);
    // negative_cache_ttl = 0: every miss asks again.
    maven = { ...maven, negative_cache_ttl: 0 };
    const other = 'org/example/missing/2.0/missing-2.0.pom';
    await proxy.openFile(proxyRepo, other);
    const first = upstream.hits.filter((h) => h.includes('missing-2.0.pom')).length;
    await proxy.openFile(proxyRepo, other);
    assert.equal(upstream.hits.filter((h) => h.includes('missing-2.0.pom')).length, 2 * first);
  });

  test('metadata: TTL, revalidation (304), new content, stale when the upstream is down', async () => {
    const proxyRepo = repo({
      name: 'p-meta',
      upstreams: [{ url: upstream.url() }],
      metadata_ttl: 0,
    });
    const dir = 'org/example/meta';
    const doc = (versions: string[]): Buffer =>
      renderMetadata({
        ...EMPTY_METADATA,
        groupId: 'org.example',
        artifactId: 'meta',
        versions,
        latest: versions.at(-1),
        release: versions.at(-1),
        lastUpdated: '20261130101010',
      });
    await upstream.put(`${dir}/maven-metadata.xml`, doc(['1.0', '1.9']), []);
    const first = await proxy.metadata(proxyRepo, dir);
    assert.deepEqual(first?.versions, ['1.0', '1.9']);
    // TTL 0: every read revalidates; an unchanged document answers 304.
    const again = await proxy.metadata(proxyRepo, dir);
    assert.deepEqual(again?.versions, ['1.0', '1.9']);
    const conditional = upstream.hits.filter((h) => h === `GET /${dir}/maven-metadata.xml`);
    assert.equal(conditional.length, 2);
    await upstream.put(`${dir}/maven-metadata.xml`, doc(['1.0', '1.9', '1.10']), []);
    assert.equal((await proxy.metadata(proxyRepo, dir))?.latest, '1.10');
    // A long TTL: no request at all.
    const cachedRepo = repo({
      name: 'p-meta',
      upstreams: [{ url: upstream.url() }],
      metadata_ttl: 3600,
    });
    const count = upstream.hits.length;
    assert.equal((await proxy.metadata(cachedRepo, dir))?.latest, '1.10');
    assert.equal(upstream.hits.length, count, 'fresh within the TTL');
    // Upstream down: the last copy is served (stale), an unknown document fails.
    await upstream.stop();
    try {
      assert.equal((await proxy.metadata(proxyRepo, dir))?.latest, '1.10');
      await assert.rejects(proxy.metadata(proxyRepo, 'org/example/never'), (err: unknown) =>
        isUpstreamFailure(err),
      );
      await assert.rejects(
        proxy.openFile(proxyRepo, 'org/example/never/1/never-1.jar'),
        (err: unknown) => isUpstreamFailure(err),
      );
      // serve_stale off: the failure shows.
      maven = { ...maven, serve_stale: false };
      await assert.rejects(proxy.metadata(proxyRepo, dir), (err: unknown) =>
        isUpstreamFailure(err),
      );
    } finally {
      await upstream.start();
    }
  });

  test('hostile upstream metadata is an upstream failure, not cached', async () => {
    const proxyRepo = repo({ name: 'p-hostile', upstreams: [{ url: upstream.url() }] });
    const dir = 'org/example/hostile';
    await upstream.put(
      `${dir}/maven-metadata.xml`,
      '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]><metadata><groupId>&a;</groupId></metadata>',
      [],
    );
    await assert.rejects(proxy.metadata(proxyRepo, dir), (err: unknown) => {
      assert.ok(isUpstreamFailure(err));
      assert.match((err as Error).message, /DOCTYPE/);
      return true;
    });
  });

  test('upstreams in order, with Basic credentials', async () => {
    const target = 'org/example/second/1.0/second-1.0.jar';
    await second.put(target, 'from the second upstream');
    const proxyRepo = repo({
      name: 'p-two',
      upstreams: [{ url: upstream.url() }, { url: second.url(), auth: 'reader:s3cret' }],
    });
    const file = await proxy.openFile(proxyRepo, target);
    assert.ok(file && (await bytesOf(file)).toString() === 'from the second upstream');
    assert.ok(upstream.hitsFor(`GET /${target}.sha1`) >= 1, 'the first upstream was asked first');
    // Without credentials the second upstream refuses (401): an upstream failure, not a miss.
    const noAuth = repo({
      name: 'p-two-noauth',
      upstreams: [{ url: upstream.url() }, { url: second.url() }],
    });
    await assert.rejects(proxy.openFile(noAuth, target), (err: unknown) => isUpstreamFailure(err));
  });

  describe('group', () => {
    const hostedRepo = toRepository(
      {
        name: 'g-hosted',
        format: 'maven',
        kind: 'hosted',
        members: [],
        upstreams: [],
      },
      false,
    );
    const hostedFiles = new Map<string, Buffer>();
    const hostedMetadata = new Map<string, MavenMetadata>();
    const hosted: MavenSource = {
      openFile(_repo, p) {
        const body = hostedFiles.get(p);
        return Promise.resolve(
          body === undefined
            ? undefined
            : {
                size: body.length,
                checksums: { md5: '', sha1: '', sha256: '', sha512: '' },
                modifiedAt: 0,
                open: () => Promise.resolve(Readable.from([body])),
              },
        );
      },
      metadata(_repo, d) {
        return Promise.resolve(hostedMetadata.get(d));
      },
    };
    let proxyMember: Repository;
    let deadMember: Repository;
    let group: MavenGroup;
    let groupRepo: Repository;

    before(() => {
      proxyMember = repo({ name: 'g-proxy', upstreams: [{ url: upstream.url() }] });
      deadMember = repo({ name: 'g-dead', upstreams: [{ url: 'http://127.0.0.1:9' }] });
      groupRepo = toRepository(
        {
          name: 'g',
          format: 'maven',
          kind: 'group',
          members: ['g-hosted', 'g-dead', 'g-proxy'],
          upstreams: [],
          protect_hosted_names: true,
        },
        false,
      );
      const members = [hostedRepo, deadMember, proxyMember];
      group = new MavenGroup({
        reader: new GroupReader({
          log: pino({ level: 'silent' }),
          failures: metrics.groupMemberFailures,
        }),
        membersOf: () => members,
        sourceOf: (member) => (member.kind === 'hosted' ? hosted : proxy),
        hostedNames: {
          hasArtifact: (_repo, groupId, artifactId) =>
            Promise.resolve(
              [...hostedFiles.keys()].some((p) =>
                p.startsWith(`${groupId.replaceAll('.', '/')}/${artifactId}/`),
              ),
            ),
        },
      });
    });

    test('files: first member having it; a dead member is "not here"', async () => {
      const artifact = artifacts.find((a) => a.path.startsWith('javax/')) ?? artifacts[0];
      assert.ok(artifact);
      const file = await group.openFile(groupRepo, artifact.path);
      assert.ok(file && (await bytesOf(file)).equals(artifact.body));
      // Nobody has it, a member failed: the failure's 5xx naming it (mvn caches a 404).
      await assert.rejects(group.openFile(groupRepo, 'org/none/x/1/x-1.pom'), (err: unknown) => {
        assert.ok(isRegistryError(err) && err.status === 502, String(err));
        assert.match(err.message, /g-dead#0 unreachable/);
        return true;
      });
    });

    test('a missing .pom through the group asks the upstream once per negative TTL', async () => {
      const missing = 'org/example/absent/1.0/absent-1.0.pom';
      const hitsOf = () => upstream.hits.filter((h) => h.includes('absent-1.0.pom')).length;
      await assert.rejects(group.openFile(groupRepo, missing));
      const asked = hitsOf();
      assert.ok(asked >= 1);
      for (let i = 0; i < 5; i++) await assert.rejects(group.openFile(groupRepo, missing));
      assert.equal(hitsOf(), asked);
    });

    test('metadata merged across members: all versions, newest latest/release', async () => {
      await upstream.put(
        'junit/junit/maven-metadata.xml',
        renderMetadata({
          ...EMPTY_METADATA,
          groupId: 'junit',
          artifactId: 'junit',
          versions: ['3.8.1', '3.8.2', '4.13.1'],
          latest: '4.13.1',
          release: '4.13.1',
          lastUpdated: '20250101000000',
        }),
        [],
      );
      hostedMetadata.set('org/example/shared', {
        ...EMPTY_METADATA,
        groupId: 'org.example',
        artifactId: 'shared',
        versions: ['1.10'],
        latest: '1.10',
        release: '1.10',
        lastUpdated: '20261130101010',
      });
      await upstream.put(
        'org/example/shared/maven-metadata.xml',
        renderMetadata({
          ...EMPTY_METADATA,
          groupId: 'org.example',
          artifactId: 'shared',
          versions: ['1.2', '1.9', '2.0-SNAPSHOT'],
          latest: '2.0-SNAPSHOT',
          release: '1.9',
          lastUpdated: '20250101000000',
        }),
        [],
      );
      const merged = await group.metadata(groupRepo, 'org/example/shared');
      assert.ok(merged);
      assert.deepEqual(merged.versions, ['1.2', '1.9', '1.10', '2.0-SNAPSHOT']);
      assert.equal(merged.latest, '2.0-SNAPSHOT');
      assert.equal(merged.release, '1.10');
      assert.equal(merged.lastUpdated, '20261130101010');
      assert.deepEqual((await group.metadata(groupRepo, 'junit/junit'))?.versions, [
        '3.8.1',
        '3.8.2',
        '4.13.1',
      ]);
      // Nobody has it and a member failed: the 404 names the failure.
      await assert.rejects(group.metadata(groupRepo, 'org/none/none'), (err: unknown) => {
        assert.ok(isRegistryError(err) && err.status === 404);
        assert.match(err.message, /g-dead#0 unreachable/);
        return true;
      });
    });

    test('dependency-confusion guard: a hosted name is never served from the proxy', async () => {
      const internal = 'com/acme/internal/1.0/internal-1.0.jar';
      hostedFiles.set(internal, Buffer.from('internal'));
      hostedMetadata.set('com/acme/internal', {
        ...EMPTY_METADATA,
        groupId: 'com.acme',
        artifactId: 'internal',
        versions: ['1.0'],
        latest: '1.0',
        release: '1.0',
      });
      await upstream.put('com/acme/internal/9.9/internal-9.9.jar', 'malicious');
      await upstream.put(
        'com/acme/internal/maven-metadata.xml',
        renderMetadata({
          ...EMPTY_METADATA,
          groupId: 'com.acme',
          artifactId: 'internal',
          versions: ['9.9'],
          latest: '9.9',
          release: '9.9',
        }),
        [],
      );
      const before = upstream.hits.filter((h) => h.includes('com/acme/internal')).length;
      // A miss like any other (kept by the hot-file cache), whose 404 says the guard kept the
      // proxies out; asked without a validity, the 404 itself.
      const validity: MetadataValidity = { until: Infinity };
      assert.equal(
        await group.openFile(groupRepo, 'com/acme/internal/9.9/internal-9.9.jar', validity),
        undefined,
      );
      assert.equal(
        validity.missNote,
        'com.acme:internal is hosted in g-hosted, so group g does not ask its proxies for it: protect_hosted_names',
      );
      await assert.rejects(
        group.openFile(groupRepo, 'com/acme/internal/9.9/internal-9.9.jar'),
        /^RegistryError: com\/acme\/internal\/9\.9\/internal-9\.9\.jar not found in g \(com\.acme:internal is hosted in g-hosted, so group g does not ask its proxies for it: protect_hosted_names\)$/,
      );
      const merged = await group.metadata(groupRepo, 'com/acme/internal');
      assert.ok(merged);
      assert.deepEqual(merged.versions, ['1.0']);
      assert.equal(merged.latest, '1.0');
      assert.equal(
        upstream.hits.filter((h) => h.includes('com/acme/internal')).length,
        before,
        'the proxy was not even asked',
      );
      // Without the guard the upstream's version shows up.
      const open = { ...groupRepo, protectHostedNames: false };
      assert.deepEqual((await group.metadata(open, 'com/acme/internal'))?.versions, ['1.0', '9.9']);
    });
  });
});
