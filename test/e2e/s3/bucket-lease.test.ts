/**
 * Two NORA installations on one S3 bucket (trial 30 newB): each has its own database, so each
 * sees the other's blobs as unreferenced. The bucket's lease (`nora-lease.json`,
 * src/storage/bucket-lease.ts) stops a second installation's `nora serve` (exit 1, naming the
 * holder and how to take over), and its `nora gc --apply` / `nora verify --remove`, while the
 * first's blob stays; the same installation restarts at once, and a stale lease (a kill -9) is
 * taken over with a warning. Skips where moto_server is missing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { text } from 'node:stream/consumers';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { S3Driver } from '../../../src/storage/drivers/s3-driver.ts';
import { nora } from '../../helpers/cli.ts';
import { MOTO_MISSING, startFakeS3, type FakeS3 } from '../../helpers/fake-s3.ts';
import { freePort, serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const LEASE = 'nora-lease.json';

describe('one NORA installation per S3 bucket (the lease)', { skip: MOTO_MISSING }, () => {
  let s3: FakeS3;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let env: Record<string, string>;
  const dirA = () => path.join(work.path, 'a');
  const dirB = () => path.join(work.path, 'b');
  // Signed requests (the object is private), through NORA's own driver.
  const bucket = (): Promise<S3Driver> =>
    S3Driver.open({
      url: s3.url,
      bucket: 'registry',
      accessKey: 'nora-access',
      secretKey: 'nora-secret',
      region: 'us-east-1',
      localDir: path.join(work.path, 'probe'),
    });
  const leaseText = async (): Promise<string> => {
    const driver = await bucket();
    try {
      return await text(await driver.read(LEASE as StorageKey));
    } finally {
      await driver.close();
    }
  };

  before(async () => {
    s3 = await startFakeS3();
    await s3.createBucket('registry');
    work = await tempDir('nora-s3-lease-');
    // serveNora runs the server in its directory: it must exist.
    await fs.mkdir(dirA());
    await fs.mkdir(dirB());
    env = {
      NORA_STORAGE_MODE: 's3',
      NORA_STORAGE_S3_URL: s3.url,
      NORA_STORAGE_BUCKET: 'registry',
      NORA_STORAGE_S3_ACCESS_KEY: 'nora-access',
      NORA_STORAGE_S3_SECRET_KEY: 'nora-secret',
    };
  });
  after(async () => {
    await s3[Symbol.asyncDispose]();
    await work[Symbol.asyncDispose]();
  });

  test('a second installation is refused (serve, gc --apply, verify --remove); the first keeps its blob', async () => {
    const envB = { ...env, NORA_STORAGE_PATH: path.join(dirB(), 'storage') };
    // B runs once (its database exists), then stops cleanly: its lease says stopped.
    const b = await serveNora({ dir: dirB() }, env);
    await b[Symbol.asyncDispose]();
    assert.match(await leaseText(), /"stopped"/);

    await using a = await serveNora({ dir: dirA() }, env);
    // A took over B's stopped lease, saying so.
    assert.match(a.output(), /took over the S3 bucket's lease/);
    const bytes = randomBytes(5000);
    const put = await fetch(`${a.url}/raw/f/x.bin`, { method: 'PUT', body: bytes });
    assert.equal(put.status, 201, await put.text());

    const serveB = await nora(
      ['serve'],
      { ...envB, NORA_PORT: String(await freePort()) },
      work.path,
      60_000,
    );
    assert.equal(serveB.code, 1, serveB.stderr);
    assert.match(serveB.stderr, /is in use by the NORA server pid \d+ on host/);
    assert.match(serveB.stderr, /delet\w* the object nora-lease\.json/);

    const gcB = await nora(['gc', '--apply', '--grace', '0'], envB, work.path, 60_000);
    assert.notEqual(gcB.code, 0, gcB.stdout);
    assert.match(gcB.stderr, /refusing nora gc --apply: .*another NORA installation/);
    const verifyB = await nora(['verify', '--remove'], envB, work.path, 60_000);
    assert.notEqual(verifyB.code, 0, verifyB.stdout);
    assert.match(verifyB.stderr, /refusing nora verify --remove/);

    const got = await fetch(`${a.url}/raw/f/x.bin`);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));

    // The owner's own offline gc is not refused.
    const gcA = await nora(
      ['gc', '--apply', '--grace', '0'],
      { ...env, NORA_STORAGE_PATH: path.join(dirA(), 'storage') },
      work.path,
      60_000,
    );
    assert.equal(gcA.code, 0, gcA.stderr);
  });

  test('a restart of the same installation after kill -9 is not blocked; a stale lease is taken over', async () => {
    const first = await serveNora({ dir: dirA() }, env);
    first.child.kill('SIGKILL');
    await first.exited;
    // The same owner: at once, although the killed server's heartbeat is fresh.
    const again = await serveNora({ dir: dirA() }, env);
    again.child.kill('SIGKILL');
    await again.exited;
    // Another installation: refused while fresh; a heartbeat older than 3 heartbeats is stale.
    const lease = JSON.parse(await leaseText()) as Record<string, unknown>;
    const old = { ...lease, heartbeat: new Date(Date.now() - 3600_000).toISOString() };
    const driver = await bucket();
    await driver.write(LEASE as StorageKey, Buffer.from(JSON.stringify(old)));
    await driver.close();
    await using b = await serveNora({ dir: dirB() }, env);
    assert.match(b.output(), /took over the S3 bucket's stale lease/);
    assert.match(await leaseText(), new RegExp(`"pid": ${String(b.child.pid)}`));
  });
});
