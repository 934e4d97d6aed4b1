/**
 * Two servers started in the same second on one bucket both read "no lease" and both wrote
 * theirs (trial: both claimed `nora-lease.json`). The lease is now written with S3 conditional
 * writes (`If-None-Match: *` to create, `If-Match: <etag>` to rewrite): of two claims racing,
 * exactly one wins and the other stops with BucketLeaseHeldError. A store without conditional
 * writes ('unsupported': 501 / NotImplemented) keeps the plain read-then-write. The moto tests
 * skip where moto_server is missing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  BucketLeaseHeldError,
  LEASE_KEY,
  claimLease,
  readLease,
  type BucketLease,
} from '../../../src/storage/bucket-lease.ts';
import type { StorageDriver, StorageKey } from '../../../src/storage/driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { MemoryDriver } from '../../../src/storage/drivers/memory-driver.ts';
import { S3Driver } from '../../../src/storage/drivers/s3-driver.ts';
import { MOTO_MISSING, startFakeS3 } from '../../helpers/fake-s3.ts';

const warnings: string[] = [];
const claim = (driver: StorageDriver, localDir: string): Promise<BucketLease> =>
  claimLease(driver, {
    localDir,
    where: 'the test bucket',
    warn: (message) => warnings.push(message),
  });

test(
  'S3Driver.writeIf: If-None-Match creates only while absent, If-Match rewrites only the object read',
  { skip: MOTO_MISSING },
  async () => {
    await using s3 = await startFakeS3();
    await s3.createBucket('registry', { open: true });
    const local = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-lease-race-'));
    const driver = await S3Driver.open({
      url: s3.url,
      bucket: 'registry',
      region: 'us-east-1',
      localDir: local,
    });
    try {
      const key = 'conditional.json' as StorageKey;
      const first = await driver.writeIf(key, Buffer.from('one'), { ifNoneMatch: '*' });
      assert.ok(typeof first === 'object', JSON.stringify(first));
      assert.equal(await driver.writeIf(key, Buffer.from('two'), { ifNoneMatch: '*' }), 'conflict');
      const second = await driver.writeIf(key, Buffer.from('three'), { ifMatch: first.identity });
      assert.ok(typeof second === 'object', JSON.stringify(second));
      // The first identity is stale now: a rewrite on it is refused, the object is unchanged.
      assert.equal(
        await driver.writeIf(key, Buffer.from('four'), { ifMatch: first.identity }),
        'conflict',
      );
      const stored = await driver.read(key);
      let text = '';
      for await (const chunk of stored) text += String(chunk);
      assert.equal(text, 'three');
    } finally {
      await driver.close();
      await fs.rm(local, { recursive: true, force: true });
    }
  },
);

test(
  'two installations claiming one bucket at the same moment: exactly one gets the lease',
  { skip: MOTO_MISSING },
  async () => {
    await using s3 = await startFakeS3();
    await s3.createBucket('registry', { open: true });
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-lease-race-'));
    const open = (name: string): Promise<S3Driver> =>
      S3Driver.open({
        url: s3.url,
        bucket: 'registry',
        region: 'us-east-1',
        localDir: path.join(work, `spool-${name}`),
      });
    const a = await open('a');
    const b = await open('b');
    try {
      for (let round = 0; round < 5; round += 1) {
        await a.delete(LEASE_KEY).catch(() => undefined);
        const outcomes = await Promise.allSettled([
          claim(a, path.join(work, `a${round}`)),
          claim(b, path.join(work, `b${round}`)),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o) => o.status === 'rejected');
        assert.equal(won.length, 1, `round ${round}: ${won.length} servers claimed the bucket`);
        assert.ok(lost[0]?.reason instanceof BucketLeaseHeldError, String(lost[0]?.reason));
        const winner = (won[0] as PromiseFulfilledResult<BucketLease>).value;
        assert.equal(winner.conditional, true);
        // The lease in the bucket is the winner's, and its heartbeat keeps it.
        assert.equal((await readLease(a))?.owner, winner.owner);
        await winner.heartbeat();
        assert.equal(winner.lost, false);
        await winner.release();
      }
    } finally {
      await a.close();
      await b.close();
      await fs.rm(work, { recursive: true, force: true });
    }
  },
);

test('a store without conditional writes keeps the plain read-then-write lease', async () => {
  // The memory driver has no writeIf: the guard answers 'unsupported' for it, as S3Driver does
  // for a store answering 501.
  const memory = await MemoryDriver.open();
  const driver = new GuardedDriver(memory);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-lease-plain-'));
  try {
    const lease = await claim(driver, path.join(work, 'a'));
    assert.equal(lease.conditional, false);
    assert.equal((await readLease(memory))?.owner, lease.owner);
    await lease.heartbeat();
    assert.equal(lease.lost, false);
    // Another installation's live lease written over it: the next heartbeat finds it.
    const now = new Date().toISOString();
    const other = {
      owner: 'other',
      host: 'h',
      pid: 1,
      storage: '/x',
      started: now,
      heartbeat: now,
    };
    await driver.write(LEASE_KEY, Buffer.from(JSON.stringify({ ...other, heartbeatSeconds: 30 })));
    await lease.heartbeat();
    assert.equal(lease.lost, true);
    await lease.release();
  } finally {
    await memory.close();
    await fs.rm(work, { recursive: true, force: true });
  }
});
