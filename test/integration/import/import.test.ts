/**
 * `nora import assess|run` end to end: a fixture server answering as an Artifactory or a Nexus 3
 * (test/helpers/import-source.ts) serves real Maven artifacts from the machine's local Maven
 * repository and some raw files; `bin/nora.js import` copies them into a listening NORA (auth on
 * and off), and curl reads them back byte for byte. Also: a checksum mismatch never lands, a
 * re-run resumes from the state file (and after Ctrl-C), the SSRF guard refuses 127.0.0.1
 * without --allow-private-cidrs, bad NORA_IMPORT_AUTH, Nexus paging, usage errors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { htpasswdOf } from '../../helpers/auth.ts';
import { BIN, cleanEnv, nora } from '../../helpers/cli.ts';
import {
  type FixtureFile,
  type FixtureRepo,
  startSourceFixture,
} from '../../helpers/import-source.ts';
import { M2_REPOSITORY } from '../../helpers/maven.ts';
import { makeTarball } from '../npm/fixtures.ts';
import { freePort, serveNora, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** Real artifacts of the local Maven repository (a jar, its POM, its parents' POMs). */
const REAL = [
  'commons-io/commons-io/2.16.1/commons-io-2.16.1.jar',
  'commons-io/commons-io/2.16.1/commons-io-2.16.1.pom',
];

async function realFiles(): Promise<Map<string, FixtureFile> | undefined> {
  const files = new Map<string, FixtureFile>();
  for (const rel of REAL) {
    const data = await fs.readFile(path.join(M2_REPOSITORY, rel)).catch(() => undefined);
    if (data === undefined) return undefined;
    files.set(rel, { data });
  }
  return files;
}

const real = await realFiles();
const skip = real === undefined ? `${REAL.join(', ')} missing from ${M2_REPOSITORY}` : false;

/** `--source <flavour> --url <source> --registry <registry> --allow-private-cidrs`. */
const sourceArgs = (flavour: string, source: string, registry: string): string[] => [
  '--source',
  flavour,
  '--url',
  source,
  '--registry',
  registry,
  '--allow-private-cidrs',
];

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function mavenRepo(extra: Record<string, FixtureFile> = {}): FixtureRepo {
  const files = new Map(real);
  // What an Artifactory holds besides artifacts: checksum files and metadata (ignored).
  files.set('commons-io/commons-io/maven-metadata.xml', { data: Buffer.from('<metadata/>') });
  files.set('commons-io/commons-io/2.16.1/commons-io-2.16.1.jar.sha1', {
    data: Buffer.from('0000'),
  });
  for (const [p, f] of Object.entries(extra)) files.set(p, f);
  return { name: 'libs-release-local', packageType: 'maven', kind: 'local', files };
}

function rawRepo(count: number, name = 'files'): FixtureRepo {
  const files = new Map<string, FixtureFile>();
  for (let i = 0; i < count; i++) {
    files.set(`tools/v${i}/tool-${i}.txt`, { data: Buffer.from(`tool ${i}\n`.repeat(i + 1)) });
  }
  return { name, packageType: 'generic', kind: 'local', files };
}

const REMOTE: FixtureRepo = {
  name: 'maven-central-cache',
  packageType: 'maven',
  kind: 'remote',
  files: new Map(),
};
const UNKNOWN: FixtureRepo = {
  name: 'conan-local',
  packageType: 'conan',
  kind: 'local',
  files: new Map([['a/b', { data: Buffer.from('x') }]]),
};

