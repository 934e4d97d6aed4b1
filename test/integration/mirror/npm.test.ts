/**
 * `nora mirror npm`, the real thing (yarn's: yarn.test.ts): an upstream NORA hosts a dependency
 * tree; the real npm writes package-lock.json against it; a second NORA whose npm proxy is the
 * first is pre-fetched by the real `bin/nora.js mirror npm`; the upstream stops; then `npm ci`
 * (and a fresh `npm install`, which needs the packuments) work against the second alone.
 * Also: a missing package → exit 1 naming it, a tampered integrity → exit 1, a bad lock file →
 * exit 2, --packages with --all-versions, --json.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../npm/client.ts';
import type { PackageSpec } from '../npm/fixtures.ts';

const TREE: PackageSpec[] = [
  { name: 'mirror-c', version: '1.0.0' },
  { name: 'mirror-c', version: '1.2.0' },
  { name: 'mirror-c', version: '2.0.0' },
  { name: 'mirror-d', version: '0.3.1', dependencies: { 'mirror-c': '^2.0.0' } },
  { name: '@mirror/b', version: '1.0.0', dependencies: { 'mirror-c': '^1.0.0' } },
  {
    name: 'mirror-a',
    version: '1.0.0',
    dependencies: { 'mirror-c': '^1.1.0', 'mirror-d': '~0.3.0' },
  },
  {
    name: 'mirror-root',
    version: '3.0.0',
    dependencies: { 'mirror-a': '^1.0.0', '@mirror/b': '^1.0.0' },
  },
];
const TIMEOUT = 240_000;

describe('nora mirror npm through a proxy NORA', { concurrency: false }, () => {
  let upstream: TestServer;
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let lockfile: string;

  before(async () => {
    work = await tempDir('nora-mirror-npm-');
    upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const spec of TREE) assert.equal((await up.publish(spec)).status, 201, spec.name);
    // TTL 0: every packument read revalidates, so the offline round needs the stale copies.
    server = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/`, metadata_ttl: 0 } },
    });
  });

  after(async () => {
    await server.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  test(
    'npm writes the lock file, mirror pulls it, the upstream stops, npm ci and npm install work',
    { skip: missingTools('npm'), timeout: TIMEOUT },
    async () => {
      // The lock file, as a developer's npm writes it against the upstream registry.
      const project = path.join(work.path, 'project');
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(
        path.join(project, 'package.json'),
        JSON.stringify({
          name: 'app',
          version: '1.0.0',
          dependencies: { 'mirror-root': '^3.0.0' },
        }),
      );
      const env = await npmHome(path.join(work.path, 'home-lock'), `${upstream.url}/npm/`);
      const locked = await run(
        'npm',
        ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
        { cwd: project, env, timeoutMs: TIMEOUT, check: false },
      );
      assert.equal(locked.code, 0, output(locked));
      lockfile = path.join(project, 'package-lock.json');
      const lock = JSON.parse(await fs.readFile(lockfile, 'utf8')) as {
        lockfileVersion: number;
        packages: Record<string, unknown>;
      };
      assert.equal(lock.lockfileVersion, 3);

      const mirrored = await nora([
        'mirror',
        'npm',
        '--lockfile',
        lockfile,
        '--registry',
        server.url,
      ]);
      assert.equal(mirrored.code, 0, output(mirrored));
      for (const label of [
        'npm mirror-root@3.0.0',
        'npm mirror-a@1.0.0',
        'npm @mirror/b@1.0.0',
        'npm mirror-c@1.2.0',
        'npm mirror-c@2.0.0',
        'npm mirror-d@0.3.1',
      ]) {
        assert.match(
          mirrored.stdout,
          new RegExp(`^ok {3}${label.replace(/[.@/]/g, '\\$&')} {2}\\(`, 'm'),
          label,
        );
      }
      assert.match(mirrored.stdout, /^nora mirror npm: 6 fetched \(.+\), 0 failed through http/m);

      await upstream.close();
      assert.equal(
        await fetch(`${upstream.url}/health`).then(
          () => 'answered',
          () => 'down',
        ),
        'down',
      );

      // npm ci with the lock file as written (its resolved URLs name the upstream: npm's
      // replace-registry-host sends them to the configured registry, the air-gapped one).
      const ci = path.join(work.path, 'ci');
      await fs.mkdir(ci);
      await fs.copyFile(path.join(project, 'package.json'), path.join(ci, 'package.json'));
      await fs.copyFile(lockfile, path.join(ci, 'package-lock.json'));
      const ciEnv = await npmHome(path.join(work.path, 'home-ci'), `${server.url}/npm/`);
      const ciRun = await run(
        'npm',
        ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--replace-registry-host=always'],
        { cwd: ci, env: ciEnv, timeoutMs: TIMEOUT, check: false },
      );
      assert.equal(ciRun.code, 0, output(ciRun));
      const installed = JSON.parse(
        await fs.readFile(path.join(ci, 'node_modules', 'mirror-d', 'package.json'), 'utf8'),
      ) as { version: string };
      assert.equal(installed.version, '0.3.1');

      // A fresh install without the lock file resolves from the mirrored packuments.
      const fresh = path.join(work.path, 'fresh');
      await fs.mkdir(fresh);
      await fs.writeFile(path.join(fresh, 'package.json'), '{"name":"fresh","version":"1.0.0"}');
      const freshEnv = await npmHome(path.join(work.path, 'home-fresh'), `${server.url}/npm/`);
      const install = await run(
        'npm',
        ['install', '--ignore-scripts', '--no-audit', '--no-fund', 'mirror-root'],
        { cwd: fresh, env: freshEnv, timeoutMs: TIMEOUT, check: false },
      );
      assert.equal(install.code, 0, output(install));
      await fs.access(path.join(fresh, 'node_modules', '@mirror', 'b', 'package.json'));
    },
  );

  test('a package the server does not have: exit 1, its line names it and the path', async () => {
    const lock = path.join(work.path, 'missing-lock.json');
    await fs.writeFile(
      lock,
      JSON.stringify({
        name: 'app',
        lockfileVersion: 3,
        packages: {
          '': { name: 'app' },
          'node_modules/mirror-c': { version: '1.2.0' },
          'node_modules/no-such-pkg': { version: '1.0.0' },
        },
      }),
    );
    const res = await nora(['mirror', 'npm', '--lockfile', lock, '--registry', server.url]);
    assert.equal(res.code, 1, output(res));
    assert.match(res.stdout, /^fail npm no-such-pkg@1\.0\.0: 404 from \/npm\/no-such-pkg/m);
    assert.match(res.stdout, /^ok {3}npm mirror-c@1\.2\.0/m);
    assert.match(res.stdout, /1 fetched .*1 failed/);
  });

  test("a tarball whose bytes do not match the lock file's integrity: exit 1, mismatch", async () => {
    const lock = path.join(work.path, 'tampered-lock.json');
    const wrong = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
    await fs.writeFile(
      lock,
      JSON.stringify({
        lockfileVersion: 1,
        dependencies: { 'mirror-c': { version: '2.0.0', integrity: wrong } },
      }),
    );
    const res = await nora(['mirror', 'npm', '--lockfile', lock, '--registry', server.url]);
    assert.equal(res.code, 1, output(res));
    assert.match(
      res.stdout,
      /^fail npm mirror-c@2\.0\.0: sha512 mismatch for \/npm\/mirror-c\/-\/mirror-c-2\.0\.0\.tgz: the lock file pins 0101/m,
    );
  });

  test('bad input: exit 2 with one clear line, nothing fetched', async () => {
    const lock = path.join(work.path, 'bad-lock.json');
    await fs.writeFile(lock, '{"name": "app", "dependencies": {');
    const res = await nora(['mirror', 'npm', '--lockfile', lock, '--registry', server.url]);
    assert.equal(res.code, 2, output(res));
    assert.match(res.stderr, /^nora mirror npm: .*bad-lock\.json is not JSON: /);
    assert.equal(res.stdout, '');
    const neither = await nora(['mirror', 'npm', '--registry', server.url]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /name one input: --lockfile <file> or --packages <list>/);
    const creds = await nora([
      'mirror',
      'npm',
      '--packages',
      'x',
      '--registry',
      'http://u:p@127.0.0.1:1',
    ]);
    assert.equal(creds.code, 2);
    assert.match(creds.stderr, /must not hold credentials .*NORA_MIRROR_TOKEN/);
  });

  test('--packages with --all-versions and a range, --json', async () => {
    // A pair of its own: the first test stopped the shared upstream.
    await using origin = await startTestServer();
    const up = new NpmHttp(`${origin.url}/npm`);
    for (const spec of TREE) assert.equal((await up.publish(spec)).status, 201, spec.name);
    await using proxy = await startTestServer({ config: { npm: { proxy: `${origin.url}/npm/` } } });
    const res = await nora([
      'mirror',
      '--json',
      'npm',
      '--packages',
      'mirror-c,@mirror/b@^1',
      '--all-versions',
      '--registry',
      proxy.url,
      '--concurrency',
      '2',
    ]);
    assert.equal(res.code, 0, output(res));
    const report = JSON.parse(res.stdout) as {
      ok: boolean;
      fetched: number;
      items: { label: string; ok: boolean; bytes: number }[];
    };
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.items.map((item) => item.label),
      ['npm mirror-c@1.0.0', 'npm mirror-c@1.2.0', 'npm mirror-c@2.0.0', 'npm @mirror/b@1.0.0'],
    );
    assert.ok(report.items.every((item) => item.ok && item.bytes > 0));
    const one = await nora([
      'mirror',
      'npm',
      '--packages',
      'mirror-c@^1,nope-pkg',
      '--registry',
      proxy.url,
    ]);
    assert.equal(one.code, 1, output(one));
    assert.match(one.stdout, /^ok {3}npm mirror-c@1\.2\.0/m);
    assert.match(one.stdout, /^fail npm nope-pkg: 404 from \/npm\/nope-pkg/m);
  });
});
