/**
 * The identity services every format shares, built once by the composition root: users (the
 * htpasswd file and the metadata store, admins by `[auth] admin_users`, read-only users by
 * `[auth] read_only_users`), API tokens, Docker
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
import {
  RegistryTokenResolver,
  RegistryTokens,
  SigningKeys,
  type SubjectState,
} from './registry-token.ts';
import {
  BasicPasswordResolver,
  BearerTokenResolver,
  CredentialBindings,
  RegistrySubjects,
  TokenAuthenticator,
} from './resolvers.ts';
import { type OwnerChange, TokenStore, UserStore } from './users.ts';

/** The `[auth]` keys identity reads (re-applied on SIGHUP). */
export interface IdentitySettings {
  /** Relative paths are taken from the working directory, as NORA does. */
  readonly htpasswd_file: string;
  readonly admin_users: readonly string[];
  /** Users whose credentials only read, whatever they ask or a rule grants (default none). */
  readonly read_only_users?: readonly string[] | undefined;
  /** `[auth] enabled` (default true): with auth off, problems reading the file are not warned. */
  readonly enabled?: boolean;
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
  /** How long a user gone from the htpasswd file keeps its suspended tokens (tests shorten it). */
  readonly removedUserGraceMs?: number;
  /** Millisecond clock (tests). */
  readonly now?: () => number;
  /**
   * False: never suspend, restore or delete tokens by the htpasswd file (`nora token` on the
   * host, which may read another file than the server's). Default true.
   */
  readonly reconcileOwners?: boolean;
  /**
   * What an OIDC identity (`<provider>:<sub>`) would be given now by the running `[auth.oidc]`
   * (OidcResolver.standing), for the registry tokens it obtained: re-checked at each use. Without
   * it, registry tokens of OIDC identities are refused.
   */
  readonly oidcStanding?: (name: string) => SubjectState | string;
}

/**
 * How long the API tokens of a user gone from the htpasswd file are kept, suspended (refused),
 * before they are deleted: time to notice and undo a slip such as `htpasswd -c` recreating the
 * file with one user. Deleted at the first read of the file (a change, SIGHUP, startup) after it.
 */
export const REMOVED_USER_GRACE_MS = 24 * 60 * 60 * 1000;

export interface Identity {
  /** Users of the metadata store (npm adduser). */
  readonly users: UserStore;
  readonly tokens: TokenStore;
  /** Every user (htpasswd + store) with their roles: use it for password checks. */
  readonly directory: UserDirectory;
  readonly htpasswd: HtpasswdUsers;
  /** Docker registry tokens (`/v2/token`): issued by the OCI format, accepted on every route. */
  readonly registryTokens: RegistryTokens;
  /**
   * Applies new `[auth]` settings (SIGHUP): re-reads the htpasswd file, admins and read-only
   * users, drops caches.
   */
  reload(settings: IdentitySettings): Promise<void>;
  /** Resolves when the latest htpasswd read (startup, reload, file change) is done. */
  settled(): Promise<void>;
  close(): void;
}

