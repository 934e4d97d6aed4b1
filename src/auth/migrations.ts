/**
 * Users and tokens (`0050_auth_*`, `0051_auth_tokens_roles`, `0053_auth_users_suspended`), shared by every format; the
 * composition root (app.ts) adds them to the migration set.
 */
import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

export type UsersTable = {
  name: string;
  /** `scrypt$N$r$p$<salt b64>$<hash b64>` */
  password_hash: string;
  email: string | null;
  /** JSON array of roles. */
  roles: string;
  created_at: number;
  /**
   * Epoch ms since which a row without a password (the token owner of an htpasswd user) has
   * been missing from the htpasswd file (0053): its tokens are refused, and deleted once the
   * grace period (identity.ts) is over; null: not suspended.
   */
  suspended_at: number | null;
  /**
   * For a token owner of an htpasswd user: the fingerprint of the user's hash line when last
   * seen in the file (HtpasswdUsers.fingerprint; 0053). A name back in the file with another
   * line (a new password: perhaps a new person given the name) does not get the tokens back.
   */
  htpasswd_fingerprint: string | null;
};

export type TokensTable = {
  /** Public id shown by `npm token list` and used to revoke. */
  key: string;
  /** sha256 hex of the secret; the secret itself is never stored. */
  token_hash: string;
  /** First characters of the secret, for display. */
  token_prefix: string;
  user_name: string;
  /** Optional label (`npm token create --name`). */
  name: string | null;
  readonly: number;
  /** JSON array of CIDRs the token may be used from (empty: anywhere); see networks.ts. */
  cidr_whitelist: string;
  created_at: number;
  /** `read` | `write` | `admin` (0051); `readonly` is kept equal to `role = 'read'`. */
  role: string;
  /** Epoch ms after which the token is refused ("token expired"); null: never. */
  expires_at: number | null;
  description: string | null;
  /** Epoch ms of the last request made with it, written at most once a minute. */
  last_used_at: number | null;
  /** JSON array of resource patterns (patterns.ts) the token is limited to; null: no limit. */
  scope: string | null;
};

/** Keys that sign Docker registry tokens (registry-token.ts); kept so tokens survive restarts. */
export type SigningKeysTable = {
  /** The JWS `kid` header of tokens signed with this key. */
  kid: string;
  /** JWS algorithm (`ES256`). */
  algorithm: string;
  /** The private key as a JWK (JSON); never leaves the metadata store. */
  private_jwk: string;
  created_at: number;
};

export type AuthTables = {
  auth_users: UsersTable;
  auth_tokens: TokensTable;
  auth_signing_keys: SigningKeysTable;
};

export const authMigrations: Record<string, Migration> = {
  '0050_auth_users_tokens': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('auth_users')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('auth_tokens')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('token_prefix', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) =>
          c.notNull().references('auth_users.name').onDelete('cascade'),
        )
        .addColumn('name', 'text')
        .addColumn('readonly', 'integer', (c) => c.notNull())
        .addColumn('cidr_whitelist', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('auth_tokens_user')
        .on('auth_tokens')
        .column('user_name')
        .execute();
    },
  },
  // NORA's token shape: a role instead of a read-only flag, expiry, description, last use, scope.
  '0051_auth_tokens_roles': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('auth_tokens')
        .addColumn('role', 'text', (c) => c.notNull().defaultTo('write'))
        .execute();
      for (const column of ['expires_at', 'last_used_at'] as const) {
        await db.schema.alterTable('auth_tokens').addColumn(column, 'integer').execute();
      }
      for (const column of ['description', 'scope'] as const) {
        await db.schema.alterTable('auth_tokens').addColumn(column, 'text').execute();
      }
      await sql`UPDATE auth_tokens SET role = 'read' WHERE readonly = 1`.execute(db);
    },
  },
  '0052_auth_signing_keys': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('auth_signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('private_jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  // A user gone from the htpasswd file: its tokens are suspended for a grace period first.
  '0053_auth_users_suspended': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('auth_users').addColumn('suspended_at', 'integer').execute();
      await db.schema.alterTable('auth_users').addColumn('htpasswd_fingerprint', 'text').execute();
    },
  },
};
