/**
 * The identity services every format shares, built once by the composition root: users (the
 * htpasswd file and the metadata store, admins by `[auth] admin_users`), API tokens, Docker
 * registry tokens, and the credential resolvers that turn an `Authorization` header into a
 * principal for every route of every format (Bearer registry token issued at `/v2/token`; Bearer
 * API token; Basic with a user's password, or with a token as the password under any username).
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from '../core/logger.ts';
import type { WriteGeneration } from '../core/write-generation.ts';
import type { Db } from '../db/database.ts';
import { type SqliteHandle, sqliteHandleOf } from '../db/sqlite-handle.ts';
import type { AccessControl } from './access.ts';
import { UserDirectory } from './directory.ts';
import { HtpasswdUsers } from './htpasswd.ts';
import type { AuthTables } from './migrations.ts';
import { RegistryTokenResolver, RegistryTokens, SigningKeys } from './registry-token.ts';
import { BasicPasswordResolver, BearerTokenResolver, TokenAuthenticator } from './resolvers.ts';
import { TokenStore, UserStore } from './users.ts';

/** The `[auth]` keys identity reads (re-applied on SIGHUP). */
export interface IdentitySettings {
  /** Relative paths are taken from the working directory, as NORA does. */
  readonly htpasswd_file: string;
  readonly admin_users: readonly string[];
}

export interface IdentityOptions {
  readonly log: Logger;
  /**
   * This process's write counter of `db` (app.ts): with it, token lookups are remembered while
   * the store is unchanged (resolvers.ts TokenAuthenticator). Without it, every use reads.
   */
  readonly writes?: WriteGeneration;
  /** How often the htpasswd file is polled for changes, ms (default 1000). */
  readonly htpasswdPollMs?: number;
}

export interface Identity {
  /** Users of the metadata store (npm adduser). */
  readonly users: UserStore;
  readonly tokens: TokenStore;
  /** Every user (htpasswd + store) with their roles: use it for password checks. */
  readonly directory: UserDirectory;
  readonly htpasswd: HtpasswdUsers;
  /** Docker registry tokens (`/v2/token`): issued by the OCI format, accepted on every route. */
  readonly registryTokens: RegistryTokens;
  /** Applies new `[auth]` settings (SIGHUP): re-reads the htpasswd file, admins, drops caches. */
  reload(settings: IdentitySettings): Promise<void>;
  /** Resolves when the latest htpasswd read (startup, reload, file change) is done. */
  settled(): Promise<void>;
  close(): void;
}

/**
 * Builds the stores and registers their resolvers on `access`: registry tokens first (a signature
 * check, no database), then API tokens (one indexed lookup, no KDF), then passwords.
 * The htpasswd file is read before this resolves.
 */
export async function createIdentity(
  db: Db,
  access: AccessControl,
  settings: IdentitySettings,
  options: IdentityOptions,
): Promise<Identity> {
  const authDb: Kysely<AuthTables> = db.$extendTables<AuthTables>();
  const users = new UserStore(authDb);
  const tokens = new TokenStore(authDb);
  const htpasswd = new HtpasswdUsers({
    log: options.log,
    ...(options.htpasswdPollMs === undefined ? {} : { pollIntervalMs: options.htpasswdPollMs }),
    // Called only after `use` below, once `basic` exists.
    onChange: async (removed) => {
      basic.clear();
      tokenAuth.clear();
      // A user gone from the file (a good re-read: never a missing file or a startup) loses its
      // API tokens for good, unless the store has it as a user with a password: otherwise the
      // tokens would come back with whoever is given the name next (docs/auth.md).
      const gone = removed.filter((user) => !htpasswd.has(user));
      if (gone.length === 0) return;
      const deleted = await tokens.deleteOwnerless(gone);
      tokenAuth.clear();
      if (deleted > 0) {
        options.log.info(
          { users: gone, tokens: deleted },
          'users removed from the htpasswd file: their API tokens are deleted',
        );
      }
    },
  });
  const directory = new UserDirectory(users, htpasswd, settings.admin_users);
  const handle = sqliteHandleOf(db);
  const writes = options.writes;
  const tokenAuth = new TokenAuthenticator(
    tokens,
    directory,
    writes === undefined
      ? undefined
      : { local: () => writes.current, external: externalChanges(handle) },
  );
  const basic = new BasicPasswordResolver(directory, tokenAuth);
  const registryTokens = new RegistryTokens(new SigningKeys(authDb));
  access.addResolver(new RegistryTokenResolver(registryTokens));
  access.addResolver(new BearerTokenResolver(tokenAuth));
  access.addResolver(basic);
  await htpasswd.use(path.resolve(settings.htpasswd_file));
  return {
    users,
    tokens,
    directory,
    htpasswd,
    registryTokens,
    async reload(next: IdentitySettings): Promise<void> {
      directory.setAdmins(next.admin_users);
      basic.clear();
      tokenAuth.clear();
      await htpasswd.use(path.resolve(next.htpasswd_file));
      basic.clear();
      tokenAuth.clear();
    },
    settled: () => htpasswd.settled(),
    close: () => {
      htpasswd.close();
    },
  };
}

/**
 * How long a read of SQLite's data_version stands for "no other process committed" (ms). The
 * pragma opens a read transaction (~15-20 µs, a quarter of a cached request), so it is read at
 * most this often: a token revoked by the CLI on the same file stops working within this long;
 * one revoked through the HTTP API or by this process stops at once (the write counter).
 */
const EXTERNAL_CHECK_MS = 100;

function externalChanges(handle: SqliteHandle | undefined): () => number {
  if (handle === undefined) return () => 0;
  let version = handle.dataVersion();
  let checkedAt = performance.now();
  return () => {
    const now = performance.now();
    if (now - checkedAt >= EXTERNAL_CHECK_MS) {
      version = handle.dataVersion();
      checkedAt = now;
    }
    return version;
  };
}
