/**
 * Who the users are: the htpasswd file (operators' accounts, `htpasswd -B`) and the metadata
 * store (`npm adduser`), with the admins named by `[auth] admin_users` and the read-only users
 * named by `[auth] read_only_users`. A user in both is one
 * user: the htpasswd entry decides the password check (the operator's file wins over a
 * self-registered password). A self-registered user the file comes to name loses its tokens,
 * password and e-mail at that read of the file (TokenStore.reconcileOwners, identity.ts).
 */
import type { CredentialKind, Role, UserPrincipal } from './access.ts';
import type { HtpasswdUsers } from './htpasswd.ts';
import { DEFAULT_ROLES, highestRole, type UserStore } from './users.ts';

export interface Account {
  readonly name: string;
  /**
   * The user's roles, `admin` included when `[auth] admin_users` names it, only `read` when
   * `[auth] read_only_users` does.
   */
  readonly roles: readonly Role[];
  readonly source: 'htpasswd' | 'store';
  /** Named by `[auth] read_only_users`: `roles` were capped at read (see readOnlyRoles). */
  readonly readOnlyUser?: true | undefined;
}

/**
 * The roles of a user `[auth] read_only_users` names: at most `read`, whatever the file, the
 * store or an old token says (a user without roles keeps none). Also applied to the roles a
 * Docker registry token carried from before the user was listed (registry-token.ts).
 */
export function readOnlyRoles(roles: readonly Role[]): readonly Role[] {
  return highestRole(roles) === undefined ? [] : ['read'];
}

/**
 * The principal of a user who proved `account` with `credential` (a password; a Docker refresh
 * token, which stands for one): the account's roles, and its read-only mark so that refusals
 * name `[auth] read_only_users`.
 */
export function accountPrincipal(account: Account, credential: CredentialKind): UserPrincipal {
  return {
    kind: 'user',
    name: account.name,
    roles: account.roles,
    credential,
    ...(account.readOnlyUser === true ? { readOnlyUser: true } : {}),
  };
}

export class UserDirectory {
  readonly #users: UserStore;
  readonly #htpasswd: HtpasswdUsers;
  #admins: ReadonlySet<string>;
  #readOnly: ReadonlySet<string>;

  constructor(
    users: UserStore,
    htpasswd: HtpasswdUsers,
    admins: readonly string[] = [],
    readOnly: readonly string[] = [],
  ) {
    this.#users = users;
    this.#htpasswd = htpasswd;
    this.#admins = new Set(admins);
    this.#readOnly = new Set(readOnly);
  }

  /** `[auth] admin_users` (SIGHUP may change it). */
  setAdmins(admins: readonly string[]): void {
    this.#admins = new Set(admins);
  }

  /** `[auth] read_only_users` (SIGHUP may change it). */
  setReadOnlyUsers(names: readonly string[]): void {
    this.#readOnly = new Set(names);
  }

  isAdmin(name: string): boolean {
    return this.#admins.has(name);
  }

  /** True when `[auth] read_only_users` names `name` (its credentials only read). */
  isReadOnlyUser(name: string): boolean {
    return this.#readOnly.has(name);
  }

  /**
   * The user named `name`, or undefined: in the htpasswd file, or in the store with a password.
   * A store row without a password (made to own tokens of an htpasswd user) is no account once
   * the user has left the file, so that user's tokens stop working with it.
   */
  async account(name: string): Promise<Account | undefined> {
    if (this.#htpasswd.has(name)) return this.#account(name, DEFAULT_ROLES, 'htpasswd');
    const stored = await this.#users.get(name);
    if (!stored?.hasPassword) return undefined;
    return this.#account(name, stored.roles, 'store');
  }

  /**
   * The account when `password` is right for `name` (htpasswd first), else undefined. Every
   * failure costs the same work — one bcrypt compare at the file's cost and one scrypt — whether
   * the name is in the file, in the store, or nowhere (decoy hashes stand in for the checks a
   * name does not get), so the time of a refusal does not tell which names exist.
   */
  async verify(name: string, password: string): Promise<Account | undefined> {
    const inFile = await this.#htpasswd.verify(name, password);
    if (inFile === true) return this.#account(name, DEFAULT_ROLES, 'htpasswd');
    if (inFile === false) {
      await this.#users.spendDecoy(password);
      return undefined;
    }
    await this.#htpasswd.spendDecoy(password);
    const stored = await this.#users.verify(name, password);
    return stored ? this.#account(name, stored.roles, 'store') : undefined;
  }

  /**
   * A one-way fingerprint of the password `name` logs in with now (the htpasswd line when the
   * file has the user, else the store's hash), or undefined when `name` has no password. A
   * refresh token carries it: a changed password or a removed user no longer matches.
   */
  async passwordFingerprint(name: string): Promise<string | undefined> {
    return this.#htpasswd.fingerprint(name) ?? (await this.#users.passwordFingerprint(name));
  }

  /**
   * An existing user (htpasswd file, store, or `[auth] admin_users`) whose name equals `name`
   * ignoring case but not exactly, or undefined: a new name may not pass for an existing one.
   */
  async findIgnoringCase(name: string): Promise<string | undefined> {
    const lower = name.toLowerCase();
    const admin = [...this.#admins].find((a) => a !== name && a.toLowerCase() === lower);
    return (
      this.#htpasswd.findIgnoringCase(name) ?? admin ?? (await this.#users.findIgnoringCase(name))
    );
  }

  /** True when `name` is a user of the htpasswd file (its password is not the store's). */
  inHtpasswd(name: string): boolean {
    return this.#htpasswd.has(name);
  }

  /**
   * The one place a user's roles are computed from the configuration, for every credential
   * (password, API token, Docker refresh token) and every token it mints: the roles of its
   * source, plus `admin` for `[auth] admin_users`, or at most `read` for `[auth]
   * read_only_users` (the configuration refuses a name in both; read-only wins over a stored
   * admin role too).
   */
  #account(name: string, roles: readonly Role[], source: Account['source']): Account {
    if (this.#readOnly.has(name)) {
      return { name, roles: readOnlyRoles(roles), source, readOnlyUser: true };
    }
    const all =
      this.#admins.has(name) && !roles.includes('admin') ? [...roles, 'admin' as const] : roles;
    return { name, roles: all, source };
  }
}
