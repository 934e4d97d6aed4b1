/**
 * A kill -9 mid-upload leaves an incomplete multipart upload in the bucket forever (trial 30
 * newB): S3Driver.abortStaleUploads lists them (ListMultipartUploads) and aborts those under the
 * prefix begun before the cut-off; `nora serve` calls it at start for `blobs/` with a day's
 * bound. Skips where moto_server is missing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { S3Driver } from '../../../src/storage/drivers/s3-driver.ts';
import { MOTO_MISSING, startFakeS3 } from '../../helpers/fake-s3.ts';

test(
  'abortStaleUploads aborts the incomplete multipart uploads under the prefix begun before the cut-off',
  { skip: MOTO_MISSING },
  async () => {
    await using s3 = await startFakeS3();
    await s3.createBucket('registry', { open: true });
    const local = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-s3-uploads-'));
    const begin = async (key: string): Promise<void> => {
      const response = await fetch(`${s3.url}/registry/${key}?uploads`, { method: 'POST' });
      assert.equal(response.status, 200, await response.text());
    };
    const pending = async (): Promise<string[]> => {
      const text = await (await fetch(`${s3.url}/registry?uploads`)).text();
      return [...text.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1] ?? '').sort();
    };
    await begin('blobs/sha256/aa/aaaa');
    await begin('blobs/sha256/bb/bbbb');
    await begin('elsewhere/not-noras');
    const driver = await S3Driver.open({
      url: s3.url,
      bucket: 'registry',
      region: 'us-east-1',
      localDir: local,
    });
    try {
      // A cut-off before they began (moto says every upload began on 2010-11-10): none is stale.
      assert.equal(
        await driver.abortStaleUploads('blobs/' as StorageKey, new Date('2001-01-01T00:00:00Z')),
        0,
      );
      assert.equal((await pending()).length, 3);
      // A bounded pass (limit 1) aborts one; the next pass the other; the key outside blobs/
      // is not NORA's and stays.
      const later = new Date(Date.now() + 60_000);
      assert.equal(await driver.abortStaleUploads('blobs/' as StorageKey, later, 1), 1);
      assert.equal((await pending()).length, 2);
      assert.equal(await driver.abortStaleUploads('blobs/' as StorageKey, later), 1);
      assert.deepEqual(await pending(), ['elsewhere/not-noras']);
    } finally {
      await driver.close();
      await fs.rm(local, { recursive: true, force: true });
    }
  },
);
