/**
 * Issue 11 "Proof": the Docker and npm scenarios on the DEFAULT configuration, except that every
 * upstream is `http://127.0.0.1:9` (nothing listens: an air-gapped machine whose configuration
 * still names Docker Hub). Hosted work must not notice: skopeo push / list-tags / pull, the
 * README's `oras push` of a Helm chart, npm publish / install of a private package through the
 * default `/npm/` group — all quick, no waiting for timeouts. What nobody has is the protocol's
 * 404 naming the unreachable upstream; the failures are counted.
 *
 * Also: a publish through the group never sends the name upstream (a counting fixture upstream
 * sees no request mentioning it), per client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { expectError } from '../../integration/oci/helpers.ts';
import { CLIENTS } from '../npm/clients.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

const DEAD = 'http://127.0.0.1:9';
/** Everything here is local work: any step slower than this waited for an upstream. */
const QUICK_MS = 20_000;
const UNKNOWN = `sha256:${'0'.repeat(64)}`;

async function startDefault(): Promise<TestServer> {
  return startTestServer({
    config: { docker: { upstreams: [{ url: DEAD }] }, npm: { proxy: `${DEAD}/` } },
  });
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  assert.ok(ms < QUICK_MS, `${label} took ${Math.round(ms)} ms`);
  return result;
}

describe('Docker on the default config with an unreachable upstream', () => {
  let nora: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };

  before(async () => {
    nora = await startDefault();
    work = await tempDir('nora-airgap-oci-');
  });
  after(async () => {
    await nora.close();
    await work[Symbol.asyncDispose]();
  });

  const tool = (name: string, args: readonly string[], cwd = work.path) =>
    timed(`${name} ${args[0] ?? ''}`, () =>
      run(name, args, { cwd, env: { ...process.env, HOME: work.path }, timeoutMs: 120_000 }),
    );

  test(
    'skopeo: push, list-tags (200 with its tags), pull back verified',
    { skip: missingTools('skopeo') },
    async () => {
      const layout = path.join(work.path, 'layout');
      await buildOciLayout(layout, 'v1', { layerSizes: [4096, 100_000] });
      const ref = `docker://${nora.host}/a/b/c/img`;
      await tool('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `${ref}:v1`]);
      const listed = await tool('skopeo', ['list-tags', '--tls-verify=false', ref]);
      assert.deepEqual((JSON.parse(listed.stdout) as { Tags: string[] }).Tags, ['v1']);
      const out = path.join(work.path, 'pulled');
      await tool('skopeo', ['copy', '--src-tls-verify=false', `${ref}:v1`, `dir:${out}`]);
      const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as {
        layers: { digest: string }[];
      };
      assert.equal(manifest.layers.length, 2);
      for (const layer of manifest.layers) {
        const hex = layer.digest.split(':')[1] ?? '';
        const bytes = await fs.readFile(path.join(out, hex));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), hex);
      }
    },
  );

  test(
    "the README's oras push of a Helm chart succeeds quickly",
    { skip: missingTools('oras') },
    async () => {
      const dir = path.join(work.path, 'chart');
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, 'mychart-0.1.0.tgz'), 'not really a chart');
      await fs.writeFile(
        path.join(dir, 'config.json'),
        JSON.stringify({ name: 'mychart', version: '0.1.0', apiVersion: 'v2' }),
      );
      await tool(
        'oras',
        [
          'push',
          '--plain-http',
          `${nora.host}/charts/mychart:0.1.0`,
          '--config',
          'config.json:application/vnd.cncf.helm.config.v1+json',
          'mychart-0.1.0.tgz:application/vnd.cncf.helm.chart.content.v1.tar+gzip',
        ],
        dir,
      );
      const tags = await fetch(`${nora.url}/v2/charts/mychart/tags/list`);
      assert.deepEqual(await tags.json(), { name: 'charts/mychart', tags: ['0.1.0'] });
    },
  );

  test('what nobody has: the spec 404s, naming the unreachable upstream; counted', async () => {
    const base = `${nora.url}/v2`;
    // A manifest pushed, then deleted: GET and HEAD by digest → MANIFEST_UNKNOWN.
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const upload = await fetch(`${base}/gone/app/blobs/uploads/?digest=${configDigest}`, {
      method: 'POST',
      body: config,
    });
    assert.equal(upload.status, 201);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [],
    });
    const put = await fetch(`${base}/gone/app/manifests/v1`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(put.status, 201);
    const digest = put.headers.get('docker-content-digest') ?? '';
    const deleted = await fetch(`${base}/gone/app/manifests/${digest}`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    const gone = await expectError(
      await fetch(`${base}/gone/app/manifests/${digest}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    assert.match(gone.errors[0]?.message ?? '', /upstream docker-proxy\/0 unreachable: \w+/);
    const head = await fetch(`${base}/gone/app/manifests/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    // A blob never pushed → BLOB_UNKNOWN; tags of a name never pushed → NAME_UNKNOWN.
    await expectError(await fetch(`${base}/gone/app/blobs/${UNKNOWN}`), 404, 'BLOB_UNKNOWN');
    const name = await expectError(
      await fetch(`${base}/never/pushed/tags/list`),
      404,
      'NAME_UNKNOWN',
    );
    assert.match(name.errors[0]?.message ?? '', /upstream docker-proxy\/0 unreachable/);
    // Not a 502 anywhere, and the proxy repository addressed alone still says it failed.
    const alone = await fetch(`${nora.url}/repository/docker-proxy/v2/never/pushed/tags/list`);
    assert.equal(alone.status, 502);
    await alone.arrayBuffer();
    const metrics = await (await fetch(`${nora.url}/metrics`)).text();
    assert.match(
      metrics,
      /nora_group_member_failures_total\{repository="docker",member="docker-proxy"\} [1-9]/,
    );
  });
});

