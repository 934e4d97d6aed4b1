/**
 * `nora import run` of an Artifactory Cargo repository end to end (bin/nora.js against a
 * listening NORA, the fixture source of test/helpers/import-source.ts): crates listed before the
 * crates they depend on all go in within one run (deferred, then written in dependency order), and
 * a crate whose dependency is in neither NORA nor the source fails naming it; a version yanked in
 * the source's sparse index is yanked in NORA.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { crateArchive } from '../../helpers/crate-archive.ts';
import { type FixtureFile, startSourceFixture } from '../../helpers/import-source.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** A crate `name@vers` depending on `deps` (crates of the same registry, any version). */
async function crate(name: string, vers: string, deps: readonly string[]): Promise<FixtureFile> {
  const lines = deps.map(
    (dep) =>
      `\n[dependencies.${dep}]\nversion = "*"\nregistry-index = "sparse+http://source.invalid/api/cargo/crates-local/index/"\n`,
  );
  const toml = `[package]\nedition = "2021"\nname = "${name}"\nversion = "${vers}"\nlicense = "MIT"\n${lines.join('')}`;
  return { data: await crateArchive(name, vers, { 'Cargo.toml': toml, 'src/lib.rs': '' }) };
}

/** `nora import run` of the fixture at `sourceUrl` (Artifactory's unless `extra` says) into `noraUrl`. */
function importRun(
  sourceUrl: string,
  noraUrl: string,
  state: string,
  extra: string[] = [],
  flavour = 'artifactory',
) {
  return nora([
    'import',
    'run',
    '--source',
    flavour,
    '--url',
    sourceUrl,
    '--registry',
    noraUrl,
    '--allow-private-cidrs',
    '--state',
    state,
    ...extra,
  ]);
}

describe('nora import: Cargo dependency order', () => {
  test('a chain listed backwards goes in within one run; a missing dependency fails; yanks carried', async () => {
    await using work = await tempDir('nora-import-cargo-');
    await using server = await serveNora({ dir: work.path });
    const at = (name: string, vers: string) => `crates/${name}/${name}-${vers}.crate`;
    // d → c → b → a, listed d first: each waits for the one before it.
    const files = new Map<string, FixtureFile>([
      [at('dep-d', '1.0.0'), await crate('dep-d', '1.0.0', ['dep-c'])],
      [at('dep-c', '1.0.0'), await crate('dep-c', '1.0.0', ['dep-b', 'dep-a'])],
      [at('dep-b', '1.0.0'), await crate('dep-b', '1.0.0', ['dep-a'])],
      [at('dep-orphan', '1.0.0'), await crate('dep-orphan', '1.0.0', ['dep-gone'])],
      [at('dep-a', '1.0.0'), await crate('dep-a', '1.0.0', [])],
    ]);
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        {
          name: 'crates-local',
          packageType: 'cargo',
          kind: 'local',
          files,
          // The source's sparse index: dep-b 1.0.0 is yanked there, dep-a is not.
          api: new Map([
            ['index/de/p-/dep-b', '{"name":"dep-b","vers":"1.0.0","deps":[],"yanked":true}\n'],
            ['index/de/p-/dep-a', '{"name":"dep-a","vers":"1.0.0","deps":[],"yanked":false}\n'],
          ]),
        },
      ],
    });
    const ran = await importRun(source.url, server.url, `${work.path}/s.jsonl`, [
      '--concurrency',
      '4',
    ]);
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /imported 4 files .*, 0 skipped, 1 failed/);
    assert.match(
      ran.stdout,
      /FAILED crates-local\/crates\/dep-orphan\/dep-orphan-1\.0\.0\.crate: dep-orphan@1\.0\.0 depends on dep-gone, not in NORA/,
    );
    for (const name of ['dep-a', 'dep-b', 'dep-c', 'dep-d']) {
      const got = await fetch(`${server.url}/cargo/api/v1/crates/${name}/1.0.0/download`);
      assert.deepEqual(
        Buffer.from(await got.arrayBuffer()),
        files.get(at(name, '1.0.0'))?.data,
        name,
      );
    }
    // The order NORA saw: a crate's publish always after its dependencies' (no refusal).
    const order = [...ran.stdout.matchAll(/imported crates-local\/crates\/(dep-[a-z]+)\//g)].map(
      (m) => m[1],
    );
    assert.deepEqual(order, ['dep-a', 'dep-b', 'dep-c', 'dep-d']);
    // The yanked state is carried (through NORA's yank API).
    const yanked = async (name: string) =>
      (
        JSON.parse(await (await fetch(`${server.url}/cargo/index/de/p-/${name}`)).text()) as {
          yanked: boolean;
        }
      ).yanked;
    assert.equal(await yanked('dep-b'), true);
    assert.equal(await yanked('dep-a'), false);
  });
});

