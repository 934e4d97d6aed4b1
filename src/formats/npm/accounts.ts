/**
 * npm's account endpoints over the shared user and token stores: `npm adduser`/`login`
 * (CouchDB-style `PUT /-/user/org.couchdb.user:<name>`, and npm 11's web login
 * `POST /-/v1/login` when auth is off), `npm whoami`, `npm logout` and
 * `npm token list|create|revoke` (`/-/npm/v1/tokens`).
 *
 * With `[auth] enabled = false` every request may read and write, but npm refuses to publish
 * without a token in its config (ENEEDAUTH). So `npm login` hands back an *anonymous token*: a
 * random string that is stored nowhere and creates no account; it resolves to no one, so it is
 * exactly as powerful as no token (everything while auth is off, nothing once auth is on).
 */
import { randomBytes } from 'node:crypto';
import { noteActor } from '../../audit/requests.ts';
import type { Principal } from '../../auth/access.ts';
import type { PasswordGuard } from '../../auth/api/tokens.ts';
import { readOnlyUserTokenProblem, requireAccountChangeBy } from '../../auth/api/tokens.ts';
import type { UserDirectory } from '../../auth/directory.ts';
import { invalidCidrs, MAX_CIDRS } from '../../auth/networks.ts';
import {
  capReason,
  looksLikeToken,
  type TokenInfo,
  type TokenStore,
  type UserStore,
} from '../../auth/users.ts';
import { RegistryError, methodNotAllowed } from '../../core/errors.ts';
import type { Json } from './store.ts';

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface AccountPolicy {
  /** `[auth] allow_registration`: may an unknown name create an account? Read per request. */
  readonly allowRegistration: () => boolean;
  /** `[auth] enabled`, read per request (SIGHUP may change it). */
  readonly authEnabled: () => boolean;
  /** Password checks from request bodies go through the failed-login lockout. */
  readonly checkPassword?: PasswordGuard | undefined;
  /**
   * Where the configuration names `name` as a user (`[[auth.rules]] users`, `[auth.groups]`), a
   * short description of that place; undefined when it does not. Such a name is granted rights
   * before anyone holds it, so it is not self-registered (see login). Read per request.
   */
  readonly namedByConfig?: ((name: string) => string | undefined) | undefined;
}

/** A token standing for no one (see the module comment); never stored, never logged. */
function anonymousToken(): string {
  return `nora_anonymous_${randomBytes(24).toString('base64url')}`;
}

/** The path (below a mount) of the web-login `doneUrl`; the `loginUrl` page is `…/open`. */
export const WEB_LOGIN_DONE = '/-/v1/login/done';
export const WEB_LOGIN_OPEN = '/-/v1/login/open';

/** The 404 of the three web-login routes with auth on: npm falls back to the password login. */
const NO_WEB_LOGIN =
  'web login is not supported by this registry: log in with a username and password';

export class NpmAccounts {
  readonly #directory: UserDirectory;
  readonly #users: UserStore;
  readonly #tokens: TokenStore;
  readonly #policy: AccountPolicy;

  /**
   * `directory` checks passwords (the htpasswd file first, then the store); `users` is the store
   * that `npm adduser` writes to; `tokens` are the shared API tokens (npm's are the same ones).
   */
  constructor(
    directory: UserDirectory,
    users: UserStore,
    tokens: TokenStore,
    policy: AccountPolicy,
  ) {
    this.#directory = directory;
    this.#users = users;
    this.#tokens = tokens;
    this.#policy = policy;
  }

