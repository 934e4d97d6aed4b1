/**
 * The auth choke point. Every request resolves a Principal once (`authenticate`, called by the
 * request hook), and every repository operation asks one function
 * (`authorize(principal, repository, action, path)`). Formats never inspect credentials or roles
 * themselves.
 *
 * What a principal may do is the intersection of three things:
 * 1. the permission rules (`Permissions`, src/auth/rules.ts): what the user (or anonymous) is
 *    granted on a repository and path;
 * 2. the credential's own ceiling: a read-only token reads only; a token, registry token or OIDC
 *    identity limited to some repositories/paths (`scope`) reaches nothing else;
 * 3. the credential's address ranges (`networks`), checked once in `authenticate` (`admit`).
 * An admin (by role) passes 1; 2 and 3 still apply.
 */
import { isRegistryError, RegistryError } from '../core/errors.ts';
import type { Repository } from '../repos/repository.ts';
import { addressKey } from '../core/address-key.ts';
import { type LoginAttempt, LoginLockout, loginAttempt } from './lockout.ts';
import type { NetworkList } from './networks.ts';
import type { PathForm } from './patterns.ts';
import type { FormatName } from '../config/schema.ts';

/** How the principal proved who it is. */
export type CredentialKind = 'password' | 'token' | 'registry-token' | 'oidc';

/**
 * The credential a registry token was minted from (registry-token.ts), re-checked on every use
 * so that a revoked API token, a changed password or a removed user ends the registry tokens
 * it obtained at once: an API token's public id, or a one-way fingerprint of the password
 * (UserDirectory.passwordFingerprint).
 */
export type CredentialBinding =
  | { readonly kind: 'token'; readonly id: string }
  | { readonly kind: 'password'; readonly fingerprint: string };

export interface UserPrincipal {
  readonly kind: 'user';
  readonly name: string;
  /** What the user may do where the rules give no narrower answer (token role caps it). */
  readonly roles: readonly Role[];
  /** Groups the user belongs to (`[auth.groups]`), for rules that name groups. */
  readonly groups?: readonly string[] | undefined;
  readonly credential?: CredentialKind | undefined;
  /** The API token's public id when the credential is a token (rules may name tokens). */
  readonly tokenId?: string | undefined;
  /** The address ranges this credential may be used from (a token's CIDR list); any when unset. */
  readonly networks?: NetworkList | undefined;
  /** A read-only credential: reads only, even with auth off. */
  readonly readOnly?: boolean | undefined;
  /**
   * The user is named by `[auth] read_only_users` (UserDirectory): its roles are capped at read,
   * whatever the credential or a rule says; refusals of its writes name the setting.
   */
  readonly readOnlyUser?: boolean | undefined;
  /**
   * Epoch ms at which the credential stops working (an API token with an expiry); undefined: it
   * does not expire. A token it makes may not outlive it (auth/api/tokens.ts).
   */
  readonly expiresAt?: number | undefined;
  /**
   * A ceiling narrower than the user's rights: a registry token's granted access list, an OIDC
   * provider's namespace scope, an API token limited to some repositories. Applies even with
   * auth off, like `readOnly`: whoever narrowed a credential relies on it being narrow.
   */
  readonly scope?: Scope | undefined;
  /**
   * A registry token's principal: the credential it was minted from, so that a registry token
   * asked for with this one (`/v2/token` with a Bearer registry token) stays bound to it.
   */
  readonly binding?: CredentialBinding | undefined;
  /**
   * A registry token's principal: the credential the token was issued from, as its access log
   * and audit lines name it (`tokenFrom`): `api-token <API token id>`, `password`, or
   * `oidc <issuer> <sub>` (never a secret). Undefined for tokens issued before the 27th session.
   */
  readonly tokenFrom?: string | undefined;
  /** An OIDC identity's principal: the `iss` of the provider that verified its token. */
  readonly oidcIssuer?: string | undefined;
}

export type Principal = { readonly kind: 'anonymous' } | UserPrincipal;

