/**
 * `nora migrate-docker-keys --from DIR`: a NORA (Rust) storage directory's Docker images, laid
 * out as NORA keeps them (flat pre-0.9 keys `docker/<name>/…` and namespaced ones
 * `docker/docker.io/<name>/…`), built from real image bytes (an OCI layout of one single-platform
 * image and one two-platform index), brought into docker-hosted: dry run writes nothing; a
 * damaged blob is reported (exit 1) while the rest comes in; a second run skips what is there;
 * beside a running server it is refused (exit 2); then the real skopeo inspects and copies the
 * images from our server (skipped when skopeo is missing).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { buildOciLayout } from '../../e2e/oci-proxy/fixtures.ts';

const BASE = { NORA_RATE_LIMIT_ENABLED: 'false', NORA_AUTH_ENABLED: 'false' };

interface Descriptor {
  digest: string;
}

/**
 * Copies the OCI layout `layout` (tag `tag`) into NORA's key layout under `docker/<prefix>`:
 * manifests (and the index) as `manifests/<digest>.json`, the tag as `manifests/<tag>.json`
 * with its `.meta.json` sidecar, config and layers as `blobs/sha256:<hex>`.
 */
async function noraLayout(
  layout: string,
  tag: string,
  nora: string,
  prefix: string,
): Promise<void> {
  const dir = path.join(nora, 'docker', prefix);
  await fs.mkdir(path.join(dir, 'manifests'), { recursive: true });
  await fs.mkdir(path.join(dir, 'blobs'), { recursive: true });
  const blob = (digest: string) =>
    fs.readFile(path.join(layout, 'blobs/sha256', digest.slice('sha256:'.length)));
  const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: Descriptor[];
  };
  const top = index.manifests[0]?.digest ?? '';
  const visit = async (digest: string): Promise<void> => {
    const body = await blob(digest);
    await fs.writeFile(path.join(dir, 'manifests', `${digest}.json`), body);
    const parsed = JSON.parse(body.toString()) as {
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
    };
    for (const child of parsed.manifests ?? []) await visit(child.digest);
    for (const d of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]) {
      await fs.writeFile(path.join(dir, 'blobs', d.digest), await blob(d.digest));
    }
  };
  await visit(top);
  await fs.copyFile(
    path.join(dir, 'manifests', `${top}.json`),
    path.join(dir, 'manifests', `${tag}.json`),
  );
  await fs.writeFile(path.join(dir, 'manifests', `${tag}.meta.json`), '{"push_timestamp":0}');
}

