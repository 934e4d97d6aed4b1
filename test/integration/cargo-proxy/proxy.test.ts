/**
 * Cargo proxy repositories (src/formats/cargo/proxy.ts) through their CargoSource, and Cargo
 * groups (group.ts) over a hosted stand-in and a proxy, against a scripted sparse-index upstream
 * on loopback: index files cached with TTL and ETag revalidation (304), the same entries object
 * while unchanged, `.crate` files verified against `cksum` (nothing cached on a mismatch) and
 * cached forever, `dl` as template and as base, stale index files when the upstream is down,
 * unreadable lines skipped; the group's merge, hosted-name guard, `registry` kept and a
 * failing member.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { parseConfigObject } from '../../../src/config/load.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { CargoGroup } from '../../../src/formats/cargo/group.ts';
import type {
  CargoSource,
  IndexEntry,
  IndexFile,
  OpenedCrate,
} from '../../../src/formats/cargo/model.ts';
import { CargoProxy } from '../../../src/formats/cargo/proxy.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { isUpstreamFailure, type ProxyEngine } from '../../../src/proxy/engine.ts';
import { UpstreamClient } from '../../../src/proxy/upstream-client.ts';
import { GroupReader } from '../../../src/repos/group-read.ts';
import type { Repository } from '../../../src/repos/repository.ts';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { openTestEngine, type TestEngine } from '../../helpers/proxy-engine.ts';
import { CargoFixtureUpstream, fakeCrate, sha256 } from './fixture.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function bytesOf(opened: OpenedCrate | undefined): Promise<Buffer> {
  assert.ok(opened, 'crate expected');
  return readAll(await opened.open());
}

let repoCount = 0;
function proxyRepo(urls: string[], options: { ttl?: number } = {}): Repository {
  return {
    name: `cargo-proxy-${++repoCount}`,
    format: 'cargo',
    kind: 'proxy',
    members: [],
    writeMember: undefined,
    upstreams: urls.map((url) => ({ url })),
    proxyTimeout: 5,
    metadataTtl: options.ttl ?? 300,
    serveStale: true,
    protectHostedNames: true,
    isDefault: false,
  };
}

describe('cargo proxy and group sources', () => {
  let engineParts: TestEngine;
  let blobs: BlobStore;
  let engine: ProxyEngine;
  let proxy: CargoProxy;
  const upstream = new CargoFixtureUpstream();
  const { config } = parseConfigObject({});
  const serde1 = fakeCrate('serde', '1.0.0');
  const serde2 = fakeCrate('serde', '1.0.1');

  before(async () => {
    engineParts = await openTestEngine('nora-cargo-proxy-', {
      dispatcher: UpstreamClient.directDispatcher(),
    });
    ({ blobs, engine } = engineParts);
    proxy = new CargoProxy({
      config: () => config,
      proxy: engine,
      blobs,
      log: pino({ level: 'silent' }),
    });
    await upstream.start();
    upstream.add('serde', { vers: '1.0.0', body: serde1 });
    upstream.add('serde', { vers: '1.0.1', body: serde2 });
    upstream.add('syn', { vers: '2.0.0', body: fakeCrate('syn', '2.0.0') });
    upstream.add('lying', {
      vers: '0.1.0',
      body: fakeCrate('lying', '0.1.0'),
      cksum: 'a'.repeat(64),
    });
  });

  after(async () => {
    await upstream.stop();
    await engineParts.close();
  });

  test('an index file is fetched once, then served from memory while fresh', async () => {
    const repo = proxyRepo([upstream.url]);
    const before = upstream.count((u) => u.endsWith('/se/rd/serde'));
    const file = await proxy.indexFile(repo, 'serde');
    assert.ok(file);
    assert.equal(file.name, 'serde');
    assert.deepEqual(
      file.entries.map((e) => e.vers),
      ['1.0.0', '1.0.1'],
    );
    assert.equal(file.entries[0]?.cksum, sha256(serde1));
    assert.equal(file.stale, undefined);
    const again = await proxy.indexFile(repo, 'serde');
    assert.equal(again, file, 'the same object while unchanged (render cache)');
    assert.equal(
      upstream.count((u) => u.endsWith('/se/rd/serde')),
      before + 1,
    );
  });

  test('ttl 0 revalidates with If-None-Match; a 304 keeps the same entries', async () => {
    const repo = proxyRepo([upstream.url], { ttl: 0 });
    const first = await proxy.indexFile(repo, 'syn');
    const second = await proxy.indexFile(repo, 'syn');
    assert.ok(first && second);
    assert.equal(second.entries, first.entries);
    const last = upstream.requests.filter((r) => r.url.endsWith('/3/s/syn')).at(-1);
    assert.ok(last?.ifNoneMatch !== undefined);
    assert.equal(last.status, 304);
  });

  test('a .crate is fetched through dl once, verified, then cached forever', async () => {
    const repo = proxyRepo([upstream.url]);
    const before = upstream.count((u) => u.startsWith('/dl/'));
    const opened = await proxy.openCrate(repo, 'serde', '1.0.1');
    assert.equal(opened?.sha256, sha256(serde2));
    assert.equal(opened.size, serde2.length);
    assert.deepEqual(await bytesOf(opened), serde2);
    // Wait for the commit, then read again: from the store, no upstream request.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await bytesOf(await proxy.openCrate(repo, 'serde', '1.0.1')), serde2);
    assert.equal(
      upstream.count((u) => u.startsWith('/dl/')),
      before + 1,
    );
    const ranged = await proxy.openCrate(repo, 'serde', '1.0.1');
    assert.ok(ranged);
    assert.deepEqual(await readAll(await ranged.open({ start: 2, end: 5 })), serde2.subarray(2, 6));
  });

  test('a .crate that does not hash to its cksum is refused and not cached', async () => {
    const repo = proxyRepo([upstream.url]);
    await assert.rejects(
      async () => {
        const opened = await proxy.openCrate(repo, 'lying', '0.1.0');
        await bytesOf(opened);
      },
      (err: unknown) => isRegistryError(err) && isUpstreamFailure(err),
    );
    assert.equal(await blobs.stat({ algorithm: 'sha256', hex: 'a'.repeat(64) }), undefined);
  });

  test('unknown crates, unknown versions and impossible names are absent', async () => {
    const repo = proxyRepo([upstream.url]);
    assert.equal(await proxy.indexFile(repo, 'nope'), undefined);
    assert.equal(await proxy.openCrate(repo, 'serde', '9.9.9'), undefined);
    const requests = upstream.requests.length;
    assert.equal(await proxy.indexFile(repo, '../etc'), undefined);
    assert.equal(await proxy.openCrate(repo, 'a/b', '1.0.0'), undefined);
    assert.equal(upstream.requests.length, requests, 'nothing asked for an impossible name');
  });

  test('dl as a plain base gets /{crate}/{version}/download appended', async () => {
    const other = new CargoFixtureUpstream();
    other.root = '/';
    other.dl = '{base}/dl';
    const body = fakeCrate('Mixed_Case', '0.2.0');
    other.add('Mixed_Case', { vers: '0.2.0', body });
    await other.start();
    try {
      // The fixture serves /dl/<name>/<version>/… whatever follows.
      const repo = proxyRepo([`sparse+${other.url}`]);
      const file = await proxy.indexFile(repo, 'mixed_case');
      assert.equal(file?.name, 'Mixed_Case');
      assert.deepEqual(await bytesOf(await proxy.openCrate(repo, 'mixed_case', '0.2.0')), body);
      assert.ok(other.requests.some((r) => r.url === '/dl/Mixed_Case/0.2.0/download'));
    } finally {
      await other.stop();
    }
  });

  test('unusable lines of the crate are skipped, unknown fields kept', async () => {
    const other = new CargoFixtureUpstream();
    const good = fakeCrate('mixed', '1.0.0');
    other.rawIndex.set(
      'mixed',
      [
        // Lines of this crate whose shape Cargo could not read: skipped (a line that is not an
        // entry of this crate at all makes the file the upstream's failure, tested below).
        JSON.stringify({ name: 'mixed', vers: '0.8.0', deps: 'x', cksum: sha256(good) }),
        JSON.stringify({
          name: 'Mixed',
          vers: '0.8.5',
          deps: [],
          cksum: sha256(good),
          features: [],
        }),
        JSON.stringify({ name: 'mixed', vers: '0.9.0', deps: [], cksum: 'short', features: {} }),
        JSON.stringify({
          name: 'mixed',
          vers: '1.0.0',
          deps: [{ name: 'x', req: '^1' }],
          cksum: sha256(good),
          features: {},
          pubtime: 'p',
        }),
        '',
      ].join('\n'),
    );
    other.add('mixed', { vers: '1.0.0', body: good });
    await other.start();
    try {
      const repo = proxyRepo([other.url]);
      const file = await proxy.indexFile(repo, 'mixed');
      assert.equal(file?.entries.length, 1);
      const entry = file.entries[0] as IndexEntry & { pubtime?: string };
      assert.equal(entry.vers, '1.0.0');
      assert.equal(entry.pubtime, 'p');
      assert.equal(entry.yanked, false);
      assert.deepEqual(entry.deps[0], {
        name: 'x',
        req: '^1',
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: 'normal',
      });
    } finally {
      await other.stop();
    }
  });

  test('upstream down: cached index served stale, cached crates served, others fail', async () => {
    const other = new CargoFixtureUpstream();
    const body = fakeCrate('down', '1.0.0');
    other.add('down', { vers: '1.0.0', body });
    other.add('down', { vers: '1.1.0', body: fakeCrate('down', '1.1.0') });
    await other.start();
    const repo = proxyRepo([other.url], { ttl: 0 });
    assert.ok(await proxy.indexFile(repo, 'down'));
    assert.deepEqual(await bytesOf(await proxy.openCrate(repo, 'down', '1.0.0')), body);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await other.stop();
    const stale = await proxy.indexFile(repo, 'down');
    assert.equal(stale?.stale, true);
    assert.equal(stale.entries.length, 2);
    assert.deepEqual(await bytesOf(await proxy.openCrate(repo, 'down', '1.0.0')), body);
    await assert.rejects(
      async () => bytesOf(await proxy.openCrate(repo, 'down', '1.1.0')),
      (err: unknown) => isUpstreamFailure(err),
    );
    await assert.rejects(
      () => proxy.indexFile(repo, 'never-seen'),
      (err: unknown) => isUpstreamFailure(err),
    );
  });

  test('the upstream changes the cksum of a cached version: the cached line is kept, logged once', async () => {
    const lines: string[] = [];
    const logged = new CargoProxy({
      config: () => config,
      proxy: engine,
      blobs,
      log: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
    });
    const other = new CargoFixtureUpstream();
    const good = fakeCrate('evilcrate', '0.1.0');
    const evil = fakeCrate('evilcrate', '0.1.0-rewritten');
    const second = fakeCrate('evilcrate', '0.2.0');
    const secondRewritten = fakeCrate('evilcrate', '0.2.0-rewritten');
    other.add('evilcrate', { vers: '0.1.0', body: good });
    other.add('evilcrate', { vers: '0.2.0', body: second });
    await other.start();
    try {
      const repo = proxyRepo([other.url], { ttl: 0 });
      const first = await logged.indexFile(repo, 'evilcrate');
      assert.equal(first?.entries[0]?.cksum, sha256(good));
      // Only 0.1.0's .crate is fetched (and so cached).
      assert.deepEqual(await bytesOf(await logged.openCrate(repo, 'evilcrate', '0.1.0')), good);
      for (let i = 0; i < 50; i++) {
        if (await engine.lookup(repo.name, 'cargo-crate:evilcrate/0.1.0')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The upstream now states other bytes for both versions, and yanks 0.1.0.
      other.crates.delete('evilcrate');
      other.rawIndex.set(
        'evilcrate',
        [
          { vers: '0.1.0', cksum: sha256(evil), yanked: true },
          { vers: '0.2.0', cksum: sha256(secondRewritten), yanked: false },
        ]
          .map((v) => `${JSON.stringify({ name: 'evilcrate', deps: [], features: {}, ...v })}\n`)
          .join(''),
      );
      const after = await logged.indexFile(repo, 'evilcrate');
      assert.ok(after);
      const byVersion = new Map(after.entries.map((e) => [e.vers, e]));
      assert.equal(byVersion.get('0.1.0')?.cksum, sha256(good), "the cached bytes' cksum kept");
      assert.equal(byVersion.get('0.1.0')?.yanked, true, "the yank is the upstream's");
      assert.equal(
        byVersion.get('0.2.0')?.cksum,
        sha256(secondRewritten),
        "a version not cached takes the upstream's line",
      );
      const served = await logged.openCrate(repo, 'evilcrate', '0.1.0');
      assert.equal(served?.sha256, sha256(good));
      assert.deepEqual(await bytesOf(served), good);

      const warnings = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => /changed the cksum/.test(String(l['msg'])));
      assert.equal(warnings.length, 1, lines.join(''));
      const [warning] = warnings;
      assert.ok(warning);
      assert.equal(warning['crate'], 'evilcrate');
      assert.equal(warning['version'], '0.1.0');
      assert.equal(warning['cachedCksum'], sha256(good));
      assert.equal(warning['upstreamCksum'], sha256(evil));
      assert.match(
        String(warning['msg']),
        new RegExp(`evilcrate 0\\.1\\.0.*${sha256(good)}.*${sha256(evil)}`),
      );

      // Another change of the file (a new version) keeps the pin; the same change is not logged again.
      other.rawIndex.set(
        'evilcrate',
        `${other.rawIndex.get('evilcrate') ?? ''}${JSON.stringify({ name: 'evilcrate', vers: '0.3.0', deps: [], features: {}, cksum: sha256(second) })}\n`,
      );
      const later = await logged.indexFile(repo, 'evilcrate');
      assert.deepEqual(
        later?.entries.map((e) => [e.vers, e.cksum]),
        [
          ['0.1.0', sha256(good)],
          ['0.2.0', sha256(secondRewritten)],
          ['0.3.0', sha256(second)],
        ],
      );
      // A fresh proxy (a restart) reads the stored copy, pinned line included.
      const restarted = new CargoProxy({
        config: () => config,
        proxy: engine,
        blobs,
        log: pino({ level: 'silent' }),
      });
      const again = await restarted.indexFile({ ...repo, metadataTtl: -1 }, 'evilcrate');
      assert.equal(again?.entries[0]?.cksum, sha256(good));
      assert.equal(
        lines.filter((l) => /changed the cksum/.test(l)).length,
        1,
        'logged once per change',
      );
    } finally {
      await other.stop();
    }
  });

  test('a 200 that is not an index file (HTML, empty) is an upstream failure: the cached copy is kept, served stale, counted by the breaker', async () => {
    const warned: Record<string, unknown>[] = [];
    const logged = new CargoProxy({
      config: () => config,
      proxy: engine,
      blobs,
      log: pino(
        { level: 'warn' },
        { write: (line: string) => warned.push(JSON.parse(line) as Record<string, unknown>) },
      ),
    });
    const other = new CargoFixtureUpstream();
    const body = fakeCrate('st-good', '1.0.0');
    other.add('st-good', { vers: '1.0.0', body });
    await other.start();
    try {
      const repo = proxyRepo([other.url], { ttl: 0 });
      const label = `${repo.name}#0`;
      const fresh = await logged.indexFile(repo, 'st-good');
      assert.deepEqual(
        fresh?.entries.map((e) => e.vers),
        ['1.0.0'],
      );
      assert.deepEqual(await bytesOf(await logged.openCrate(repo, 'st-good', '1.0.0')), body);
      const answers = [
        '<html><body>Captive portal</body></html>\n',
        '',
        '\n\n',
        // A JSON line of another crate, and one with no cksum: not this crate's index file.
        `${JSON.stringify({ name: 'other', vers: '1.0.0', deps: [], cksum: sha256(body) })}\n`,
        `${JSON.stringify({ name: 'st-good', vers: '1.0.1', deps: [] })}\n`,
      ];
      for (const [n, answer] of answers.entries()) {
        other.rawIndex.set('st-good', answer);
        const stale = await logged.indexFile(repo, 'st-good');
        assert.equal(stale?.stale, true, `answer ${n} is served stale`);
        assert.deepEqual(
          stale.entries.map((e) => e.vers),
          ['1.0.0'],
        );
        assert.equal(other.requests.at(-1)?.status, 200, 'the upstream answered 200');
        assert.equal(
          engine.circuits()[label]?.consecutive_failures,
          n + 1,
          'counted as consecutive failures',
        );
        assert.deepEqual(await bytesOf(await logged.openCrate(repo, 'st-good', '1.0.0')), body);
      }
      assert.equal(
        warned.filter((l) => l['crate'] === 'st-good' && l['upstream'] === label).length,
        answers.length,
        'each is logged',
      );
      // The upstream is fixed: the next revalidation takes its file again, and resets the breaker.
      other.rawIndex.delete('st-good');
      other.add('st-good', { vers: '1.1.0', body: fakeCrate('st-good', '1.1.0') });
      const back = await logged.indexFile(repo, 'st-good');
      assert.ok(back);
      assert.equal(back.stale, undefined);
      assert.deepEqual(
        back.entries.map((e) => e.vers),
        ['1.0.0', '1.1.0'],
      );
      assert.equal(engine.circuits()[label]?.consecutive_failures, 0);
      // Nothing cached: an HTML page is a failure too (not "no such crate"); an empty body is
      // as good as absent (a crate that is not there).
      other.rawIndex.set('portal', '<html>log in</html>');
      await assert.rejects(
        () => logged.indexFile(repo, 'portal'),
        (err: unknown) =>
          isUpstreamFailure(err) && /not an index entry of portal/.test(String(err)),
      );
      other.rawIndex.set('empty', '');
      assert.equal(await logged.indexFile(repo, 'empty'), undefined);
      // One stray line beside usable entries is skipped, as Cargo skips it: the file is taken.
      const strayBody = fakeCrate('stray', '1.0.0');
      const strayLine = { name: 'stray', vers: '1.0.0', deps: [], cksum: sha256(strayBody) };
      other.rawIndex.set('stray', `${JSON.stringify(strayLine)}\nnot json\n`);
      const stray = await logged.indexFile(repo, 'stray');
      assert.equal(stray?.stale, undefined, 'taken fresh');
      assert.deepEqual(
        stray?.entries.map((e) => e.vers),
        ['1.0.0'],
      );
      assert.ok(warned.some((l) => l['crate'] === 'stray' && l['line'] === 2));
    } finally {
      await other.stop();
    }
  });

  test('upstream requests carry User-Agent nora/<version>', async () => {
    const { VERSION } = await import('../../../src/version.ts');
    const other = new CargoFixtureUpstream();
    other.add('agent', { vers: '1.0.0', body: fakeCrate('agent', '1.0.0') });
    await other.start();
    try {
      const repo = proxyRepo([other.url]);
      assert.ok(await bytesOf(await proxy.openCrate(repo, 'agent', '1.0.0')));
      // The index file, config.json and the .crate.
      assert.equal(other.requests.length, 3);
      for (const request of other.requests) {
        assert.equal(request.userAgent, `nora/${VERSION}`, request.url);
      }
    } finally {
      await other.stop();
    }
  });

  test('an upstream 5xx on the index is an upstream failure', async () => {
    const other = new CargoFixtureUpstream();
    other.indexStatus = 503;
    await other.start();
    try {
      await assert.rejects(
        () => proxy.indexFile(proxyRepo([other.url]), 'serde'),
        (err: unknown) => isUpstreamFailure(err),
      );
    } finally {
      await other.stop();
    }
  });

  describe('group', () => {
    const hostedEntries = new Map<string, IndexEntry[]>();
    const hostedFiles = new Map<string, Buffer>();
    const hostedObjects = new Map<string, IndexFile>();
    const hosted: CargoSource = {
      // The same object per crate while unchanged, as hosted.ts hands out.
      indexFile: (_repo, name) => {
        const entries = hostedEntries.get(name);
        if (!entries) return Promise.resolve(undefined);
        const known = hostedObjects.get(name) ?? { name, entries };
        hostedObjects.set(name, known);
        return Promise.resolve(known);
      },
      openCrate: (_repo, name, version) => {
        const body = hostedFiles.get(`${name}/${version}`);
        if (!body) return Promise.resolve(undefined);
        return Promise.resolve({
          size: body.length,
          sha256: sha256(body),
          open: async () => (await import('node:stream')).Readable.from([body]),
        });
      },
    };
    const hostedRepo: Repository = { ...proxyRepo([]), name: 'cargo-hosted-g', kind: 'hosted' };
    let proxied: Repository;
    let deadProxy: Repository;
    let group: Repository;
    let cargoGroup: CargoGroup;

    function entry(
      name: string,
      vers: string,
      body: Buffer,
      deps: IndexEntry['deps'] = [],
    ): IndexEntry {
      return { name, vers, deps, cksum: sha256(body), features: {}, yanked: false };
    }

    before(() => {
      proxied = proxyRepo([upstream.url]);
      deadProxy = proxyRepo(['http://127.0.0.1:9/index/']);
      group = {
        ...proxyRepo([]),
        name: 'cargo-group-g',
        kind: 'group',
        members: [hostedRepo.name, deadProxy.name, proxied.name],
      };
      const members = [hostedRepo, deadProxy, proxied];
      cargoGroup = new CargoGroup({
        reader: new GroupReader({
          log: pino({ level: 'silent' }),
          failures: new Metrics().groupMemberFailures,
        }),
        membersOf: () => members,
        sourceOf: (m) => (m.kind === 'hosted' ? hosted : proxy),
        hostedHas: (_m, name) => Promise.resolve(hostedEntries.has(name)),
      });
      const mine = fakeCrate('mine', '0.1.0');
      hostedFiles.set('mine/0.1.0', mine);
      hostedEntries.set('mine', [
        entry('mine', '0.1.0', mine, [
          {
            name: 'serde',
            req: '^1',
            features: [],
            optional: false,
            default_features: true,
            target: null,
            kind: 'normal',
            registry: 'https://github.com/rust-lang/crates.io-index',
          },
          {
            name: 'elsewhere',
            req: '^1',
            features: [],
            optional: false,
            default_features: true,
            target: null,
            kind: 'normal',
            registry: 'https://example.invalid/other-index',
          },
        ]),
      ]);
      // A private crate named like an upstream one: the upstream's versions must never show.
      const privateSyn = fakeCrate('syn', '0.0.1');
      hostedFiles.set('syn/0.0.1', privateSyn);
      hostedEntries.set('syn', [entry('syn', '0.0.1', privateSyn)]);
    });

    test('hosted crates: the registry of every dependency is served as published (crates.io too)', async () => {
      const file = await cargoGroup.indexFile(group, 'mine');
      assert.ok(file);
      const [serde, elsewhere] = file.entries[0]?.deps ?? [];
      // As crates.io's index: Cargo puts the dependency in the client's crates-io source (replaced
      // by the group or not), where the client's own crates.io dependencies are.
      assert.equal(serde?.registry, 'https://github.com/rust-lang/crates.io-index');
      assert.equal(elsewhere?.registry, 'https://example.invalid/other-index');
      assert.equal(file, await cargoGroup.indexFile(group, 'mine'), 'same object while unchanged');
      assert.equal(file.entries, hostedEntries.get('mine'), "the hosted member's own entries");
      assert.ok(await cargoGroup.openCrate(group, 'mine', '0.1.0'));
    });

    test('proxied crates resolve through the group although a member is unreachable', async () => {
      const file: IndexFile | undefined = await cargoGroup.indexFile(group, 'serde');
      assert.deepEqual(
        file?.entries.map((e) => e.vers),
        ['1.0.0', '1.0.1'],
      );
      assert.deepEqual(await bytesOf(await cargoGroup.openCrate(group, 'serde', '1.0.0')), serde1);
    });

    test('a hosted name is never taken from the upstream', async () => {
      const file = await cargoGroup.indexFile(group, 'syn');
      assert.deepEqual(
        file?.entries.map((e) => e.vers),
        ['0.0.1'],
      );
      // The upstream's version is a 404 saying the guard kept the proxies out.
      await assert.rejects(
        () => cargoGroup.openCrate(group, 'syn', '2.0.0'),
        (err: unknown) =>
          isRegistryError(err) &&
          err.code === 'NOT_FOUND' &&
          err.message ===
            `not found: syn 2.0.0 (syn is hosted in ${hostedRepo.name}, so group ${group.name} does not ask its proxies for it: protect_hosted_names)`,
      );
    });

    test('nobody has it and a member failed: 404 naming the failure', async () => {
      await assert.rejects(
        () => cargoGroup.indexFile(group, 'nowhere'),
        (err: unknown) =>
          isRegistryError(err) && err.code === 'NOT_FOUND' && /unreachable/.test(err.message),
      );
    });
  });
});
