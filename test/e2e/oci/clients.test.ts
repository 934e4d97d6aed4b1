/**
 * Real OCI clients against a listening NORA: skopeo, podman, buildah, docker (manifest inspect)
 * and oras. Each test skips with the reason when its client is missing; it never passes without
 * running. Images are tiny and built offline (umoci or by hand).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { sha256File } from '../../helpers/storage.ts';
import { containersStorage, missingTools, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';

let server: TestServer;
let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
let R: string;

before(async () => {
  work = await tempDir('nora-oci-e2e-');
  server = await startOciServer({
    config: {
      docker: { upstreams: [] },
      repositories: [{ name: 'team', format: 'docker', kind: 'hosted' }],
    },
  });
  R = server.host;
  // containers/image tools: isolated auth and registries files (the auth file must exist).
  await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
  await fs.writeFile(
    path.join(work.path, 'registries.conf'),
    'unqualified-search-registries = []\n',
  );
});

after(async () => {
  await server.close();
  await work[Symbol.asyncDispose]();
});

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
    DOCKER_CONFIG: path.join(work.path, 'docker'),
    HOME: work.path,
  };
}

const TIMEOUT = { timeoutMs: 120_000 } as const;

function tool(name: string, args: readonly string[], cwd = work.path) {
  return run(name, args, { env: env(), cwd, ...TIMEOUT });
}

/** A two-layer OCI layout built with umoci under `dir/oci:<tag>`. */
async function umociImage(dir: string, tag: string, arch = 'amd64', marker = 'hi'): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const layout = `oci:${tag}`;
  if (!(await exists(path.join(dir, 'oci')))) await tool('umoci', ['init', '--layout', 'oci'], dir);
  await tool('umoci', ['new', '--image', layout], dir);
  await tool(
    'umoci',
    [
      'config',
      '--image',
      layout,
      '--os',
      'linux',
      '--architecture',
      arch,
      '--config.cmd',
      '/hi.txt',
    ],
    dir,
  );
  for (const [bundle, file] of [
    [`b1-${tag}`, 'hi.txt'],
    [`b2-${tag}`, 'two.txt'],
  ] as const) {
    await tool('umoci', ['unpack', '--image', layout, bundle], dir);
    await fs.writeFile(path.join(dir, bundle, 'rootfs', file), `${marker} ${file} ${arch}\n`);
    await tool('umoci', ['repack', '--image', layout, bundle], dir);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

async function getJson(urlPath: string): Promise<unknown> {
  const response = await fetch(`${server.url}${urlPath}`);
  assert.equal(response.status, 200, urlPath);
  return response.json();
}

describe('skopeo', { skip: missingTools('skopeo', 'umoci') }, () => {
  test('copy a multi-layer image in (seed names) and out, byte-identical', async () => {
    const dir = path.join(work.path, 'skopeo');
    await umociImage(dir, 'v1');
    for (const ref of ['myapp:latest', 'org/image:v1', 'a/b/c/image:v1']) {
      await tool(
        'skopeo',
        ['copy', '--dest-tls-verify=false', 'oci:oci:v1', `docker://${R}/${ref}`],
        dir,
      );
    }
    const inspect = JSON.parse(
      (await tool('skopeo', ['inspect', '--tls-verify=false', `docker://${R}/a/b/c/image:v1`]))
        .stdout,
    ) as {
      Layers: string[];
      Architecture: string;
    };
    assert.equal(inspect.Layers.length, 2);
    assert.equal(inspect.Architecture, 'amd64');
    const tags = JSON.parse(
      (await tool('skopeo', ['list-tags', '--tls-verify=false', `docker://${R}/myapp`])).stdout,
    ) as {
      Tags: string[];
    };
    assert.deepEqual(tags.Tags, ['latest']);
    // Out again as an OCI layout and as a dir: every blob identical to what went in.
    await tool(
      'skopeo',
      ['copy', '--src-tls-verify=false', `docker://${R}/org/image:v1`, 'oci:pulled:v1'],
      dir,
    );
    await tool(
      'skopeo',
      ['copy', '--src-tls-verify=false', `docker://${R}/myapp:latest`, 'dir:pulled-dir'],
      dir,
    );
    for (const layer of inspect.Layers) {
      const hex = layer.replace('sha256:', '');
      const original = await sha256File(path.join(dir, 'oci', 'blobs', 'sha256', hex));
      assert.equal(original, hex);
      assert.equal(await sha256File(path.join(dir, 'pulled', 'blobs', 'sha256', hex)), hex);
      assert.equal(await sha256File(path.join(dir, 'pulled-dir', hex)), hex);
    }
  });

  test('layers lost or cut short on disk are uploaded again by the next push, then pulled intact', async () => {
    const dir = path.join(work.path, 'skopeo-repair');
    await umociImage(dir, 'v1', 'amd64', 'repair');
    const push = () =>
      tool(
        'skopeo',
        ['copy', '--dest-tls-verify=false', 'oci:oci:v1', `docker://${R}/fix/app:v1`],
        dir,
      );
    await push();
    const inspect = JSON.parse(
      (await tool('skopeo', ['inspect', '--tls-verify=false', `docker://${R}/fix/app:v1`])).stdout,
    ) as { Layers: string[] };
    const [lost, cut] = inspect.Layers.map((layer) => layer.replace('sha256:', ''));
    assert.ok(lost !== undefined && cut !== undefined);
    const stored = (hex: string) =>
      path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
    await fs.rm(stored(lost));
    await fs.truncate(stored(cut), 10);
    // HEAD must say "not here" for both, or skopeo would skip them and the image stays broken.
    for (const hex of [lost, cut]) {
      const head = await fetch(`${server.url}/v2/fix/app/blobs/sha256:${hex}`, { method: 'HEAD' });
      assert.equal(head.status, 404, hex);
    }
    await push();
    await tool(
      'skopeo',
      ['copy', '--src-tls-verify=false', `docker://${R}/fix/app:v1`, 'dir:repaired'],
      dir,
    );
    for (const hex of [lost, cut]) {
      assert.equal(await sha256File(stored(hex)), hex);
      assert.equal(await sha256File(path.join(dir, 'repaired', hex)), hex);
    }
  });

  test('registry to registry between two repositories, Docker v2s2 conversion, delete', async () => {
    const dir = path.join(work.path, 'skopeo2');
    await umociImage(dir, 'v1', 'amd64', 'copy');
    await tool(
      'skopeo',
      ['copy', '--dest-tls-verify=false', 'oci:oci:v1', `docker://${R}/src/app:v1`],
      dir,
    );
    await tool('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${R}/src/app:v1`,
      `docker://${R}/team/app:v1`,
    ]);
    const viaNamed = await fetch(`${server.url}/repository/team/v2/app/manifests/v1`);
    assert.equal(viaNamed.status, 200);
    await viaNamed.text();
    await tool('skopeo', [
      'copy',
      '--format',
      'v2s2',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${R}/src/app:v1`,
      `docker://${R}/src/app:v1-docker`,
    ]);
    const raw = JSON.parse(
      (
        await tool('skopeo', [
          'inspect',
          '--raw',
          '--tls-verify=false',
          `docker://${R}/src/app:v1-docker`,
        ])
      ).stdout,
    ) as { mediaType: string };
    assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    await tool('skopeo', ['delete', '--tls-verify=false', `docker://${R}/src/app:v1-docker`]);
    const gone = await fetch(`${server.url}/v2/src/app/manifests/v1-docker`);
    assert.equal(gone.status, 404);
    await gone.text();
  });

  test('a multi-arch index with --all, copied registry to registry', async () => {
    const dir = path.join(work.path, 'multi');
    await umociImage(dir, 'amd64', 'amd64', 'multi');
    await umociImage(dir, 'arm64', 'arm64', 'multi');
    // Assemble an OCI image index over both manifests, by hand.
    const indexFile = path.join(dir, 'oci', 'index.json');
    const layoutIndex = JSON.parse(await fs.readFile(indexFile, 'utf8')) as {
      manifests: {
        digest: string;
        size: number;
        mediaType: string;
        annotations?: Record<string, string>;
      }[];
    };
    const entries = layoutIndex.manifests.map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: {
        os: 'linux',
        architecture: m.annotations?.['org.opencontainers.image.ref.name'] ?? '',
      },
    }));
    const imageIndex = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries,
    });
    const hex = createHash('sha256').update(imageIndex).digest('hex');
    await fs.writeFile(path.join(dir, 'oci', 'blobs', 'sha256', hex), imageIndex);
    layoutIndex.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: `sha256:${hex}`,
      size: Buffer.byteLength(imageIndex),
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    });
    await fs.writeFile(indexFile, JSON.stringify(layoutIndex));
    await tool(
      'skopeo',
      ['copy', '--all', '--dest-tls-verify=false', 'oci:oci:multi', `docker://${R}/multi/app:v1`],
      dir,
    );
    await tool('skopeo', [
      'copy',
      '--all',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${R}/multi/app:v1`,
      `docker://${R}/team/multi:v1`,
    ]);
    const raw = JSON.parse(
      (
        await tool('skopeo', [
          'inspect',
          '--raw',
          '--tls-verify=false',
          `docker://${R}/team/multi:v1`,
        ])
      ).stdout,
    ) as { manifests: { platform: { architecture: string } }[] };
    assert.deepEqual(raw.manifests.map((m) => m.platform.architecture).sort(), ['amd64', 'arm64']);
    const arm = JSON.parse(
      (
        await tool('skopeo', [
          'inspect',
          '--tls-verify=false',
          '--override-arch',
          'arm64',
          `docker://${R}/team/multi:v1`,
        ])
      ).stdout,
    ) as { Architecture: string };
    assert.equal(arm.Architecture, 'arm64');
  });
});

