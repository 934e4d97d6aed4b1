import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import {
  BlobIntegrityError,
  BlobStore,
  type DamagedBlob,
} from '../../../src/storage/blob-store.ts';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { S3Driver, type S3DriverOptions } from '../../../src/storage/drivers/s3-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { localFileOf } from '../../../src/storage/local-file.ts';
import { MOTO_MISSING, startFakeS3, type FakeS3 } from '../../helpers/fake-s3.ts';
import { MapIndex } from '../../helpers/storage.ts';
import { runDriverContract } from './driver-contract.ts';

const key = (k: string) => k as StorageKey;
let buckets = 0;

async function localDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'nora-s3-local-'));
}

/** Every file (not folder) under `dir`, relative names: what a read left in the spool. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

if (MOTO_MISSING) {
  test('s3 driver against a fake S3', { skip: MOTO_MISSING }, () => {});
} else {
  let s3: FakeS3 | undefined;
  const fake = (): FakeS3 => {
    if (s3 === undefined) throw new Error('fake S3 not started');
    return s3;
  };
  before(async () => {
    s3 = await startFakeS3();
  });
  after(async () => {
    await s3?.[Symbol.asyncDispose]();
  });

  /** A driver on a fresh bucket of its own (keys signed: moto takes any). */
  const driverOn = async (extra: Partial<S3DriverOptions> = {}): Promise<S3Driver> => {
    const bucket = `contract-${process.pid}-${(buckets += 1)}`;
    await fake().createBucket(bucket, {
      open: extra.accessKey === undefined && 'accessKey' in extra,
    });
    return S3Driver.open({
      url: fake().url,
      bucket,
      accessKey: 'test-access',
      secretKey: 'test-secret',
      region: 'us-east-1',
      localDir: await localDir(),
      ...extra,
    });
  };

  runDriverContract('s3 (moto)', () => driverOn());
  runDriverContract('s3 (moto, anonymous)', () =>
    driverOn({ accessKey: undefined, secretKey: undefined }),
  );

  describe('s3 driver', () => {
    test('a file over the multipart threshold goes up in parts and reads back whole', async () => {
      const driver = await driverOn({ multipartThreshold: 1024, partSize: 5 * 1024 * 1024 });
      try {
        const size = 11 * 1024 * 1024 + 123;
        const body = Buffer.alloc(size);
        for (let i = 0; i < size; i += 4096) body[i] = i % 251;
        const file = path.join(driver.spoolDir(), 'big');
        await fs.writeFile(file, body);
        const info = await driver.writeFile(key('blobs/big'), file);
        assert.equal(info.size, size);
        await assert.rejects(fs.access(file));
        assert.equal((await driver.stat(key('blobs/big')))?.size, size);
        const back = Buffer.concat(await (await driver.read(key('blobs/big'))).toArray());
        assert.ok(back.equals(body));
        const tail = await (
          await driver.read(key('blobs/big'), { start: size - 3, end: size - 1 })
        ).toArray();
        assert.deepEqual(Buffer.concat(tail), body.subarray(size - 3));
      } finally {
        await driver.close();
      }
    });

    test('list follows continuation tokens past one page (1000 keys)', async () => {
      const driver = await driverOn();
      try {
        const keys = Array.from({ length: 1005 }, (_, i) => `l/${String(i).padStart(4, '0')}`);
        for (let i = 0; i < keys.length; i += 50) {
          await Promise.all(keys.slice(i, i + 50).map((k) => driver.write(key(k), Buffer.from(k))));
        }
        const listed: string[] = [];
        for await (const info of driver.list(key('l'))) listed.push(info.key);
        assert.deepEqual(listed, keys);
      } finally {
        await driver.close();
      }
    });

    test('the write probe leaves nothing that list shows', async () => {
      const driver = await driverOn();
      try {
        await driver.probeWrite(key('blobs/'));
        const listed: string[] = [];
        for await (const info of driver.list(key('blobs'))) listed.push(info.key);
        assert.deepEqual(listed, []);
      } finally {
        await driver.close();
      }
    });

    test('reads carry the object identity (ETag), the same until it is rewritten', async () => {
      const driver = await driverOn();
      try {
        await driver.write(key('i/x'), Buffer.from('one'));
        const first = (await driver.stat(key('i/x')))?.identity;
        assert.ok(first?.startsWith('s3:'));
        await driver.write(key('i/x'), Buffer.from('two'));
        assert.notEqual((await driver.stat(key('i/x')))?.identity, first);
        assert.equal(await text(await driver.read(key('i/x'))), 'two');
      } finally {
        await driver.close();
      }
    });

    test('moveIfSame moves only the object read (its ETag): a rewritten one stays, nothing kept (review 2026-12-06)', async () => {
      const driver = await driverOn();
      try {
        await driver.write(key('m/blob'), Buffer.from('damaged'));
        const read = (await driver.stat(key('m/blob')))?.identity ?? '';
        await driver.write(key('m/blob'), Buffer.from('good copy'));
        assert.equal(await driver.moveIfSame(key('m/blob'), key('q/one'), read), 'changed');
        assert.equal(await text(await driver.read(key('m/blob'))), 'good copy');
        assert.equal(await driver.stat(key('q/one')), undefined);

        const now = (await driver.stat(key('m/blob')))?.identity ?? '';
        assert.equal(await driver.moveIfSame(key('m/blob'), key('q/two'), now), 'moved');
        assert.equal(await driver.stat(key('m/blob')), undefined);
        assert.equal(await text(await driver.read(key('q/two'))), 'good copy');
        assert.equal(await driver.moveIfSame(key('m/blob'), key('q/three'), now), 'absent');
      } finally {
        await driver.close();
      }
    });

    test('a damaged blob of up to 64 MiB is refused before any byte, as on local storage; a good one is served from a spool file left nowhere', async () => {
      const driver = await driverOn();
      const blobs = new BlobStore(new GuardedDriver(driver), new MapIndex());
      const removals: Promise<DamagedBlob>[] = [];
      blobs.observeReads(({ removal }) => removals.push(removal));
      try {
        const bytes = randomBytes(1_000_000);
        const { digest } = await blobs.ingest(Readable.from([bytes]));
        // Damaged in the bucket (a new ETag, as any rewrite of the object gives).
        const damaged = Buffer.from(bytes);
        damaged[10] = (damaged[10] ?? 0) ^ 1;
        await driver.write(blobKey(digest), damaged);
        // Refused by open() itself: the HTTP layer answers 410/503 with no byte of the blob.
        const outcome = await blobs.open(digest).then(
          (stream) => {
            stream.destroy(); // before the fix: served, to be cut once the last chunk is hashed
            return 'a stream of the damaged bytes';
          },
          (err: unknown) => err,
        );
        assert.ok(outcome instanceof BlobIntegrityError, String(outcome));
        const [moved] = await Promise.all(removals);
        assert.equal(moved?.removed, true);
        // Kept in the bucket as evidence (trial 35): a CopyObject under quarantine/.
        assert.match(moved.kept ?? '', /^quarantine\/sha256\/[0-9a-f]{64}\.\d{8}T\d{9}Z$/);
        assert.ok((await buffer(await driver.read(moved.kept as StorageKey))).equals(damaged));
        assert.equal(await driver.stat(blobKey(digest)), undefined);
        assert.deepEqual(await filesUnder(driver.spoolDir()), []);

        // Good bytes: answered from the spool file (a local file stream), the file unlinked.
        const good = randomBytes(2_000_000);
        const stored = await blobs.ingest(Readable.from([good]));
        const stream = await blobs.open(stored.digest);
        assert.ok(localFileOf(stream) !== undefined);
        assert.deepEqual(await filesUnder(driver.spoolDir()), []);
        assert.ok((await buffer(stream)).equals(good));
        // A read dropped unread (a client gone) leaves nothing either; then the ETag memo
        // serves the verified object straight from the bucket.
        const again = await blobs.hosted(stored.digest).open();
        again.destroy();
        assert.deepEqual(await filesUnder(driver.spoolDir()), []);
        // Ranged reads are not checked (a part cannot be) and stream from the bucket.
        const part = await blobs.open(stored.digest, { start: 5, end: 9 });
        assert.ok((await buffer(part)).equals(good.subarray(5, 10)));
      } finally {
        await driver.close();
      }
    });

    test('a damaged hosted blob on S3 answers 410 (hostedContentDamaged), as on local storage', async () => {
      const driver = await driverOn();
      const blobs = new BlobStore(new GuardedDriver(driver), new MapIndex());
      try {
        const bytes = randomBytes(300_000);
        const { digest } = await blobs.ingest(Readable.from([bytes]));
        const damaged = Buffer.from(bytes);
        damaged[0] = (damaged[0] ?? 0) ^ 1;
        await driver.write(blobKey(digest), damaged);
        const outcome = await blobs
          .hosted(digest)
          .open()
          .then(
            (stream) => {
              stream.destroy();
              return { status: 200, message: 'a stream of the damaged bytes' };
            },
            (err: unknown) => err as Error & { status?: number },
          );
        assert.equal(outcome.status, 410, outcome.message);
      } finally {
        await driver.close();
      }
    });

    test('check names the endpoint and the bucket when the bucket is missing', async () => {
      const driver = await S3Driver.open({
        url: fake().url,
        bucket: 'no-such-bucket',
        accessKey: 'test-access',
        secretKey: 'very-secret-value',
        region: 'us-east-1',
        localDir: await localDir(),
      });
      try {
        await assert.rejects(driver.check(), (err: Error) => {
          assert.match(err.message, /no-such-bucket/);
          assert.match(err.message, new RegExp(fake().url.replace(/[.]/g, '\\.')));
          assert.match(err.message, /does not exist.*HTTP 404/);
          assert.doesNotMatch(err.message, /very-secret-value/);
          return true;
        });
      } finally {
        await driver.close();
      }
    });
  });
}

