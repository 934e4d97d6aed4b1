/**
 * NORA's token API, protocol logic only (routes.ts carries it over HTTP):
 * - `POST /api/tokens` — create: `{username, password, role, ttl_days, description, scope}`, or
 *   the request's own credential instead of username/password → `{token, …}`, the secret once;
 * - `POST /api/tokens/list` — the tokens of that user, never their secrets;
 * - `POST /api/tokens/revoke` — by `hash_prefix` or `id`;
 * - `POST /api/v1/admin/tokens` — admins only: `{action: "list" | "create" | "revoke", user, …}`
 *   lists every user's tokens (or one user's), creates a token for a named user, revokes any.
 *
 * Account changes (create, revoke) need the write or admin role: a read-only token can list its
 * user's tokens but neither make nor revoke one. A token limited to some resources (scope,
 * CIDR ranges) or a short-lived CI identity may not mint tokens: the new token would outlive
 * or outreach it. A token with an expiry may mint tokens that expire no later than it does (the
 * answer says when the asked lifetime was cut: `expires_capped`). Only admins
 * (`[auth] admin_users`) get admin tokens (NORA's GHSA-78cx fix), and a user `[auth]
 * read_only_users` names gets read tokens only (asking for more is a 403 that says so, not a
 * quietly weaker token); its password may still make and revoke its own tokens.
 */
import { noteActor } from '../../audit/requests.ts';
import { RegistryError } from '../../core/errors.ts';
import { hasRole, type Principal, type Role } from '../access.ts';
import type { UserDirectory } from '../directory.ts';
import { closest } from '../../config/env.ts';
import { compileGlob, patternProblem } from '../patterns.ts';
import {
  capReason,
  expiryOf,
  highestRole,
  isRole,
  type TokenCap,
  type TokenInfo,
  type TokenStore,
  tokenRefProblem,
} from '../users.ts';

export type Json = Record<string, unknown>;

/** The fields of a `POST /api/tokens` body (NORA's five, plus `scope`). */
const CREATE_FIELDS = new Set(['username', 'password', 'role', 'ttl_days', 'description', 'scope']);

/** Bounds on what a create body may ask. */
export const MAX_TTL_DAYS = 3650;
export const MAX_SCOPE_PATTERNS = 32;
const MAX_DESCRIPTION = 256;

/** Who a request acts as: from credentials in the body, or the request's principal. */
interface Subject {
  readonly name: string;
  readonly roles: readonly Role[];
  readonly readOnly: boolean;
  /** Named by `[auth] read_only_users`: may mint read tokens only (roles hold only read). */
  readonly readOnlyUser: boolean;
  /** Narrowed credentials (scope, address ranges, CI identities) may not mint tokens. */
  readonly narrowed: boolean;
  /** When the credential expires (epoch ms): tokens it makes expire no later. */
  readonly expiresAt: number | undefined;
  /** What the credential's scope reaches (Scope.description), when it has one. */
  readonly scope?: string | undefined;
}

/** What a new token asks for, validated. */
export interface TokenRequest {
  readonly role: Role;
  readonly ttlDays: number | undefined;
  readonly description: string | undefined;
  readonly scope: readonly string[] | undefined;
}

/**
 * Checks a password from a request body under the failed-login lockout
 * (AccessControl.checkPassword); `address` is the client's.
 */
export type PasswordGuard = <T>(
  user: string,
  address: string | undefined,
  verify: () => Promise<T | undefined>,
) => Promise<T | undefined>;

const UNGUARDED: PasswordGuard = (_user, _address, verify) => verify();

export class TokenApi {
  readonly #directory: UserDirectory;
  readonly #tokens: TokenStore;
  readonly #guard: PasswordGuard;
  readonly #repositories: (() => readonly string[]) | undefined;

  /**
   * `repositories`: the names of the configured repositories now (SIGHUP may change them), which
   * the `<repository>:` part of a new token's scope must match; without it, not checked.
   */
  constructor(
    directory: UserDirectory,
    tokens: TokenStore,
    guard: PasswordGuard = UNGUARDED,
    repositories?: () => readonly string[],
  ) {
    this.#directory = directory;
    this.#tokens = tokens;
    this.#guard = guard;
    this.#repositories = repositories;
  }

