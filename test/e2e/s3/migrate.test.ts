/**
 * `nora migrate` with a real S3 (moto_server) and real clients: a local NORA is filled with npm
 * publish, curl PUT and skopeo copy; a dry run to S3 writes nothing; local → s3 copies it all, a
 * second run skips it all; a server on the bucket serves every client its files back; objects
 * lost from the bucket (an interrupted run) are copied again by the next run and by it alone;
 * s3 → s3 to another bucket, and s3 → local to another directory that a server then serves from,
 * with the database left where it was. Skips with the reason where moto_server or a client is
 * missing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { S3Driver } from '../../../src/storage/drivers/s3-driver.ts';
import { nora } from '../../helpers/cli.ts';
import { curl } from '../../helpers/curl.ts';
import { MOTO_MISSING, startFakeS3, type FakeS3 } from '../../helpers/fake-s3.ts';
import { serveNora } from '../../helpers/process.ts';
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

interface Report {
  copied: { objects: number; bytes: number };
  skipped: { objects: number; bytes: number };
  failed: { objects: number };
  wouldCopy: { objects: number };
}

describe(
  'nora migrate between local storage and S3 (moto_server), served back to real clients',
  { skip: MOTO_MISSING || missingTools('curl', 'skopeo', 'npm') },
  () => {
    let s3: FakeS3;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let s3Env: Record<string, string>;

    before(async () => {
      s3 = await startFakeS3();
      await s3.createBucket('registry');
      await s3.createBucket('second');
      work = await tempDir('nora-migrate-s3-');
      s3Env = {
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
    const migrate = (args: readonly string[]) =>
      nora(
        ['migrate', ...args],
        { ...s3Env, NORA_STORAGE_PATH: path.join(work.path, 'storage') },
        work.path,
        180_000,
      );
    const keysIn = async (bucket: string): Promise<string[]> => {
      const listing = await (await fetch(`${s3.url}/${bucket}?list-type=2`)).text();
      return [...listing.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1] ?? '');
    };

    test('local → s3 → (another bucket) → local, every client served each time', async () => {
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
        const home = path.join(npmHomes, `installer-${round}`);
        const project = path.join(home, 'project');
        await fs.mkdir(project, { recursive: true });
        await writeUserNpmrc(home, `${url}/npm/`);
        await fs.writeFile(path.join(project, 'package.json'), '{"name":"p","version":"1.0.0"}');
        await run('npm', ['install', '--no-audit', '--no-fund', 'hello-migrate'], {
          cwd: project,
          env: homeEnv(home),
          timeoutMs: 180_000,
        });
        const installed = JSON.parse(
          await fs.readFile(path.join(project, 'node_modules/hello-migrate/package.json'), 'utf8'),
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

      // A local NORA, filled by the clients.
      {
        await using server = await serveNora({ dir });
        const put = await curl([
          '-T',
          path.join(dir, 'tool.bin'),
          `${server.url}/raw/files/tool.bin`,
        ]);
        assert.equal(put.status, 201, put.body);
        const publisher = await writePublisher(npmHomes, `${server.url}/npm/`, 'hello-migrate');
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
      }
      const localBlobs = (
        await fs.readdir(path.join(dir, 'storage', 'blobs'), {
          recursive: true,
          withFileTypes: true,
        })
      ).filter((entry) => entry.isFile()).length;
      assert.ok(localBlobs >= 5, String(localBlobs));

      // Dry run: lists every object, writes nothing.
      const dry = await migrate(['--from', 'local', '--to', 's3', '--dry-run', '--json']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal((JSON.parse(dry.stdout) as Report).wouldCopy.objects, localBlobs);
      assert.deepEqual(await keysIn('registry'), []);

      const copied = await migrate(['--from', 'local', '--to', 's3']);
      assert.equal(copied.code, 0, copied.stderr);
      assert.match(
        copied.stdout,
        new RegExp(
          `copied ${localBlobs} \\(\\d+ bytes\\), skipped \\(already at the target\\) 0 \\(0 bytes\\), failed 0`,
        ),
      );
      assert.ok(copied.stdout.includes('mode = "s3"'), copied.stdout);
      assert.ok(!`${copied.stdout}${copied.stderr}`.includes(SECRET));
      const inBucket = await keysIn('registry');
      assert.equal(inBucket.length, localBlobs);
      assert.ok(inBucket.includes(`blobs/sha256/${sha256(raw).slice(0, 2)}/${sha256(raw)}`));

      const again = await migrate(['--from', 'local', '--to', 's3', '--json']);
      assert.equal(again.code, 0, again.stderr);
      const second = JSON.parse(again.stdout) as Report;
      assert.equal(second.copied.objects, 0);
      assert.equal(second.skipped.objects, localBlobs);

      // Two objects lost from the bucket (as a run stopped before them): the next run copies
      // those two and only those.
      const bucket = await S3Driver.open({
        url: s3.url,
        bucket: 'registry',
        accessKey: 'nora-access',
        secretKey: SECRET,
        region: 'us-east-1',
        localDir: path.join(dir, 'test-spool'),
      });
      try {
        for (const key of inBucket.slice(0, 2)) {
          assert.equal(await bucket.delete(key as StorageKey), true);
        }
      } finally {
        await bucket.close();
      }
      const resumed = await migrate(['--from', 'local', '--to', 's3', '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const third = JSON.parse(resumed.stdout) as Report;
      assert.equal(third.copied.objects, 2);
      assert.equal(third.skipped.objects, localBlobs - 2);

      // A server on the bucket serves everything (the database stayed in ./storage).
      {
        await using server = await serveNora({ dir }, { ...s3Env, NORA_STORAGE_MODE: 's3' });
        await pullAll(server.url, 's3');
      }

      // s3 → s3: another bucket; the same bucket is refused.
      const same = await migrate(['--from', 's3', '--to', 's3']);
      assert.equal(same.code, 2, same.stdout);
      assert.match(
        same.stderr,
        /^nora migrate: source and target are the same storage \(s3 .* bucket "registry"\): name another with --to-bucket/,
      );
      const toSecond = await migrate(['--from', 's3', '--to', 's3', '--to-bucket', 'second']);
      assert.equal(toSecond.code, 0, toSecond.stderr);
      assert.ok(toSecond.stdout.includes('bucket = "second"'), toSecond.stdout);
      assert.deepEqual((await keysIn('second')).sort(), [...inBucket].sort());

      // s3 → local in another directory; the printed change keeps the database where it is.
      const back = path.join(dir, 'back');
      const toLocal = await migrate(['--from', 's3', '--to', 'local', '--to-path', back]);
      assert.equal(toLocal.code, 0, toLocal.stderr);
      assert.match(toLocal.stdout, new RegExp(`copied ${localBlobs} `));
      const database = path.join(dir, 'storage', 'nora.db');
      assert.ok(toLocal.stdout.includes(`NORA_DATABASE_PATH=${database}`), toLocal.stdout);
      {
        await using server = await serveNora(
          { dir },
          { NORA_STORAGE_MODE: 'local', NORA_STORAGE_PATH: back, NORA_DATABASE_PATH: database },
        );
        await pullAll(server.url, 'back');
      }
    });
  },
);