async function get(url: string, auth?: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, auth === undefined ? {} : { headers: { authorization: auth } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe('nora import', { skip }, () => {
  test('artifactory: assess, then run into a NORA with auth on; a re-run skips everything', async () => {
    await using work = await tempDir('nora-import-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, htpasswdOf({ alice: 'alice-pw-1' }));
    await using server = await serveNora(
      { dir: work.path },
      {
        NORA_AUTH_ENABLED: 'true',
        NORA_AUTH_HTPASSWD_FILE: htpasswd,
        NORA_AUTH_ADMIN_USERS: 'alice',
        NORA_MAVEN_PROXIES: 'none',
      },
    );
    const auth = `Basic ${Buffer.from('svc:s3cret').toString('base64')}`;
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      authorization: auth,
      repos: [mavenRepo(), rawRepo(3), REMOTE, UNKNOWN],
    });
    const env = {
      NORA_IMPORT_AUTH: 'svc:s3cret',
      NORA_IMPORT_TARGET_USER: 'alice',
      NORA_IMPORT_TARGET_PASSWORD: 'alice-pw-1',
    };
    const common = sourceArgs('artifactory', source.url, server.url);
    const assessed = await nora(['import', 'assess', ...common, '--json'], env);
    assert.equal(assessed.code, 0, assessed.stderr);
    const report = JSON.parse(assessed.stdout) as {
      repositories: {
        name: string;
        action: string;
        reason?: string;
        target?: { path: string };
        importable: { files: number; bytes: number };
        ignored: Record<string, { files: number }>;
      }[];
      totals: { byFormat: Record<string, { files: number; bytes: number }> };
    };
    const byName = new Map(report.repositories.map((r) => [r.name, r]));
    const maven = byName.get('libs-release-local');
    assert.ok(maven !== undefined);
    assert.equal(maven.action, 'import');
    // The default hosted repository, not the /maven2 group (its proxy member may be unreachable).
    assert.equal(maven.target?.path, '/repository/maven-hosted');
    assert.equal(maven.importable.files, 2);
    assert.equal(
      maven.importable.bytes,
      [...(real ?? new Map<string, FixtureFile>()).values()].reduce((s, f) => s + f.data.length, 0),
    );
    assert.equal(
      Object.values(maven.ignored).reduce((s, t) => s + t.files, 0),
      2,
    );
    assert.equal(byName.get('files')?.target?.path, '/raw');
    assert.match(byName.get('maven-central-cache')?.reason ?? '', /remote repository: a cache/);
    assert.match(byName.get('conan-local')?.reason ?? '', /"conan": NORA has no such format/);
    assert.deepEqual(report.totals.byFormat, {
      maven: { files: 2, bytes: maven.importable.bytes },
      raw: { files: 3, bytes: byName.get('files')?.importable.bytes },
    });
    const text = await nora(['import', 'assess', ...common], env);
    assert.match(
      text.stdout,
      /import libs-release-local \(local maven\) → maven-hosted \(\/repository\/maven-hosted\/\): 2 files/,
    );

    const state = path.join(work.path, 'state.jsonl');
    const ran = await nora(['import', 'run', ...common, '--state', state], env);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /imported 5 files .*, 0 skipped, 0 failed/);
    const basicAlice = `Basic ${Buffer.from('alice:alice-pw-1').toString('base64')}`;
    for (const rel of REAL) {
      const got = await get(`${server.url}/maven2/${rel}`, basicAlice);
      assert.equal(got.status, 200, rel);
      assert.equal(sha256(got.body), sha256(real?.get(rel)?.data ?? Buffer.alloc(0)), rel);
    }
    // NORA generated the metadata (the source's was not copied) and computes the checksums.
    const metadata = await get(
      `${server.url}/maven2/commons-io/commons-io/maven-metadata.xml`,
      basicAlice,
    );
    assert.match(metadata.body.toString(), /<version>2\.16\.1<\/version>/);
    const jarSha1 = await get(
      `${server.url}/maven2/commons-io/commons-io/2.16.1/commons-io-2.16.1.jar.sha1`,
      basicAlice,
    );
    assert.notEqual(jarSha1.body.toString().trim(), '0000');
    const raw = await get(`${server.url}/raw/tools/v2/tool-2.txt`, basicAlice);
    assert.equal(raw.body.toString(), 'tool 2\n'.repeat(3));

    // Again: the state file says all is done, nothing is downloaded.
    const before = source.requests.length;
    const again = await nora(['import', 'run', ...common, '--state', state], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /imported 0 files .*, 5 skipped, 0 failed/);
    assert.equal(
      source.requests.slice(before).filter((r) => !r.includes('/api/')).length,
      0,
      'no download on a resumed run',
    );
    // Without the state: NORA already has them (HEAD), still nothing imported twice.
    const fresh = await nora(['import', 'run', ...common, '--state', `${state}.2`], env);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /imported 0 files .*, 5 skipped, 0 failed/);

    // Wrong NORA credentials: exit 1 naming the variables.
    const badTarget = await nora(['import', 'run', ...common, '--state', state], {
      ...env,
      NORA_IMPORT_TARGET_PASSWORD: 'wrong',
    });
    assert.equal(badTarget.code, 1);
    assert.match(badTarget.stderr, /401 .*NORA_IMPORT_TARGET_TOKEN/);
  });

  test('a checksum mismatch never lands in NORA; sha1-only and no-checksum files are refused', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path }, { NORA_MAVEN_PROXIES: 'none' });
    const data = Buffer.from('the real bytes\n');
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        {
          name: 'generic-local',
          packageType: 'generic',
          kind: 'local',
          files: new Map<string, FixtureFile>([
            ['bad/lying.bin', { data, sha256: sha256(Buffer.from('other bytes')) }],
            ['ok/fine.bin', { data }],
            ['old/sha1-only.bin', { data, sha256: null }],
            ['old/none.bin', { data, sha256: null, sha1: null }],
          ]),
        },
      ],
    });
    const args = ['import', 'run', '--source', 'artifactory', '--url', source.url];
    const common = [...args, '--registry', server.url, '--allow-private-cidrs'];
    const state = path.join(work.path, 's.jsonl');
    const ran = await nora([...common, '--state', state]);
    assert.equal(ran.code, 1, ran.stdout);
    assert.match(ran.stdout, /FAILED generic-local\/bad\/lying\.bin: .*sha256 mismatch/);
    assert.match(
      ran.stdout,
      /cannot import generic-local\/old\/sha1-only\.bin: only a sha1 .*--allow-sha1/,
    );
    assert.match(ran.stdout, /cannot import generic-local\/old\/none\.bin: no checksum listed/);
    assert.equal((await get(`${server.url}/raw/bad/lying.bin`)).status, 404);
    assert.equal((await get(`${server.url}/raw/ok/fine.bin`)).status, 200);
    assert.equal((await get(`${server.url}/raw/old/sha1-only.bin`)).status, 404);

    const sha1 = await nora([...common, '--state', state, '--allow-sha1', '--json']);
    const report = JSON.parse(sha1.stdout) as {
      totals: { imported: { files: number }; failed: number };
      failures: { path: string; reason: string }[];
    };
    assert.equal(report.totals.imported.files, 1);
    assert.deepEqual(
      report.failures.map((f) => f.path),
      ['bad/lying.bin'],
    );
    assert.equal(
      (await get(`${server.url}/raw/old/sha1-only.bin`)).body.toString(),
      data.toString(),
    );

    // The SSRF guard: 127.0.0.1 without --allow-private-cidrs is refused before any request.
    const before = source.requests.length;
    const refused = await nora([...args, '--registry', server.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refusing 127\.0\.0\.1: .*loopback.*--allow-private-cidrs/);
    assert.equal(source.requests.length, before);
  });

  test('Ctrl-C while the source is still listed: exit 130 with a line on stderr (trial 31)', async () => {
    await using work = await tempDir('nora-import-int-');
    // A source that accepts the request and never answers: the run is inside openSession.
    const held: http.ServerResponse[] = [];
    let child: ReturnType<typeof spawn> | undefined;
    const source = http.createServer((_req, res) => {
      held.push(res);
      child?.kill('SIGINT');
    });
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = source.address() as AddressInfo;
      child = spawn(
        process.execPath,
        [
          BIN,
          'import',
          'run',
          '--source',
          'artifactory',
          '--url',
          `http://127.0.0.1:${port}`,
          '--registry',
          'http://127.0.0.1:9',
          '--allow-private-cidrs',
          '--state',
          path.join(work.path, 's.jsonl'),
        ],
        { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child?.on('exit', resolve));
      assert.equal(code, 130, err);
      assert.match(err, /^nora import run: interrupted before any file was imported$/m);
    } finally {
      for (const res of held) res.destroy();
      source.closeAllConnections();
      await new Promise<void>((resolve) =>
        source.close(() => {
          resolve();
        }),
      );
    }
  });

  test('nexus: paging, bad NORA_IMPORT_AUTH, Ctrl-C then resume', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path }, { NORA_MAVEN_PROXIES: 'none' });
    await using source = await startSourceFixture({
      flavour: 'nexus',
      authorization: 'Bearer nexus-token',
      pageSize: 4,
      delayMs: 150,
      repos: [
        { ...rawRepo(13, 'raw-hosted'), packageType: 'raw' },
        { ...mavenRepo(), name: 'maven-releases', packageType: 'maven2' },
      ],
    });
    const common = [
      'import',
      'run',
      '--source',
      'nexus',
      '--url',
      source.url,
      '--registry',
      server.url,
      '--allow-private-cidrs',
      '--concurrency',
      '2',
    ];
    const bad = await nora(common, { NORA_IMPORT_AUTH: 'wrong-token' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /401 Unauthorized from GET .*NORA_IMPORT_AUTH/);

    // Ctrl-C after the first file: exit 130, what was done is in the state file.
    const state = path.join(work.path, 'nexus.jsonl');
    const child = spawn(process.execPath, [BIN, ...common, '--state', state], {
      env: { ...cleanEnv(), NORA_IMPORT_AUTH: 'nexus-token' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/imported raw-hosted\//.test(out)) resolve();
      });
    });
    child.kill('SIGINT');
    assert.equal(await exited, 130, out);
    assert.match(out, /INTERRUPTED: .*run the same command again to resume/);
    // One line on stderr too (stdout may go to a file): trial 31 saw nothing.
    assert.match(
      err,
      /^nora import run: interrupted: \d+ files? done; run again with the same --state .*nexus\.jsonl to resume$/m,
    );
    const done = (await fs.readFile(state, 'utf8')).trim().split('\n').length;
    assert.ok(done >= 1 && done < 15, `${done} lines in the state`);

    const resumed = await nora([...common, '--state', state], { NORA_IMPORT_AUTH: 'nexus-token' });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const imported = Number(/imported (\d+) files/.exec(resumed.stdout)?.[1]);
    const skipped = Number(/(\d+) skipped, 0 failed/.exec(resumed.stdout)?.[1]);
    assert.equal(imported + skipped, 15, resumed.stdout);
    assert.ok(skipped >= done, resumed.stdout);
    // Paging: 13 raw files in pages of 4 = 4 pages.
    const pages = source.requests.filter((r) =>
      r.includes('/service/rest/v1/assets?repository=raw-hosted'),
    );
    assert.ok(
      pages.some((p) => p.includes('continuationToken=12')),
      pages.join('\n'),
    );
    for (let i = 0; i < 13; i++) {
      const got = await get(`${server.url}/raw/tools/v${i}/tool-${i}.txt`);
      assert.equal(got.body.toString(), `tool ${i}\n`.repeat(i + 1));
    }
  });

  test('usage errors exit 2', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['--source', 'jfrog', '--url', 'http://127.0.0.1:9'],
        {},
        /--source jfrog: give artifactory or nexus/,
      ],
      [['--source', 'nexus', '--url', 'http://u:p@127.0.0.1:9'], {}, /must not hold credentials/],
      [
        ['--source', 'nexus', '--url', 'http://127.0.0.1:9', '--grant-write'],
        {},
        /--grant-write goes with --with-permissions/,
      ],
      [
        ['--source', 'nexus', '--url', 'http://127.0.0.1:9'],
        { NORA_IMPORT_AUTH: 'a\nb' },
        /control character/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const result = await nora(['import', 'run', ...args], env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });
});

