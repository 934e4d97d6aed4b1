/**
 * Who the users are: the htpasswd file (operators' accounts, `htpasswd -B`) and the metadata
 * store (`npm adduser`), with the admins named by `[auth] admin_users`. A user in both is one
 * user: the htpasswd entry decides the password check (the operator's file wins over a
 * self-registered password). A self-registered user the file comes to name loses its tokens,
 * password and e-mail at that read of the file (TokenStore.reconcileOwners, identity.ts).
 */
import type { Role } from './access.ts';
import type { HtpasswdUsers } from './htpasswd.ts';
import { DEFAULT_ROLES, type UserStore } from './users.ts';

export interface Account {
  readonly name: string;
  /** The user's roles, `admin` included when `[auth] admin_users` names it. */
  readonly roles: readonly Role[];
  readonly source: 'htpasswd' | 'store';
}

export class UserDirectory {
  readonly #users: UserStore;
  readonly #htpasswd: HtpasswdUsers;
  #admins: ReadonlySet<string>;

  constructor(users: UserStore, htpasswd: HtpasswdUsers, admins: readonly string[] = []) {
    this.#users = users;
    this.#htpasswd = htpasswd;
    this.#admins = new Set(admins);
  }

  /** `[auth] admin_users` (SIGHUP may change it). */
  setAdmins(admins: readonly string[]): void {
    this.#admins = new Set(admins);
  }

  isAdmin(name: string): boolean {
    return this.#admins.has(name);
  }

  /**
   * The user named `name`, or undefined: in the htpasswd file, or in the store with a password.
   * A store row without a password (made to own tokens of an htpasswd user) is no account once
   * the user has left the file, so that user's tokens stop working with it.
   */
  async account(name: string): Promise<Account | undefined> {
    if (this.#htpasswd.has(name)) return this.#withAdmin(name, DEFAULT_ROLES, 'htpasswd');
    const stored = await this.#users.get(name);
    if (!stored?.hasPassword) return undefined;
    return this.#withAdmin(name, stored.roles, 'store');
  }

  /**
   * The account when `password` is right for `name` (htpasswd first), else undefined. Every
   * failure costs the same work — one bcrypt compare at the file's cost and one scrypt — whether
   * the name is in the file, in the store, or nowhere (decoy hashes stand in for the checks a
   * name does not get), so the time of a refusal does not tell which names exist.
   */
  async verify(name: string, password: string): Promise<Account | undefined> {
    const inFile = await this.#htpasswd.verify(name, password);
    if (inFile === true) return this.#withAdmin(name, DEFAULT_ROLES, 'htpasswd');
    if (inFile === false) {
      await this.#users.spendDecoy(password);
      return undefined;
    }
    await this.#htpasswd.spendDecoy(password);
    const stored = await this.#users.verify(name, password);
    return stored ? this.#withAdmin(name, stored.roles, 'store') : undefined;
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

  #withAdmin(name: string, roles: readonly Role[], source: Account['source']): Account {
    const all =
      this.#admins.has(name) && !roles.includes('admin') ? [...roles, 'admin' as const] : roles;
    return { name, roles: all, source };
  }
}
