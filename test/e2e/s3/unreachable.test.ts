/**
 * The S3 store gone while NORA runs (trial 30 newB): clients got `500 internal server error` and
 * the log a stack. Now every request that needs the store answers 503 `storage is unavailable
 * (S3: ECONNREFUSED)` in its protocol's shape (raw: text; OCI: its JSON `errors`), as a local
 * storage failure does. Skips where moto_server is missing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { MOTO_MISSING, startFakeS3 } from '../../helpers/fake-s3.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

test(
  "a store gone while NORA runs: 503 storage is unavailable, in each protocol's shape",
  { skip: MOTO_MISSING },
  async () => {
    const s3 = await startFakeS3();
    await s3.createBucket('registry');
    await using work = await tempDir('nora-s3-gone-');
    const dir = path.join(work.path, 'a');
    await fs.mkdir(dir);
    await using server = await serveNora(
      { dir },
      {
        NORA_STORAGE_MODE: 's3',
        NORA_STORAGE_S3_URL: s3.url,
        NORA_STORAGE_BUCKET: 'registry',
        NORA_STORAGE_S3_ACCESS_KEY: 'nora-access',
        NORA_STORAGE_S3_SECRET_KEY: 'nora-secret',
      },
    );
    const bytes = randomBytes(3000);
    const put = await fetch(`${server.url}/raw/f/x.bin`, { method: 'PUT', body: bytes });
    assert.equal(put.status, 201, await put.text());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const pushed = await fetch(`${server.url}/v2/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(pushed.status, 201, await pushed.text());

    await s3[Symbol.asyncDispose]();

    const raw = await fetch(`${server.url}/raw/f/x.bin`);
    const rawText = await raw.text();
    assert.equal(raw.status, 503, rawText);
    assert.match(rawText, /storage is unavailable \(S3: ECONNREFUSED\)/);

    const upload = await fetch(`${server.url}/raw/f/y.bin`, {
      method: 'PUT',
      body: randomBytes(100),
    });
    const uploadText = await upload.text();
    assert.equal(upload.status, 503, uploadText);
    assert.match(uploadText, /storage is unavailable \(S3: ECONNREFUSED\)/);

    const blob = await fetch(`${server.url}/v2/app/blobs/${digest}`);
    assert.equal(blob.status, 503);
    const body = (await blob.json()) as { errors?: { code?: string; message?: string }[] };
    // OCI has no code for it: UNKNOWN, as for a local storage failure (Distribution's too).
    assert.equal(body.errors?.[0]?.code, 'UNKNOWN');
    assert.match(JSON.stringify(body.errors), /storage is unavailable \(S3: ECONNREFUSED\)/);

    assert.doesNotMatch(server.output(), /"status":500/);
    // Logged as what happened, without a stack trace.
    assert.match(server.output(), /S3 store unreachable: ECONNREFUSED/);
    assert.doesNotMatch(server.output(), /\\n {4}at /);
  },
);