describe('nora import: verification before the last byte', () => {
  test('a 100 KB–1 MB file whose last byte differs from its listed sha256 never lands (artifactory, nexus)', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path }, { NORA_MAVEN_PROXIES: 'none' });
    const tampered = (size: number): FixtureFile => {
      const data = Buffer.alloc(size, 7);
      const listed = sha256(data);
      const sent = Buffer.from(data);
      sent[size - 1] = 8;
      return { data: sent, sha256: listed };
    };
    for (const flavour of ['artifactory', 'nexus'] as const) {
      await using source = await startSourceFixture({
        flavour,
        repos: [
          {
            name: `gen-${flavour}`,
            packageType: flavour === 'artifactory' ? 'generic' : 'raw',
            kind: 'local',
            files: new Map<string, FixtureFile>([
              [`${flavour}/small.bin`, tampered(100 * 1024)],
              [`${flavour}/mid.bin`, tampered(300 * 1024 + 17)],
              [`${flavour}/big.bin`, tampered(1024 * 1024)],
            ]),
          },
          {
            name: `mvn-${flavour}`,
            packageType: flavour === 'artifactory' ? 'maven' : 'maven2',
            kind: 'local',
            files: new Map<string, FixtureFile>([
              [`org/${flavour}/lib/1.0/lib-1.0.jar`, tampered(512 * 1024)],
            ]),
          },
        ],
      });
      const ran = await nora([
        'import',
        'run',
        ...sourceArgs(flavour, source.url, server.url),
        '--state',
        path.join(work.path, `${flavour}.jsonl`),
      ]);
      assert.equal(ran.code, 1, ran.stdout + ran.stderr);
      assert.match(ran.stdout, /imported 0 files .*, 0 skipped, 4 failed/);
      for (const name of ['small', 'mid', 'big']) {
        assert.match(
          ran.stdout,
          new RegExp(`FAILED gen-${flavour}/${flavour}/${name}\\.bin: .*sha256 mismatch`),
        );
        assert.equal((await get(`${server.url}/raw/${flavour}/${name}.bin`)).status, 404, name);
      }
      assert.equal(
        (await get(`${server.url}/maven2/org/${flavour}/lib/1.0/lib-1.0.jar`)).status,
        404,
      );
    }
  });
});

