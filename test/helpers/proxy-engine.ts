/**
 * A proxy engine on its own temp storage and in-memory database, as the format proxy tests build
 * it (they had the same dozen lines each): `close()` stops the engine, the database and removes
 * the directory.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SqlBlobIndex } from '../../src/db/blob-index.ts';
import { type Db, type OpenDatabaseOptions, openDatabase } from '../../src/db/database.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { ProxyEngine, type ProxyEngineOptions } from '../../src/proxy/engine.ts';
import { proxyMigrations } from '../../src/proxy/state.ts';
import { BlobStore } from '../../src/storage/blob-store.ts';
import { FsDriver } from '../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../src/storage/guarded-driver.ts';
import { removeDir } from './tmp.ts';

export interface TestEngine {
  readonly dir: string;
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly engine: ProxyEngine;
  close(): Promise<void>;
}

/**
 * `prefix`: the temp directory's name; `migrations`: the database's (default: the engine's own);
 * the rest goes to the engine as given (defaults: fresh metrics, a silent log, a circuit breaker
 * that opens after 100 failures, undici's default dispatcher).
 */
export async function openTestEngine(
  prefix: string,
  options: Partial<
    Pick<
      ProxyEngineOptions,
      'metrics' | 'circuitBreaker' | 'dispatcher' | 'staleAfterMs' | 'addressPolicy'
    >
  > & {
    readonly migrations?: OpenDatabaseOptions['migrations'];
  } = {},
): Promise<TestEngine> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const db = await openDatabase({
    file: ':memory:',
    migrations: options.migrations ?? proxyMigrations,
  });
  const blobs = new BlobStore(new GuardedDriver(await FsDriver.open(dir)), new SqlBlobIndex(db));
  const engine = new ProxyEngine({
    db,
    blobs,
    metrics: options.metrics ?? new Metrics(),
    log: pino({ level: 'silent' }),
    circuitBreaker:
      options.circuitBreaker ?? (() => ({ enabled: true, threshold: 100, resetTimeoutMs: 1000 })),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    ...(options.staleAfterMs === undefined ? {} : { staleAfterMs: options.staleAfterMs }),
    ...(options.addressPolicy === undefined ? {} : { addressPolicy: options.addressPolicy }),
  });
  return {
    dir,
    db,
    blobs,
    engine,
    close: async () => {
      await engine.close();
      await db.destroy();
      await removeDir(dir);
    },
  };
}