  /** `POST /api/tokens`. Default role: read (least privilege; ask for write to publish). */
  async create(principal: Principal, body: Json, address?: string): Promise<Json> {
    const subject = await this.#subject(principal, body, address);
    requireAccountChange(subject);
    // A mistaken call (the admin endpoint's `{"action":"list"}`, a misspelt `ttl_day`) must not
    // quietly mint a token with defaults: every field is one this endpoint knows.
    const unknown = Object.keys(body).filter((key) => !CREATE_FIELDS.has(key));
    if (unknown.length > 0) {
      throw new RegistryError(
        'BAD_REQUEST',
        `unknown field ${JSON.stringify(unknown[0])}: POST /api/tokens takes ${[...CREATE_FIELDS].join(', ')} (list: POST /api/tokens/list, revoke: POST /api/tokens/revoke)`,
      );
    }
    const request = parseTokenRequest(body, 'read', this.#repositories?.());
    const readOnly = readOnlyUserTokenProblem(subject.name, request.role, subject.readOnlyUser);
    if (readOnly !== undefined)
      throw new RegistryError('DENIED', `${readOnly} (ask for "role":"read")`);
    if (request.role === 'admin' && !subject.roles.includes('admin')) {
      throw new RegistryError(
        'DENIED',
        'only admins ([auth] admin_users, with an admin credential) may create admin tokens',
      );
    }
    return this.#mint(subject.name, request, subject.expiresAt);
  }

  /** `POST /api/tokens/list`. */
  async list(principal: Principal, body: Json, address?: string): Promise<Json> {
    const subject = await this.#subject(principal, body, address);
    const tokens = await this.#tokens.list(subject.name);
    return { tokens: tokens.map((t) => tokenJson(t)) };
  }

  /** `POST /api/tokens/revoke`: one of the user's own tokens. */
  async revoke(principal: Principal, body: Json, address?: string): Promise<Json> {
    const subject = await this.#subject(principal, body, address);
    requireAccountChange(subject);
    const token = await this.#findOne(body, subject.name);
    await this.#tokens.revoke(token.key, subject.name);
    return { revoked: true, id: token.key, hash_prefix: token.hashPrefix };
  }

  /** `POST /api/v1/admin/tokens` (see the module comment). */
  async admin(principal: Principal, body: Json, address?: string): Promise<Json> {
    const subject = await this.#subject(principal, body, address);
    if (!subject.roles.includes('admin')) {
      // An admin's read or write token lacks the admin role here: blaming `admin_users` sent
      // the operator to a list that names the user (trial 23 authx F5). Say it is the credential.
      const account = await this.#directory.account(subject.name);
      if (account?.roles.includes('admin') === true) {
        throw new RegistryError(
          'DENIED',
          `${subject.name} is an admin, but this credential has role ${highestRole(subject.roles) ?? 'read'}: the admin token API needs an admin credential, the password (Basic auth) or an admin token (POST /api/tokens with {"role":"admin"} and the password, or nora token create --role admin)`,
        );
      }
      throw new RegistryError('DENIED', 'this endpoint is for admins ([auth] admin_users)');
    }
    // A scope limits a credential to what it names: every user's tokens (even a listing) are
    // account administration far outside it, as an unscoped read token of the same admin is
    // refused here too.
    if (subject.scope !== undefined) {
      throw new RegistryError(
        'DENIED',
        `this credential's scope limits it to ${subject.scope}: the admin token API needs an admin credential without a scope`,
      );
    }
    const action = body['action'] ?? 'list';
    const user = optionalString(body, 'user', 128);
    switch (action) {
      case 'list': {
        const tokens = await this.#tokens.list(user);
        return { tokens: tokens.map((t) => tokenJson(t)) };
      }
      case 'create': {
        requireAccountChange(subject);
        if (user === undefined) throw new RegistryError('BAD_REQUEST', '"user" is required');
        const owner = await this.#directory.account(user);
        if (!owner) throw new RegistryError('NOT_FOUND', `no user "${user}"`);
        const request = parseTokenRequest(body, 'read', this.#repositories?.());
        const readOnly = readOnlyUserTokenProblem(user, request.role, owner.readOnlyUser === true);
        if (readOnly !== undefined) throw new RegistryError('BAD_REQUEST', readOnly);
        if (request.role === 'admin' && !owner.roles.includes('admin')) {
          throw new RegistryError(
            'BAD_REQUEST',
            `"${user}" is not an admin ([auth] admin_users): an admin token of theirs would only write`,
          );
        }
        return this.#mint(user, request, subject.expiresAt);
      }
      case 'revoke': {
        requireAccountChange(subject);
        const token = await this.#findOne(body, user);
        await this.#tokens.revoke(token.key);
        return { revoked: true, id: token.key, hash_prefix: token.hashPrefix, user: token.user };
      }
      default:
        throw new RegistryError('BAD_REQUEST', '"action" must be "list", "create" or "revoke"');
    }
  }

  /**
   * Makes the token. `notAfter`: the expiry of the token the request is authenticated by, which
   * the new one may not outlive (a longer lifetime would reach further than its maker, as a
   * wider scope would); the answer says when it cut the lifetime asked for.
   */
  async #mint(user: string, request: TokenRequest, notAfter: number | undefined): Promise<Json> {
    const now = Date.now();
    const { secret, info } = await this.#tokens.create(user, {
      role: request.role,
      ttlDays: request.ttlDays,
      notAfter,
      description: request.description,
      scope: request.scope,
    });
    const asked = expiryOf(now, request.ttlDays, undefined);
    const capped = notAfter !== undefined && (asked === undefined || asked > notAfter);
    return {
      token: secret,
      ...tokenJson(info),
      ...(capped
        ? {
            expires_capped: true,
            note: `expires_at is that of the token this request was made with: a token may not create one that outlives it (asked: ${asked === undefined ? 'never expires' : new Date(asked).toISOString()})`,
          }
        : {}),
    };
  }

  async #findOne(body: Json, user: string | undefined): Promise<TokenInfo> {
    // An empty one names no token: the same 400 as a missing one, not a 404 "not found".
    const ref =
      optionalString(body, 'hash_prefix', 128) || optionalString(body, 'id', 128) || undefined;
    if (ref === undefined) {
      throw new RegistryError('BAD_REQUEST', '"hash_prefix" (or "id") of the token is required');
    }
    const matches = await this.#tokens.find(ref, user);
    const short = matches.length === 0 ? tokenRefProblem(ref) : undefined;
    if (short !== undefined) throw new RegistryError('BAD_REQUEST', short);
    if (matches.length > 1) throw new RegistryError('BAD_REQUEST', 'token id is ambiguous');
    const [token] = matches;
    if (!token) throw new RegistryError('NOT_FOUND', 'token not found');
    return token;
  }

  async #subject(principal: Principal, body: Json, address?: string): Promise<Subject> {
    const username = body['username'];
    const password = body['password'];
    if (username !== undefined || password !== undefined) {
      if (typeof username !== 'string' || typeof password !== 'string') {
        throw new RegistryError('BAD_REQUEST', '"username" and "password" must both be strings');
      }
      if (password.length > 1024) throw new RegistryError('BAD_REQUEST', 'password is too long');
      const account = await this.#guard(username, address, () =>
        this.#directory.verify(username, password),
      );
      if (!account) throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
      // The request carries no header credentials: its audit line names this user, not anonymous.
      noteActor(account.name);
      return {
        name: account.name,
        roles: account.roles,
        readOnly: false,
        readOnlyUser: account.readOnlyUser === true,
        narrowed: false,
        expiresAt: undefined,
      };
    }
    if (principal.kind !== 'user') {
      throw new RegistryError(
        'UNAUTHORIZED',
        'authentication required: send "username" and "password", or an Authorization header',
      );
    }
    return subjectOf(principal);
  }
}