describe('nora import: listed paths', () => {
  test('a path with empty, . or .. segments, a backslash or a control character cannot be imported', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path }, { NORA_MAVEN_PROXIES: 'none' });
    const bad = [
      '../repository/libs/evil/evil.txt',
      'a/../../escape.txt',
      'a/./dot.txt',
      'a//empty.txt',
      'a\\back.txt',
      'a/ctl\u0001.txt',
      'a/nul\u0000.txt',
      'a/..',
    ];
    const files = new Map<string, FixtureFile>([
      ...bad.map((p) => [p, { data: Buffer.from('evil\n') }] as const),
      ['ok/fine.txt', { data: Buffer.from('fine\n') }],
    ]);
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [{ name: 'files', packageType: 'generic', kind: 'local', files }],
    });
    const common = sourceArgs('artifactory', source.url, server.url);
    const assessed = await nora(['import', 'assess', ...common, '--json']);
    assert.equal(assessed.code, 0, assessed.stderr);
    const report = JSON.parse(assessed.stdout) as {
      totals: { importable: { files: number }; unimportable: { files: number } };
    };
    assert.equal(report.totals.importable.files, 1);
    assert.equal(report.totals.unimportable.files, bad.length);

    const state = path.join(work.path, 's');
    const ran = await nora(['import', 'run', ...common, '--state', state]);
    // A CI job must not pass over a partial copy: files that cannot be imported exit 1, and the
    // summary says so and how to expect them.
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(
      ran.stdout,
      new RegExp(
        `imported 1 file \\(.*\\), 0 skipped, 0 failed, ${bad.length} cannot be imported \\(exit 1: pass --allow-unimportable if they are expected\\)\\n`,
      ),
    );
    assert.equal(
      (ran.stdout.match(/cannot import files\/.*: unsafe path/g) ?? []).length,
      bad.length,
      ran.stdout,
    );
    // Expected: exit 0, said in the summary; --json totals count them either way.
    const allowed = await nora([
      'import',
      'run',
      ...common,
      '--state',
      state,
      '--allow-unimportable',
    ]);
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.match(
      allowed.stdout,
      new RegExp(`${bad.length} cannot be imported \\(expected: --allow-unimportable\\)\\n`),
    );
    const json = await nora(['import', 'run', ...common, '--state', state, '--json']);
    assert.equal(json.code, 1, json.stdout + json.stderr);
    const totals = (JSON.parse(json.stdout) as { totals: { unimportable: number } }).totals;
    assert.equal(totals.unimportable, bad.length);
    const dry = await nora(['import', 'run', ...common, '--dry-run']);
    assert.equal(dry.code, 1, dry.stdout + dry.stderr);
    assert.equal((await get(`${server.url}/repository/libs/evil/evil.txt`)).status, 404);
    assert.equal((await get(`${server.url}/escape.txt`)).status, 404);
    assert.equal((await get(`${server.url}/raw/ok/fine.txt`)).status, 200);
    // Nothing but the listing and the one good file was asked of the source.
    assert.deepEqual(
      source.requests.filter((r) => !r.includes('/api/')),
      ['GET /files/ok/fine.txt'],
    );
  });
});