test('nora migrate-docker-keys: NORA layouts into docker-hosted, verified, idempotent, pulled by skopeo', async (t) => {
  await using work = await tempDir('nora-migrate-docker-keys-');
  const from = path.join(work.path, 'nora-rust');
  const storage = path.join(work.path, 'storage');
  const env = { ...BASE, NORA_STORAGE_PATH: storage };
  await buildOciLayout(path.join(work.path, 'single'), 'v1', { layerSizes: [3000, 500] });
  await buildOciLayout(path.join(work.path, 'multi'), 'latest', {
    layerSizes: [2048],
    platforms: ['linux/amd64', 'linux/arm64'],
  });
  await noraLayout(path.join(work.path, 'single'), 'v1', from, 'team/app');
  await noraLayout(path.join(work.path, 'multi'), 'latest', from, 'docker.io/library/multi');
  // A third image, one of its blobs damaged on NORA's disk.
  await noraLayout(path.join(work.path, 'single'), 'v1', from, 'broken');
  const blobs = path.join(from, 'docker/broken/blobs');
  const damaged = (await fs.readdir(blobs))[0] ?? '';
  await fs.writeFile(path.join(blobs, damaged), 'not the bytes of that digest');

  const migrate = (...args: string[]) =>
    nora(['migrate-docker-keys', '--from', from, ...args], env, work.path);
  // The database must exist: a first server start makes it.
  {
    await using server = await startNoraProcess({
      env,
      port: await freePort(),
      cwd: work.path,
    });
    const refused = await migrate();
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `^nora migrate-docker-keys: a NORA server \\(pid ${String(server.child.pid)}\\) is running`,
      ),
    );
  }
  // An empty --from (an unset variable) is no "current directory", even where docker/ is.
  const empty = await nora(['migrate-docker-keys', '--from', '', '--dry-run'], env, from);
  assert.equal(empty.code, 2, empty.stdout + empty.stderr);
  assert.match(empty.stderr, /^nora migrate-docker-keys: --from is empty: give NORA's storage/);
  const bad = await nora(['migrate-docker-keys', '--from', work.path], env, work.path);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /docker is no directory: --from names NORA's storage directory/);
  const badRepo = await migrate('--repository', 'raw-hosted');
  assert.equal(badRepo.code, 2, badRepo.stderr);
  assert.match(
    badRepo.stderr,
    /is no hosted docker repository .*\(hosted docker repositories: docker-hosted\)/,
  );

  const dry = await migrate('--dry-run', '--json');
  assert.equal(dry.code, 1, dry.stderr);
  const planned = JSON.parse(dry.stdout) as {
    images: { name: string; manifests: { added: number }; tags: { added: number } }[];
    failed: { name: string; file: string; error: string }[];
  };
  assert.deepEqual(planned.images.map((i) => i.name).sort(), [
    'broken',
    'library/multi',
    'team/app',
  ]);
  assert.equal(planned.failed.length, 1, JSON.stringify(planned.failed));
  assert.match(planned.failed[0]?.error ?? '', /its bytes hash to sha256:/);

  const applied = await migrate();
  assert.equal(applied.code, 1, applied.stdout + applied.stderr);
  assert.match(applied.stdout, /failed broken: docker\/broken\/blobs\/sha256:[0-9a-f]{64}: /);
  assert.match(applied.stdout, /added tag team\/app:v1 → sha256:/);
  assert.match(applied.stdout, /added tag library\/multi:latest → sha256:/);
  assert.match(applied.stdout, /3 images/);

  // The damaged blob repaired in NORA's directory: the second run adds only what was missing.
  await fs.copyFile(path.join(from, 'docker/team/app/blobs', damaged), path.join(blobs, damaged));
  const again = await migrate('--json');
  assert.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout) as {
    images: {
      name: string;
      blobs: { added: number; skipped: number };
      manifests: { added: number; skipped: number };
      tags: { added: number; skipped: number };
    }[];
    failed: unknown[];
  };
  assert.deepEqual(second.failed, []);
  for (const image of second.images) {
    if (image.name === 'broken') {
      assert.equal(image.blobs.added, 1);
      assert.equal(image.tags.added, 1);
    } else {
      assert.deepEqual(
        [image.blobs.added, image.manifests.added, image.tags.added],
        [0, 0, 0],
        image.name,
      );
      assert.ok(image.tags.skipped === 1 && image.manifests.skipped > 0, image.name);
    }
  }

  await using server = await startNoraProcess({ env, port: await freePort(), cwd: work.path });
  const tags = await fetch(`${server.url}/v2/library/multi/tags/list`);
  assert.deepEqual(await tags.json(), { name: 'library/multi', tags: ['latest'] });
  const skip = missingTools('skopeo');
  if (skip !== false) {
    t.skip(`the skopeo checks: ${skip}`);
    return;
  }
  await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
  await fs.writeFile(
    path.join(work.path, 'registries.conf'),
    'unqualified-search-registries = []\n',
  );
  const skopeo = (args: readonly string[]) =>
    run('skopeo', args, {
      env: {
        ...process.env,
        HOME: work.path,
        REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
        CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
      },
      timeoutMs: 120_000,
    });
  const host = new URL(server.url).host;
  const inspected = JSON.parse(
    (await skopeo(['inspect', '--tls-verify=false', `docker://${host}/team/app:v1`])).stdout,
  ) as { Layers: string[] };
  assert.equal(inspected.Layers.length, 2);
  await skopeo([
    'copy',
    '--all',
    '--src-tls-verify=false',
    `docker://${host}/library/multi:latest`,
    `oci:${path.join(work.path, 'pulled')}:latest`,
  ]);
  // The index served is NORA's, byte for byte (the copy above may recompress layers).
  const raw = (
    await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${host}/library/multi:latest`,
    ])
  ).stdout;
  const original = JSON.parse(
    await fs.readFile(path.join(work.path, 'multi/index.json'), 'utf8'),
  ) as { manifests: Descriptor[] };
  assert.equal(
    `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    original.manifests[0]?.digest,
  );
  const pulled = JSON.parse(
    await fs.readFile(path.join(work.path, 'pulled/index.json'), 'utf8'),
  ) as { manifests: Descriptor[] };
  assert.equal(pulled.manifests.length, 1);
});
