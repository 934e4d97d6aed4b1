/**
 * `nora retention-plan [--json]` and `nora retention-apply --yes`: one retention pass offline,
 * on the storage and database the configuration names, through the same adapters a server uses
 * (the app is built, not listening, so every delete goes through its format's own delete path).
 *
 * Refused while another process holds the database (a running server, `nora gc`, a second
 * retention command): a server keeps answers in memory (rendered packuments, Helm index
 * snapshots, raw's warm rows) that a delete made by another process would leave stale. A running
 * server's retention is its scheduler (`[retention] enabled`) or its admin endpoint
 * (`POST /api/v1/admin/retention`, http/retention-api.ts).
 */
import path from 'node:path';
import {
  buildApp,
  databaseFile,
  existingDatabase,
  liveServers,
  refuseWhileMigrating,
} from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import { databaseInUse } from '../db/in-use.ts';
import type { FormatModule } from '../formats/format.ts';
import { runRetention, type RetentionReport } from './engine.ts';

/** A reason the command did not run (nothing was read or deleted). */
export class RetentionCommandError extends Error {
  override readonly name = 'RetentionCommandError';
}

export interface RetentionCommandOptions {
  readonly apply: boolean;
  readonly formats?: readonly FormatModule[];
  /** ms since the epoch the ages are computed at (tests); default now. */
  readonly now?: number;
}

const USE_THE_SERVER =
  'its in-memory answers would go on serving what this command deleted. Use the server instead: [retention] enabled = true (its scheduler), or POST /api/v1/admin/retention (plan; ?apply=true deletes) as an admin';

/**
 * The plan deletes nothing, so the apply's reason does not fit it (trial 32 ops): it is refused
 * because it would judge a state the running server goes on changing (and the database the
 * server holds open); the server's own plan is the way.
 */
const ASK_THE_SERVER =
  'the plan would read the database and storage while the server changes them; ask the server for its plan instead: POST /api/v1/admin/retention as an admin (it deletes nothing without ?apply=true)';

/**
 * Throws RetentionCommandError when a NORA server runs on `config`'s storage or another process
 * holds the database `file`, in the words of the plan or of the apply (`apply`).
 */
async function refuseBesideServer(config: AppConfig, file: string, apply: boolean): Promise<void> {
  const instead = apply ? USE_THE_SERVER : ASK_THE_SERVER;
  const servers = config.storage.mode === 'local' ? await liveServers(config.storage.path) : [];
  if (servers.length > 0) {
    throw new RetentionCommandError(
      `a NORA server (pid ${servers.join(', ')}) is running on ${path.resolve(config.storage.path)}: ${instead}`,
    );
  }
  if (databaseInUse(file)) {
    throw new RetentionCommandError(
      `the database ${path.resolve(databaseFile(config))} is open in another process (a NORA server, nora gc, another retention command): ${instead}`,
    );
  }
}

/**
 * `nora retention-apply` without `--yes` (trial 34): refused as the apply would be when a server
 * runs on the storage (or another process holds the database), so its first answer is not "pass
 * --yes" for a command that would then be refused anyway. Resolves otherwise (also when there is
 * no database or storage to judge: the `--yes` run says so), having read and changed nothing.
 */
export async function refuseApplyBesideServer(config: AppConfig): Promise<void> {
  if (config.storage.mode === 'memory') return;
  const file = await existingDatabase(config, 'nothing to judge').catch(() => undefined);
  if (file === undefined) return;
  await refuseBesideServer(config, file, true);
}

/**
 * Runs one pass on `config`'s storage and database. Throws RetentionCommandError when there is
 * nothing to judge (memory storage, no database) or another process holds the database.
 */
export async function runRetentionOffline(
  config: AppConfig,
  options: RetentionCommandOptions,
): Promise<RetentionReport> {
  if (config.storage.mode === 'memory') {
    throw new RetentionCommandError(
      'storage.mode = "memory" keeps nothing between processes: enable [retention] in the server instead',
    );
  }
  const file = await existingDatabase(config, 'nothing to judge').catch((err: unknown) => {
    throw new RetentionCommandError((err as Error).message);
  });
  // Named before the server check, which would call the migrate "a NORA server" (trial 28 newO F1).
  await refuseWhileMigrating(config.storage.path, file, 'a retention command').catch(
    (err: unknown) => {
      throw new RetentionCommandError((err as Error).message);
    },
  );
  await refuseBesideServer(config, file, options.apply);
  const app = await buildApp(config, {
    logLevel: 'silent',
    offline: true,
    ...(options.formats === undefined ? {} : { formats: options.formats }),
  });
  try {
    return await runRetention({
      rules: config.retention.rules,
      repositories: app.context.repositories,
      adapters: app.context.retention,
      apply: options.apply,
      // The command's deletions go to the audit log as the server's do (`system`: no login).
      audit: app.context.audit,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  } finally {
    await app.close();
  }
}