describe('nora import: default targets', { skip }, () => {
  test('maven and npm go to the default hosted repository, not a group whose proxy is unreachable; --map takes it', async () => {
    await using work = await tempDir('nora-import-');
    // Air-gapped: the proxies answer nothing (a closed port), so the groups' reads would be 502s.
    await using server = await serveNora(
      { dir: work.path },
      { NORA_MAVEN_PROXIES: 'http://127.0.0.1:9/', NORA_NPM_PROXY: 'http://127.0.0.1:9/' },
    );
    const tarball = makeTarball({ 'package.json': '{"name":"offline","version":"1.0.0"}' });
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        mavenRepo(),
        { ...rawRepo(2, 'libs'), packageType: 'maven', files: new Map(mavenRepo().files) },
        {
          name: 'npm-local',
          packageType: 'npm',
          kind: 'local',
          files: new Map([['offline/-/offline-1.0.0.tgz', { data: tarball }]]),
        },
      ],
    });
    const common = sourceArgs('artifactory', source.url, server.url);
    const ran = await nora([
      'import',
      'run',
      ...common,
      '--repos',
      'libs-release-local,npm-local',
      '--state',
      path.join(work.path, 's1'),
    ]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /→ maven-hosted \(\/repository\/maven-hosted\/\)/);
    assert.match(ran.stdout, /→ npm-hosted \(\/repository\/npm-hosted\/\)/);
    assert.match(ran.stdout, /imported 3 files/);
    for (const rel of REAL) {
      const got = await get(`${server.url}/repository/maven-hosted/${rel}`);
      assert.equal(got.status, 200, rel);
    }
    const packument = await get(`${server.url}/repository/npm-hosted/offline`);
    assert.equal(packument.status, 200);

    // --map to the default hosted repository the dashboard lists: accepted (already there).
    const mapped = await nora([
      'import',
      'run',
      ...common,
      '--repos',
      'libs',
      '--map',
      'libs=maven-hosted',
      '--state',
      path.join(work.path, 's2'),
    ]);
    assert.equal(mapped.code, 0, mapped.stdout + mapped.stderr);
    assert.match(mapped.stdout, /libs: 0 imported .*, 2 skipped, 0 failed/);
  });
});

describe('nora import: files NORA already has', () => {
  test('different bytes at the path are a failure naming both digests; the same bytes are skipped', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path }, { NORA_MAVEN_PROXIES: 'none' });
    const same = Buffer.from('the same bytes\n');
    const source = Buffer.from('the source bytes\n');
    const theirs = Buffer.from('what NORA holds\n');
    for (const [p, data] of [
      ['keep/same.txt', same],
      ['keep/differs.txt', theirs],
    ] as const) {
      const put = await fetch(`${server.url}/raw/${p}`, { method: 'PUT', body: data });
      assert.equal(put.status, 201, p);
    }
    await using fixture = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        {
          name: 'files',
          packageType: 'generic',
          kind: 'local',
          files: new Map<string, FixtureFile>([
            ['keep/same.txt', { data: same }],
            ['keep/differs.txt', { data: source }],
          ]),
        },
      ],
    });
    const ran = await nora([
      'import',
      'run',
      ...sourceArgs('artifactory', fixture.url, server.url),
      '--state',
      path.join(work.path, 's'),
    ]);
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /skipped files\/keep\/same\.txt: already in NORA \(same sha256\)/);
    assert.match(
      ran.stdout,
      new RegExp(
        `FAILED files/keep/differs\\.txt: NORA has different bytes at this path: sha256 ${sha256(theirs)}, source ${sha256(source)}`,
      ),
    );
  });
});

