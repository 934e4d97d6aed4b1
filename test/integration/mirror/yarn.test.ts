/**
 * `nora mirror yarn`, the real thing, for both lock file formats: an upstream NORA hosts a
 * dependency tree; the real yarn classic (1.x) and yarn berry (2+) each write a yarn.lock
 * against it; a second NORA whose npm proxy is the first is pre-fetched by the real
 * `bin/nora.js mirror yarn --lockfile yarn.lock`; the upstream stops; then the real `yarn
 * install` of each lock file (classic `--frozen-lockfile`, berry `--immutable`), with empty
 * caches, works against the second NORA alone. The clients are pointed at it exactly as
 * docs/mirror.md ("Making the clients use the mirror") says: classic's `resolved` URLs
 * rewritten with the documented `sed` expressions (both of them: a lock written against another
 * NORA, and one written against a registry's root), berry's `npmRegistryServer` in .yarnrc.yml.
 *
 * The clients: scripts/install-test-clients.sh's `yarn1` and `yarn-berry` (.tools/bin), else a
 * `yarn` on PATH of the right major version; a test whose yarn is missing is skipped saying so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { isolatedNpmEnv } from '../../helpers/npm-ci.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
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
/** What `nora mirror yarn` pulls for the tree (mirror-c 1.0.0 is in no lock file). */
const LABELS = [
  'yarn mirror-root@3.0.0',
  'yarn mirror-a@1.0.0',
  'yarn @mirror/b@1.0.0',
  'yarn mirror-c@1.2.0',
  'yarn mirror-c@2.0.0',
  'yarn mirror-d@0.3.1',
];
const PACKAGE_JSON = JSON.stringify({
  name: 'app',
  version: '1.0.0',
  private: true,
  dependencies: { 'mirror-root': '^3.0.0' },
});
const TIMEOUT = 240_000;

interface Yarn {
  /** The executable (a path), run with node's own binary when it is a .js file. */
  readonly bin: string;
  readonly version: string;
}

/**
 * The first of `names` (found as findTool finds tools) whose `--version` has a major version
 * `major` accepts, or undefined. Corepack may not download a yarn while asked (a `yarn` shim).
 */
async function findYarn(
  names: readonly string[],
  major: (n: number) => boolean,
): Promise<Yarn | undefined> {
  for (const name of names) {
    const bin = findTool(name);
    if (bin === undefined) continue;
    const res = await run(bin, ['--version'], {
      check: false,
      timeoutMs: 30_000,
      env: { ...process.env, COREPACK_ENABLE_NETWORK: '0', COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' },
    }).catch(() => undefined);
    const version = res?.code === 0 ? res.stdout.trim() : '';
    const m = /^(\d+)\.\d+\.\d+/.exec(version);
    if (m !== null && major(Number(m[1]))) return { bin, version };
  }
  return undefined;
}

const classic = await findYarn(['yarn1', 'yarn'], (n) => n === 1);
const berry = await findYarn(['yarn-berry', 'yarn'], (n) => n >= 2);
const NO_CLASSIC =
  classic === undefined &&
  'yarn classic (1.x) not installed: no yarn1, nor a yarn 1.x on PATH (run scripts/install-test-clients.sh)';
const NO_BERRY =
  berry === undefined &&
  'yarn berry (2+) not installed: no yarn-berry, nor a yarn 2+ on PATH (run scripts/install-test-clients.sh)';

/** Runs `yarn` in `cwd` with `env`, yarn's own exit code and output. */
function yarn(which: Yarn, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv) {
  return run(which.bin, args, { cwd, env, timeoutMs: TIMEOUT, check: false });
}

/** yarn classic's environment: an isolated HOME, its own cache folder, no prompts. */
function classicEnv(home: string): NodeJS.ProcessEnv {
  return isolatedNpmEnv(home, {
    YARN_CACHE_FOLDER: path.join(home, 'yarn-cache'),
    YARN_DISABLE_SELF_UPDATE_CHECK: 'true',
  });
}

/** yarn berry's environment: its own cache and global folders (none shared), no telemetry. */
function berryEnv(home: string): NodeJS.ProcessEnv {
  return isolatedNpmEnv(home, {
    YARN_IGNORE_PATH: '1',
    YARN_ENABLE_TELEMETRY: '0',
    YARN_ENABLE_GLOBAL_CACHE: 'false',
    YARN_CACHE_FOLDER: path.join(home, 'berry-cache'),
    YARN_GLOBAL_FOLDER: path.join(home, 'berry-global'),
    // Fresh publishes resolve (berry 4's age gate would hide them when the lock is written).
    YARN_NPM_MINIMAL_AGE_GATE: '0',
  });
}

/** .yarnrc.yml naming `registry` (docs/mirror.md: berry reads the registry from here). */
function yarnrc(registry: string): string {
  return [
    `npmRegistryServer: "${registry}"`,
    'unsafeHttpWhitelist:',
    '  - "127.0.0.1"',
    'nodeLinker: node-modules',
    'enableGlobalCache: false',
    '',
  ].join('\n');
}

/** A directory holding package.json and `files`. */
async function project(dir: string, files: Record<string, string> = {}): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'package.json'), PACKAGE_JSON);
  for (const [name, text] of Object.entries(files)) {
    await fs.writeFile(path.join(dir, name), text);
  }
  return dir;
}