  /**
   * Logs an existing user in, or creates the user on first use when self-registration is
   * allowed; either way returns a fresh token. With registration off an unknown name gets
   * exactly what a known name with a wrong password gets (401 "incorrect username or password",
   * a failed login for the lockout), so the endpoint does not tell which names exist.
   */
  async login(urlName: string, body: Json, address?: string): Promise<Json> {
    const guarded = <T>(verify: () => Promise<T | undefined>) =>
      this.#policy.checkPassword?.(urlName, address, verify) ?? verify();
    if (!USER_NAME.test(urlName)) throw new RegistryError('BAD_REQUEST', 'invalid user name');
    if (body['name'] !== undefined && body['name'] !== urlName) {
      throw new RegistryError('BAD_REQUEST', 'user name in the body does not match the URL');
    }
    const password = body['password'];
    if (typeof password !== 'string' || password.length === 0) {
      throw new RegistryError('BAD_REQUEST', 'password is required');
    }
    if (password.length > 1024) throw new RegistryError('BAD_REQUEST', 'password is too long');
    const email = typeof body['email'] === 'string' ? body['email'] : undefined;
    if (this.#directory.inHtpasswd(urlName)) {
      // The operator's file decides this user's password; nothing is registered.
      if (!(await guarded(() => this.#directory.verify(urlName, password)))) {
        throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
      }
    } else if (this.#policy.allowRegistration()) {
      const stored = (await this.#users.get(urlName)) !== undefined;
      // A new name may not pass for an existing user by case alone (`Dave` next to `dave`,
      // `Alice` next to the htpasswd file's `alice`): checked first, so the answer is this 409
      // whatever the configuration says about the existing user.
      const clash = stored ? undefined : await this.#directory.findIgnoringCase(urlName);
      if (clash !== undefined) {
        throw new RegistryError(
          'CONFLICT',
          `user name "${urlName}" is taken: it differs from the existing user "${clash}" only ` +
            'by case; choose another name, or log in as that user',
        );
      }
      // An admin name nobody holds yet must not go to whoever registers it first, nor a name a
      // rule or group grants rights to (`[[auth.rules]] users`, `[auth.groups]`): the first
      // stranger to register it would get them (publish in the rule's space, say). The answer
      // does not say which (an admin, a group, which one): the caller may be anyone.
      if (
        !stored &&
        (this.#directory.isAdmin(urlName) || this.#policy.namedByConfig?.(urlName) !== undefined)
      ) {
        throw new RegistryError(
          'DENIED',
          `user name "${urlName}" is reserved by this server's configuration and cannot be ` +
            'self-registered: ask the administrator for an account',
        );
      }
      const created = await this.#users.create(urlName, password, email);
      if (!created && !(await guarded(() => this.#users.verify(urlName, password)))) {
        throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
      }
    } else if (!(await guarded(() => this.#directory.verify(urlName, password)))) {
      if (!(await this.#users.get(urlName)) && !this.#policy.authEnabled()) {
        // Auth is off: nothing to log in to, but npm needs a token to publish.
        return { ok: true, id: `org.couchdb.user:${urlName}`, rev: '1', token: anonymousToken() };
      }
      // An unknown name gets the wrong-password answer, counted as a failed login like it
      // (`guarded` above): a different answer would tell which user names exist.
      throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
    }
    // The password was in the body (no header credentials): the audit line names this user.
    noteActor(urlName);
    const { secret } = await this.#tokens.create(urlName, {
      // npm login asks for no role: a user [auth] read_only_users names gets what it may hold
      // (a 403 would leave it unable to install with npm at all).
      role: this.#directory.isReadOnlyUser(urlName) ? 'read' : 'write',
      description: 'npm login',
    });
    return { ok: true, id: `org.couchdb.user:${urlName}`, rev: '1', token: secret };
  }

  /**
   * `POST /-/v1/login` (npm ≥ 9 tries this first, for `npm login` and `npm adduser`). With auth
   * off it answers at once: `loginUrl` is a page saying there is nothing to do, and `doneUrl`
   * answers 200 with an anonymous token on the first poll, so npm finishes by itself (it still
   * prints `Login at:` and `loginUrl`: npm's opener always does). With auth on there is no web flow here: 404 makes npm fall back to the
   * username/password login (its "web login not supported" path).
   * `mountUrl` is the repository's public base URL without a trailing slash.
   */
  webLogin(mountUrl: string): Json {
    if (this.#policy.authEnabled()) {
      throw new RegistryError('NOT_FOUND', NO_WEB_LOGIN);
    }
    return { loginUrl: `${mountUrl}${WEB_LOGIN_OPEN}`, doneUrl: `${mountUrl}${WEB_LOGIN_DONE}` };
  }

  /** The `doneUrl` poll: `{ token }` while auth is off (404 once it is on). */
  webLoginDone(): Json {
    if (this.#policy.authEnabled()) {
      throw new RegistryError('NOT_FOUND', NO_WEB_LOGIN);
    }
    return { token: anonymousToken() };
  }

  /** Whether accounts and tokens exist here (`[auth] enabled`): with auth off they do not. */
  accountsEnabled(): boolean {
    return this.#policy.authEnabled();
  }

  /**
   * The text shown at `loginUrl` while auth is off. With auth on 404, as the other two web-login
   * routes (it answered 200 with the refusal as text, which docs/npm.md called a 404: trial 35
   * newB F6); npm never asks for this page, a browser shows the message either way.
   */
  webLoginPage(): string {
    if (this.#policy.authEnabled()) {
      throw new RegistryError('NOT_FOUND', NO_WEB_LOGIN);
    }
    return 'Authentication is disabled on this registry ([auth] enabled = false): npm has been given an anonymous token and needs nothing else.\n';
  }

  async profile(urlName: string, principal: Principal): Promise<Json> {
    const user = requireAccount(principal, this.#policy.authEnabled(), 'reading a user document', [
      'PUT',
    ]);
    if (user !== urlName)
      throw new RegistryError('DENIED', 'you may only read your own user document');
    const found = await this.#users.get(user);
    if (!found && !this.#directory.inHtpasswd(user))
      throw new RegistryError('NOT_FOUND', 'user not found');
    return {
      _id: `org.couchdb.user:${user}`,
      name: user,
      ...(found?.email ? { email: found.email } : {}),
      type: 'user',
      roles: [],
    };
  }

  /**
   * `npm whoami`: `{ username }` of the principal. With auth off, the anonymous token `npm login`
   * saved (or no token) is `anonymous`, so the documented auth-off flow ends without an error;
   * with auth on, no user → 401 (the anonymous token gets its own 401 in auth/access.ts).
   */
  whoami(principal: Principal): Json {
    if (principal.kind === 'anonymous' && !this.#policy.authEnabled()) {
      return { username: 'anonymous' };
    }
    return { username: requireUser(principal) };
  }

  /**
   * `npm logout` (`DELETE /-/user/token/<secret>`): the token in the path is the credential —
   * whoever holds it may revoke it — and the `Authorization` header is not read (paths.ts
   * credentialsInRequest). A token that is not stored here (the anonymous one, whatever auth
   * says now; a revoked, expired or foreign one) has nothing to revoke and gets the same 200:
   * npm drops a token from its config only after a 2xx, and the answer does not tell whether a
   * token exists.
   */
  async logout(secret: string): Promise<Json> {
    const token = looksLikeToken(secret) ? await this.#tokens.lookup(secret) : undefined;
    // No header credentials: the audit event names the token's owner.
    if (token !== undefined && (await this.#tokens.revokeSecret(secret))) noteActor(token.user);
    return { ok: true };
  }

  async listTokens(principal: Principal): Promise<Json> {
    const user = requireAccount(principal, this.#policy.authEnabled(), 'npm token', []);
    const tokens = await this.#tokens.list(user);
    return { objects: tokens.map(tokenJson), total: tokens.length, urls: {} };
  }

  async createToken(principal: Principal, body: Json, address?: string): Promise<Json> {
    const user = requireAccount(principal, this.#policy.authEnabled(), 'npm token', []);
    // Account changes need the write or admin role: a read-only token cannot mint tokens.
    requireAccountChangeBy(principal);
    const password = body['password'];
    // npm sends the password to confirm; a token may not mint tokens without it.
    const check = (secret: string) =>
      this.#policy.checkPassword?.(user, address, () => this.#directory.verify(user, secret)) ??
      this.#directory.verify(user, secret);
    if (typeof password !== 'string' || !(await check(password))) {
      throw new RegistryError(
        'UNAUTHORIZED',
        'password is required and must be correct to create a token',
      );
    }
    const cidr = body['cidr_whitelist'];
    if (
      cidr !== undefined &&
      cidr !== null &&
      (!Array.isArray(cidr) || !cidr.every((c) => typeof c === 'string'))
    ) {
      throw new RegistryError('BAD_REQUEST', 'cidr_whitelist must be a list of strings');
    }
    const cidrs = Array.isArray(cidr) ? cidr.map((c) => c.trim()) : [];
    if (cidrs.length > MAX_CIDRS) {
      throw new RegistryError('BAD_REQUEST', `cidr_whitelist may list at most ${MAX_CIDRS} ranges`);
    }
    const invalid = invalidCidrs(cidrs);
    if (invalid.length > 0) {
      throw new RegistryError(
        'BAD_REQUEST',
        `invalid CIDR in cidr_whitelist: ${invalid
          .slice(0, 3)
          .map((c) => JSON.stringify(c.slice(0, 64)))
          .join(', ')} (expected IPv4 or IPv6 ranges such as 192.168.0.0/16 or fd00::/8)`,
      );
    }
    const name = typeof body['name'] === 'string' ? body['name'].slice(0, 128) : undefined;
    const role = readOnlyRequested(body) ? 'read' : 'write';
    const readOnly = readOnlyUserTokenProblem(user, role, this.#directory.isReadOnlyUser(user));
    if (readOnly !== undefined) {
      throw new RegistryError(
        'DENIED',
        `${readOnly}: npm token create --packages-and-scopes-permission=read-only (npm ≤ 10: --read-only)`,
      );
    }
    const { secret, info } = await this.#tokens.create(user, {
      ...(name === undefined ? {} : { name }),
      role,
      description: 'npm token create',
      cidrWhitelist: cidrs,
    });
    return { ...tokenJson(info), token: secret };
  }

  /**
   * `npm token revoke <id>`: any token of the user, whatever made it (npm, the API, the CLI),
   * by key, key prefix or hash prefix. A read-only token may not (403).
   */
  async revokeToken(principal: Principal, keyOrPrefix: string): Promise<void> {
    const user = requireAccount(principal, this.#policy.authEnabled(), 'npm token', []);
    requireAccountChangeBy(principal);
    const matches = await this.#tokens.find(keyOrPrefix, user);
    if (matches.length !== 1 || !matches[0]) {
      throw new RegistryError(
        matches.length === 0 ? 'NOT_FOUND' : 'BAD_REQUEST',
        matches.length === 0 ? 'token not found' : 'token id is ambiguous',
      );
    }
    await this.#tokens.revoke(matches[0].key, user);
  }
}

/**
 * Whether a token-create body asks for a read-only token. npm ≤ 10 (npm-profile) sends
 * `readonly: true` for `--read-only`; npm 11 sends granular-token fields instead, and its
 * `--read-only` flag sends nothing at all (11.19: the body is `{name, password}`), so there the
 * way to ask is `--packages-and-scopes-permission=read-only`, sent as
 * `packages_and_scopes_permission: "read-only"`. Throws 400 for a level NORA cannot give.
 */
export function readOnlyRequested(body: Json): boolean {
  const levels = [body['packages_and_scopes_permission'], body['orgs_permission']];
  for (const level of levels) {
    if (level === undefined || level === null || level === 'read-only' || level === 'read-write')
      continue;
    throw new RegistryError(
      'BAD_REQUEST',
      `unsupported token permission ${JSON.stringify(level).slice(0, 40)}: NORA tokens are "read-only" or "read-write"`,
    );
  }
  // orgs_permission governs organisation settings, which NORA does not have: validated only.
  return body['readonly'] === true || body['packages_and_scopes_permission'] === 'read-only';
}

function requireUser(principal: Principal): string {
  if (principal.kind !== 'user')
    throw new RegistryError('UNAUTHORIZED', 'you must be logged in (npm login)');
  return principal.name;
}

/**
 * `requireUser` for an account command (`what`: "npm token", "user documents"). With auth off
 * an anonymous caller — no token, or the anonymous one `npm login` saved then — is told that the
 * command needs auth on (405, see unsupported.ts for why that status): sending it back to
 * `npm login`, as a 401 did, only got it another anonymous token (the thirteenth trial's F5).
 * `allowed` is what the URL still serves with auth off, the 405's `Allow`: PUT (login) at a user
 * document, nothing at the token endpoints (empty, RFC 9110 §10.2.1: disabled by configuration).
 */
function requireAccount(
  principal: Principal,
  authEnabled: boolean,
  what: string,
  allowed: readonly string[],
): string {
  if (principal.kind !== 'user' && !authEnabled) {
    throw methodNotAllowed(
      `${what} needs [auth] enabled = true: with auth off NORA keeps no accounts or tokens, and the token npm login saved stands for no one (docs/npm.md)`,
      allowed,
    );
  }
  return requireUser(principal);
}

/**
 * A token as npm's token list reads it. npm 11 prints only `name` and `created` (`readonly` only
 * with --json/--parseable), so a token its owner's roles cap (TokenStore.list) says so in its
 * name too: `npm token create (now read, made write: user in [auth] read_only_users)` (trial 18
 * authx F12/F15); `readonly` is what it does now.
 */
function tokenJson(info: TokenInfo): Json {
  const created = new Date(info.createdAt).toISOString();
  const name = info.name ?? info.description ?? `token-${info.key.slice(0, 6)}`;
  return {
    key: info.key,
    token: info.display,
    name:
      info.cappedFrom === undefined
        ? name
        : `${name} (now ${info.role}, made ${info.cappedFrom}: ${capReason(info.cappedBy ?? 'user_roles')})`,
    readonly: info.readonly,
    cidr_whitelist: info.cidrWhitelist.length > 0 ? info.cidrWhitelist : null,
    created,
    updated: created,
  };
}
