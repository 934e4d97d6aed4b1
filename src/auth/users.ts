/**
 * Local users and API tokens in the metadata store. Passwords are hashed with scrypt (node:crypto,
 * random salt, timing-safe compare); tokens are random secrets of which only the sha256 is kept,
 * so a leaked database does not leak usable tokens.
 */
import { noteAudit } from '../audit/requests.ts';
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Logger } from '../core/logger.ts';
import type { Role } from './access.ts';
import type { AuthTables } from './migrations.ts';

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;

export interface User {
  readonly name: string;
  readonly email: string | undefined;
  readonly roles: readonly Role[];
  readonly createdAt: number;
  /**
   * False for a row made only to own tokens of a user known from the htpasswd file: it has no
   * password, and is no account once that user leaves the file.
   */
  readonly hasPassword: boolean;
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
      hasPassword: row.password_hash !== '',
    };
  }

  /**
   * Creates the user; false when the name is taken, exactly or ignoring case (`Dave` next to
   * `dave`): one statement, so two registrations racing cannot both win. The caller then checks
   * the password (see also findIgnoringCase for the message).
   */
  async create(
    name: string,
    password: string,
    email: string | undefined,
    roles: readonly Role[] = DEFAULT_ROLES,
  ): Promise<boolean> {
    const passwordHash = await hashPassword(password);
    const result = await sql`
      INSERT INTO auth_users (name, password_hash, email, roles, created_at)
      SELECT ${name}, ${passwordHash}, ${email ?? null}, ${JSON.stringify(roles)}, ${Date.now()}
      WHERE NOT EXISTS (SELECT 1 FROM auth_users WHERE lower(name) = lower(${name}))
    `.execute(this.#db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  /**
   * A stored user (with or without a password) whose name equals `name` ignoring ASCII case but
   * not exactly, or undefined.
   */
  async findIgnoringCase(name: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .select('name')
      .where(sql<boolean>`lower(name) = lower(${name})`)
      .where('name', '!=', name)
      .orderBy('name')
      .executeTakeFirst();
    return row?.name;
  }

  /**
   * A one-way fingerprint (sha256 hex) of `name`'s stored password hash, or undefined when the
   * user has no password here: it changes whenever the password does (a new salt each time).
   */
  async passwordFingerprint(name: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .select('password_hash')
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined || row.password_hash === '') return undefined;
    return sha256Hex(`store:${name}:${row.password_hash}`);
  }

  /** The user when the password matches, else undefined (unknown user or wrong password). */
  /**
   * Spends the work of one wrong-password check of the store (scrypt) on a decoy hash: what a
   * failed login of a name the store has no password for costs (UserDirectory.verify), so the
   * time of the answer does not tell which names are accounts.
   */
  async spendDecoy(password: string): Promise<void> {
    await verifyPassword(password, await decoyHash());
  }

  async verify(name: string, password: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .select(['password_hash'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined || row.password_hash === '') {
      await this.spendDecoy(password);
      return undefined;
    }
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    return this.get(name);
  }
}

let decoy: Promise<string> | undefined;

/** A hash of a random password, made once: what a login of an unknown name is checked against. */
function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('base64'));
  return decoy;
}

/**
 * The fewest characters of a token's id or hash a prefix must give to name it (`nora token
 * revoke`, `POST /api/tokens/revoke`): a shorter one would too easily name another token.
 */
export const MIN_TOKEN_PREFIX = 6;

/**
 * Why `ref` cannot name a token by prefix (fewer than MIN_TOKEN_PREFIX characters), or
 * undefined. Checked when `ref` is not a token's exact id.
 */
export function tokenRefProblem(ref: string): string | undefined {
  if (ref.length >= MIN_TOKEN_PREFIX) return undefined;
  return `"${ref}" is too short to name one token safely: give the token's id, or at least ${MIN_TOKEN_PREFIX} characters of its id or hash_prefix`;
}