describe('nora import: default state path', () => {
  test('with no config file the state goes to ./nora-import-state/<host>.jsonl', async () => {
    await using work = await tempDir('nora-import-');
    await fs.mkdir(path.join(work.path, 'nora'));
    await using server = await serveNora({ dir: path.join(work.path, 'nora') });
    await using fixture = await startSourceFixture({ flavour: 'nexus', repos: [rawRepo(1, 'r')] });
    const cwd = path.join(work.path, 'here');
    await fs.mkdir(cwd);
    const args = ['import', 'run', '--source', 'nexus', '--url', fixture.url];
    const ran = await nora([...args, '--registry', server.url, '--allow-private-cidrs'], {}, cwd);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const host = new URL(fixture.url).host.replace(':', '_');
    const to = new URL(server.url).host.replace(':', '_');
    const expected = path.join(cwd, 'nora-import-state', `${host}-to-${to}.jsonl`);
    assert.match(ran.stdout, new RegExp(`resume state: ${expected.replaceAll('.', '\\.')}`));
    assert.equal((await fs.readFile(expected, 'utf8')).trim().split('\n').length, 1);
  });

  test('the same command into a second NORA copies everything: the state is per target', async () => {
    await using work = await tempDir('nora-import-');
    await using fixture = await startSourceFixture({ flavour: 'nexus', repos: [rawRepo(3, 'r')] });
    const cwd = path.join(work.path, 'here');
    await fs.mkdir(cwd);
    // The default state, then one --state file given to both runs.
    for (const [round, more] of [[], ['--state', path.join(work.path, 'shared.jsonl')]].entries()) {
      await fs.mkdir(path.join(work.path, `a${round}`));
      await fs.mkdir(path.join(work.path, `b${round}`));
      await using a = await serveNora({ dir: path.join(work.path, `a${round}`) });
      await using b = await serveNora({ dir: path.join(work.path, `b${round}`) });
      const run = (registry: string) =>
        nora(['import', 'run', ...sourceArgs('nexus', fixture.url, registry), ...more], {}, cwd);
      const intoA = await run(a.url);
      assert.equal(intoA.code, 0, intoA.stdout + intoA.stderr);
      assert.match(intoA.stdout, /imported 3 files .*, 0 skipped/);
      // B is another NORA: nothing the state says about A counts as done there.
      const intoB = await run(b.url);
      assert.equal(intoB.code, 0, intoB.stdout + intoB.stderr);
      assert.match(intoB.stdout, /imported 3 files .*, 0 skipped/);
      const got = await get(`${b.url}/raw/tools/v2/tool-2.txt`);
      assert.equal(got.status, 200);
      assert.equal(got.body.toString(), 'tool 2\n'.repeat(3));
      // Into A again: its state still says done.
      const again = await run(a.url);
      assert.match(again.stdout, /imported 0 files .*, 3 skipped/);
    }
  });

  test('a NORA wiped (or restored) at the same address: the state is not taken as done, and the run says so', async () => {
    await using work = await tempDir('nora-import-');
    await using fixture = await startSourceFixture({ flavour: 'nexus', repos: [rawRepo(3, 'r')] });
    const dir = path.join(work.path, 'nora');
    const state = path.join(work.path, 'state.jsonl');
    const port = await freePort();
    const start = async () => {
      await fs.mkdir(dir, { recursive: true });
      return startNoraProcess({
        port,
        cwd: dir,
        env: { NORA_STORAGE_PATH: path.join(dir, 'storage') },
      });
    };
    const run = (registry: string) =>
      nora(['import', 'run', ...sourceArgs('nexus', fixture.url, registry), '--state', state]);
    const installationOf = async (url: string): Promise<string> => {
      const got = await get(`${url}/api/v1/repositories`);
      assert.equal(got.status, 200);
      const { installation } = JSON.parse(got.body.toString()) as { installation: string };
      assert.match(installation, /^[0-9a-f-]{36}$/);
      return installation;
    };
    let before: string;
    {
      await using first = await start();
      before = await installationOf(first.url);
      const ran = await run(first.url);
      assert.equal(ran.code, 0, ran.stdout + ran.stderr);
      assert.match(ran.stdout, /imported 3 files .*, 0 skipped/);
      assert.match(await fs.readFile(state, 'utf8'), new RegExp(`"installation":"${before}"`));
      const again = await run(first.url);
      assert.match(again.stdout, /imported 0 files .*, 3 skipped/);
      assert.doesNotMatch(again.stdout, /another installation/);
    }
    // Wiped: the same address, an empty storage.
    await fs.rm(dir, { recursive: true });
    await using second = await start();
    const after = await installationOf(second.url);
    assert.notEqual(after, before);
    assert.equal((await get(`${second.url}/raw/tools/v2/tool-2.txt`)).status, 404);
    const redo = await run(second.url);
    assert.equal(redo.code, 0, redo.stdout + redo.stderr);
    assert.match(redo.stdout, /imported 3 files .*, 0 skipped/);
    assert.match(
      redo.stdout,
      new RegExp(
        `records 3 files as done in ${second.url} by another installation of it \\(NORA's installation id is now ${after}\\): its storage is new \\(wiped or restored\\), so they are imported again`,
      ),
    );
    assert.match(
      redo.stdout,
      /note: the resume state records 3 files/,
      'said again under the total',
    );
    const got = await get(`${second.url}/raw/tools/v2/tool-2.txt`);
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'tool 2\n'.repeat(3));
    // The state now knows the new installation: a third run skips.
    const third = await run(second.url);
    assert.match(third.stdout, /imported 0 files .*, 3 skipped/);
    assert.doesNotMatch(third.stdout, /another installation/);
  });

  test('a --state that cannot be written is a usage error before anything is imported', async () => {
    await using work = await tempDir('nora-import-');
    await fs.mkdir(path.join(work.path, 'nora'));
    await using server = await serveNora({ dir: path.join(work.path, 'nora') });
    await using fixture = await startSourceFixture({ flavour: 'nexus', repos: [rawRepo(1, 'r')] });
    const missing = path.join(work.path, 'no', 'such', 's.jsonl');
    for (const state of ['/proc/x.jsonl', work.path, missing]) {
      const ran = await nora([
        'import',
        'run',
        ...sourceArgs('nexus', fixture.url, server.url),
        '--state',
        state,
      ]);
      assert.equal(ran.code, 2, `${state}: ${ran.stdout}${ran.stderr}`);
      assert.ok(ran.stderr.includes(`--state ${state}: cannot use it`), ran.stderr);
      assert.doesNotMatch(ran.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(ran.stdout, /imported/);
    }
    await assert.rejects(fs.stat(path.dirname(missing)), 'its folders are not created');
    const got = await get(`${server.url}/raw/tools/v0/tool-0.txt`);
    assert.equal(got.status, 404);
  });
});

