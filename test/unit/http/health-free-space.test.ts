/**
 * /health judges the storage disk's room (trial 25 ops F10): on a nearly full disk every
 * realistic upload answered 507 while /health, whose write probe stores one byte, said healthy
 * and `nora healthcheck --strict` passed. Now it is `degraded` below 10% of the file system (at
 * most 256 MiB) free, saying why, and once a write under the storage met ENOSPC/EDQUOT until that
 * much more space is free again; `free_bytes` is reported where the storage is a directory.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { storageFault } from '../../../src/core/errors.ts';
import { probeHealth } from '../../../src/http/healthcheck-cli.ts';
import { registerSystemRoutes } from '../../../src/http/system-routes.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import {
  freeSpaceOf,
  type FreeSpace,
  lowSpaceReason,
  lowSpaceThreshold,
  type SpaceState,
  StorageSpace,
} from '../../../src/storage/free-space.ts';

const KiB = 1024;
const MiB = 1024 * 1024;

/** A /health whose storage reports `space` (every other part fine), listening on 127.0.0.1. */
async function healthServer(space: () => Promise<SpaceState | undefined>) {
  const app = Fastify();
  registerSystemRoutes(app, {
    version: 'test',
    metrics: new Metrics(),
    storageBackend: 'local',
    checkStorage: () => Promise.resolve(),
    probeWrite: () => Promise.resolve(),
    checkDatabase: () => Promise.resolve(),
    freeSpace: space,
    totalSizeBytes: () => Promise.resolve(0),
    registries: () => new Map(),
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

const health = async (url: string) =>
  (await (await fetch(`${url}/health`)).json()) as {
    status: string;
    storage: Record<string, unknown>;
  };

/** The disk ENOSPC as fs reports it: errno code and the path written. */
const enospc = (at: string) =>
  Object.assign(new Error(`ENOSPC: no space left on device, write '${at}'`), {
    code: 'ENOSPC',
    path: at,
  });

test('nearly full is 10% of the file system, at most 256 MiB', () => {
  assert.equal(lowSpaceThreshold(4 * MiB), Math.floor(4 * MiB * 0.1));
  assert.equal(lowSpaceThreshold(1024 * 1024 * MiB), 256 * MiB);
  assert.equal(lowSpaceReason({ free: 3 * MiB, total: 4 * MiB }), undefined);
  assert.equal(
    lowSpaceReason({ free: 284 * KiB, total: 4 * MiB }),
    '284 KiB free of 4 MiB, below 409.6 KiB (10% of the file system, at most 256 MiB)',
  );
  assert.match(
    lowSpaceReason({ free: 10 * MiB, total: 500 * 1024 * MiB }) ?? '',
    /^10 MiB free of 500 GiB, below 256 MiB/,
  );
});

test('a real directory has its free and total bytes', async () => {
  const space = await freeSpaceOf(os.tmpdir());
  assert.ok(space.total > 0 && space.free >= 0 && space.free <= space.total, JSON.stringify(space));
});

test('/health: degraded with the reason on a nearly full disk, and healthcheck --strict fails', async () => {
  let space: SpaceState = { free: 3 * MiB, total: 4 * MiB, full: false };
  const { app, url } = await healthServer(() => Promise.resolve(space));
  try {
    let body = await health(url);
    assert.equal(body.status, 'healthy');
    assert.equal(body.storage['free_bytes'], 3 * MiB);
    assert.equal(body.storage['full'], false);
    assert.equal(body.storage['low_space'], undefined);
    assert.equal((await probeHealth(url, { timeoutMs: 5000, strict: true })).ok, true);

    // The report's full tmpfs: 284 KiB left, one byte still fits, a 300 KB upload does not.
    space = { free: 284 * KiB, total: 4 * MiB, full: false };
    const answer = await fetch(`${url}/health`);
    assert.equal(answer.status, 200);
    body = (await answer.json()) as typeof body;
    assert.equal(body.status, 'degraded');
    assert.equal(body.storage['writable'], true);
    assert.equal(body.storage['free_bytes'], 284 * KiB);
    assert.equal(
      body.storage['low_space'],
      '284 KiB free of 4 MiB, below 409.6 KiB (10% of the file system, at most 256 MiB)',
    );
    const strict = await probeHealth(url, { timeoutMs: 5000, strict: true });
    assert.equal(strict.ok, false);
    assert.match(
      strict.line,
      /^degraded:.*storage disk nearly full \(284 KiB free of 4 MiB, below 409\.6 KiB \(10% of the file system, at most 256 MiB\)\): uploads may fail \(--strict: unhealthy\)$/,
    );
    assert.equal((await probeHealth(url, { timeoutMs: 5000 })).ok, true);

    // Plenty free, but a write met a full disk (a quota, another writer filled it meanwhile).
    space = { free: 3 * MiB, total: 4 * MiB, full: true };
    body = await health(url);
    assert.equal(body.status, 'degraded');
    assert.equal(body.storage['full'], true);
    const full = await probeHealth(url, { timeoutMs: 5000, strict: true });
    assert.match(full.line, /storage met a full disk: uploads fail \(--strict: unhealthy\)$/);
  } finally {
    await app.close();
  }
});

test('/health: no free-space part where the storage cannot say (S3)', async () => {
  const { app, url } = await healthServer(() => Promise.resolve(undefined));
  try {
    const body = await health(url);
    assert.equal(body.status, 'healthy');
    assert.equal('free_bytes' in body.storage, false);
  } finally {
    await app.close();
  }
});

test('StorageSpace: an ENOSPC under the storage counts as full until that much more room is free', async () => {
  const dir = path.join(os.tmpdir(), 'nora-space-test', 'storage');
  let disk: FreeSpace = { free: 2 * MiB, total: 4 * MiB };
  const space = new StorageSpace(dir, () => Promise.resolve(disk));
  try {
    assert.equal((await space.state()).full, false);
    // Another storage's full disk is not this one's.
    storageFault(enospc(path.join(os.tmpdir(), 'nora-space-test', 'other', '.tmp', 'x')));
    assert.equal((await space.state()).full, false);

    disk = { free: 100 * KiB, total: 4 * MiB };
    const answer = storageFault(enospc(path.join(dir, '.tmp', 'ingest', 'u1')));
    assert.equal(answer?.status, 507);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await space.state()).full, true);
    // Some room back (a small file deleted): not yet.
    disk = { free: 300 * KiB, total: 4 * MiB };
    assert.equal((await space.state()).full, true);
    // The nearly-full threshold (409.6 KiB) more than then: cleared.
    disk = { free: 100 * KiB + 410 * KiB, total: 4 * MiB };
    assert.equal((await space.state()).full, false);
  } finally {
    space.close();
  }
  // Closed: no longer told.
  storageFault(enospc(path.join(dir, 'x')));
  assert.equal((await space.state()).full, false);
});
