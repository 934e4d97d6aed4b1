/**
 * Credential resolvers for users and tokens: `Authorization: Bearer <token>` (npm, pnpm and yarn
 * with `_authToken`) and `Basic user:password` (npm `_auth`). scrypt is deliberately slow, so a
 * verified Basic header is remembered briefly (by its sha256) instead of re-hashing the password
 * on every request — the trap that makes Verdaccio's legacy auth path 5× slower.
 */
import type { CredentialResolver, Principal, RequestCredentials } from './access.ts';
import { sha256Hex, type TokenStore, type UserStore } from './users.ts';

export class BearerTokenResolver implements CredentialResolver {
  readonly #tokens: TokenStore;

  constructor(tokens: TokenStore) {
    this.#tokens = tokens;
  }

  async resolve(credentials: RequestCredentials): Promise<Principal | undefined> {
    const header = credentials.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) return undefined;
    return this.#tokens.principal(match[1]);
  }
}

const BASIC_CACHE_MS = 60_000;
const BASIC_CACHE_MAX = 1000;

export class BasicPasswordResolver implements CredentialResolver {
  readonly #users: UserStore;
  readonly #verified = new Map<string, { principal: Principal; until: number }>();

  constructor(users: UserStore) {
    this.#users = users;
  }

  async resolve(credentials: RequestCredentials): Promise<Principal | undefined> {
    const header = credentials.authorization ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!match?.[1]) return undefined;
    const cacheKey = sha256Hex(header);
    const cached = this.#verified.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.principal;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const user = await this.#users.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (!user) return undefined;
    const principal: Principal = { kind: 'user', name: user.name, roles: user.roles };
    if (this.#verified.size >= BASIC_CACHE_MAX) this.#verified.clear();
    this.#verified.set(cacheKey, { principal, until: Date.now() + BASIC_CACHE_MS });
    return principal;
  }
}