describe('podman and buildah', { skip: missingTools('podman', 'buildah') }, () => {
  test('buildah from scratch + copy + commit + push; podman pull, tag and push', async () => {
    const dir = path.join(work.path, 'containers');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'artifact.txt'), 'built by buildah\n');
    const storage = await containersStorage(dir);
    const ctr = (await tool('buildah', [...storage, 'from', 'scratch'], dir)).stdout.trim();
    await tool('buildah', [...storage, 'copy', ctr, 'artifact.txt', '/artifact.txt'], dir);
    await tool(
      'buildah',
      [...storage, 'config', '--cmd', '["/artifact.txt"]', '--os', 'linux', '--arch', 'amd64', ctr],
      dir,
    );
    await tool('buildah', [...storage, 'commit', '-q', ctr, 'localhost/bimg:v1'], dir);
    await tool(
      'buildah',
      [
        ...storage,
        'push',
        '--tls-verify=false',
        'localhost/bimg:v1',
        `docker://${R}/test/buildah:v1`,
      ],
      dir,
    );
    const manifest = await fetch(`${server.url}/v2/test/buildah/manifests/v1`);
    assert.equal(manifest.status, 200);
    await manifest.text();
    await tool('podman', [...storage, 'pull', '--tls-verify=false', `${R}/test/buildah:v1`], dir);
    await tool('podman', [...storage, 'tag', `${R}/test/buildah:v1`, `${R}/org/podman:v2`], dir);
    await tool('podman', [...storage, 'push', '--tls-verify=false', `${R}/org/podman:v2`], dir);
    const tags = (await getJson('/v2/org/podman/tags/list')) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v2']);
    // Pull into a fresh store: the content survives a round trip.
    const fresh = await containersStorage(path.join(dir, 'fresh'));
    await tool('podman', [...fresh, 'pull', '--tls-verify=false', `${R}/org/podman:v2`], dir);
    const images = (
      await tool('podman', [...fresh, 'images', '--format', '{{.Repository}}:{{.Tag}}'], dir)
    ).stdout;
    assert.match(images, new RegExp(`${R.replace('.', '\\.')}/org/podman:v2`));
  });
});

