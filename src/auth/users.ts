/**
 * Local users and API tokens in the metadata store. Passwords are hashed with scrypt (node:crypto,
 * random salt, timing-safe compare); tokens are random secrets of which only the sha256 is kept,
 * so a leaked database does not leak usable tokens.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Principal, Role } from './access.ts';
import type { AuthTables } from './migrations.ts';
import { networkListOf } from './networks.ts';

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;
const TOKEN_PREFIX = 'nora_';

export interface User {
  readonly name: string;
  readonly email: string | undefined;
  readonly roles: readonly Role[];
  readonly createdAt: number;
}

export interface TokenInfo {
  readonly key: string;
  /** Masked secret for display (`nora_ab…`). */
  readonly display: string;
  readonly user: string;
  readonly name: string | undefined;
  readonly readonly: boolean;
  readonly cidrWhitelist: readonly string[];
  readonly createdAt: number;
}

/** Self-registered users may read and publish until the auth issue brings roles management. */
export const DEFAULT_ROLES: readonly Role[] = ['read', 'write'];

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(
      password,
      salt,
      SCRYPT.keyLength,
      { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p },
      (err, key) => {
        if (err) reject(err);
        else resolve(key);
      },
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltText, hashText] = stored.split('$');
  if (scheme !== 'scrypt' || saltText === undefined || hashText === undefined) return false;
  const expected = Buffer.from(hashText, 'base64');
  const key = await new Promise<Buffer>((resolve, reject) => {
    scryptCallback(
      password,
      Buffer.from(saltText, 'base64'),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p) },
      (err, derived) => {
        if (err) reject(err);
        else resolve(derived);
      },
    );
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function parseRoles(json: string): Role[] {
  try {
    const value: unknown = JSON.parse(json);
    if (!Array.isArray(value)) return [];
    return value.filter((r): r is Role => r === 'read' || r === 'write' || r === 'admin');
  } catch {
    return [];
  }
}

export class UserStore {
  readonly #db: Kysely<AuthTables>;

  constructor(db: Kysely<AuthTables>) {
    this.#db = db;
  }

  async get(name: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      name: row.name,
      email: row.email ?? undefined,
      roles: parseRoles(row.roles),
      createdAt: row.created_at,
    };
  }

  /** Creates the user; false when the name is taken (the caller then checks the password). */
  async create(
    name: string,
    password: string,
    email: string | undefined,
    roles: readonly Role[] = DEFAULT_ROLES,
  ): Promise<boolean> {
    const passwordHash = await hashPassword(password);
    const result = await this.#db
      .insertInto('auth_users')
      .values({
        name,
        password_hash: passwordHash,
        email: email ?? null,
        roles: JSON.stringify(roles),
        created_at: Date.now(),
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** The user when the password matches, else undefined (unknown user or wrong password). */
  async verify(name: string, password: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .select(['password_hash'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return undefined;
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    return this.get(name);
  }
}

export class TokenStore {
  readonly #db: Kysely<AuthTables>;

  constructor(db: Kysely<AuthTables>) {
    this.#db = db;
  }

  /** Creates a token and returns its secret (shown once) with its info. */
  async create(
    user: string,
    options: { readonly?: boolean; cidrWhitelist?: readonly string[]; name?: string } = {},
  ): Promise<{ secret: string; info: TokenInfo }> {
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const info: TokenInfo = {
      key: randomBytes(16).toString('hex'),
      display: `${secret.slice(0, TOKEN_PREFIX.length + 6)}…`,
      user,
      name: options.name,
      readonly: options.readonly ?? false,
      cidrWhitelist: options.cidrWhitelist ?? [],
      createdAt: Date.now(),
    };
    await this.#db
      .insertInto('auth_tokens')
      .values({
        key: info.key,
        token_hash: sha256Hex(secret),
        token_prefix: info.display,
        user_name: user,
        name: info.name ?? null,
        readonly: info.readonly ? 1 : 0,
        cidr_whitelist: JSON.stringify(info.cidrWhitelist),
        created_at: info.createdAt,
      })
      .execute();
    return { secret, info };
  }

  async list(user: string): Promise<TokenInfo[]> {
    const rows = await this.#db
      .selectFrom('auth_tokens')
      .selectAll()
      .where('user_name', '=', user)
      .orderBy('created_at')
      .execute();
    return rows.map((row) => ({
      key: row.key,
      display: row.token_prefix,
      user: row.user_name,
      name: row.name ?? undefined,
      readonly: row.readonly === 1,
      cidrWhitelist: parseStringArray(row.cidr_whitelist),
      createdAt: row.created_at,
    }));
  }

  /** Revokes one of `user`'s tokens by key; false when there is no such token. */
  async revoke(user: string, key: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('auth_tokens')
      .where('user_name', '=', user)
      .where('key', '=', key)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Revokes a token by its secret (`npm logout`); false when unknown. */
  async revokeSecret(secret: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('auth_tokens')
      .where('token_hash', '=', sha256Hex(secret))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * The principal a secret stands for, or undefined. A token with a CIDR whitelist carries it as
   * `networks`; AccessControl refuses it from other addresses.
   */
  async principal(secret: string): Promise<Principal | undefined> {
    const row = await this.#db
      .selectFrom('auth_tokens')
      .innerJoin('auth_users', 'auth_users.name', 'auth_tokens.user_name')
      .select([
        'auth_tokens.user_name',
        'auth_tokens.readonly',
        'auth_tokens.cidr_whitelist',
        'auth_users.roles',
      ])
      .where('auth_tokens.token_hash', '=', sha256Hex(secret))
      .executeTakeFirst();
    if (!row) return undefined;
    const roles = parseRoles(row.roles);
    // A read-only token narrows the user's roles; it never widens them.
    const effective: Role[] = row.readonly === 1 ? roles.filter((r) => r === 'read') : roles;
    if (row.readonly === 1 && effective.length === 0 && roles.length > 0) effective.push('read');
    const networks = networkListOf(parseStringArray(row.cidr_whitelist));
    return {
      kind: 'user',
      name: row.user_name,
      roles: effective,
      ...(networks === undefined ? {} : { networks }),
      ...(row.readonly === 1 ? { readOnly: true } : {}),
    };
  }
}

function parseStringArray(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