test(
  "SigV4: a store that checks signatures takes the driver's, and refuses a wrong secret",
  { skip: MOTO_MISSING },
  async () => {
    await using s3 = await startFakeS3({ signed: true, buckets: ['signed'] });
    const keys = s3.credentials;
    assert.ok(keys !== undefined);
    const open = async (secretKey: string, extra: Partial<S3DriverOptions> = {}) =>
      S3Driver.open({
        url: s3.url,
        bucket: 'signed',
        accessKey: keys.accessKey,
        secretKey,
        region: 'us-east-1',
        localDir: await localDir(),
        ...extra,
      });
    const driver = await open(keys.secretKey, { multipartThreshold: 1024 });
    try {
      await driver.check();
      const blob = key('blobs/sha256/ab/abcdef0123');
      await driver.write(blob, Buffer.from('signed bytes'));
      assert.equal((await driver.stat(blob))?.size, 12);
      assert.equal(await text(await driver.read(blob, { start: 7, end: 10 })), 'byte');
      // Multipart: CreateMultipartUpload, UploadPart and Complete carry query parameters.
      const file = path.join(driver.spoolDir(), 'multi');
      await fs.writeFile(file, Buffer.alloc(6 * 1024 * 1024, 7));
      assert.equal((await driver.writeFile(key('blobs/sha256/cd/cdef'), file)).size, 6291456);
      assert.equal((await driver.stat(key('blobs/sha256/cd/cdef')))?.size, 6291456);
      assert.equal(await driver.delete(blob), true);
      assert.equal(await driver.stat(blob), undefined);
    } finally {
      await driver.close();
    }
    const wrong = await open('not-the-secret');
    try {
      await assert.rejects(wrong.check(), /access denied .*\(HTTP 403\)/);
      await assert.rejects(
        wrong.write(key('blobs/x'), Buffer.from('x')),
        /HTTP 403 SignatureDoesNotMatch/,
      );
    } finally {
      await wrong.close();
    }
  },
);

