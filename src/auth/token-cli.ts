/**
 * `nora token create|list|revoke`: the operator on the host manages API tokens offline, on the
 * configured database (the one `nora serve` uses; SQLite's locking lets a running server share
 * it). Users are the server's: the htpasswd file and the metadata store, admins from
 * `[auth] admin_users`. The secret is printed once, alone on stdout (scripts capture it); the
 * rest goes to stderr.
 */
import { existingDatabase, repositoryNames } from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../db/database.ts';
import { AccessControl } from './access.ts';
import { parseScope, readOnlyUserTokenProblem } from './api/tokens.ts';
import { createIdentity, type Identity } from './identity.ts';
import { capReason, tokenRefProblem } from './users.ts';
import type { Role } from './access.ts';

/** A failure the operator can act on: printed as `nora token <verb>: …`, exit 1. */
export class TokenCommandError extends Error {}

/** Warnings (a skipped htpasswd line) to stderr; the rest is quiet. */
function stderrLogger(): Logger {
  const write = (obj: object | string, msg?: string) => {
    process.stderr.write(`warning: ${typeof obj === 'string' ? obj : (msg ?? '')}\n`);
  };
  const quiet = () => undefined;
  const logger: Logger = {
    error: write,
    warn: write,
    info: quiet,
    debug: quiet,
    child: () => logger,
  };
  return logger;
}

/**
 * What the commands work on: the loaded configuration and a way to open its database with every
 * migration the server runs (the caller, main.ts, knows the composition root's).
 */
export interface TokenCliContext {
  readonly config: AppConfig;
  readonly openDb: () => Promise<Db>;
}

/**
 * Runs `work` on the configured database. `existing`: a verb that only reads or changes what is
 * there (`list`, `revoke`) refuses a database that does not exist, as `nora gc` and `nora verify`
 * do (existingDatabase), instead of creating an empty one and answering "no tokens" (trial 14
 * F9); `create` may make the first one (main.ts removes it again when the command fails).
 */
async function withIdentity<T>(
  { config, openDb }: TokenCliContext,
  work: (identity: Identity) => Promise<T>,
  { existing }: { existing: boolean },
): Promise<T> {
  if (existing) {
    await existingDatabase(
      config,
      "is this NORA's storage? (check NORA_STORAGE_PATH / [database] path, or run nora token from the directory the server runs in); nothing was created",
    ).catch((err: unknown) => {
      throw new TokenCommandError((err as Error).message);
    });
  }
  const db = await openDb();
  const access = new AccessControl({ authEnabled: true, anonymousRead: false });
  // The operator's command reads a file that may not be the server's (another working
  // directory): it never suspends or deletes tokens by it (identity.ts).
  const identity = await createIdentity(db, access, config.auth, {
    log: stderrLogger(),
    reconcileOwners: false,
  });
  try {
    return await work(identity);
  } finally {
    identity.close();
    await db.destroy();
  }
}

export interface CreateOptions {
  readonly user: string;
  readonly role: Role;
  readonly ttlDays?: number | undefined;
  readonly description?: string | undefined;
  readonly scope?: readonly string[] | undefined;
}

/** Creates a token; returns the secret and a one-line summary. Throws TokenCommandError. */
export async function createTokenOffline(
  context: TokenCliContext,
  options: CreateOptions,
): Promise<{ secret: string; summary: string }> {
  let scope: readonly string[] | undefined;
  try {
    scope =
      options.scope === undefined || options.scope.length === 0
        ? undefined
        : parseScope(options.scope, repositoryNames(context.config));
  } catch (err) {
    throw new TokenCommandError((err as Error).message);
  }
  return withIdentity(
    context,
    async (identity) => {
      const owner = await identity.directory.account(options.user);
      if (!owner) {
        throw new TokenCommandError(
          `no user "${options.user}" in the htpasswd file (${identity.htpasswd.file ?? '-'}) or the metadata store`,
        );
      }
      const readOnly = readOnlyUserTokenProblem(
        options.user,
        options.role,
        owner.readOnlyUser === true,
      );
      if (readOnly !== undefined) throw new TokenCommandError(`${readOnly} (use --role read)`);
      if (options.role === 'admin' && !owner.roles.includes('admin')) {
        throw new TokenCommandError(
          `"${options.user}" is not an admin: add it to [auth] admin_users (NORA_AUTH_ADMIN_USERS) first`,
        );
      }
      const { secret, info } = await identity.tokens.create(options.user, {
        role: options.role,
        ttlDays: options.ttlDays,
        description: options.description,
        scope,
      });
      const expires =
        info.expiresAt === undefined
          ? 'never expires'
          : `expires ${new Date(info.expiresAt).toISOString()}`;
      return {
        secret,
        summary: `created ${info.role} token ${info.key} (hash_prefix ${info.hashPrefix}) for ${info.user}, ${expires}; the secret is shown only now`,
      };
    },
    { existing: false },
  );
}

/** The tokens (of one user, or everyone's) as text lines, header first. */
export async function listTokensOffline(
  context: TokenCliContext,
  user?: string,
): Promise<string[]> {
  return withIdentity(
    context,
    async (identity) => {
      const tokens = await identity.tokens.list(user);
      const now = Date.now();
      const date = (ms: number | undefined) =>
        ms === undefined ? 'never' : new Date(ms).toISOString();
      const rows = tokens.map((t) => [
        t.key,
        t.hashPrefix,
        t.user,
        // What it can do now first (an audit of who may write reads this column), then why it
        // is less than it was made with (trial 18 authx F15).
        t.cappedFrom === undefined
          ? t.role
          : `${t.role} (made ${t.cappedFrom}: ${capReason(t.cappedBy ?? 'user_roles')})`,
        date(t.createdAt),
        t.expiresAt !== undefined && t.expiresAt <= now
          ? `expired ${date(t.expiresAt)}`
          : date(t.expiresAt),
        date(t.lastUsedAt),
        (t.scope ?? []).join(',') || '-',
        t.description ?? t.name ?? '',
      ]);
      const header = [
        'ID',
        'HASH_PREFIX',
        'USER',
        'ROLE',
        'CREATED',
        'EXPIRES',
        'LAST_USED',
        'SCOPE',
        'DESCRIPTION',
      ];
      const table = [header, ...rows];
      const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
      return table.map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      );
    },
    { existing: true },
  );
}

/** Revokes the one token `ref` names (id, id prefix or hash prefix). Throws TokenCommandError. */
export async function revokeTokenOffline(context: TokenCliContext, ref: string): Promise<string> {
  return withIdentity(
    context,
    async (identity) => {
      const matches = await identity.tokens.find(ref);
      const short = matches.length === 0 ? tokenRefProblem(ref) : undefined;
      if (short !== undefined) throw new TokenCommandError(short);
      if (matches.length === 0) throw new TokenCommandError(`no token matches "${ref}"`);
      if (matches.length > 1) {
        throw new TokenCommandError(
          `"${ref}" matches ${matches.length} tokens (${matches.map((t) => t.key).join(', ')}): give more characters`,
        );
      }
      const [token] = matches;
      if (!token) throw new TokenCommandError(`no token matches "${ref}"`);
      await identity.tokens.revoke(token.key);
      return `revoked token ${token.key} of ${token.user}`;
    },
    { existing: true },
  );
}