export type Role = 'read' | 'write' | 'admin';
export type Action = 'read' | 'write' | 'delete' | 'admin';

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/**
 * Where an operation happens: a repository and, inside it, the format's own path of the thing
 * touched — an OCI image name (`team/app`), an npm package name (`@corp/pkg`), a Maven path
 * (`com/example/lib/1.0/lib-1.0.jar`), a crate name. Undefined for repository-wide operations
 * (catalog, search).
 */
export interface AccessTarget {
  readonly repository: Repository;
  readonly path?: string | undefined;
  /**
   * The name is only being listed (a catalog entry), not read: a credential granted the listing
   * of a repository (a registry token's `registry:catalog:*`) may see names it may not pull.
   */
  readonly listing?: boolean | undefined;
  /**
   * The group the client addressed when the operation lands in one of its members (a push or
   * publish through a group is checked on the group and on the hosted member): a credential
   * scope naming the group covers the member it writes to.
   */
  readonly via?: Repository | undefined;
  /**
   * The repository's format's canonical spelling of names (`FormatModule.rulePath`: PEP 503 for
   * PyPI, Cargo's crate-name form), which credential scopes compare in as rules do; set by
   * `authorize`. Undefined: names are compared as written.
   */
  readonly pathForm?: PathForm | undefined;
}

/** Options of `authorize`/`can` beyond the target's repository and path. */
export interface TargetOptions {
  readonly listing?: boolean | undefined;
  readonly via?: Repository | undefined;
}

/** A ceiling carried by a credential: which (repository, path, action) it may reach at all. */
export interface Scope {
  allows(target: AccessTarget, action: Action): boolean;
  /** For error messages: what the credential is limited to. */
  readonly description: string;
  /** A registry token's grant only: true when `/v2/token` granted nothing at all. */
  readonly empty?: boolean | undefined;
  /**
   * A registry token's grant only: what narrowed it, when known (`the API token it was obtained
   * with is limited to docker:team/**`), for the refusal of an empty grant.
   */
  readonly narrowedBy?: string | undefined;
}

/**
 * The permission rules (src/auth/rules.ts). `decide` answers for a non-admin principal (anonymous
 * included) whether the rules grant `action` on `target`: true/false when a rule or repository
 * setting speaks, undefined when none does — then the defaults apply: anonymous may read when
 * `anonymousRead` is on, a user may do what its roles allow.
 */
export interface Permissions {
  decide(principal: Principal, target: AccessTarget, action: Action): boolean | undefined;
  /**
   * `decide` for a path of `target.repository` that no rule over only some of its paths covers
   * (only rules over all paths, the repository's own setting and the format's default speak).
   * Absent: as `decide` without a path would answer with no rules (undefined).
   */
  decideUnruled?(principal: Principal, target: AccessTarget, action: Action): boolean | undefined;
  /**
   * True when some rule covering `repository` speaks about only some of its paths, so the answer
   * for one path may differ from the repository-wide one. Absent: assumed true (the safe side).
   */
  restrictsPaths?(repository: Repository): boolean;
  /**
   * False only when no rule covering `repository` speaks about `prefix` or a path under it other
   * than as one of all its paths (`**`): then every path under `prefix` is decided as `prefix`
   * itself is. May answer true when in doubt (a `**` inside a glob). Absent: `restrictsPaths`.
   */
  restrictsUnder?(repository: Repository, prefix: string): boolean;
  /**
   * Why `target` is owned when a rule on another repository owns it (a member of the group
   * addressed, or a group it is in): `a rule on its member maven-hosted owns it`, for a refusal's
   * message; for a change (`action` not read) through a group, the member the write lands in and
   * the rule owning it there: `the write lands in its member maven-hosted, owned by
   * auth.rules[0]` (`the delete lands …` for a delete); for a change refused by the target's own
   * rule, that rule: `owned by auth.rules[1]`; by a rule on a group the target is in: `owned by
   * auth.rules[3] on npm`. A rule naming the caller but not granting the action says what it
   * grants instead: `auth.rules[0] grants carol read only`. Undefined when no rule owns it, or for a read the target's own rules
   * decide. A rule is named only when it names `principal`; else `no rule there grants bob
   * write` (a refusal says nothing of rules about other users).
   */
  ownedThrough?(target: AccessTarget, action?: Action, principal?: Principal): string | undefined;
  /**
   * Why the repository `name` is closed to all but admins until the restart (a running
   * repository a SIGHUP reload does not describe, or a group containing one), for a refusal's
   * message: `private-raw is not in the reloaded configuration`; undefined when it is not.
   */
  closedUntilRestart?(name: string): string | undefined;
  /**
   * Which of a group's direct `members` may answer for `target` (a group and a path): the ones
   * holding a member that reserved the path (docs/auth.md "Semantics": the file is the
   * member's); undefined when no member reserved it (all answer).
   */
  answeringMembers?(
    target: AccessTarget,
    members: readonly string[],
  ): readonly string[] | undefined;
}

