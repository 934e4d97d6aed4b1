/**
 * `[storage] mode = "s3"` end to end: NORA serves from a bucket of a fake S3 (moto_server), real
 * clients push and pull (npm publish + install, skopeo copy of an OCI image, curl PUT/GET and a
 * Range GET of a raw file), and after a restart everything is still served. A missing bucket,
 * denied credentials or an unreachable store stop start-up with a clear error and a non-zero
 * exit. Skips with the reason where moto_server or a client is missing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { curl } from '../../helpers/curl.ts';
import { MOTO_MISSING, startFakeS3, type FakeS3 } from '../../helpers/fake-s3.ts';
import { freePort, serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { homeEnv, writePublisher, writeUserNpmrc } from '../npm/clients.ts';

const SECRET = 'the-s3-secret-value';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A one-layer OCI image layout at `dir`, tagged `tag`; returns its layer's digest. */
async function ociLayout(dir: string, tag: string): Promise<string> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  const put = async (bytes: Buffer) => {
    const hex = sha256(bytes);
    await fs.writeFile(path.join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  // Not a tar: a registry and `skopeo copy` between them never look inside a layer.
  const layerBytes = gzipSync(randomBytes(300_000));
  const layer = await put(layerBytes);
  const config = await put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  await fs.writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await fs.writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return layer.digest;
}

describe(
  'storage mode s3 (moto_server): real clients push, pull, and find it all after a restart',
  { skip: MOTO_MISSING || missingTools('curl', 'skopeo', 'npm') },
  () => {
    let s3: FakeS3;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let env: Record<string, string>;

    before(async () => {
      s3 = await startFakeS3();
      await s3.createBucket('registry');
      work = await tempDir('nora-s3-e2e-');
      env = {
        NORA_STORAGE_MODE: 's3',
        NORA_STORAGE_S3_URL: s3.url,
        NORA_STORAGE_BUCKET: 'registry',
        NORA_STORAGE_S3_ACCESS_KEY: 'nora-access',
        NORA_STORAGE_S3_SECRET_KEY: SECRET,
      };
    });
    after(async () => {
      await s3[Symbol.asyncDispose]();
      await work[Symbol.asyncDispose]();
    });

    const containersEnv = (): NodeJS.ProcessEnv => ({
      ...process.env,
      REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
      HOME: work.path,
    });

    test('push with npm, skopeo and curl; restart; pull them all again', async () => {
      const dir = work.path;
      await fs.writeFile(path.join(dir, 'auth.json'), '{"auths":{}}');
      await fs.writeFile(path.join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
      const raw = randomBytes(200_000);
      await fs.writeFile(path.join(dir, 'tool.bin'), raw);
      const layerDigest = await ociLayout(path.join(dir, 'oci-src'), 'v1');
      const npmHomes = path.join(dir, 'npm');
      await fs.mkdir(npmHomes);

      const pullAll = async (url: string, round: string) => {
        const file = `${url}/raw/files/tool.bin`;
        const whole = await curl(['-o', path.join(dir, `back-${round}`), file]);
        assert.equal(whole.status, 200, whole.stderr);
        assert.ok((await fs.readFile(path.join(dir, `back-${round}`))).equals(raw));
        const range = await curl(['-r', '1000-1999', '-o', path.join(dir, `range-${round}`), file]);
        assert.equal(range.status, 206);
        assert.ok(
          (await fs.readFile(path.join(dir, `range-${round}`))).equals(raw.subarray(1000, 2000)),
        );

        const home = path.join(npmHomes, `installer-${round}`);
        const project = path.join(home, 'project');
        await fs.mkdir(project, { recursive: true });
        await writeUserNpmrc(home, `${url}/npm/`);
        await fs.writeFile(path.join(project, 'package.json'), '{"name":"p","version":"1.0.0"}');
        await run('npm', ['install', '--no-audit', '--no-fund', 'hello-s3'], {
          cwd: project,
          env: homeEnv(home),
          timeoutMs: 180_000,
        });
        const installed = JSON.parse(
          await fs.readFile(path.join(project, 'node_modules/hello-s3/package.json'), 'utf8'),
        ) as { version: string };
        assert.equal(installed.version, '1.0.0');

        const host = url.replace(/^http:\/\//, '');
        const back = path.join(dir, `oci-back-${round}`);
        await run(
          'skopeo',
          ['copy', '--src-tls-verify=false', `docker://${host}/team/app:v1`, `oci:${back}:v1`],
          { env: containersEnv(), timeoutMs: 120_000 },
        );
        await fs.access(path.join(back, 'blobs', 'sha256', layerDigest.slice('sha256:'.length)));
      };

      {
        await using server = await serveNora({ dir }, env);
        const health = (await (await fetch(`${server.url}/health`)).json()) as {
          storage: { backend: string };
        };
        assert.equal(health.storage.backend, 's3');
        const put = await curl([
          '-T',
          path.join(dir, 'tool.bin'),
          `${server.url}/raw/files/tool.bin`,
        ]);
        assert.equal(put.status, 201, put.body);
        const publisher = await writePublisher(npmHomes, `${server.url}/npm/`, 'hello-s3');
        await run('npm', ['publish', '--access', 'public'], {
          cwd: publisher.pkg,
          env: homeEnv(publisher.home),
          timeoutMs: 180_000,
        });
        const host = server.url.replace(/^http:\/\//, '');
        await run(
          'skopeo',
          [
            'copy',
            '--dest-tls-verify=false',
            `oci:${path.join(dir, 'oci-src')}:v1`,
            `docker://${host}/team/app:v1`,
          ],
          { env: containersEnv(), timeoutMs: 120_000 },
        );
        await pullAll(server.url, 'first');
      }

      // The bytes are in the bucket; only the database and the spool are on local disk.
      const listing = await (await fetch(`${s3.url}/registry?list-type=2`)).text();
      assert.ok(listing.includes(`blobs/sha256/${sha256(raw).slice(0, 2)}/${sha256(raw)}`));
      assert.ok(listing.includes(`<Key>blobs/sha256/${layerDigest.slice(7, 9)}/`));
      const local = await fs.readdir(path.join(dir, 'storage'));
      assert.ok(local.includes('nora.db'), local.join(' '));
      assert.ok(!local.includes('blobs'), local.join(' '));

      await using again = await serveNora({ dir }, env);
      await pullAll(again.url, 'second');
    });

    test('a missing bucket stops start-up: exit 1, naming URL and bucket, not the secret', async () => {
      const result = await nora(
        ['serve'],
        {
          ...env,
          NORA_STORAGE_BUCKET: 'no-such-bucket',
          NORA_STORAGE_PATH: path.join(work.path, 'missing-bucket'),
          NORA_PORT: String(await freePort()),
        },
        work.path,
        60_000,
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /bucket "no-such-bucket": the bucket does not exist/);
      assert.ok(result.stderr.includes(s3.url), result.stderr);
      assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET));
    });
  },
);

test('denied credentials or an unreachable store stop start-up: exit 1, a clear error', async () => {
  // moto takes any key: a store that refuses every request stands in for wrong credentials.
  const refusing = http.createServer((_req, res) => {
    res.writeHead(403).end();
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  const address = refusing.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await using work = await tempDir('nora-s3-refused-');
  const start = async (url: string) =>
    nora(
      ['serve'],
      {
        NORA_STORAGE_MODE: 's3',
        NORA_STORAGE_S3_URL: url,
        NORA_STORAGE_S3_ACCESS_KEY: 'wrong-access',
        NORA_STORAGE_S3_SECRET_KEY: SECRET,
        NORA_STORAGE_PATH: path.join(work.path, 'state'),
        NORA_PORT: String(await freePort()),
      },
      work.path,
      60_000,
    );
  try {
    const denied = await start(`http://127.0.0.1:${port}`);
    assert.equal(denied.code, 1, denied.stderr);
    assert.match(denied.stderr, /bucket "registry": access denied .*\(HTTP 403\)/);
    assert.ok(!`${denied.stdout}${denied.stderr}`.includes(SECRET));
  } finally {
    await new Promise((resolve) => refusing.close(resolve));
  }
  const gone = await start(`http://127.0.0.1:${port}`);
  assert.equal(gone.code, 1, gone.stderr);
  assert.match(gone.stderr, /bucket "registry" is unreachable: ECONNREFUSED/);
});