describe('docker CLI', { skip: missingTools('docker', 'skopeo', 'umoci') }, () => {
  test('docker manifest inspect --insecure', async () => {
    const dir = path.join(work.path, 'docker');
    await umociImage(dir, 'v1', 'amd64', 'docker');
    await tool(
      'skopeo',
      ['copy', '--dest-tls-verify=false', 'oci:oci:v1', `docker://${R}/dockercli/app:v1`],
      dir,
    );
    const { stdout } = await tool('docker', [
      'manifest',
      'inspect',
      '--insecure',
      `${R}/dockercli/app:v1`,
    ]);
    const manifest = JSON.parse(stdout) as { layers: unknown[]; config: { mediaType: string } };
    assert.equal(manifest.layers.length, 2);
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  });
});

describe('oras', { skip: missingTools('oras') }, () => {
  test('an OCI artifact pulled back byte-identical; repo tags', async () => {
    const dir = path.join(work.path, 'oras');
    await fs.mkdir(path.join(dir, 'out'), { recursive: true });
    await fs.writeFile(path.join(dir, 'artifact.txt'), 'an artifact\n');
    await tool(
      'oras',
      [
        'push',
        '--plain-http',
        `${R}/test/artifact:v1`,
        '--artifact-type',
        'application/vnd.example.test',
        'artifact.txt:text/plain',
      ],
      dir,
    );
    await tool('oras', ['pull', '--plain-http', '-o', 'out', `${R}/test/artifact:v1`], dir);
    assert.equal(await fs.readFile(path.join(dir, 'out', 'artifact.txt'), 'utf8'), 'an artifact\n');
    const tags = (
      await tool('oras', ['repo', 'tags', '--plain-http', `${R}/test/artifact`], dir)
    ).stdout.trim();
    assert.equal(tags, 'v1');
  });

  test("a Helm chart with Helm's media types, pulled back byte-identical", async () => {
    const dir = path.join(work.path, 'helm');
    await fs.mkdir(path.join(dir, 'out'), { recursive: true });
    // A tiny chart tarball (content is opaque to the registry).
    await tool('tar', ['-czf', 'mychart-0.1.0.tgz', '--files-from', '/dev/null'], dir);
    const chart = await fs.readFile(path.join(dir, 'mychart-0.1.0.tgz'));
    await fs.writeFile(
      path.join(dir, 'config.json'),
      JSON.stringify({ name: 'mychart', version: '0.1.0', apiVersion: 'v2' }),
    );
    await tool(
      'oras',
      [
        'push',
        '--plain-http',
        `${R}/charts/mychart:0.1.0`,
        '--config',
        'config.json:application/vnd.cncf.helm.config.v1+json',
        'mychart-0.1.0.tgz:application/vnd.cncf.helm.chart.content.v1.tar+gzip',
      ],
      dir,
    );
    const manifest = (await getJson('/v2/charts/mychart/manifests/0.1.0')) as {
      config: { mediaType: string };
      layers: { mediaType: string; digest: string }[];
    };
    assert.equal(manifest.config.mediaType, 'application/vnd.cncf.helm.config.v1+json');
    assert.equal(
      manifest.layers[0]?.mediaType,
      'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
    );
    await tool('oras', ['pull', '--plain-http', '-o', 'out', `${R}/charts/mychart:0.1.0`], dir);
    assert.deepEqual(await fs.readFile(path.join(dir, 'out', 'mychart-0.1.0.tgz')), chart);
    // What `helm pull` does: fetch the chart layer by digest.
    const blob = await fetch(`${server.url}/v2/charts/mychart/blobs/${manifest.layers[0].digest}`);
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), chart);
  });

  test('oras attach + discover use the referrers API', async () => {
    const dir = path.join(work.path, 'attach');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'base.txt'), 'subject\n');
    await fs.writeFile(path.join(dir, 'sig.txt'), 'signature\n');
    await tool('oras', ['push', '--plain-http', `${R}/test/signed:v1`, 'base.txt:text/plain'], dir);
    await tool(
      'oras',
      [
        'attach',
        '--plain-http',
        '--artifact-type',
        'application/vnd.example.sig',
        `${R}/test/signed:v1`,
        'sig.txt:text/plain',
      ],
      dir,
    );
    const discovered = JSON.parse(
      (
        await tool(
          'oras',
          ['discover', '--plain-http', '--format', 'json', `${R}/test/signed:v1`],
          dir,
        )
      ).stdout,
    ) as { manifests?: { artifactType: string }[]; referrers?: { artifactType: string }[] };
    const list = discovered.manifests ?? discovered.referrers ?? [];
    assert.deepEqual(
      list.map((m) => m.artifactType),
      ['application/vnd.example.sig'],
    );
    // Served by the referrers API, not the tag-schema fallback.
    const tags = (await getJson('/v2/test/signed/tags/list')) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
  });
});
