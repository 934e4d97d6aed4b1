/**
 * Docker pull-through cache, end to end on loopback: Debian's docker-registry is the upstream
 * (behind a counting front), skopeo and podman pull through NORA. Covers by tag, by digest,
 * multi-arch, the `library/` shorthand, prefix routing to a second upstream, fallback past a dead
 * first upstream, warm pulls costing at most one upstream HEAD, stale serving with every upstream
 * down, and 502/504 (OCI envelope, no upstream host) for uncached content.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { containersStorage, missingTools, run } from '../../helpers/tools.ts';
import {
  buildOciLayout,
  type Distribution,
  freePort,
  type Front,
  pushLayout,
  startDistribution,
  startFront,
} from './fixtures.ts';

const skip = missingTools('skopeo', 'docker-registry');
const MANIFEST_ACCEPT =
  'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';

describe(
  'docker pull-through cache (skopeo, podman, Distribution upstreams)',
  { skip, timeout: 240_000 },
  () => {
    let dir: string;
    let upstreamA: Distribution;
    let upstreamB: Distribution;
    let front: Front;
    let nora: TestServer;

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-ociproxy-'));
      upstreamA = await startDistribution(path.join(dir, 'reg-a'));
      upstreamB = await startDistribution(path.join(dir, 'reg-b'));
      front = await startFront(upstreamA.url);
      const images: [Distribution, string, string, number[], string[]?][] = [
        [upstreamA, 'team/app', 'v1', [2048, 300_000]],
        [upstreamA, 'multi/app', 'v1', [4096], ['linux/amd64', 'linux/arm64']],
        [upstreamA, 'library/alpine', '3', [1500]],
        [upstreamA, 'head/only', 'v1', [123_456]],
        [upstreamB, 'tools/cli', 'v2', [70_000]],
      ];
      for (const [registry, name, tag, sizes, platforms] of images) {
        const layout = path.join(dir, 'layouts', name.replace('/', '_'));
        await buildOciLayout(layout, tag, {
          layerSizes: sizes,
          ...(platforms ? { platforms } : {}),
        });
        await pushLayout(layout, tag, `${registry.host}/${name}:${tag}`);
      }
      const dead = `http://127.0.0.1:${await freePort()}`;
      nora = await startTestServer({
        config: {
          docker: {
            upstreams: [{ url: dead }, { url: front.url }, { url: upstreamB.url, prefix: 'bee' }],
            proxy_timeout: 5,
            metadata_ttl: 0,
          },
          repositories: [
            {
              name: 'mirror',
              format: 'docker',
              kind: 'proxy',
              upstreams: [{ url: front.url }],
              metadata_ttl: 300,
            },
          ],
        },
      });
    });

    after(async () => {
      await nora.close();
      await front.close();
      await upstreamA.stop();
      await upstreamB.stop();
      await removeDir(dir);
    });

    async function upstreamDigest(registry: string, name: string, tag: string): Promise<string> {
      const res = await fetch(`${registry}/v2/${name}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: MANIFEST_ACCEPT },
      });
      const digest = res.headers.get('docker-content-digest');
      assert.ok(digest, `upstream has ${name}:${tag}`);
      return digest;
    }

    /** skopeo copy to a dir: transport, then check every blob file hashes to its name. */
    async function pullAndVerify(reference: string, label: string): Promise<string[]> {
      const out = path.join(dir, 'pulled', label);
      await removeDir(out);
      await fs.mkdir(path.dirname(out), { recursive: true });
      await run('skopeo', [
        'copy',
        '--src-tls-verify=false',
        `docker://${nora.host}/${reference}`,
        `dir:${out}`,
      ]);
      const files = (await fs.readdir(out)).filter((f) => /^[a-f0-9]{64}$/.test(f));
      assert.ok(files.length >= 2, 'config and layers were pulled');
      for (const file of files) {
        const hex = createHash('sha256')
          .update(await fs.readFile(path.join(out, file)))
          .digest('hex');
        assert.equal(hex, file, `blob ${file} has the right bytes`);
      }
      return files;
    }

    test('pull by tag with skopeo; the dead first upstream is skipped', async () => {
      await pullAndVerify('team/app:v1', 'by-tag');
      const inspect = await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${nora.host}/team/app:v1`,
      ]);
      const digest = `sha256:${createHash('sha256').update(inspect.stdout).digest('hex')}`;
      assert.equal(digest, await upstreamDigest(upstreamA.url, 'team/app', 'v1'));
    });

    test('pull by digest', async () => {
      const digest = await upstreamDigest(upstreamA.url, 'team/app', 'v1');
      await pullAndVerify(`team/app@${digest}`, 'by-digest');
    });

    test('multi-arch index (skopeo copy --all)', async () => {
      const out = path.join(dir, 'pulled', 'multi');
      await fs.mkdir(path.dirname(out), { recursive: true });
      await run('skopeo', [
        'copy',
        '--all',
        '--src-tls-verify=false',
        `docker://${nora.host}/multi/app:v1`,
        `oci:${out}:v1`,
      ]);
      const index = JSON.parse(await fs.readFile(path.join(out, 'index.json'), 'utf8')) as {
        manifests: { digest: string }[];
      };
      assert.equal(
        index.manifests[0]?.digest,
        await upstreamDigest(upstreamA.url, 'multi/app', 'v1'),
      );
      const res = await fetch(`${nora.url}/v2/multi/app/manifests/v1`, {
        headers: { accept: MANIFEST_ACCEPT },
      });
      const body = (await res.json()) as { manifests: unknown[] };
      assert.equal(body.manifests.length, 2);
    });

    test('library/ shorthand: "alpine" is library/alpine', async () => {
      const inspect = await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${nora.host}/alpine:3`,
      ]);
      const digest = `sha256:${createHash('sha256').update(inspect.stdout).digest('hex')}`;
      assert.equal(digest, await upstreamDigest(upstreamA.url, 'library/alpine', '3'));
      await pullAndVerify('library/alpine:3', 'library-mirror-mode');
    });

    test('prefix routing: /v2/bee/<image> goes to the second upstream only', async () => {
      const before = front.requests.length;
      await pullAndVerify('bee/tools/cli:v2', 'prefix');
      assert.equal(front.requests.filter((r) => r.path.includes('tools/cli')).length, 0);
      assert.equal(front.requests.length, before, 'the first upstream was not asked');
      const res = await fetch(`${nora.url}/v2/tools/cli/manifests/v2`, {
        headers: { accept: MANIFEST_ACCEPT },
      });
      assert.equal(
        res.status,
        404,
        'without the prefix the name is not routed to the prefixed upstream',
      );
      await res.arrayBuffer();
    });

    test('warm pull by tag costs the upstream at most one request (a HEAD)', async () => {
      await pullAndVerify('team/app:v1', 'warm-1');
      const before = front.requests.length;
      await pullAndVerify('team/app:v1', 'warm-2');
      const made = front.requests.slice(before);
      assert.ok(made.length <= 1, `upstream requests during a warm pull: ${JSON.stringify(made)}`);
      assert.ok(made.every((r) => r.method === 'HEAD'));
    });

    test('HEAD of an uncached blob costs one upstream HEAD and downloads nothing', async () => {
      const manifest = (await (
        await fetch(`${upstreamA.url}/v2/head/only/manifests/v1`, {
          headers: { accept: MANIFEST_ACCEPT },
        })
      ).json()) as { layers: { digest: string; size: number }[] };
      const layer = manifest.layers[0];
      assert.ok(layer);
      const path = `/v2/head/only/blobs/${layer.digest}`;
      const head = await fetch(`${nora.url}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(layer.size));
      assert.equal(head.headers.get('docker-content-digest'), layer.digest);
      // The digest is hex after `sha256:`: nothing to escape.
      const escaped = new RegExp(`/blobs/${layer.digest}$`);
      assert.equal(front.count('HEAD', escaped), 1);
      assert.equal(front.count('GET', escaped), 0, 'a HEAD starts no download');
      // The bytes come when they are asked for, verified as ever.
      const get = await fetch(`${nora.url}${path}`);
      assert.equal(get.status, 200);
      const body = Buffer.from(await get.arrayBuffer());
      assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, layer.digest);
      assert.equal(front.count('GET', escaped), 1);
    });

    test('a named proxy repository: /v2/<repo>/<image> and /repository/<repo>/v2; read-only (405)', async () => {
      await pullAndVerify('mirror/team/app:v1', 'named');
      const inspect = await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${nora.host}/mirror/team/app:v1`,
      ]);
      const digest = `sha256:${createHash('sha256').update(inspect.stdout).digest('hex')}`;
      assert.equal(digest, await upstreamDigest(upstreamA.url, 'team/app', 'v1'));
      // metadata_ttl 300 on this repository: a warm pull by tag costs the upstream nothing.
      const before = front.requests.length;
      await pullAndVerify('mirror/team/app:v1', 'named-warm');
      assert.equal(front.requests.length, before);
      const viaPath = await fetch(`${nora.url}/repository/mirror/v2/team/app/manifests/v1`, {
        headers: { accept: MANIFEST_ACCEPT },
      });
      await viaPath.arrayBuffer();
      assert.equal(viaPath.status, 200);
      const upload = await fetch(`${nora.url}/repository/mirror/v2/team/app/blobs/uploads/`, {
        method: 'POST',
      });
      const text = await upload.text();
      assert.equal(upload.status, 405, text);
      assert.match(text, /"errors"/);
    });

    test('podman pulls through the cache', { skip: missingTools('podman') }, async () => {
      const store = path.join(dir, 'podman');
      const args = await containersStorage(store);
      await run('podman', [...args, 'pull', '--tls-verify=false', `${nora.host}/team/app:v1`], {
        timeoutMs: 120_000,
      });
      await run('podman', [...args, 'pull', '--tls-verify=false', `${nora.host}/multi/app:v1`], {
        timeoutMs: 120_000,
      });
      const images = await run('podman', [
        ...args,
        'images',
        '--format',
        '{{.Repository}}:{{.Tag}}',
      ]);
      assert.match(images.stdout, /team\/app:v1/);
      assert.match(images.stdout, /multi\/app:v1/);
    });

    test('every upstream down: cached tags are served stale, uncached content is a 502/504', async () => {
      front.down = 'reset';
      await upstreamB.stop();
      try {
        await pullAndVerify('team/app:v1', 'stale');
        const res = await fetch(`${nora.url}/v2/team/app/manifests/v1`, {
          headers: { accept: MANIFEST_ACCEPT },
        });
        await res.arrayBuffer();
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-nora-stale'), 'true');

        // A proxy addressed alone: an uncached miss is the upstream's failure (502/504).
        const missing = await fetch(
          `${nora.url}/repository/docker-proxy/v2/team/never-cached/manifests/v1`,
          {
            headers: { accept: MANIFEST_ACCEPT },
          },
        );
        const text = await missing.text();
        assert.ok(
          missing.status === 502 || missing.status === 504,
          `status ${missing.status}: ${text}`,
        );
        const body = JSON.parse(text) as { errors?: { code: string; message: string }[] };
        assert.ok(Array.isArray(body.errors) && body.errors.length > 0, 'OCI error envelope');
        assert.doesNotMatch(text, /127\.0\.0\.1/, 'no upstream host in the error');

        const blob = await fetch(
          `${nora.url}/repository/docker-proxy/v2/team/app/blobs/sha256:${'0'.repeat(64)}`,
        );
        const blobText = await blob.text();
        assert.ok(blob.status === 502 || blob.status === 504, `blob status ${blob.status}`);
        assert.doesNotMatch(blobText, /127\.0\.0\.1/);
        // Through the group the failed member is "not here": the OCI 404, naming the upstream.
        const viaGroup = await fetch(`${nora.url}/v2/team/app/blobs/sha256:${'0'.repeat(64)}`);
        const viaGroupText = await viaGroup.text();
        assert.equal(viaGroup.status, 404, viaGroupText);
        assert.match(viaGroupText, /BLOB_UNKNOWN.*upstream docker-proxy\/\S+ unreachable/);
        assert.doesNotMatch(viaGroupText, /127\.0\.0\.1/);

        const health = (await (await fetch(`${nora.url}/health`)).json()) as {
          upstreams: Record<string, { state: string }>;
        };
        assert.equal(
          health.upstreams['docker-proxy/0']?.state,
          'open',
          'the dead upstream is skipped by its breaker',
        );
        assert.doesNotMatch(JSON.stringify(health.upstreams), /127\.0\.0\.1/);
      } finally {
        front.down = false;
        await upstreamB.start();
      }
    });

    test('metrics: cache hits, misses and upstream durations are exported', async () => {
      const text = await (await fetch(`${nora.url}/metrics`)).text();
      assert.match(text, /nora_cache_hits_total [1-9]/);
      assert.match(text, /nora_cache_misses_total [1-9]/);
      assert.match(text, /nora_cache_requests_total\{registry="docker-proxy",result="miss"\}/);
      assert.match(
        text,
        /nora_upstream_request_duration_seconds_count\{registry="docker-proxy",status="200"\}/,
      );
      assert.match(text, /nora_circuit_breaker_state\{registry="docker-proxy\/0"\} 2/);
      assert.match(text, /nora_docker_downloads_total [1-9]/);
    });
  },
);
