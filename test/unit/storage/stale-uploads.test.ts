/**
 * Stale multipart uploads were aborted only at start: a server running for weeks kept every
 * crash's parts (billed) until its next restart. sweepStaleUploads repeats the pass on a timer
 * (unref'd), never two passes at once, each bounded (STALE_UPLOADS_PER_PASS), a failing list a
 * warning.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { StorageDriver, StorageKey } from '../../../src/storage/driver.ts';
import {
  STALE_UPLOAD_SECONDS,
  STALE_UPLOADS_PER_PASS,
  sweepStaleUploads,
} from '../../../src/storage/stale-uploads.ts';

test('the running server aborts stale uploads on a timer, one bounded pass at a time', async () => {
  const calls: { prefix: string; before: number; limit: number | undefined }[] = [];
  let running = 0;
  let overlapped = false;
  const driver = {
    async abortStaleUploads(prefix: StorageKey, before: Date, limit?: number): Promise<number> {
      running += 1;
      if (running > 1) overlapped = true;
      calls.push({ prefix, before: before.getTime(), limit });
      // A slow list (longer than the interval): the next pass must wait for this one.
      await sleep(60);
      running -= 1;
      if (calls.length === 2) throw new Error('AccessDenied');
      return 1;
    },
  } as unknown as StorageDriver;
  const warnings: string[] = [];
  const sweeps = sweepStaleUploads(driver, 'blobs/' as StorageKey, (m) => warnings.push(m), 0.02);
  try {
    const deadline = Date.now() + 5000;
    while (calls.length < 3 && Date.now() < deadline) await sleep(20);
  } finally {
    await sweeps.stop();
  }
  assert.ok(calls.length >= 3, `${calls.length} passes`);
  assert.equal(overlapped, false);
  for (const call of calls) {
    assert.equal(call.prefix, 'blobs/');
    assert.equal(call.limit, STALE_UPLOADS_PER_PASS);
    const age = Date.now() - call.before;
    assert.ok(Math.abs(age - STALE_UPLOAD_SECONDS * 1000) < 10_000, `cut-off ${age} ms ago`);
  }
  assert.ok(warnings.some((m) => m.startsWith('aborted 1 incomplete multipart upload(s)')));
  assert.ok(
    warnings.some((m) => m.includes('AccessDenied')),
    warnings.join('\n'),
  );
  // Stopped: no pass after stop().
  const count = calls.length;
  await sleep(80);
  assert.equal(calls.length, count);
});
