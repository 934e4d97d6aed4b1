/**
 * Issue 11 §6: a chunked upload whose server is killed (SIGKILL) in the middle of a PATCH must
 * resume exactly at the offset the session reports after a restart. Before the fix the spool file
 * kept the bytes of the interrupted PATCH, the status reported the last committed offset, new
 * chunks were appended after the stray bytes and the final PUT failed DIGEST_INVALID.
 *
 * Each round runs the real server process (bin/nora.js serve) on one storage directory: a first
 * PATCH completes (0..3 chunks), a second PATCH sends part of its body and stalls, the server is
 * killed once the spool holds those bytes, then restarted; the client asks GET for the upload's
 * Range, sends the rest from the reported offset, PUTs with the digest and reads the blob back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { freePort, startNoraProcess, type NoraProcess } from '../../helpers/process.ts';
import { removeDir } from '../../helpers/tmp.ts';

const KiB = 1024;
const BLOB_SIZE = 2048 * KiB;
const NAME = 'resume/img';
const BASE = `/repository/docker-hosted/v2/${NAME}`;

/** Deterministic, non-repeating bytes (a repeated pattern could hide an offset error). */
function blobBytes(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i * 32 < size; i++) {
    createHash('sha256')
      .update(`resume ${i}`)
      .digest()
      .copy(out, i * 32);
  }
  return out;
}

async function start(storage: string, port: number): Promise<NoraProcess> {
  return startNoraProcess({
    port,
    env: { NORA_STORAGE_PATH: storage, NORA_LOG_LEVEL: 'warn' },
  });
}

async function stop(server: NoraProcess, signal: NodeJS.Signals): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill(signal);
  }
  await server.exited;
}

/** Sends `head` of a PATCH body and never ends it; resolves once the request is written. */
function stalledPatch(url: string, start: number, head: Buffer, total: number): http.ClientRequest {
  const request = http.request(url, {
    method: 'PATCH',
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(total),
      'content-range': `${start}-${start + total - 1}`,
    },
  });
  request.on('error', () => undefined); // the server dies under it
  request.write(head);
  return request;
}

async function spoolSize(storage: string): Promise<number> {
  const dir = path.join(storage, '.tmp', 'uploads');
  const files = await fs.readdir(dir).catch(() => [] as string[]);
  let total = 0;
  for (const file of files) total += (await fs.stat(path.join(dir, file))).size;
  return total;
}

describe('chunked upload resume after kill -9 (real process)', () => {
  test('a session killed mid-PATCH continues at the offset it reports', async (t) => {
    const blob = blobBytes(BLOB_SIZE);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-resume-'));
    const storage = path.join(dir, 'storage');
    const port = await freePort();
    let server: NoraProcess | undefined;
    try {
      // Kill points: [committed chunk bytes, bytes of the stalled PATCH received before the kill].
      const rounds: [number, number][] = [
        [0, 300 * KiB],
        [256 * KiB, 700 * KiB],
        [512 * KiB, 64 * KiB],
        [768 * KiB, 1000 * KiB],
        [1024 * KiB, 900 * KiB],
      ];
      for (const [round, [committed, stalled]] of rounds.entries()) {
        server = await start(storage, port);
        const post = await fetch(`${server.url}${BASE}/blobs/uploads/`, { method: 'POST' });
        assert.equal(post.status, 202);
        const location = new URL(post.headers.get('location') ?? '', server.url).href;
        let offset = 0;
        if (committed > 0) {
          const patch = await fetch(location, {
            method: 'PATCH',
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `0-${committed - 1}`,
            },
            body: blob.subarray(0, committed),
          });
          assert.equal(patch.status, 202);
          offset = committed;
        }
        const request = stalledPatch(
          location,
          offset,
          blob.subarray(offset, offset + stalled),
          BLOB_SIZE - offset,
        );
        const deadline = Date.now() + 10_000;
        while ((await spoolSize(storage)) < offset + stalled) {
          assert.ok(Date.now() < deadline, 'the stalled PATCH bytes reach the spool');
          await new Promise((r) => setTimeout(r, 10));
        }
        await stop(server, 'SIGKILL');
        request.destroy();

        server = await start(storage, port);
        const status = await fetch(location);
        assert.equal(status.status, 204);
        const range = status.headers.get('range') ?? '';
        const match = /^0-(\d+)$/.exec(range);
        assert.ok(match, `Range header: ${range}`);
        // NORA (as Distribution) reports offset 0 as `0-0`; no round stops at offset 1.
        const reported = range === '0-0' ? 0 : Number(match[1]) + 1;
        assert.ok(reported <= offset + stalled, `reported offset ${reported} was received`);
        const rest = await fetch(location, {
          method: 'PATCH',
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${reported}-${BLOB_SIZE - 1}`,
          },
          body: blob.subarray(reported),
        });
        assert.equal(rest.status, 202, await rest.text());
        const next = new URL(rest.headers.get('location') ?? location, server.url);
        next.searchParams.set('digest', digest);
        const put = await fetch(next, { method: 'PUT' });
        assert.equal(put.status, 201, `round ${round}: ${await put.text()}`);
        const get = await fetch(`${server.url}${BASE}/blobs/${digest}`);
        assert.equal(get.status, 200);
        const body = Buffer.from(await get.arrayBuffer());
        assert.equal(body.length, BLOB_SIZE);
        assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, digest);
        const del = await fetch(`${server.url}${BASE}/blobs/${digest}`, { method: 'DELETE' });
        await del.arrayBuffer();
        await stop(server, 'SIGTERM');
        server = undefined;
        t.diagnostic(
          `round ${round}: committed ${committed}, stalled ${stalled}, resumed at ${reported}`,
        );
      }
    } finally {
      if (server) await stop(server, 'SIGKILL');
      await removeDir(dir);
    }
  });
});