/**
 * Builds the stores and registers their resolvers on `access`: registry tokens first (a signature
 * check, and the check of the credential they came from: one indexed lookup, remembered while
 * the store is unchanged), then API tokens (one indexed lookup, no KDF, remembered likewise), then
 * passwords.
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
  const tokens = new TokenStore(authDb, options.log);
  const htpasswd = new HtpasswdUsers({
    log: options.log,
    ...(options.htpasswdPollMs === undefined ? {} : { pollIntervalMs: options.htpasswdPollMs }),
    // Called only after `use` below, once `basic` exists: at startup, and on every read that
    // changed the users (file change, SIGHUP, another file).
    onChange: async () => {
      basic.clear();
      tokenAuth.clear();
      bindings.clear();
      subjects.clear();
      await reconcile();
      tokenAuth.clear();
      bindings.clear();
      subjects.clear();
    },
  });
  const graceMs = options.removedUserGraceMs ?? REMOVED_USER_GRACE_MS;
  /** Whether the last pass left owners suspended: only then has a SIGHUP anything to check. */
  let suspensionsPending = false;
  const now = options.now ?? Date.now;
  /**
   * Token owners of htpasswd users against the file just read (docs/auth.md): a user gone from
   * it has its tokens suspended, not deleted — a slip (`htpasswd -c`) is undone by restoring the
   * file within the grace period — and deleted after it, so they never come back with whoever
   * is given the name next. Store users with a password keep theirs, unless the file now names
   * them too (a self-registered name given to a user of the file): then they lose them. Not on a file with no
   * users (more often half-written than meant), nor while the file is missing or unreadable
   * (HtpasswdUsers keeps the last users then, and calls nothing).
   */
  async function reconcile(): Promise<void> {
    if (options.reconcileOwners === false || htpasswd.size === 0) return;
    const changes = await tokens.reconcileOwners(
      (user) => htpasswd.fingerprint(user),
      (user) => htpasswd.previousFingerprint(user),
      now(),
      graceMs,
    );
    suspensionsPending = changes.pending > 0;
    const file = htpasswd.file;
    const hours = Math.round((graceMs / 3_600_000) * 100) / 100;
    const count = (list: readonly OwnerChange[]) => list.reduce((n, c) => n + c.tokens, 0);
    const suspended = changes.suspended.filter((c) => c.tokens > 0);
    if (suspended.length > 0) {
      options.log.warn(
        { file, users: suspended.map((c) => c.user), tokens: count(suspended), grace_hours: hours },
        `users no longer in the htpasswd file: their ${count(suspended)} API token(s) are refused from now on and will be deleted after ${hours} h; if the file was changed by mistake (htpasswd -c recreates it with one user), restore it before then and the tokens work again`,
      );
    }
    const restored = changes.restored.filter((c) => c.tokens > 0);
    if (restored.length > 0) {
      options.log.warn(
        { file, users: restored.map((c) => c.user), tokens: count(restored) },
        `users back in the htpasswd file within the grace period: their ${count(restored)} suspended API token(s) work again`,
      );
    }
    const replaced = changes.replaced.filter((c) => c.tokens > 0);
    if (replaced.length > 0) {
      options.log.warn(
        { file, users: replaced.map((c) => c.user), tokens: count(replaced) },
        `users back in the htpasswd file with another password than before their removal: their ${count(replaced)} suspended API token(s) are deleted (a name given to someone new must not inherit them; restoring the old line would have kept them)`,
      );
    }
    for (const { user, tokens: revoked } of changes.claimed) {
      options.log.warn(
        { file, users: [user], tokens: revoked },
        `user ${user} is now in the htpasswd file but was self-registered before (npm adduser): the file's line is the account from now on, so the ${revoked} API token(s), password and e-mail of the self-registered ${user} are revoked (whoever registered the name first must not act as the user it was given to); ${user} logs in with the htpasswd password`,
      );
    }
    const deleted = changes.deleted.filter((c) => c.tokens > 0);
    if (deleted.length > 0) {
      options.log.warn(
        { file, users: deleted.map((c) => c.user), tokens: count(deleted), grace_hours: hours },
        `users missing from the htpasswd file for more than ${hours} h: their ${count(deleted)} API token(s) are deleted (a user of that name added back now starts without them)`,
      );
    }
  }
  const directory = new UserDirectory(
    users,
    htpasswd,
    settings.admin_users,
    settings.read_only_users ?? [],
  );
  tokens.capListedRoles((user) => directory.account(user));
  const handle = sqliteHandleOf(db);
  const writes = options.writes;
  const changes =
    writes === undefined
      ? undefined
      : { local: () => writes.current, external: externalChanges(handle) };
  const tokenAuth = new TokenAuthenticator(tokens, directory, changes);
  const bindings = new CredentialBindings(tokens, directory, changes);
  const subjects = new RegistrySubjects(directory, options.oidcStanding, changes);
  const basic = new BasicPasswordResolver(directory, tokenAuth);
  const registryTokens = new RegistryTokens(
    new SigningKeys(authDb),
    (subject, binding) => bindings.state(subject, binding),
    (subject) => directory.isReadOnlyUser(subject),
    (subject) => subjects.state(subject),
  );
  access.addResolver(new RegistryTokenResolver(registryTokens));
  access.addResolver(new BearerTokenResolver(tokenAuth));
  access.addResolver(basic);
  await htpasswd.use(path.resolve(settings.htpasswd_file), settings.enabled ?? true);
  return {
    users,
    tokens,
    directory,
    htpasswd,
    registryTokens,
    async reload(next: IdentitySettings): Promise<void> {
      directory.setAdmins(next.admin_users);
      directory.setReadOnlyUsers(next.read_only_users ?? []);
      basic.clear();
      tokenAuth.clear();
      bindings.clear();
      subjects.clear();
      await htpasswd.use(path.resolve(next.htpasswd_file), next.enabled ?? true);
      // Also when the file did not change: suspensions whose grace period is over end here (no
      // database work while none is pending).
      if (suspensionsPending) await reconcile();
      basic.clear();
      tokenAuth.clear();
      bindings.clear();
      subjects.clear();
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
