/**
 * Credential resolvers for users and API tokens, the same for every format:
 * - `Authorization: Bearer nra_…` (npm/pnpm/yarn `_authToken`, curl), or the bare token
 *   `Authorization: nra_…` (Cargo sends the `cargo login` token as the whole header value);
 * - `Basic user:password`, the password checked against the htpasswd file, then the store;
 * - `Basic anything:nra_…`: a token as the password under any username, as NORA and Nitro Repo
 *   take it (`docker login -u token -p nra_…`, `curl -u x:nra_…`, pip/cargo/maven URL creds).
 *
 * bcrypt and scrypt are deliberately slow, so a verified Basic password is remembered briefly
 * (by the header's sha256) instead of re-hashing on every request — the trap that makes
 * Verdaccio's legacy auth path 5× slower. The memory is dropped on reload and on htpasswd change.
 * Tokens are never remembered: a lookup is one indexed query, and revocation and expiry must bite
 * at once.
 */
import { RegistryError } from '../core/errors.ts';
import type {
  AccessTarget,
  CredentialResolver,
  Principal,
  RequestCredentials,
  Scope,
} from './access.ts';
import type { UserDirectory } from './directory.ts';
import { networkListOf } from './networks.ts';
import { ResourcePatterns, targetRefs } from './patterns.ts';
import { capRole, looksLikeToken, sha256Hex, type TokenStore } from './users.ts';

/** A Scope (access.ts) from resource patterns: the credential reaches only what they cover. */
export function patternScope(texts: readonly string[]): Scope {
  const patterns = new ResourcePatterns(texts);
  return {
    allows: (target: AccessTarget) => targetRefs(target).some((ref) => patterns.matches(ref)),
    description: texts.length === 0 ? 'nothing' : texts.join(', '),
  };
}

/** Turns token secrets into principals (shared by the Bearer and the Basic resolver). */
export class TokenAuthenticator {
  readonly #tokens: TokenStore;
  readonly #directory: UserDirectory;

  constructor(tokens: TokenStore, directory: UserDirectory) {
    this.#tokens = tokens;
    this.#directory = directory;
  }

  /**
   * The principal of a token secret; undefined when no such token exists or its owner is no
   * longer a user. Throws UNAUTHORIZED "token expired" for an expired token: it is a token, and
   * no other resolver may take it as something else.
   * Roles: the token's role capped by its owner's (admin from `[auth] admin_users`).
   */
  async principal(secret: string, now = Date.now()): Promise<Principal | undefined> {
    const token = await this.#tokens.lookup(secret);
    if (!token) return undefined;
    if (token.expiresAt !== undefined && token.expiresAt <= now) {
      throw new RegistryError('UNAUTHORIZED', 'token expired');
    }
    const owner = await this.#directory.account(token.user);
    if (!owner) return undefined;
    const role = capRole(token.role, owner.roles);
    await this.#tokens.touch(token, now);
    const networks = networkListOf(token.cidrWhitelist);
    return {
      kind: 'user',
      name: token.user,
      roles: role === undefined ? [] : [role],
      credential: 'token',
      tokenId: token.key,
      ...(role === 'read' || role === undefined ? { readOnly: true } : {}),
      ...(networks === undefined ? {} : { networks }),
      ...(token.scope === undefined ? {} : { scope: patternScope(token.scope) }),
    };
  }
}

export class BearerTokenResolver implements CredentialResolver {
  readonly #tokens: TokenAuthenticator;

  constructor(tokens: TokenAuthenticator) {
    this.#tokens = tokens;
  }

  async resolve(credentials: RequestCredentials): Promise<Principal | undefined> {
    const header = credentials.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match?.[1]) return this.#tokens.principal(match[1]);
    // Cargo's token header has no scheme; only a value shaped like our tokens is taken as one.
    const bare = header.trim();
    if (looksLikeToken(bare)) return this.#tokens.principal(bare);
    return undefined;
  }
}

const BASIC_CACHE_MS = 60_000;
const BASIC_CACHE_MAX = 1000;

export class BasicPasswordResolver implements CredentialResolver {
  readonly #directory: UserDirectory;
  readonly #tokens: TokenAuthenticator;
  readonly #verified = new Map<string, { principal: Principal; until: number }>();

  constructor(directory: UserDirectory, tokens: TokenAuthenticator) {
    this.#directory = directory;
    this.#tokens = tokens;
  }

  /** Forgets every remembered password (users or admins changed). */
  clear(): void {
    this.#verified.clear();
  }

  async resolve(credentials: RequestCredentials): Promise<Principal | undefined> {
    const header = credentials.authorization ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!match?.[1]) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const password = decoded.slice(colon + 1);
    // A token as the password, whatever the username; an unknown one is no password either.
    if (looksLikeToken(password)) return this.#tokens.principal(password);
    if (colon === 0) return undefined;
    const cacheKey = sha256Hex(header);
    const cached = this.#verified.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.principal;
    const account = await this.#directory.verify(decoded.slice(0, colon), password);
    if (!account) return undefined;
    const principal: Principal = {
      kind: 'user',
      name: account.name,
      roles: account.roles,
      credential: 'password',
    };
    if (this.#verified.size >= BASIC_CACHE_MAX) this.#verified.clear();
    this.#verified.set(cacheKey, { principal, until: Date.now() + BASIC_CACHE_MS });
    return principal;
  }
}
