/**
 * `nora import run` of an Artifactory npm repository end to end (bin/nora.js against a listening
 * NORA, the fixture source of test/helpers/import-source.ts): `latest` ends on the newest release
 * whatever the order and the concurrency (publishes of one package are serialized) and with two
 * runs at once (each re-reads `latest` after moving it), the source
 * packument's other dist-tags and its deprecations are carried, and a
 * tarball whose package.json names another package or version than its path is refused.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { type FixtureFile, startSourceFixture } from '../../helpers/import-source.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { makeTarball } from '../npm/fixtures.ts';

const tgz = (name: string, version: string): FixtureFile => ({
  data: makeTarball({ 'package.json': JSON.stringify({ name, version }) }),
});

/** `nora import run --concurrency 8` of an Artifactory npm repository holding `files`. */
async function importNpm(
  files: Map<string, FixtureFile>,
  registry: string,
  state: string,
  api?: ReadonlyMap<string, string>,
  beforeDownload?: (path: string) => Promise<void>,
) {
  await using source = await startSourceFixture({
    flavour: 'artifactory',
    ...(beforeDownload ? { beforeDownload } : {}),
    repos: [
      { name: 'npm-local', packageType: 'npm', kind: 'local', files, ...(api ? { api } : {}) },
    ],
  });
  return await nora([
    'import',
    'run',
    '--source',
    'artifactory',
    '--url',
    source.url,
    '--registry',
    registry,
    '--allow-private-cidrs',
    '--concurrency',
    '8',
    '--state',
    state,
  ]);
}

describe('nora import: npm', () => {
  test('latest = the newest release after 5 versions at concurrency 8, whatever the order', async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    // The newest first: every other publish must leave it `latest`. Three packages, so an
    // unserialized run loses the race on at least one of them in practice.
    const versions = ['1.4.0', '1.0.0', '1.3.0', '1.1.0', '1.2.0', '2.0.0-rc.1'];
    const names = ['race-a', 'race-b', 'race-c'];
    const files = new Map<string, FixtureFile>(
      versions.flatMap((v) => names.map((n) => [`${n}/-/${n}-${v}.tgz`, tgz(n, v)] as const)),
    );
    const ran = await importNpm(files, server.url, `${work.path}/s.jsonl`);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /imported 18 files/);
    for (const name of names) {
      const packument = (await (await fetch(`${server.url}/npm/${name}`)).json()) as {
        'dist-tags': Record<string, string>;
        versions: Record<string, unknown>;
      };
      assert.equal(packument['dist-tags']['latest'], '1.4.0', name);
      assert.equal(Object.keys(packument.versions).length, 6, name);
    }
  });
});

describe('nora import: npm dist-tags', () => {
  test("the source packument's other tags and deprecations are carried; latest stays on the newest release", async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    const versions = ['1.0.0', '2.0.0-beta.1', '1.1.0'];
    const files = new Map<string, FixtureFile>(
      versions.map((v) => [`@acme/tagged/-/tagged-${v}.tgz`, tgz('@acme/tagged', v)] as const),
    );
    const tags = { latest: '1.1.0', beta: '2.0.0-beta.1', legacy: '1.0.0' };
    const deprecated = 'use 1.1.0: "1.0.0" leaks memory';
    const sourceVersions = {
      '1.0.0': { deprecated },
      '1.1.0': {},
      '2.0.0-beta.1': { deprecated: '' },
    };
    const api = new Map([
      ['@acme%2ftagged', JSON.stringify({ 'dist-tags': tags, versions: sourceVersions })],
    ]);
    const ran = await importNpm(files, server.url, `${work.path}/s.jsonl`, api);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const got = await fetch(`${server.url}/npm/-/package/@acme%2ftagged/dist-tags`);
    assert.deepEqual(await got.json(), tags);
    const packument = (await (await fetch(`${server.url}/npm/@acme%2ftagged`)).json()) as {
      versions: Record<string, { deprecated?: string }>;
    };
    assert.equal(packument.versions['1.0.0']?.deprecated, deprecated);
    assert.equal(packument.versions['1.1.0']?.deprecated, undefined);
    assert.equal(packument.versions['2.0.0-beta.1']?.deprecated, undefined);
  });
});