/** The version of `name` installed under `dir`/node_modules. */
async function installedVersion(dir: string, name: string): Promise<string> {
  const text = await fs.readFile(path.join(dir, 'node_modules', name, 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

describe('nora mirror yarn through a proxy NORA', { concurrency: false }, () => {
  let upstream: TestServer;
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  /** The lock files written against the upstream, before it stopped. */
  const locks: { classic?: string; berry?: string } = {};

  before(async () => {
    work = await tempDir('nora-mirror-yarn-');
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
    'yarn classic writes a v1 yarn.lock against the upstream; nora mirror yarn pulls it',
    { skip: NO_CLASSIC, timeout: TIMEOUT },
    async () => {
      assert.ok(classic);
      const dir = await project(path.join(work.path, 'classic-lock'));
      const home = path.join(work.path, 'home-classic-lock');
      const env = classicEnv(home);
      const args = ['install', '--ignore-scripts', '--non-interactive', '--no-progress'];
      const locked = await yarn(classic, [...args, '--registry', `${upstream.url}/npm/`], dir, env);
      assert.equal(locked.code, 0, output(locked));
      const file = path.join(dir, 'yarn.lock');
      const text = await fs.readFile(file, 'utf8');
      assert.match(text, /^# yarn lockfile v1/m);
      // yarn 1 writes each tarball's URL as the upstream's: what the offline round rewrites.
      assert.ok(
        text.includes(`resolved "${upstream.url}/npm/mirror-c/-/mirror-c-1.2.0.tgz#`),
        text,
      );
      assert.match(text, /integrity sha512-/);
      locks.classic = file;

      const mirrored = await nora(['mirror', 'yarn', '--lockfile', file, '--registry', server.url]);
      assert.equal(mirrored.code, 0, output(mirrored));
      for (const label of LABELS) {
        const line = new RegExp(`^ok {3}${label.replace(/[.@/]/g, '\\$&')} {2}\\(`, 'm');
        assert.match(mirrored.stdout, line, label);
      }
      assert.match(mirrored.stdout, /^nora mirror yarn: 6 fetched \(.+\), 0 failed through http/m);
    },
  );

  test(
    'yarn berry writes a berry yarn.lock against the upstream; nora mirror yarn pulls it',
    { skip: NO_BERRY, timeout: TIMEOUT },
    async () => {
      assert.ok(berry);
      const dir = await project(path.join(work.path, 'berry-lock'), {
        '.yarnrc.yml': yarnrc(`${upstream.url}/npm/`),
        'yarn.lock': '',
      });
      const env = {
        ...berryEnv(path.join(work.path, 'home-berry-lock')),
        YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
      };
      const locked = await yarn(berry, ['install', '--mode=skip-build'], dir, env);
      assert.equal(locked.code, 0, output(locked));
      const file = path.join(dir, 'yarn.lock');
      const text = await fs.readFile(file, 'utf8');
      assert.match(text, /^__metadata:/m);
      assert.match(text, /resolution: "mirror-c@npm:1\.2\.0"/);
      locks.berry = file;

      const mirrored = await nora(['mirror', 'yarn', '--lockfile', file, '--registry', server.url]);
      assert.equal(mirrored.code, 0, output(mirrored));
      for (const label of LABELS) {
        const line = new RegExp(`^ok {3}${label.replace(/[.@/]/g, '\\$&')} {2}\\(`, 'm');
        assert.match(mirrored.stdout, line, label);
      }
      assert.match(mirrored.stdout, /^nora mirror yarn: 6 fetched \(.+\), 0 failed through http/m);
    },
  );

  test(
    'the upstream stops; yarn install of both lock files works from the proxy alone',
    { skip: NO_CLASSIC && NO_BERRY, timeout: TIMEOUT },
    async (t) => {
      await upstream.close();
      assert.equal(
        await fetch(`${upstream.url}/health`).then(
          () => 'answered',
          () => 'down',
        ),
        'down',
      );
      if (locks.classic === undefined) {
        t.diagnostic(NO_CLASSIC || 'the classic lock file was not written (its test failed)');
      } else {
        assert.ok(classic);
        const written = await fs.readFile(locks.classic, 'utf8');
        // docs/mirror.md, for a lock written against another NORA: keep the path after the host.
        const fromNora = await project(path.join(work.path, 'classic-from-nora'), {
          'yarn.lock': written,
        });
        const expr = `s#${upstream.url}/#${server.url}/#`;
        await run('sed', ['-i', expr, path.join(fromNora, 'yarn.lock')]);
        // docs/mirror.md, for a lock written against a registry's root (made so from the same
        // lock: its URLs as a registry serving packages at its root spells them).
        const fromRoot = await project(path.join(work.path, 'classic-from-root'), {
          'yarn.lock': written.replaceAll(`${upstream.url}/npm/`, 'https://registry.example.com/'),
        });
        const rootExpr = `s#https\\?://[^/"]*/#${server.url}/npm/#`;
        await run('sed', ['-i', rootExpr, path.join(fromRoot, 'yarn.lock')]);
        for (const dir of [fromNora, fromRoot]) {
          const lock = await fs.readFile(path.join(dir, 'yarn.lock'), 'utf8');
          assert.ok(
            lock.includes(`resolved "${server.url}/npm/@mirror/b/-/b-1.0.0.tgz#`),
            `${dir}: ${lock}`,
          );
          assert.ok(!lock.includes(upstream.url) && !lock.includes('example.com'), lock);
          const env = classicEnv(path.join(`${dir}-home`));
          const installed = await yarn(
            classic,
            [
              'install',
              '--frozen-lockfile',
              '--ignore-scripts',
              '--non-interactive',
              '--no-progress',
              '--registry',
              `${server.url}/npm/`,
            ],
            dir,
            env,
          );
          assert.equal(installed.code, 0, `${dir}: ${output(installed)}`);
          assert.equal(await installedVersion(dir, 'mirror-d'), '0.3.1');
          assert.equal(await installedVersion(dir, '@mirror/b'), '1.0.0');
          // The lock file was used as it is (frozen): nothing re-resolved.
          assert.equal(await fs.readFile(path.join(dir, 'yarn.lock'), 'utf8'), lock);
        }
      }
      if (locks.berry === undefined) {
        t.diagnostic(NO_BERRY || 'the berry lock file was not written (its test failed)');
      } else {
        assert.ok(berry);
        const written = await fs.readFile(locks.berry, 'utf8');
        // docs/mirror.md: berry reads the registry from .yarnrc.yml; the lock file stays as it is.
        const dir = await project(path.join(work.path, 'berry-offline'), {
          '.yarnrc.yml': yarnrc(`${server.url}/npm/`),
          'yarn.lock': written,
        });
        const env = berryEnv(path.join(work.path, 'home-berry-offline'));
        const installed = await yarn(
          berry,
          ['install', '--immutable', '--mode=skip-build'],
          dir,
          env,
        );
        assert.equal(installed.code, 0, output(installed));
        assert.equal(await installedVersion(dir, 'mirror-d'), '0.3.1');
        assert.equal(await installedVersion(dir, '@mirror/b'), '1.0.0');
        assert.equal(await fs.readFile(path.join(dir, 'yarn.lock'), 'utf8'), written);
      }
    },
  );
});