/**
 * Throws DENIED unless the request's credential may change its user's account (create or revoke
 * tokens): the write or admin role, not read-only, not narrowed (scope, address ranges, CI).
 * For account endpoints outside this API (npm's `/-/npm/v1/tokens`).
 */
export function requireAccountChangeBy(principal: Principal): void {
  if (principal.kind !== 'user') {
    throw new RegistryError('UNAUTHORIZED', 'authentication required');
  }
  requireAccountChange(subjectOf(principal));
}

function subjectOf(principal: Principal & { kind: 'user' }): Subject {
  return {
    name: principal.name,
    roles: principal.roles,
    readOnly: principal.readOnly === true,
    readOnlyUser: principal.readOnlyUser === true,
    narrowed:
      principal.scope !== undefined ||
      principal.networks !== undefined ||
      principal.credential === 'oidc' ||
      principal.credential === 'registry-token',
    expiresAt: principal.expiresAt,
    ...(principal.scope === undefined ? {} : { scope: principal.scope.description }),
  };
}

/**
 * Throws DENIED unless the subject may change the account (create or revoke tokens). A user
 * `[auth] read_only_users` names may, with a credential that is not itself read-only (its
 * password): it needs tokens to install with, and they are held to read (readOnlyUserTokenProblem).
 */