test('check: denied (403) and unreachable are said with endpoint and bucket, never the secret', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(403).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const denied = await S3Driver.open({
      url: `http://127.0.0.1:${port}`,
      bucket: 'registry',
      accessKey: 'AKIDEXAMPLE',
      secretKey: 'wrong-secret-value',
      region: 'us-east-1',
      localDir: await localDir(),
    });
    await assert.rejects(denied.check(), (err: Error) => {
      assert.match(err.message, /127\.0\.0\.1:\d+ bucket "registry": access denied/);
      assert.match(err.message, /HTTP 403/);
      assert.doesNotMatch(err.message, /wrong-secret-value/);
      return true;
    });
    await denied.close();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  // The port just closed: nothing listens there now.
  const gone = await S3Driver.open({
    url: `http://127.0.0.1:${port}`,
    bucket: 'registry',
    region: 'us-east-1',
    localDir: await localDir(),
  });
  await assert.rejects(gone.check(), /bucket "registry" is unreachable: ECONNREFUSED/);
  await gone.close();
});

test("addressing: path-style by default (under the URL's path), virtual-hosted on request", async () => {
  const options = {
    bucket: 'registry',
    accessKey: 'AKIDEXAMPLE',
    secretKey: 'secret',
    region: 'eu-west-1',
    localDir: await localDir(),
  };
  const pathStyle = await S3Driver.open({ ...options, url: 'https://s3.example.net/base/' });
  const virtual = await S3Driver.open({
    ...options,
    url: 'https://s3.example.net',
    virtualHosted: true,
  });
  try {
    const a = new URL((await pathStyle.signedUrl(key('blobs/sha256/ab/abc'), 60)) ?? '');
    assert.equal(a.host, 's3.example.net');
    assert.equal(a.pathname, '/base/registry/blobs/sha256/ab/abc');
    assert.equal(a.searchParams.get('X-Amz-Expires'), '60');
    assert.match(
      a.searchParams.get('X-Amz-Credential') ?? '',
      /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\//,
    );
    assert.ok(!a.href.includes('secret'));
    const b = new URL((await virtual.signedUrl(key('blobs/sha256/ab/abc'), 60)) ?? '');
    assert.equal(b.host, 'registry.s3.example.net');
    assert.equal(b.pathname, '/blobs/sha256/ab/abc');
    // Anonymous: nothing to sign, no URL.
    const anonymous = await S3Driver.open({
      ...options,
      accessKey: '',
      url: 'https://s3.example.net',
    });
    assert.equal(await anonymous.signedUrl(key('blobs/x'), 60), undefined);
    await anonymous.close();
  } finally {
    await pathStyle.close();
    await virtual.close();
  }
});