export interface RequestCredentials {
  readonly authorization: string | undefined;
  /** The client's address as the socket reports it (`request.ip`); checked against `networks`. */
  readonly remoteAddress?: string | undefined;
}

/**
 * Turns request credentials into a principal. Returns undefined when the credential is not of
 * its kind; throws UNAUTHORIZED when it is of its kind but invalid (an expired token), so a later
 * resolver cannot silently take it as something else.
 */
export interface CredentialResolver {
  resolve(credentials: RequestCredentials): Promise<Principal | undefined>;
}

export interface AccessPolicy {
  readonly authEnabled: boolean;
  /** Anonymous read everywhere unless a rule or repository setting says otherwise. */
  readonly anonymousRead: boolean;
  /**
   * Formats whose repositories anonymous may pull from even when `anonymousRead` is off
   * (`[auth] docker_anon_pull` → `docker`). A pull reads a path (an image); repository-wide
   * reads (the catalog) stay authenticated.
   */
  readonly anonymousPullFormats?: readonly string[] | undefined;
}

/** No rules: the defaults decide everywhere. */
export const NO_RULES: Permissions = { decide: () => undefined, restrictsPaths: () => false };

/** The existing user a refused login claimed, by the refusal it was thrown with (userTriedOf). */
const USER_TRIED = new WeakMap<object, string>();

/**
 * The refusal of a credential no resolver knows (a wrong password, a revoked, expired or made-up
 * token): formats that can say more about it match this message (cargo: a token `cargo login`
 * saved while auth was off).
 */
export const INVALID_CREDENTIALS = 'invalid credentials';

/**
 * The user name a login refused with `err` (from `authenticate`) claimed, when that name is an
 * existing user's; undefined otherwise. The access log's `userTried`: an unknown name is never
 * logged, since users paste passwords into the user field.
 */
export function userTriedOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? USER_TRIED.get(err) : undefined;
}

export class AccessControl {
  /** Failed-login lockout per address and user (src/auth/lockout.ts), applied when auth is on. */
  readonly lockout = new LoginLockout();
  readonly #resolvers: CredentialResolver[] = [];
  /** Whether a user name is an existing user's (setUserLookup); absent: every name is unknown. */
  #userLookup: ((name: string) => Promise<boolean>) | undefined;
  #policy: AccessPolicy;
  #permissions: Permissions;
  readonly #pathForms: Partial<Record<FormatName, PathForm>>;

  /**
   * `pathForms`: per format, the spelling names are compared in when the format treats several
   * as one (the same map the rules get), so a credential scope `pypi:My_Pkg` covers `my-pkg`.
   */
  constructor(
    policy: AccessPolicy,
    permissions: Permissions = NO_RULES,
    pathForms: Partial<Record<FormatName, PathForm>> = {},
  ) {
    this.#policy = policy;
    this.#permissions = permissions;
    this.#pathForms = pathForms;
  }

  get authEnabled(): boolean {
    return this.#policy.authEnabled;
  }

  get anonymousRead(): boolean {
    return this.#policy.anonymousRead;
  }

  /** True when anonymous may pull from repositories of `format` (see AccessPolicy). */
  anonymousPull(format: string): boolean {
    return this.#policy.anonymousPullFormats?.includes(format) === true;
  }