function requireAccountChange(subject: Subject): void {
  const writes = hasRole(subject.roles, 'write') || subject.readOnlyUser;
  if (subject.readOnly || !writes) {
    throw new RegistryError(
      'DENIED',
      'a read-only credential may not create or revoke tokens (account changes need the write or admin role)',
    );
  }
  if (subject.narrowed) {
    throw new RegistryError(
      'DENIED',
      'a credential limited to some resources or addresses, or a CI identity, may not create or revoke tokens',
    );
  }
}

/**
 * Why `user` may not get a new token of `role`, or undefined: a user `[auth] read_only_users`
 * names gets read tokens only. Every way of minting one asks this (the token API, its admin
 * endpoint, `npm token create`, `nora token create`); `npm login`, which asks for no role, makes
 * such a user a read token instead. The caller adds how to ask for a read token.
 */
export function readOnlyUserTokenProblem(
  user: string,
  role: Role,
  readOnlyUser: boolean,
): string | undefined {
  if (!readOnlyUser || role === 'read') return undefined;
  return `${user} is a read-only user ([auth] read_only_users): it may only have read tokens, not ${role}`;
}

/**
 * Validates what a create body asks: `role` (read | write | admin, default read), `ttl_days`
 * (1–3650, absent or null: never expires), `description` (≤ 256 characters), `scope` (resource
 * patterns, patterns.ts, checked against `repositories` as parseScope does). Throws BAD_REQUEST
 * naming the field.
 */
export function parseTokenRequest(
  body: Json,
  defaultRole: Role = 'read',
  repositories?: readonly string[],
): TokenRequest {
  const role = body['role'] ?? defaultRole;
  if (!isRole(role)) throw new RegistryError('BAD_REQUEST', '"role" must be read, write or admin');
  const ttl = body['ttl_days'];
  if (
    ttl !== undefined &&
    ttl !== null &&
    (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_DAYS)
  ) {
    throw new RegistryError(
      'BAD_REQUEST',
      `"ttl_days" must be a whole number of days from 1 to ${MAX_TTL_DAYS}`,
    );
  }
  const description = optionalString(body, 'description', MAX_DESCRIPTION);
  const scope = parseScope(body['scope'], repositories);
  return {
    role,
    ttlDays: typeof ttl === 'number' ? ttl : undefined,
    description,
    scope,
  };
}

/**
 * A token scope: a non-empty list of resource patterns, or undefined (no limit). Throws
 * BAD_REQUEST for a pattern that could only be a slip, since a scope that reaches nothing is
 * refused only at use (a 403 far from its cause): bad syntax (patterns.ts `patternProblem`, an
 * empty repository or path part around the `:`, a character of another glob dialect), or, given
 * `repositories` (the configured names), a `<repository>:` glob that matches none of them,
 * compared exactly as access checks compare it — the answer lists the names.
 */