async function writePackage(dir: string, name: string, version: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }, null, 2)}\n`,
  );
  await fs.writeFile(path.join(dir, 'index.js'), `module.exports = '${name}@${version}';\n`);
}

describe('npm on the default config with an unreachable upstream', { concurrency: false }, () => {
  for (const client of CLIENTS) {
    test(
      `${client.id}: publish and install a private package through /npm/`,
      { skip: client.missing, timeout: 300_000 },
      async () => {
        await using nora = await startDefault();
        await using tmp = await tempDir(`nora-airgap-${client.id}-`);
        const home = path.join(tmp.path, 'home');
        await fs.mkdir(home, { recursive: true });
        await client.configure({ registry: `${nora.url}/npm/`, token: 'any-token', home });
        const pkg = path.join(tmp.path, 'pkg');
        await writePackage(pkg, `airgap-private-${client.id}`, '1.0.0');
        await client.prepareProject(pkg);
        await timed('publish', () => client.publish(pkg));
        const project = path.join(tmp.path, 'project');
        await fs.mkdir(project, { recursive: true });
        await fs.writeFile(
          path.join(project, 'package.json'),
          '{"name":"consumer","version":"1.0.0","private":true}\n',
        );
        await client.prepareProject(project);
        await timed('install', () => client.install(project, [`airgap-private-${client.id}`]));
        const installed = await fs.readFile(
          path.join(project, 'node_modules', `airgap-private-${client.id}`, 'index.js'),
          'utf8',
        );
        assert.match(installed, /@1\.0\.0/);
        // A name nobody has: npm's 404, saying why the upstream could not tell.
        const missing = await fetch(`${nora.url}/npm/never-published-anywhere`);
        assert.equal(missing.status, 404);
        assert.match(
          ((await missing.json()) as { error: string }).error,
          /upstream npm-proxy#0 unreachable/,
        );
      },
    );
  }
});

describe(
  'a publish through the group never sends the name upstream',
  { concurrency: false },
  () => {
    const seen: string[] = [];
    let upstream: http.Server;
    let upstreamUrl: string;

    before(async () => {
      upstream = http.createServer((req, res) => {
        seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      const address = upstream.address();
      upstreamUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
    });
    after(async () => {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    });

    for (const client of CLIENTS) {
      test(
        `${client.id}: zero upstream requests mention a brand-new name`,
        { skip: client.missing, timeout: 300_000 },
        async () => {
          await using nora = await startTestServer({ config: { npm: { proxy: upstreamUrl } } });
          await using tmp = await tempDir(`nora-leak-${client.id}-`);
          const home = path.join(tmp.path, 'home');
          await fs.mkdir(home, { recursive: true });
          await client.configure({ registry: `${nora.url}/npm/`, token: 'any-token', home });
          const name = `secret-name-${client.id}`;
          const pkg = path.join(tmp.path, 'pkg');
          await writePackage(pkg, name, '1.0.0');
          await client.prepareProject(pkg);
          await client.publish(pkg);
          assert.deepEqual(
            seen.filter((line) => line.includes('secret-name')),
            [],
            'requests the upstream saw for the name',
          );
          const doc = await fetch(`${nora.url}/npm/${name}`);
          assert.equal(doc.status, 200);
          await doc.arrayBuffer();
        },
      );
    }
  },
);