  updatePolicy(policy: AccessPolicy, permissions?: Permissions): void {
    this.#policy = policy;
    if (permissions !== undefined) this.#permissions = permissions;
  }

  /**
   * How to tell whether a user name names an existing user (htpasswd file or store): a failed
   * login's name is logged (lock warnings, the access line's `userTried`) only when it does.
   */
  setUserLookup(lookup: (name: string) => Promise<boolean>): void {
    this.#userLookup = lookup;
  }

  addResolver(resolver: CredentialResolver): void {
    this.#resolvers.push(resolver);
  }

  /**
   * ANONYMOUS when `authorization` carries no credential (absent, blank, or Basic with an empty
   * user and password), the same first answer `authenticate` gives; undefined when there is one
   * to check (call `authenticate`). Lets the request hook settle most anonymous requests without
   * an async hop, while the decision stays here.
   */
  withoutCredentials(authorization: string | undefined): Principal | undefined {
    return authorization === undefined || isEmptyCredential(authorization) ? ANONYMOUS : undefined;
  }

  /**
   * The principal the request's credentials prove. Throws UNAUTHORIZED for invalid credentials
   * when auth is enabled, and TOO_MANY_REQUESTS (with Retry-After) while the client address or
   * the claimed user is locked out after repeated failures — before any password is hashed.
   */
  async authenticate(credentials: RequestCredentials): Promise<Principal> {
    const authorization = credentials.authorization;
    if (authorization === undefined || this.withoutCredentials(authorization) !== undefined)
      return ANONYMOUS;
    // npm's saved token from auth-off mode (npm/accounts.ts): stands for no one. Not a guess, so
    // no lockout count; with auth on, say what it is instead of "invalid credentials".
    if (/^Bearer\s+nora_anonymous_/i.test(authorization)) {
      if (!this.#policy.authEnabled) return ANONYMOUS;
      throw new RegistryError(
        'UNAUTHORIZED',
        'this is the anonymous token npm saved while auth was off; run npm login',
      );
    }
    // With auth off a wrong credential falls back to anonymous: nothing to guess, nothing to lock.
    const attempt =
      this.#policy.authEnabled && credentials.remoteAddress !== undefined
        ? loginAttempt(authorization, credentials.remoteAddress)
        : undefined;
    if (attempt !== undefined) this.#refuseIfLocked(attempt);
    for (const resolver of this.#resolvers) {
      let principal: Principal | undefined;
      try {
        principal = await resolver.resolve(credentials);
      } catch (err) {
        // A credential of the resolver's kind that is invalid (an expired token) is a failure.
        if (attempt !== undefined && isRegistryError(err) && err.code === 'UNAUTHORIZED') {
          await this.#failed(attempt, err);
        }
        throw err;
      }
      if (!principal) continue;
      if (attempt !== undefined) this.lockout.succeeded(attempt);
      if (credentials.remoteAddress !== undefined) this.admit(principal, credentials.remoteAddress);
      return principal;
    }
    if (this.#policy.authEnabled) {
      const refusal = new RegistryError('UNAUTHORIZED', INVALID_CREDENTIALS);
      if (attempt !== undefined) await this.#failed(attempt, refusal);
      throw refusal;
    }
    return ANONYMOUS;
  }

  /**
   * A password check made outside the Authorization header (a login body: npm login,
   * `POST /api/tokens`), held to the same failed-login lockout as header credentials: throws
   * TOO_MANY_REQUESTS (with Retry-After) while `user` or the address is locked, before `verify`
   * spends a key derivation; records the outcome. `verify` resolves undefined for a wrong password.
   */
  async checkPassword<T>(
    user: string,
    remoteAddress: string | undefined,
    verify: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    if (!this.#policy.authEnabled || remoteAddress === undefined) return verify();
    const attempt = { address: addressKey(remoteAddress), user };
    this.#refuseIfLocked(attempt);
    const result = await verify();
    if (result === undefined)
      this.lockout.failed({ ...attempt, knownUser: await this.#isKnownUser(user) });
    else this.lockout.succeeded(attempt);
    return result;
  }

  /**
   * Counts a failed login, telling the lockout (for its log) whether the claimed name is an
   * existing user's, and marks `refusal` with that name when it is (userTriedOf).
   */
  async #failed(attempt: LoginAttempt, refusal: RegistryError): Promise<void> {
    const user = attempt.user;
    const knownUser = user !== undefined && (await this.#isKnownUser(user));
    if (knownUser) USER_TRIED.set(refusal, user.slice(0, 128));
    this.lockout.failed({ ...attempt, knownUser });
  }

  /** True when `name` names an existing user (false when unsure: the name is not logged). */
  async #isKnownUser(name: string): Promise<boolean> {
    if (this.#userLookup === undefined) return false;
    try {
      return await this.#userLookup(name);
    } catch {
      return false;
    }
  }

  #refuseIfLocked(attempt: { address: string; user?: string | undefined }): void {
    const refusal = this.#lockRefusal(attempt);
    if (refusal !== undefined) throw refusal;
  }

  #lockRefusal(attempt: { address: string; user?: string | undefined }): RegistryError | undefined {
    const state = this.lockout.state(attempt);
    if (!state.locked) return undefined;
    const seconds = Math.max(1, Math.ceil(state.retryAfterMs / 1000));
    return new RegistryError(
      'TOO_MANY_REQUESTS',
      `too many failed logins ${state.by === 'user' ? 'for this user' : 'from this address'}; retry in ${seconds} s`,
      { headers: { 'retry-after': String(seconds) } },
    );
  }

  /**
   * The 429 (TOO_MANY_REQUESTS, with Retry-After) for a request that `authenticate` does not see
   * — one without credentials, or to a route that ignores them (a public /metrics) — from an
   * address locked after failed logins (a locked address is refused whatever it sends), else
   * undefined. Costs one clock read while no address is locked.
   */
  addressLockRefusal(remoteAddress: string | undefined): RegistryError | undefined {
    if (!this.#policy.authEnabled || remoteAddress === undefined) return undefined;
    if (!this.lockout.anyAddressLocked()) return undefined;
    return this.#lockRefusal({ address: addressKey(remoteAddress) });
  }

  /**
   * Refuses (401) a credential restricted to address ranges when the client address is outside
   * them, whether or not auth is enabled: a token used from the wrong place is never silently
   * downgraded to anonymous. An unknown address fails closed.
   */
  admit(principal: Principal, remoteAddress: string | undefined): void {
    if (principal.kind !== 'user' || principal.networks === undefined) return;
    if (principal.networks.allows(remoteAddress)) return;
    throw new RegistryError(
      'UNAUTHORIZED',
      `this token may only be used from ${principal.networks.cidrs.join(', ')} (its CIDR whitelist); ` +
        `this request comes from ${remoteAddress ?? 'an unknown address'}`,
    );
  }

  /**
   * Throws UNAUTHORIZED when auth is enabled and the request carries no identity, whatever the
   * anonymous-read policy. For endpoints whose 401 is how a client learns it should send
   * credentials, and for account endpoints.
   */
  requireIdentity(principal: Principal): void {
    if (this.#policy.authEnabled && principal.kind === 'anonymous') {
      throw new RegistryError('UNAUTHORIZED', 'authentication required');
    }
  }

  /**
   * True when `authorize` would pass; for filtering listings (catalog, search) without throwing.
   * `options.listing`: the check is for listing `path` (see AccessTarget.listing).
   */
  can(
    principal: Principal,
    repository: Repository,
    action: Action,
    path?: string,
    options: TargetOptions = {},
  ): boolean {
    try {
      this.authorize(principal, repository, action, path, options);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * True when `principal`, already allowed to read `repository` as a whole, may read every path
   * in it: no path-specific rule covers the repository and the credential has no scope (or the
   * principal is an admin). Listings (index.yaml, catalogs) use it to skip filtering name by
   * name; false means "filter with `can`", never "refuse".
   */
  readsEveryPath(principal: Principal, repository: Repository): boolean {
    if (principal.kind === 'user' && principal.scope !== undefined) return false;
    if (!this.#policy.authEnabled) return true;
    if (principal.kind === 'user' && principal.roles.includes('admin')) return true;
    return !(this.#permissions.restrictsPaths?.(repository) ?? true);
  }

  /**
   * True when anonymous clients may read the paths of `repository` that no rule over only some
   * of its paths speaks about (a crate no `paths` glob names): `[auth] anonymous_read`, the
   * repository's own `anonymous_read`, a format default (`docker_anon_pull`) or an anonymous rule
   * over all its paths opens them. False when they are open only where an anonymous rule over
   * some paths (`corp-*`) opens them. True with auth off. Cargo's `auth-required` (cargo sends
   * its token for every index and download request only then).
   */
  anonymousReadsUnruled(repository: Repository): boolean {
    if (!this.#policy.authEnabled) return true;
    const ruled = this.#permissions.decideUnruled?.(ANONYMOUS, { repository }, 'read');
    return ruled ?? (this.#policy.anonymousRead || this.anonymousPull(repository.format));
  }

  /**
   * `readsEveryPath` for the paths under `prefix` (`com/example/lib`), for a principal already
   * allowed to read `prefix`: true when no rule speaks about a path under it, so a listing of
   * what is under it (Maven's metadata) needs no filtering, checked in the rules once per
   * (repository, prefix) and remembered.
   */
  readsEveryPathUnder(principal: Principal, repository: Repository, prefix: string): boolean {
    if (this.readsEveryPath(principal, repository)) return true;
    if (principal.kind === 'user' && principal.scope !== undefined) return false;
    const permissions = this.#permissions;
    if (permissions.restrictsUnder === undefined) return false;
    return !permissions.restrictsUnder(repository, prefix);
  }

  /**
   * True when every path under `prefix` is decided for `principal` as `prefix` itself is, for
   * every action: what `readsEveryPathUnder` tests, which looks at no action (the role defaults
   * apply alike, a read-only credential is refused alike, a scoped one is never sure). A write of
   * a subtree (a Go module's packages) then needs no check per path once `prefix` passed.
   */
  decidesUnderAsPrefix(principal: Principal, repository: Repository, prefix: string): boolean {
    return this.readsEveryPathUnder(principal, repository, prefix);
  }

  /**
   * The direct members (names) of `group` that may answer a read of `path` through it, when a
   * rule reserved the path for some of them (see Permissions.answeringMembers); undefined when
   * every member may (auth off: rules do not apply). The same for every caller: group answers
   * and their caches stay permission-free.
   */
  answeringMembers(
    group: Repository,
    path: string,
    members: readonly string[],
  ): readonly string[] | undefined {
    if (!this.#policy.authEnabled) return undefined;
    return this.#permissions.answeringMembers?.({ repository: group, path }, members);
  }

  /**
   * Throws UNAUTHORIZED (no identity) or DENIED (identity without the right) unless `principal`
   * may do `action` on `path` inside `repository`. A read-only or scoped credential is held to
   * its ceiling whether or not auth is enabled.
   */
  authorize(
    principal: Principal,
    repository: Repository,
    action: Action,
    path?: string,
    options: TargetOptions = {},
  ): void {
    const pathForm = this.#pathForms[repository.format];
    const target: AccessTarget = { repository, path, ...options, pathForm };
    const where = path === undefined ? repository.name : `${path} in ${repository.name}`;
    if (principal.kind === 'user' && principal.readOnly === true && action !== 'read') {
      throw new RegistryError(
        'DENIED',
        principal.readOnlyUser === true
          ? readOnlyUserRefusal(principal.name, action, where)
          : `this token is read-only: it may not ${actionText(action)} ${where}`,
      );
    }
    // The user's own rights first: when they already refuse, say so rather than blame the
    // credential's narrower scope (a registry token granting nothing because the user may not).
    if (this.#policy.authEnabled) this.#checkRights(principal, target, action, where);
    if (
      principal.kind === 'user' &&
      principal.scope !== undefined &&
      !principal.scope.allows(target, action)
    ) {
      throw new RegistryError('DENIED', scopeRefusal(principal, principal.scope, action, where));
    }
  }

  /** The rules and role defaults (auth on): UNAUTHORIZED for anonymous, DENIED for a user. */
  #checkRights(principal: Principal, target: AccessTarget, action: Action, where: string): void {
    if (principal.kind === 'user' && principal.roles.includes('admin')) return;
    // Its roles only read (UserDirectory), so the rules would refuse too (grants are capped by
    // roles); said here so that the refusal names the setting rather than a rule or role.
    if (principal.kind === 'user' && principal.readOnlyUser === true && action !== 'read') {
      throw new RegistryError('DENIED', readOnlyUserRefusal(principal.name, action, where));
    }
    const ruled = this.#permissions.decide(principal, target, action);
    if (principal.kind === 'anonymous') {
      const anonymousReads =
        this.#policy.anonymousRead ||
        (target.path !== undefined && this.anonymousPull(target.repository.format));
      if (ruled ?? (action === 'read' && anonymousReads)) return;
      throw new RegistryError(
        'UNAUTHORIZED',
        `authentication required to ${actionText(action)} ${where}`,
      );
    }
    const allowed = ruled ?? hasRole(principal.roles, neededRole(action));
    const closed = allowed
      ? undefined
      : this.#permissions.closedUntilRestart?.(target.repository.name);
    if (closed !== undefined) {
      throw new RegistryError('DENIED', closedRefusal(principal, closed, target, action, where));
    }
    if (!allowed) {
      // Refused by a rule: say which repository's rule when it is not the target's own.
      const why =
        ruled === undefined
          ? undefined
          : this.#permissions.ownedThrough?.(target, action, principal);
      throw new RegistryError(
        'DENIED',
        `${principal.name} may not ${actionText(action)} ${where}${why === undefined ? '' : ` (${why})`}`,
      );
    }
  }
}

/**
 * The refusal of a non-admin's `action` on a repository closed to all but admins until the
 * restart (`why`: Permissions.closedUntilRestart): says it is closed and why, and what the
 * credential lacks — "admin may not read" for the read-only API token of a user called admin
 * read as if admins were refused (trial 25 devD F2). E.g. `this API token of admin may not read
 * s.txt in private-raw: private-raw is not in the reloaded configuration, so it is closed to
 * non-admins until the server restarts, and the token's role is read, not admin (…)`.
 */
function closedRefusal(
  principal: UserPrincipal,
  why: string,
  target: AccessTarget,
  action: Action,
  where: string,
): string {
  const repository = target.repository.name;
  const closed = why.startsWith(`${repository} `) ? 'it' : repository;
  const role = hasRole(principal.roles, 'write')
    ? 'write'
    : hasRole(principal.roles, 'read')
      ? 'read'
      : 'none';
  const [who, lacks] =
    principal.credential === 'token'
      ? [
          `this API token of ${principal.name}`,
          `the token's role is ${role}, not admin (a token is held to its role, whatever its user's)`,
        ]
      : principal.credential === 'registry-token'
        ? [`this registry token of ${principal.name}`, `its role is ${role}, not admin`]
        : [principal.name, `${principal.name} is not an admin`];
  return `${who} may not ${actionText(action)} ${where}: ${why}, so ${closed} is closed to non-admins until the server restarts, and ${lacks}`;
}

/**
 * The refusal of a change by a user `[auth] read_only_users` names, whatever its credential
 * (password, a token it minted before being listed, a registry token): names the setting, since
 * neither a rule nor the token's own role explains it.
 */
export function readOnlyUserRefusal(user: string, action: Action, where: string): string {
  return `${user} is a read-only user ([auth] read_only_users): it may not ${actionText(action)} ${where}`;
}

/**
 * The refusal of an action outside a credential's scope. A registry token's scope is what
 * `/v2/token` granted, which leaves out whatever was not asked for or what the credential it was
 * obtained with might not do then (its user's rights, an API token's scope): "it is limited to
 * docker:team/app (read)" read as if that credential were read-limited (trial 20 authx F7), so
 * such a refusal says the token endpoint granted no more.
 */
function scopeRefusal(
  principal: UserPrincipal,
  scope: Scope,
  action: Action,
  where: string,
): string {
  if (principal.credential === 'registry-token') {
    // "granted it only nothing (the token grants no access)" read garbled (trial 32 ops): an
    // empty grant names the target and, when known, the API token's scope that left it out.
    const why =
      scope.empty === true && scope.narrowedBy !== undefined
        ? scope.narrowedBy
        : 'a token gets the actions asked for that the credential it was obtained with may do at that time';
    const granted = scope.empty === true ? `no access to ${where}` : `only ${scope.description}`;
    return scope.empty === true
      ? `this registry token may not ${actionText(action)} ${where}: /v2/token granted it ${granted}: ${why}`
      : `this registry token may not ${actionText(action)} ${where}: /v2/token granted it ${granted} (${why})`;
  }
  return `this credential may not ${actionText(action)} ${where} (it is limited to ${scope.description})`;
}

/**
 * No header, an empty one, or Basic with an empty user and password (`Basic Og==`, what
 * containers/image sends for `--no-creds` after a Basic challenge): no credential, not a wrong one.
 */
function isEmptyCredential(authorization: string): boolean {
  if (authorization.trim() === '') return true;
  const basic = /^Basic\s+([A-Za-z0-9+/=]*)\s*$/i.exec(authorization);
  return basic !== null && Buffer.from(basic[1] ?? '', 'base64').toString('utf8') === ':';
}

/**
 * An action as a refusal says it: `read`, `write`, `delete`, and `delete (an admin action)` for
 * `admin`, which guards the deletes only an admin may make (a hosted Go module version, a Cargo
 * crate): "authentication required to admin corp.example.com/m in go" did not say what was asked
 * (sixteenth trial F9).
 */
export function actionText(action: Action): string {
  return action === 'admin' ? 'delete (an admin action)' : action;
}

/** The role an action needs: read → read, write/delete → write, admin → admin. */
export function neededRole(action: Action): Role {
  return action === 'read' ? 'read' : action === 'admin' ? 'admin' : 'write';
}

/** Roles are ordered: admin ⊃ write ⊃ read. */
export function hasRole(roles: readonly Role[], needed: Role): boolean {
  if (roles.includes('admin')) return true;
  if (needed === 'read') return roles.includes('read') || roles.includes('write');
  return roles.includes(needed);
}

/**
 * For a write whose body names what it writes (a PyPI upload's form, a Cargo publish's
 * metadata): runs the repository-wide `check` made before the body is read and, when it refuses
 * a signed-in caller (DENIED), returns that refusal instead of throwing it. The format then reads
 * the body only until it names the project or crate, where the check on the name refuses with
 * the name and the owning rule (`bob may not write corp-pkg in pypi (a rule on its member
 * pypi-hosted owns it)`, as npm's URL-named writes say; tenth trial F1), and answers with
 * `refusedAnswer` whatever else went wrong before. Anonymous callers' 401 (clients ask for
 * credentials on it) and every other error are thrown at once.
 */
export function refusalBeforeName(
  principal: Principal,
  check: () => void,
): RegistryError | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    if (principal.kind !== 'user' || !isRegistryError(err) || err.code !== 'DENIED') throw err;
    return err;
  }
}

/**
 * What a write refused before its name was read (`refusalBeforeName`) answers when it failed
 * with `err`: the refusal that names the write (UNAUTHORIZED / DENIED) as it is, and anything
 * else (a malformed body, a form without a name) as `refused` — a caller who may not write
 * gets its 403, never a 400 about the body. Without `refused`: `err` itself.
 */
export function refusedAnswer(err: unknown, refused: RegistryError | undefined): unknown {
  if (refused === undefined) return err;
  if (isRegistryError(err) && (err.code === 'DENIED' || err.code === 'UNAUTHORIZED')) return err;
  return refused;
}