describe('nora import: npm, the source rolled latest back', () => {
  test("the source's latest below its newest release is carried; under a newer release from elsewhere it is said", async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    const versions = ['1.1.0', '1.0.0'];
    const packument = () =>
      JSON.stringify({
        'dist-tags': { latest: '1.0.0' },
        versions: Object.fromEntries(versions.map((v) => [v, {}])),
      });
    const files = (name: string) =>
      new Map<string, FixtureFile>(
        versions.map((v) => [`${name}/-/${name}-${v}.tgz`, tgz(name, v)] as const),
      );
    const ran = await importNpm(
      files('rolled'),
      server.url,
      `${work.path}/a.jsonl`,
      new Map([['rolled', packument()]]),
    );
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const tags = async (name: string) =>
      (await (await fetch(`${server.url}/npm/-/package/${name}/dist-tags`)).json()) as Record<
        string,
        string
      >;
    assert.equal((await tags('rolled'))['latest'], '1.0.0');
    assert.doesNotMatch(ran.stdout, /note: /);

    // 2.0.0 published into NORA from elsewhere first: the rollback is not carried, and said.
    const other = await importNpm(
      new Map([['kept/-/kept-2.0.0.tgz', tgz('kept', '2.0.0')]]),
      server.url,
      `${work.path}/b.jsonl`,
    );
    assert.equal(other.code, 0, other.stdout + other.stderr);
    const again = await importNpm(
      files('kept'),
      server.url,
      `${work.path}/c.jsonl`,
      new Map([['kept', packument()]]),
    );
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal((await tags('kept'))['latest'], '2.0.0');
    assert.match(
      again.stdout,
      /\nnote: kept: the source's latest 1\.0\.0 is not carried: NORA has 2\.0\.0 from elsewhere/,
    );
  });

  test('a deprecation NORA already has is not sent again', async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    const files = new Map([['old/-/old-1.0.0.tgz', tgz('old', '1.0.0')]]);
    const api = new Map([
      ['old', JSON.stringify({ versions: { '1.0.0': { deprecated: 'do not use' } } })],
    ]);
    // Every request the runs send to NORA goes through this forwarder, which notes the PUTs.
    const puts: string[] = [];
    const target = new URL(server.url);
    const forwarder = http.createServer((req, res) => {
      if (req.method === 'PUT') puts.push(req.url ?? '');
      const out = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(out);
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    const via = `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`;
    try {
      const first = await importNpm(files, via, `${work.path}/a.jsonl`, api);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      // The publish and the deprecation.
      assert.deepEqual(puts, ['/repository/npm-hosted/old', '/repository/npm-hosted/old']);
      // A fresh state (a wiped state file, another machine): the version is skipped as held,
      // and its deprecation, which NORA has, is not sent again.
      const second = await importNpm(files, via, `${work.path}/b.jsonl`, api);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      assert.match(second.stdout, /skipped npm-local\/old\/-\/old-1\.0\.0\.tgz/);
      assert.deepEqual(puts, ['/repository/npm-hosted/old', '/repository/npm-hosted/old']);
    } finally {
      forwarder.closeAllConnections();
      await new Promise((resolve) => forwarder.close(resolve));
    }
    const manifest = (await (await fetch(`${server.url}/npm/old/1.0.0`)).json()) as {
      deprecated?: string;
    };
    assert.equal(manifest.deprecated, 'do not use');
  });
});

describe('nora import: npm, two runs at once', () => {
  test('an older version another run publishes after a newer one leaves latest on the newer', async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    // The older run reads `latest` (none yet), then its publish's download is held until the
    // newer run has imported 2.0.0: its publish lands last, claiming `latest` for 1.5.0.
    let downloads = 0;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = (): void => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const older = importNpm(
      new Map([['two-runs/-/two-runs-1.5.0.tgz', tgz('two-runs', '1.5.0')]]),
      server.url,
      `${work.path}/older.jsonl`,
      undefined,
      async () => {
        downloads += 1;
        if (downloads < 2) return;
        holding();
        await released;
      },
    );
    await held;
    const newer = await importNpm(
      new Map([['two-runs/-/two-runs-2.0.0.tgz', tgz('two-runs', '2.0.0')]]),
      server.url,
      `${work.path}/newer.jsonl`,
    );
    assert.equal(newer.code, 0, newer.stdout + newer.stderr);
    release();
    const ran = await older;
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /imported 1 file/);
    const packument = (await (await fetch(`${server.url}/npm/two-runs`)).json()) as {
      'dist-tags': Record<string, string>;
      versions: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(packument.versions).sort(), ['1.5.0', '2.0.0']);
    assert.equal(packument['dist-tags']['latest'], '2.0.0');
  });
});

describe('nora import: npm, the same version by two runs', () => {
  test('the run whose publish meets the other run’s identical version skips it (409 → digest check)', async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    // The first run finds 1.0.0 absent, then its publish's download is held until the second
    // run has imported the same tarball: its publish answers 409 (trial 30 newA F4).
    const files = new Map([['same-v/-/same-v-1.0.0.tgz', tgz('same-v', '1.0.0')]]);
    let downloads = 0;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = (): void => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const first = importNpm(files, server.url, `${work.path}/first.jsonl`, undefined, async () => {
      downloads += 1;
      if (downloads < 2) return;
      holding();
      await released;
    });
    await held;
    const second = await importNpm(files, server.url, `${work.path}/second.jsonl`);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    release();
    const ran = await first;
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(
      ran.stdout,
      /skipped npm-local\/same-v\/-\/same-v-1\.0\.0\.tgz: same-v@1\.0\.0 already in NORA/,
    );
  });
});

describe('nora import: npm tarball identity', () => {
  test('a tarball whose package.json disagrees with its path is refused, nothing published', async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await serveNora({ dir: work.path });
    const files = new Map<string, FixtureFile>([
      ['innocent/-/innocent-1.0.0.tgz', tgz('lodash', '99.0.0')],
      ['other/-/other-1.0.0.tgz', tgz('other', '2.0.0')],
      ['@acme/util/-/util-1.0.0.tgz', tgz('@evil/util', '1.0.0')],
      ['@acme/good/-/good-1.0.0.tgz', tgz('@acme/good', '1.0.0')],
    ]);
    const ran = await importNpm(files, server.url, `${work.path}/s.jsonl`);
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(
      ran.stdout,
      /FAILED npm-local\/innocent\/-\/innocent-1\.0\.0\.tgz: cannot import: its package.json says lodash@99\.0\.0/,
    );
    assert.match(ran.stdout, /FAILED npm-local\/other\/-\/other-1\.0\.0\.tgz: cannot import/);
    assert.match(ran.stdout, /FAILED npm-local\/@acme\/util\/-\/util-1\.0\.0\.tgz: cannot import/);
    assert.match(ran.stdout, /imported 1 files? .*, 3 failed/);
    for (const name of ['lodash', 'other', '@evil%2futil']) {
      assert.equal((await fetch(`${server.url}/npm/${name}`)).status, 404, name);
    }
    assert.equal((await fetch(`${server.url}/npm/@acme%2fgood`)).status, 200);
  });
});