/** What a token is stored as; the secret itself never is. */
export interface TokenInfo {
  /** Public id (`npm token list`'s key, `tokenId` of its principals). */
  readonly key: string;
  /** The first 16 hex digits of the secret's sha256: NORA's `hash_prefix`, for revoking. */
  readonly hashPrefix: string;
  /** Masked secret for display (`nra_ab12cd…`). */
  readonly display: string;
  readonly user: string;
  /** npm's token name (`npm token create --name`). */
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly role: Role;
  /** `role === 'read'`. */
  readonly readonly: boolean;
  readonly cidrWhitelist: readonly string[];
  /** Resource patterns (patterns.ts) the token is limited to; undefined: no limit. */
  readonly scope: readonly string[] | undefined;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; undefined: never expires. */
  readonly expiresAt: number | undefined;
  /** Epoch ms, to the minute (see TokenStore.touch). */
  readonly lastUsedAt: number | undefined;
  /**
   * Epoch ms since which the owner is suspended (gone from the htpasswd file, within the grace
   * period: TokenStore.reconcileOwners); undefined: not suspended. Set by `lookup`.
   */
  readonly ownerSuspendedAt?: number | undefined;
  /**
   * The role the token was made with when its owner's roles now allow less (named by `[auth]
   * read_only_users`, or an admin token of a user `[auth] admin_users` no longer names): `role`
   * then says what it can do. Set by `list`.
   */
  readonly cappedFrom?: Role | undefined;
  /** Why `role` is below `cappedFrom` (TokenCap); set with it. */
  readonly cappedBy?: TokenCap | undefined;
}

/**
 * Why a listed token's role is capped: its owner is named by `[auth] read_only_users`, is not
 * (or no longer) named by `[auth] admin_users` (an admin token), or holds fewer roles in the
 * metadata store than the token was made with.
 */
export type TokenCap = 'read_only_users' | 'admin_users' | 'user_roles';

/**
 * Why a capped token's role is below the one it was made with, as listings say it (`nora token
 * list`, `npm token list`, the token API's `capped_by`): `user in [auth] read_only_users`,
 * `user not in [auth] admin_users`, `the user's roles`.
 */
export function capReason(cap: TokenCap): string {
  switch (cap) {
    case 'read_only_users':
      return 'user in [auth] read_only_users';
    case 'admin_users':
      return 'user not in [auth] admin_users';
    case 'user_roles':
      return "the user's roles";
  }
}

/** What a token listing needs of an owner's account (UserDirectory.account). */
export interface ListedOwner {
  readonly roles: readonly Role[];
  readonly readOnlyUser?: true | undefined;
}

export interface NewToken {
  readonly role?: Role;
  /** Days until the token expires; undefined: never. */
  readonly ttlDays?: number | undefined;
  /**
   * Epoch ms the token may not outlive (the expiry of the token that makes it): its expiry is
   * the earlier of this and `ttlDays`; undefined: `ttlDays` alone decides.
   */
  readonly notAfter?: number | undefined;
  readonly description?: string | undefined;
  readonly name?: string | undefined;
  readonly cidrWhitelist?: readonly string[];
  readonly scope?: readonly string[] | undefined;
}

/** One user's share of what TokenStore.reconcileOwners did. */
export interface OwnerChange {
  readonly user: string;
  /** Tokens the user has (suspended, restored) or had (deleted). */
  readonly tokens: number;
}

/** What TokenStore.reconcileOwners did, per kind of change. */
export interface OwnerChanges {
  /** Gone from the file: tokens refused from now on, deleted after the grace period. */
  readonly suspended: readonly OwnerChange[];
  /** Back in the file within the grace period: tokens work again. */
  readonly restored: readonly OwnerChange[];
  /** Gone for longer than the grace period (still gone, or back too late): tokens deleted. */
  readonly deleted: readonly OwnerChange[];
  /** Back within the grace period with another hash line (a new password): tokens deleted. */
  readonly replaced: readonly OwnerChange[];
  /**
   * Self-registered store users (with a password) whose name the file now holds: the file's line
   * is the account from now on, so their tokens are deleted and their password and e-mail
   * dropped (the row stays as an htpasswd user's token owner).
   */
  readonly claimed: readonly OwnerChange[];
  /** Owners suspended after the pass (newly, or still within their grace period). */
  readonly pending: number;
}

/** New tokens: `nra_` + 256 random bits, NORA's prefix. */
export const TOKEN_PREFIX = 'nra_';
/** Tokens made before the NORA prefix; still accepted. */
export const LEGACY_TOKEN_PREFIX = 'nora_';
const DAY_MS = 86_400_000;
/** A token's last-used time is written at most this often (never a write per request). */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * True when `secret` has the shape of an API token (`nra_…`, or `nora_…` from before): a Basic
 * password of this shape is checked as a token, under any username, and never as a password.
 */