describe('nora import: a Nexus Cargo repository', () => {
  test('its sparse index at the repository root carries yanks; crates under download paths are taken', async () => {
    await using work = await tempDir('nora-import-cargo-');
    await using server = await serveNora({ dir: work.path });
    const files = new Map<string, FixtureFile>([
      // Cargo's download path (Nexus's `dl` is …/repository/<repo>/crates) and a .crate file.
      ['crates/nx-a/1.0.0/download', await crate('nx-a', '1.0.0', [])],
      ['crates/nx-b/nx-b-1.0.0.crate', await crate('nx-b', '1.0.0', [])],
      // A download path naming another version than the crate's Cargo.toml: refused.
      ['crates/nx-c/9.9.9/download', await crate('nx-c', '1.0.0', [])],
    ]);
    await using source = await startSourceFixture({
      flavour: 'nexus',
      repos: [
        {
          name: 'cargo-hosted',
          packageType: 'cargo',
          kind: 'local',
          files,
          // Clients use sparse+<nexus>/repository/<repo>/: index files sit at its root.
          api: new Map([
            ['config.json', '{"dl":"http://fixture/repository/cargo-hosted/crates","api":"x"}'],
            ['nx/-a/nx-a', '{"name":"nx-a","vers":"1.0.0","deps":[],"yanked":true}\n'],
            ['nx/-b/nx-b', '{"name":"nx-b","vers":"1.0.0","deps":[],"yanked":false}\n'],
          ]),
        },
      ],
    });
    const ran = await importRun(source.url, server.url, `${work.path}/s.jsonl`, [], 'nexus');
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /imported 2 files .*, 0 skipped, 1 failed/);
    assert.match(
      ran.stdout,
      /FAILED cargo-hosted\/crates\/nx-c\/9\.9\.9\/download: cannot import: its Cargo\.toml says nx-c@1\.0\.0, but the crate is stored at crates\/nx-c\/9\.9\.9\/download/,
    );
    for (const [name, at] of [
      ['nx-a', 'crates/nx-a/1.0.0/download'],
      ['nx-b', 'crates/nx-b/nx-b-1.0.0.crate'],
    ] as const) {
      const got = await fetch(`${server.url}/cargo/api/v1/crates/${name}/1.0.0/download`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), files.get(at)?.data, name);
    }
    const line = async (name: string) =>
      JSON.parse(
        await (await fetch(`${server.url}/cargo/index/nx/${name.slice(2)}/${name}`)).text(),
      ) as {
        yanked: boolean;
      };
    assert.equal((await line('nx-a')).yanked, true);
    assert.equal((await line('nx-b')).yanked, false);
    assert.equal(await fetch(`${server.url}/cargo/index/nx/-c/nx-c`).then((r) => r.status), 404);
  });
});

describe('nora import: Cargo, the same version by two runs', () => {
  test('the run whose publish meets the other run’s identical crate skips it (409 → digest check)', async () => {
    await using work = await tempDir('nora-import-cargo-');
    await using server = await serveNora({ dir: work.path });
    const at = 'crates/dep-same/dep-same-1.0.0.crate';
    // The first run reads the crate, finds it absent from NORA's index, then its publish's
    // download is held until the second run has imported the same crate: its publish answers
    // 409 (trial 30 newA F4).
    let downloads = 0;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = (): void => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        {
          name: 'crates-local',
          packageType: 'cargo',
          kind: 'local',
          files: new Map([[at, await crate('dep-same', '1.0.0', [])]]),
        },
      ],
      beforeDownload: async () => {
        downloads += 1;
        if (downloads !== 2) return;
        holding();
        await released;
      },
    });
    const run = (state: string) => importRun(source.url, server.url, `${work.path}/${state}`);
    const first = run('first.jsonl');
    await held;
    const second = await run('second.jsonl');
    assert.equal(second.code, 0, second.stdout + second.stderr);
    release();
    const ran = await first;
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(
      ran.stdout,
      /skipped crates-local\/crates\/dep-same\/dep-same-1\.0\.0\.crate: dep-same@1\.0\.0 already in NORA/,
    );
  });
});