describe('nora import: wording', () => {
  test('--repos "" is a usage error; 1 file; timeouts in words; a dry run says it checked nothing', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path }, { NORA_MAVEN_PROXIES: 'none' });
    await using fixture = await startSourceFixture({
      flavour: 'artifactory',
      repos: [rawRepo(1, 'one')],
    });
    const common = [
      '--source',
      'artifactory',
      '--url',
      fixture.url,
      '--registry',
      server.url,
      '--allow-private-cidrs',
    ];
    const empty = await nora(['import', 'assess', ...common, '--repos', ' , ']);
    assert.equal(empty.code, 2, empty.stdout + empty.stderr);
    assert.match(empty.stderr, /--repos names no repository/);

    const assessed = await nora(['import', 'assess', ...common]);
    assert.match(assessed.stdout, /: 1 file, /);
    assert.match(assessed.stdout, /total: 1 file, /);
    assert.match(assessed.stdout, /; 0 repositories not imported\n/);
    // One remote repository beside it: "1 repository", singular (trial 30 newA F12).
    await using withRemote = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        rawRepo(1, 'one'),
        { name: 'far', packageType: 'generic', kind: 'remote', files: new Map() },
      ],
    });
    const one = await nora([
      'import',
      'assess',
      ...common.slice(0, 3),
      withRemote.url,
      ...common.slice(4),
    ]);
    assert.match(one.stdout, /; 1 repository not imported\n/, one.stdout + one.stderr);

    const dry = await nora(['import', 'run', ...common, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /would import 1 file \(.*neither NORA nor the resume state was checked/,
    );

    // NORA unreadable (nothing listens on port 9): the line says why the target is unknown.
    const blind = await nora([
      'import',
      'run',
      ...common.slice(0, 4),
      '--registry',
      'http://127.0.0.1:9',
      '--allow-private-cidrs',
      '--dry-run',
    ]);
    assert.equal(blind.code, 0, blind.stdout + blind.stderr);
    assert.match(
      blind.stdout,
      /would import one \(generic\) → target unknown: NORA at http:\/\/127\.0\.0\.1:9 could not be read\n/,
    );
    assert.doesNotMatch(blind.stdout, /\?/);

    // Nexus repositories in Nexus's words (hosted, proxy, group), never Artifactory's.
    await using nexus = await startSourceFixture({
      flavour: 'nexus',
      repos: [
        rawRepo(1, 'one'),
        { name: 'far', packageType: 'raw', kind: 'remote', files: new Map() },
        { name: 'all', packageType: 'raw', kind: 'virtual', files: new Map() },
      ],
    });
    const nx = await nora([
      'import',
      'assess',
      '--source',
      'nexus',
      ...common.slice(2, 3),
      nexus.url,
      ...common.slice(4),
    ]);
    assert.equal(nx.code, 0, nx.stdout + nx.stderr);
    assert.match(nx.stdout, /import one \(hosted /);
    assert.match(nx.stdout, /skip {3}far \(proxy raw\): proxy repository: a cache of an upstream/);
    assert.match(nx.stdout, /skip {3}all \(group raw\): group repository: a view over others/);
    assert.doesNotMatch(nx.stdout, /local|remote|virtual/);

    await using slow = await startSourceFixture({
      flavour: 'artifactory',
      delayMs: 2500,
      repos: [rawRepo(1, 'slow')],
    });
    const timedOut = await nora([
      'import',
      'run',
      ...common.slice(0, 3),
      slow.url,
      ...common.slice(4),
      '--timeout-secs',
      '1',
      '--state',
      path.join(work.path, 's'),
    ]);
    assert.equal(timedOut.code, 1, timedOut.stdout + timedOut.stderr);
    assert.match(timedOut.stdout, /FAILED slow\/.*: .*no answer within 1 s/);
    assert.doesNotMatch(timedOut.stdout, /Timeout Error/);
  });
});