export function looksLikeToken(secret: string): boolean {
  return /^(?:nra|nora)_[A-Za-z0-9_-]{20,}$/.test(secret);
}

/** Roles are ordered read < write < admin; the highest a role list reaches, or undefined. */
export function highestRole(roles: readonly Role[]): Role | undefined {
  if (roles.includes('admin')) return 'admin';
  if (roles.includes('write')) return 'write';
  if (roles.includes('read')) return 'read';
  return undefined;
}

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

/**
 * A listed token as it acts now: its role capped by its owner's (capRole, as TokenAuthenticator
 * caps a request's), the role it was made with in `cappedFrom` and why in `cappedBy`. Unchanged
 * when nothing caps it, or when the owner is no user (undefined) or has no role at all.
 */
function cappedToOwner(info: TokenInfo, owner: ListedOwner | undefined): TokenInfo {
  if (owner === undefined) return info;
  const role = capRole(info.role, owner.roles);
  if (role === undefined || role === info.role) return info;
  const cappedBy: TokenCap =
    owner.readOnlyUser === true
      ? 'read_only_users'
      : info.role === 'admin' && role === 'write'
        ? 'admin_users'
        : 'user_roles';
  return { ...info, role, readonly: role === 'read', cappedFrom: info.role, cappedBy };
}

/** A token's role capped by its owner's roles (a write token of a read-only user reads). */
export function capRole(tokenRole: Role, userRoles: readonly Role[]): Role | undefined {
  const ceiling = highestRole(userRoles);
  if (ceiling === undefined) return undefined;
  return RANK[tokenRole] <= RANK[ceiling] ? tokenRole : ceiling;
}

export function isRole(value: unknown): value is Role {
  return value === 'read' || value === 'write' || value === 'admin';
}

/**
 * A new token's expiry (epoch ms) made at `now`: `ttlDays` from now, held to `notAfter` (the
 * expiry of the token that makes it); undefined: it never expires.
 */
export function expiryOf(
  now: number,
  ttlDays: number | undefined,
  notAfter: number | undefined,
): number | undefined {
  const own = ttlDays === undefined ? undefined : now + ttlDays * DAY_MS;
  if (notAfter === undefined) return own;
  return own === undefined ? notAfter : Math.min(own, notAfter);
}

type TokenRow = AuthTables['auth_tokens'];

function tokenInfo(row: TokenRow): TokenInfo {
  const role: Role = isRole(row.role) ? row.role : row.readonly === 1 ? 'read' : 'write';
  return {
    key: row.key,
    hashPrefix: row.token_hash.slice(0, 16),
    display: row.token_prefix,
    user: row.user_name,
    name: row.name ?? undefined,
    description: row.description ?? undefined,
    role,
    readonly: role === 'read',
    cidrWhitelist: parseStringArray(row.cidr_whitelist),
    scope: row.scope === null ? undefined : parseStringArray(row.scope),
    createdAt: row.created_at,
    expiresAt: row.expires_at ?? undefined,
    lastUsedAt: row.last_used_at ?? undefined,
  };
}

export class TokenStore {
  readonly #db: Kysely<AuthTables>;
  /** Keys whose last-used write is in flight or was just made (bounded by the token count). */
  readonly #touched = new Map<string, number>();

  /** The owner's account as the directory computes it (the UserDirectory, once it exists). */
  #owner: (user: string) => Promise<ListedOwner | undefined> = () => Promise.resolve(undefined);

  /** Where a failed last-used write is reported (`touch`); none: not reported. */
  readonly #log: Pick<Logger, 'warn'> | undefined;
  /** When a failed last-used write was last reported (epoch ms): one warning per interval. */
  #touchFailureLoggedAt = -Infinity;

  constructor(db: Kysely<AuthTables>, log?: Pick<Logger, 'warn'>) {
    this.#db = db;
    this.#log = log;
  }

