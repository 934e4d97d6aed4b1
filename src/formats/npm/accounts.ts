/**
 * npm's account endpoints over the shared user and token stores: `npm adduser`/`login`
 * (CouchDB-style `PUT /-/user/org.couchdb.user:<name>`), `npm whoami`, `npm logout` and
 * `npm token list|create|revoke` (`/-/npm/v1/tokens`).
 */
import type { Principal } from '../../auth/access.ts';
import { invalidCidrs, MAX_CIDRS } from '../../auth/networks.ts';
import type { TokenInfo, TokenStore, UserStore } from '../../auth/users.ts';
import { RegistryError } from '../../core/errors.ts';
import type { Json } from './store.ts';

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface AccountPolicy {
  /** `[auth] allow_registration`: may an unknown name create an account? Read per request. */
  readonly allowRegistration: () => boolean;
}

export class NpmAccounts {
  readonly #users: UserStore;
  readonly #tokens: TokenStore;
  readonly #policy: AccountPolicy;

  constructor(users: UserStore, tokens: TokenStore, policy: AccountPolicy) {
    this.#users = users;
    this.#tokens = tokens;
    this.#policy = policy;
  }

  /**
   * Logs an existing user in, or creates the user on first use when self-registration is
   * allowed; either way returns a fresh token. With registration off an unknown name gets 403
   * (npm prints the message), a known name with a wrong password 401.
   */
  async login(urlName: string, body: Json): Promise<Json> {
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
    if (this.#policy.allowRegistration()) {
      const created = await this.#users.create(urlName, password, email);
      if (!created && !(await this.#users.verify(urlName, password))) {
        throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
      }
    } else if (!(await this.#users.verify(urlName, password))) {
      if (!(await this.#users.get(urlName))) {
        throw new RegistryError(
          'DENIED',
          `user "${urlName}" does not exist and self-registration is disabled on this registry ` +
            '([auth] allow_registration = false): ask its administrator for an account',
        );
      }
      throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
    }
    const { secret } = await this.#tokens.create(urlName);
    return { ok: true, id: `org.couchdb.user:${urlName}`, rev: '1', token: secret };
  }

  async profile(urlName: string, principal: Principal): Promise<Json> {
    const user = requireUser(principal);
    if (user !== urlName)
      throw new RegistryError('DENIED', 'you may only read your own user document');
    const found = await this.#users.get(user);
    if (!found) throw new RegistryError('NOT_FOUND', 'user not found');
    return {
      _id: `org.couchdb.user:${user}`,
      name: user,
      ...(found.email ? { email: found.email } : {}),
      type: 'user',
      roles: [],
    };
  }

  whoami(principal: Principal): Json {
    return { username: requireUser(principal) };
  }

  async logout(secret: string, principal: Principal): Promise<Json> {
    requireUser(principal);
    if (!(await this.#tokens.revokeSecret(secret)))
      throw new RegistryError('NOT_FOUND', 'token not found');
    return { ok: true };
  }

  async listTokens(principal: Principal): Promise<Json> {
    const tokens = await this.#tokens.list(requireUser(principal));
    return { objects: tokens.map(tokenJson), total: tokens.length, urls: {} };
  }

  async createToken(principal: Principal, body: Json): Promise<Json> {
    const user = requireUser(principal);
    const password = body['password'];
    // npm sends the password to confirm; a token may not mint tokens without it.
    if (typeof password !== 'string' || !(await this.#users.verify(user, password))) {
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
    const { secret, info } = await this.#tokens.create(user, {
      ...(name === undefined ? {} : { name }),
      readonly: body['readonly'] === true,
      cidrWhitelist: cidrs,
    });
    return { ...tokenJson(info), token: secret };
  }

  async revokeToken(principal: Principal, keyOrPrefix: string): Promise<void> {
    const user = requireUser(principal);
    const tokens = await this.#tokens.list(user);
    const matches = tokens.filter(
      (t) => t.key === keyOrPrefix || (keyOrPrefix.length >= 6 && t.key.startsWith(keyOrPrefix)),
    );
    if (matches.length !== 1 || !matches[0]) {
      throw new RegistryError(
        matches.length === 0 ? 'NOT_FOUND' : 'BAD_REQUEST',
        matches.length === 0 ? 'token not found' : 'token id is ambiguous',
      );
    }
    await this.#tokens.revoke(user, matches[0].key);
  }
}

function requireUser(principal: Principal): string {
  if (principal.kind !== 'user')
    throw new RegistryError('UNAUTHORIZED', 'you must be logged in (npm login)');
  return principal.name;
}

function tokenJson(info: TokenInfo): Json {
  const created = new Date(info.createdAt).toISOString();
  return {
    key: info.key,
    token: info.display,
    name: info.name ?? `token-${info.key.slice(0, 6)}`,
    readonly: info.readonly,
    cidr_whitelist: info.cidrWhitelist.length > 0 ? info.cidrWhitelist : null,
    created,
    updated: created,
  };
}