export function parseScope(
  value: unknown,
  repositories?: readonly string[],
): readonly string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((p): p is string => typeof p === 'string')
  ) {
    throw new RegistryError(
      'BAD_REQUEST',
      '"scope" must be a non-empty list of resource patterns such as "team/**" or "npm:@corp/*"',
    );
  }
  if (list.length > MAX_SCOPE_PATTERNS) {
    throw new RegistryError(
      'BAD_REQUEST',
      `"scope" may list at most ${MAX_SCOPE_PATTERNS} patterns`,
    );
  }
  for (const pattern of list) {
    const problem = patternProblem(pattern) ?? scopeProblem(pattern, repositories);
    if (problem !== undefined) {
      throw new RegistryError(
        'BAD_REQUEST',
        `invalid scope pattern ${JSON.stringify(pattern.slice(0, 80))}: ${problem}`,
      );
    }
  }
  return list;
}

/**
 * What patternProblem lets pass but a token scope should not have: `npm:` and `:x` (an empty
 * side of the `:` silently means "everything" there), `[`, `]`, `{`, `}`, `?` (globs of other
 * tools; here they are literal, and no name has them), and a repository glob matching none of
 * `repositories`.
 */
function scopeProblem(
  pattern: string,
  repositories: readonly string[] | undefined,
): string | undefined {
  const colon = pattern.indexOf(':');
  const repository = colon === -1 ? undefined : pattern.slice(0, colon);
  const path = colon === -1 ? pattern : pattern.slice(colon + 1);
  if (repository === '') {
    return `the repository part before ":" is empty (write "${path}" for every repository, or "<repository>:${path}")`;
  }
  if (path === '') {
    return `the path part after ":" is empty (write "${repository ?? ''}:**" for the whole repository)`;
  }
  const foreign = /[[\]{}?]/.exec(pattern);
  if (foreign !== null) {
    return `"${foreign[0]}" is no glob here: patterns have only "*" (within one "/" segment) and "**" (any segments), every other character is literal`;
  }
  if (repository === undefined || repositories === undefined) return undefined;
  const glob = compileGlob(repository);
  if (repositories.some((name) => glob.test(name))) return undefined;
  const lower = repository.toLowerCase();
  const cased = repositories.find((name) => name.toLowerCase() === lower);
  const near =
    cased ?? closest(repository, repositories) ?? onlyExtension(repository, repositories);
  const hint =
    near === undefined
      ? ''
      : ` (did you mean "${near}"?${cased === undefined ? '' : ' names are compared exactly'})`;
  return `"${repository}" names no repository${hint}; the repositories are ${repositories.join(', ')}`;
}

/** The one repository named `<name>-<something>` (`raw` → `raw-hosted`), else undefined. */
function onlyExtension(name: string, repositories: readonly string[]): string | undefined {
  const extended = repositories.filter((repo) => repo.startsWith(`${name}-`));
  return extended.length === 1 ? extended[0] : undefined;
}

function optionalString(body: Json, key: string, max: number): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw new RegistryError(
      'BAD_REQUEST',
      `"${key}" must be a string of at most ${max} characters`,
    );
  }
  return value;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** The setting (or store field) that caps a listed token, the API's `capped_by`. */
const CAPPED_BY: Record<TokenCap, string> = {
  read_only_users: '[auth] read_only_users',
  admin_users: '[auth] admin_users',
  user_roles: 'roles',
};

/**
 * A token as the API shows it: never the secret, nor enough of it to matter. A token its
 * owner's roles cap (TokenStore.list) has `role` as it acts now, `role_granted` as made,
 * `capped_by` (`[auth] read_only_users`, `[auth] admin_users`, `roles`) and `capped_reason`
 * (capReason: `user not in [auth] admin_users`).
 */
export function tokenJson(info: TokenInfo, now = Date.now()): Json {
  return {
    id: info.key,
    hash_prefix: info.hashPrefix,
    user: info.user,
    role: info.role,
    ...(info.cappedFrom === undefined
      ? {}
      : {
          role_granted: info.cappedFrom,
          capped_by: CAPPED_BY[info.cappedBy ?? 'user_roles'],
          capped_reason: capReason(info.cappedBy ?? 'user_roles'),
        }),
    description: info.description ?? info.name ?? null,
    scope: info.scope ?? null,
    created_at: iso(info.createdAt),
    expires_at: iso(info.expiresAt),
    expired: info.expiresAt !== undefined && info.expiresAt <= now,
    last_used_at: iso(info.lastUsedAt),
  };
}