  /**
   * Listings show what a token can do, its role capped by its owner's roles as `owner` (the
   * UserDirectory's `account`, the one place they are computed) gives them, as a request with
   * the token is: a read-only user's older write token says `read` (trial 17 F9: an audit of
   * "who can still write" from the list got it wrong), an admin token of a user removed from
   * `[auth] admin_users` says `write` (trial 18 authx F15), with the role it was made with in
   * `cappedFrom` and why in `cappedBy`. A token whose owner is no user now is listed as made.
   */
  capListedRoles(owner: (user: string) => Promise<ListedOwner | undefined>): void {
    this.#owner = owner;
  }

  /**
   * Creates a token for `user` and returns its secret (shown once) with its info. The owner
   * must exist (the caller checks, see UserDirectory); a user known only from the htpasswd file
   * gets a row without a password in `auth_users`, which tokens reference.
   */
  async create(user: string, options: NewToken = {}): Promise<{ secret: string; info: TokenInfo }> {
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const role = options.role ?? 'write';
    const row: TokenRow = {
      key: randomBytes(16).toString('hex'),
      token_hash: sha256Hex(secret),
      token_prefix: `${secret.slice(0, TOKEN_PREFIX.length + 6)}…`,
      user_name: user,
      name: options.name ?? null,
      readonly: role === 'read' ? 1 : 0,
      cidr_whitelist: JSON.stringify(options.cidrWhitelist ?? []),
      created_at: now,
      role,
      expires_at: expiryOf(now, options.ttlDays, options.notAfter) ?? null,
      description: options.description ?? null,
      last_used_at: null,
      scope: options.scope === undefined ? null : JSON.stringify(options.scope),
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('auth_users')
        .values({
          name: user,
          password_hash: '',
          email: null,
          roles: JSON.stringify(DEFAULT_ROLES),
          created_at: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      await trx.insertInto('auth_tokens').values(row).execute();
    });
    // The request's audit event (when made by one: src/audit/requests.ts); its public id only.
    noteAudit({ action: 'token-create', artifact: row.key, detail: `user ${user}, role ${role}` });
    return { secret, info: tokenInfo(row) };
  }

  /**
   * Brings the token owners of htpasswd users (rows without a password) in line with the file
   * at `now`. `file` gives a user's fingerprint in the file just read (HtpasswdUsers.fingerprint),
   * undefined when absent; `before` the fingerprint in the read before it (undefined at startup).
   * - An owner in the file has its fingerprint recorded (kept current across password changes).
   * - An owner missing from the file is suspended (its tokens are refused, TokenAuthenticator)
   *   from `now`, with the fingerprint it had.
   * - A suspended owner back in the file within `graceMs` with the same hash line (the file was
   *   restored) is restored; back with another line (a new password: perhaps a new person given
   *   the name) it loses its tokens, as one suspended for `graceMs` or more does, still missing
   *   or not. An owner suspended at startup (no fingerprint known) is restored.
   * - A store user with a password (self-registered) whose name is in the file is *claimed* by
   *   it: someone registered the name before the operator gave it to a user of the file, and
   *   must not go on acting as that user. Its tokens are deleted, its password, e-mail and roles
   *   dropped: the row becomes an htpasswd user's token owner like any other, so this happens
   *   once per name.
   * Store users with a password that the file does not name are never touched. One transaction.
   */
  async reconcileOwners(
    file: (user: string) => string | undefined,
    before: (user: string) => string | undefined,
    now: number,
    graceMs: number,
  ): Promise<OwnerChanges> {
    return this.#db.transaction().execute(async (trx) => {
      const owners = await trx
        .selectFrom('auth_users')
        .leftJoin('auth_tokens', 'auth_tokens.user_name', 'auth_users.name')
        .select(['auth_users.name', 'auth_users.suspended_at', 'auth_users.htpasswd_fingerprint'])
        .select((eb) => eb.fn.count<number | bigint>('auth_tokens.key').as('tokens'))
        .where('auth_users.password_hash', '=', '')
        .groupBy(['auth_users.name', 'auth_users.suspended_at', 'auth_users.htpasswd_fingerprint'])
        .orderBy('auth_users.name')
        .execute();
      const suspended: OwnerChange[] = [];
      const restored: OwnerChange[] = [];
      const deleted: OwnerChange[] = [];
      const replaced: OwnerChange[] = [];
      const seen = new Map<string, string>();
      let pending = 0;
      for (const owner of owners) {
        const change = { user: owner.name, tokens: Number(owner.tokens) };
        const since = owner.suspended_at;
        const known = owner.htpasswd_fingerprint;
        const current = file(owner.name);
        if (since !== null && now - since >= graceMs) deleted.push(change);
        else if (since !== null && current !== undefined) {
          if (known === null || known === current) restored.push(change);
          else replaced.push(change);
          seen.set(owner.name, current);
        } else if (since === null && current === undefined) {
          suspended.push(change);
          const had = before(owner.name) ?? known;
          if (had !== null) seen.set(owner.name, had);
        } else if (since !== null) pending += 1;
        else if (current !== undefined && current !== known) seen.set(owner.name, current);
      }
      pending += suspended.length;
      const registered = await trx
        .selectFrom('auth_users')
        .leftJoin('auth_tokens', 'auth_tokens.user_name', 'auth_users.name')
        .select('auth_users.name')
        .select((eb) => eb.fn.count<number | bigint>('auth_tokens.key').as('tokens'))
        .where('auth_users.password_hash', '!=', '')
        .groupBy('auth_users.name')
        .orderBy('auth_users.name')
        .execute();
      const claimed: OwnerChange[] = [];
      for (const user of registered) {
        const current = file(user.name);
        if (current === undefined) continue;
        claimed.push({ user: user.name, tokens: Number(user.tokens) });
        await trx.deleteFrom('auth_tokens').where('user_name', '=', user.name).execute();
        await trx
          .updateTable('auth_users')
          .set({
            password_hash: '',
            email: null,
            roles: JSON.stringify(DEFAULT_ROLES),
            suspended_at: null,
            htpasswd_fingerprint: current,
          })
          .where('name', '=', user.name)
          .execute();
      }
      if (claimed.length > 0) this.#touched.clear();
      const names = (changes: OwnerChange[]) => changes.map((c) => c.user);
      for (const [name, fingerprint] of seen) {
        await trx
          .updateTable('auth_users')
          .set({ htpasswd_fingerprint: fingerprint })
          .where('name', '=', name)
          .where('password_hash', '=', '')
          .execute();
      }
      if (suspended.length > 0) {
        await trx
          .updateTable('auth_users')
          .set({ suspended_at: now })
          .where('name', 'in', names(suspended))
          .where('password_hash', '=', '')
          .execute();
      }
      if (restored.length > 0) {
        await trx
          .updateTable('auth_users')
          .set({ suspended_at: null })
          .where('name', 'in', names(restored))
          .execute();
      }
      const gone = [...deleted, ...replaced];
      if (gone.length > 0) {
        await trx.deleteFrom('auth_tokens').where('user_name', 'in', names(gone)).execute();
        await trx
          .deleteFrom('auth_users')
          .where('name', 'in', names(gone))
          .where('password_hash', '=', '')
          .execute();
        this.#touched.clear();
      }
      return { suspended, restored, deleted, replaced, claimed, pending };
    });
  }

  /** `user`'s tokens, oldest first; every user's when `user` is undefined. */
  async list(user?: string): Promise<TokenInfo[]> {
    let query = this.#db.selectFrom('auth_tokens').selectAll();
    if (user !== undefined) query = query.where('user_name', '=', user);
    const rows = await query.orderBy('created_at').orderBy('key').execute();
    const owners = new Map<string, Promise<ListedOwner | undefined>>();
    return Promise.all(
      rows.map(async (row) => {
        const info = tokenInfo(row);
        let owner = owners.get(info.user);
        if (owner === undefined) {
          owner = this.#owner(info.user);
          owners.set(info.user, owner);
        }
        return cappedToOwner(info, await owner);
      }),
    );
  }

  /**
   * The tokens (of `user`, or anyone's when undefined) that `ref` names: the exact key, or a
   * prefix of at least MIN_TOKEN_PREFIX characters of the key or of the hash (NORA's
   * `hash_prefix`). A shorter `ref` that is not a key names nothing (callers say why:
   * tokenRefProblem).
   */
  async find(ref: string, user?: string): Promise<TokenInfo[]> {
    const tokens = await this.list(user);
    const exact = tokens.filter((t) => t.key === ref);
    if (exact.length > 0 || ref.length < MIN_TOKEN_PREFIX) return exact;
    const hashes =
      /^[0-9a-f]+$/.test(ref) && ref.length > 16
        ? await this.#db
            .selectFrom('auth_tokens')
            .select('key')
            .where('token_hash', 'like', `${ref}%`)
            .execute()
        : [];
    const byHash = new Set(hashes.map((h) => h.key));
    return tokens.filter(
      (t) => t.key.startsWith(ref) || t.hashPrefix.startsWith(ref) || byHash.has(t.key),
    );
  }

  /** Revokes one token by key (of `user` when given); false when there is no such token. */
  async revoke(key: string, user?: string): Promise<boolean> {
    let query = this.#db.deleteFrom('auth_tokens').where('key', '=', key);
    if (user !== undefined) query = query.where('user_name', '=', user);
    const result = await query.executeTakeFirst();
    this.#touched.delete(key);
    const revoked = Number(result.numDeletedRows) > 0;
    if (revoked) noteAudit({ action: 'token-revoke', artifact: key });
    return revoked;
  }

  /** Revokes a token by its secret (`npm logout`); false when unknown. */
  async revokeSecret(secret: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('auth_tokens')
      .where('token_hash', '=', sha256Hex(secret))
      .executeTakeFirst();
    const revoked = Number(result.numDeletedRows) > 0;
    // The secret is all this request names: the event says how, not which (never the secret).
    if (revoked) noteAudit({ action: 'token-revoke', artifact: '', detail: 'logout' });
    return revoked;
  }

  /**
   * The token a secret is, with its owner's suspension, or undefined (expiry and suspension are
   * the caller's to judge: see resolvers.ts).
   */
  async lookup(secret: string): Promise<TokenInfo | undefined> {
    return this.#lookup('token_hash', sha256Hex(secret));
  }

  /** The token with public id `key`, as `lookup` (registry tokens carry the id: resolvers.ts). */
  async lookupKey(key: string): Promise<TokenInfo | undefined> {
    return this.#lookup('key', key);
  }

  async #lookup(column: 'token_hash' | 'key', value: string): Promise<TokenInfo | undefined> {
    const row = await this.#db
      .selectFrom('auth_tokens')
      .leftJoin('auth_users', 'auth_users.name', 'auth_tokens.user_name')
      .selectAll('auth_tokens')
      .select('auth_users.suspended_at as owner_suspended_at')
      .where(column === 'key' ? 'auth_tokens.key' : 'auth_tokens.token_hash', '=', value)
      .executeTakeFirst();
    if (!row) return undefined;
    const { owner_suspended_at: suspendedAt, ...token } = row;
    const info = tokenInfo(token);
    return suspendedAt === null ? info : { ...info, ownerSuspendedAt: suspendedAt };
  }

  /**
   * Records a use of `token` at `now` (epoch ms) unless one was recorded less than a minute ago:
   * at most one write per token per minute, however many requests it makes.
   * Best-effort: never throws. `last_used_at` is bookkeeping (token listings), not a decision, so
   * a failed write — a read-only database (a disk remounted `ro`, a read-only replica), a full
   * or busy one — must not fail the request the token authenticated (it answered 503 once a
   * minute per token: trial 23 authx F4). The failure is logged at warn, at most once per
   * minute for all tokens, and the write is tried again a minute later.
   */
  async touch(token: TokenInfo, now = Date.now()): Promise<void> {
    const last = Math.max(token.lastUsedAt ?? 0, this.#touched.get(token.key) ?? 0);
    if (now - last < LAST_USED_RESOLUTION_MS) return;
    if (this.#touched.size > 10_000) this.#touched.clear();
    this.#touched.set(token.key, now);
    try {
      await this.#db
        .updateTable('auth_tokens')
        .set({ last_used_at: now })
        .where('key', '=', token.key)
        .execute();
    } catch (err) {
      if (now - this.#touchFailureLoggedAt < LAST_USED_RESOLUTION_MS) return;
      this.#touchFailureLoggedAt = now;
      this.#log?.warn(
        { err, token: token.key },
        `could not record the last use of API token ${token.key} (last_used_at): ${(err as Error).message}; the request goes on (the time of last use is bookkeeping; this warning is logged at most once a minute)`,
      );
    }
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
