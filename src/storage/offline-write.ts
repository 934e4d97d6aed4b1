/**
 * The checks an offline command that writes to an existing NORA's storage and database makes
 * before it opens them (`nora re-pin --yes`, `nora migrate-docker-keys`): the same as `nora
 * retention-apply` and `nora restore` make. A running server keeps answers in memory (raw's warm
 * rows and small files, OCI's manifest cache, rendered packuments) that a write made by another
 * process would leave stale, and a `nora migrate` copying the storage would not carry it over.
 */
import path from 'node:path';
import { databaseFile, existingDatabase, liveServers, refuseWhileMigrating } from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import { databaseInUse } from '../db/in-use.ts';

/** Refused: memory storage, no database, or another process holds them (nothing was written). */
export class OfflineWriteRefusedError extends Error {
  override readonly name = 'OfflineWriteRefusedError';
  /** The refused command, for its error line (`nora re-pin`). */
  readonly command: string;

  constructor(command: string, message: string) {
    super(message);
    this.command = command;
  }
}

/**
 * Resolves to the database file of `config` when `command` may write to it now. Throws
 * OfflineWriteRefusedError naming the holder (a server's pid, a `nora migrate`, another process
 * holding the database) and what to do.
 */
export async function refuseWhileServed(config: AppConfig, command: string): Promise<string> {
  if (config.storage.mode === 'memory') {
    throw new OfflineWriteRefusedError(
      command,
      'storage.mode = "memory" keeps nothing between processes: there is nothing on disk to change',
    );
  }
  const file = await existingDatabase(config, 'nothing to change').catch((err: unknown) => {
    throw new OfflineWriteRefusedError(command, (err as Error).message);
  });
  await refuseWhileMigrating(config.storage.path, file, command).catch((err: unknown) => {
    throw new OfflineWriteRefusedError(command, (err as Error).message);
  });
  const servers = config.storage.mode === 'local' ? await liveServers(config.storage.path) : [];
  if (servers.length > 0) {
    throw new OfflineWriteRefusedError(
      command,
      `a NORA server (pid ${servers.join(', ')}) is running on ${path.resolve(config.storage.path)}: stop it first (its in-memory answers would go on serving what ${command} changed)`,
    );
  }
  if (databaseInUse(file)) {
    throw new OfflineWriteRefusedError(
      command,
      `the database ${path.resolve(databaseFile(config))} is open in another process (a NORA server, nora gc, …): stop it first`,
    );
  }
  return file;
}