describe('nora import: NORA goes away', () => {
  test('a NORA that refuses connections stops the run with one message, not one failure per file', async () => {
    // A NORA that answers the dashboard, then stops listening: every later connection is refused.
    const fake = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(
        JSON.stringify({
          registries: [
            {
              format: 'raw',
              mount: '/raw',
              repositories: [{ name: 'raw-hosted', kind: 'hosted', default: true }],
            },
          ],
        }),
      );
      fake.close();
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const { port } = fake.address() as AddressInfo;
    await using fixture = await startSourceFixture({
      flavour: 'artifactory',
      repos: [rawRepo(30, 'many')],
    });
    await using work = await tempDir('nora-import-');
    const ran = await nora([
      'import',
      'run',
      '--source',
      'artifactory',
      '--url',
      fixture.url,
      '--registry',
      `http://127.0.0.1:${port}`,
      '--allow-private-cidrs',
      '--concurrency',
      '2',
      '--state',
      path.join(work.path, 's'),
    ]);
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(ran.stderr, /NORA at http:\/\/127\.0\.0\.1:\d+ does not answer .*: stopped/);
    const failed = (ran.stdout.match(/^FAILED /gm) ?? []).length;
    assert.ok(failed >= 1 && failed <= 2, ran.stdout);
  });
});

/**
 * A front for NORA at `upstream` answering `status` (empty body) for every path starting with
 * `refused`, forwarding the rest: a reverse proxy that exposes only the registries (`/api/ui/`
 * refused), or an older NORA without `/api/v1/repositories` (404).
 */
async function frontOf(
  upstream: string,
  refused: string,
  status: number,
): Promise<{ url: string } & AsyncDisposable> {
  const target = new URL(upstream);
  const front = http.createServer((req, res) => {
    if ((req.url ?? '/').startsWith(refused)) {
      res.writeHead(status).end();
      return;
    }
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const { port } = front.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        front.closeAllConnections();
        front.close(() => {
          resolve();
        });
      }),
  };
}

describe('nora import: target discovery', () => {
  test('works when /api/ui/ is refused (the repository API), and against an older NORA without that API (the dashboard)', async () => {
    await using work = await tempDir('nora-import-');
    await using server = await serveNora({ dir: work.path });
    for (const [refused, status, name] of [
      ['/api/ui/', 403, 'no-ui'],
      ['/api/v1/repositories', 404, 'older'],
    ] as const) {
      await using front = await frontOf(server.url, refused, status);
      await using fixture = await startSourceFixture({
        flavour: 'artifactory',
        repos: [
          {
            name,
            packageType: 'generic',
            kind: 'local',
            files: new Map([[`${name}/file.txt`, { data: Buffer.from(`${name}\n`) }]]),
          },
        ],
      });
      const ran = await nora([
        'import',
        'run',
        ...sourceArgs('artifactory', fixture.url, front.url),
        '--state',
        path.join(work.path, `${name}.jsonl`),
      ]);
      assert.equal(ran.code, 0, `${name}: ${ran.stdout}${ran.stderr}`);
      assert.match(ran.stdout, /imported 1 file/, name);
      const got = await fetch(`${server.url}/raw/${name}/file.txt`);
      assert.equal(await got.text(), `${name}\n`, name);
    }
  });
});
