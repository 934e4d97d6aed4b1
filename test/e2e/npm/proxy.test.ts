/**
 * Proxy proof with the real clients: a second NORA (hosted) is the upstream of the default group.
 * Each client installs a dependency tree through the group with an empty cache; then the upstream
 * stops and a fresh project with a fresh cache installs again, from NORA's cache alone.
 * An opt-in test (NORA_TEST_REAL_NPM_UPSTREAM=1) installs a real lockfile through the proxy
 * pointed at the registry the machine's npm uses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { npmCiFixture } from '../../helpers/npm-ci.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import type { PackageSpec } from '../../integration/npm/fixtures.ts';
import { CLIENTS } from './clients.ts';

/** A small tree with a scoped package, shared dependencies and two versions of one. */
const TREE: PackageSpec[] = [
  { name: 'tree-c', version: '1.0.0' },
  { name: 'tree-c', version: '1.2.0' },
  { name: 'tree-c', version: '2.0.0' },
  { name: 'tree-d', version: '0.3.1', dependencies: { 'tree-c': '^2.0.0' } },
  { name: '@tree/b', version: '1.0.0', dependencies: { 'tree-c': '^1.0.0' } },
  { name: 'tree-a', version: '1.0.0', dependencies: { 'tree-c': '^1.1.0', 'tree-d': '~0.3.0' } },
  {
    name: 'tree-root',
    version: '3.0.0',
    dependencies: { 'tree-a': '^1.0.0', '@tree/b': '^1.0.0' },
  },
];
const EXPECTED = ['tree-root', 'tree-a', '@tree/b', 'tree-c', 'tree-d'];

async function hasInstalled(project: string, name: string): Promise<boolean> {
  // pnpm links direct dependencies only; the rest live under node_modules/.pnpm.
  const direct = path.join(project, 'node_modules', name, 'package.json');
  if (
    await fs.stat(direct).then(
      () => true,
      () => false,
    )
  )
    return true;
  const store = path.join(project, 'node_modules', '.pnpm');
  const entries = await fs.readdir(store).catch(() => [] as string[]);
  return entries.some((e) => e.startsWith(`${name.replace('/', '+')}@`));
}

async function startPair(): Promise<{ upstream: TestServer; server: TestServer }> {
  const upstream = await startTestServer();
  const up = new NpmHttp(`${upstream.url}/npm`);
  for (const spec of TREE) assert.equal((await up.publish(spec)).status, 201);
  // TTL 0: every packument read revalidates, so the offline round exercises stale serving.
  const server = await startTestServer({
    config: { npm: { proxy: `${upstream.url}/npm/`, metadata_ttl: 0 } },
  });
  const group = new NpmHttp(`${server.url}/npm`);
  const internal = {
    name: 'internal-tool',
    version: '1.0.0',
    dependencies: { 'tree-root': '^3.0.0' },
  };
  assert.equal((await group.publish(internal)).status, 201);
  return { upstream, server };
}

describe('npm proxy through the group, upstream = another NORA', { concurrency: false }, () => {
  for (const client of CLIENTS) {
    test(
      `${client.id}: install through the proxy, then again with the upstream down`,
      { skip: client.missing, timeout: 300_000 },
      async () => {
        // Each client gets its own pair: clients resolve ranges differently, so one client's
        // warm-up must not be what another client's offline round depends on.
        const { upstream, server } = await startPair();
        await using tmp = await tempDir(`nora-proxy-${client.id}-`);
        try {
          const install = async (label: string) => {
            const home = path.join(tmp.path, `home-${label}`);
            await fs.mkdir(home, { recursive: true });
            await client.configure({ registry: `${server.url}/npm/`, token: 'anonymous', home });
            const project = path.join(tmp.path, `project-${label}`);
            await fs.mkdir(project, { recursive: true });
            await fs.writeFile(
              path.join(project, 'package.json'),
              '{"name":"consumer","version":"1.0.0","private":true}\n',
            );
            await client.prepareProject(project);
            await client.install(project, ['internal-tool']);
            for (const name of ['internal-tool', ...EXPECTED]) {
              assert.ok(await hasInstalled(project, name), `${label}: ${name} installed`);
            }
          };
          await install('warm');
          await upstream.close();
          await install('offline');
          const group = new NpmHttp(`${server.url}/npm`);
          const cached = await group.packument('tree-root');
          assert.equal(cached.status, 200);
          assert.equal(cached.headers.get('x-nora-stale'), 'true');
          // The group's failed member is "not here": 404, saying which upstream and why.
          const unknown = await group.packument('never-cached-anywhere');
          assert.equal(unknown.status, 404);
          assert.match(unknown.json<{ error: string }>().error, /upstream npm-proxy#0 unreachable/);
        } finally {
          await server.close();
          await upstream.close();
        }
      },
    );
  }
});

const REAL = process.env['NORA_TEST_REAL_NPM_UPSTREAM'] === '1';

test(
  'opt-in: npm ci of a real lockfile through the proxy of the machine registry',
  {
    skip: REAL
      ? missingTools('npm')
      : 'set NORA_TEST_REAL_NPM_UPSTREAM=1 to install a real lockfile through the proxy',
    timeout: 600_000,
  },
  async () => {
    const registry = (await run('npm', ['config', 'get', 'registry'])).stdout.trim();
    assert.match(registry, /^https?:\/\//);
    await using server = await startTestServer({ config: { npm: { proxy: registry } } });
    await using tmp = await tempDir('nora-real-');
    const fixture = path.join(import.meta.dirname, 'fixtures', 'real-project');
    await npmCiFixture(fixture, tmp.path, `${server.url}/npm/`, 540_000);
    const express = JSON.parse(
      await fs.readFile(path.join(tmp.path, 'node_modules', 'express', 'package.json'), 'utf8'),
    ) as {
      version: string;
    };
    assert.equal(express.version, '4.21.2');
  },
);
