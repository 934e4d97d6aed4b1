/**
 * Users and tokens (`0050_auth_*`), shared by every format; the composition root (app.ts) adds
 * them to the migration set.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type UsersTable = {
  name: string;
  /** `scrypt$N$r$p$<salt b64>$<hash b64>` */
  password_hash: string;
  email: string | null;
  /** JSON array of roles. */
  roles: string;
  created_at: number;
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
};
