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
 * A token's row and its owner's account are remembered only while the metadata store is unchanged
 * (StoreChanges): revocation, a new role, a deleted user — any write by this process — makes the
 * memory stale before the next request reads it, so they bite at once (another process's write,
 * `nora token revoke` on the host, within 100 ms: identity.ts); expiry is checked against the
 * clock on every request.
 */
import { timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../core/errors.ts';
import type {
  AccessTarget,
  CredentialBinding,
  CredentialResolver,
  Principal,
  RequestCredentials,
  Role,
  Scope,
} from './access.ts';
import { type Account, accountPrincipal, type UserDirectory } from './directory.ts';
import { networkListOf } from './networks.ts';
import { ResourcePatterns, targetRefs } from './patterns.ts';
import type { BindingState, SubjectState } from './registry-token.ts';
import { capRole, looksLikeToken, sha256Hex, type TokenInfo, type TokenStore } from './users.ts';

/** A Scope (access.ts) from resource patterns: the credential reaches only what they cover. */
export function patternScope(texts: readonly string[]): Scope {
  const patterns = new ResourcePatterns(texts);
  return {
    allows: (target: AccessTarget) => targetRefs(target).some((ref) => patterns.matches(ref)),
    description: texts.length === 0 ? 'nothing' : texts.join(', '),
  };
}

/**
 * Tells whether the metadata store may have changed between two reads: `local` counts this
 * process's writes (core/write-generation.ts), `external` changes whenever another connection
 * committed (SQLite's `PRAGMA data_version`: the CLI's `nora token revoke` on the same file).
 */
export interface StoreChanges {
  readonly local: () => number;
  readonly external: () => number;
}

/** What one token secret resolved to, and the store version it was read at. */
/** Distinct keys remembered at most (a flood of made-up tokens just clears the memory). */
const KNOWN_TOKENS_MAX = 1000;

/**
 * Reads from the metadata store remembered by key while the store is unchanged: each value is
 * kept with the store's versions (StoreChanges) and the clear() count taken before its read, so
 * a write or clear() meanwhile makes it stale at once. Without `changes` every get reads.
 * At most KNOWN_TOKENS_MAX keys (then the memory starts over).
 */
class StoreReadMemo<V> {
  readonly #changes: StoreChanges | undefined;
  readonly #known = new Map<
    string,
    { readonly epoch: number; readonly local: number; readonly external: number; readonly value: V }
  >();
  #epoch = 0;

  constructor(changes: StoreChanges | undefined) {
    this.#changes = changes;
  }

  /** Forgets what was read (something the store does not version changed: htpasswd, admins). */
  clear(): void {
    this.#epoch += 1;
    this.#known.clear();
  }

  /** The value of `key`: remembered when read since the store last changed, else `read()`. */
  async get(key: () => string, read: () => Promise<V>): Promise<V> {
    const changes = this.#changes;
    if (changes === undefined) return read();
    const id = key();
    const local = changes.local();
    const external = changes.external();
    const epoch = this.#epoch;
    const known = this.#known.get(id);
    if (known?.local === local && known.external === external && known.epoch === epoch) {
      return known.value;
    }
    const value = await read();
    if (this.#known.size >= KNOWN_TOKENS_MAX) this.#known.clear();
    this.#known.set(id, { epoch, local, external, value });
    return value;
  }
}

/** Turns token secrets into principals (shared by the Bearer and the Basic resolver). */
export class TokenAuthenticator {
  readonly #tokens: TokenStore;
  readonly #directory: UserDirectory;
  /** By the secret's sha256: the row and owner read while the store had the kept version. */
  readonly #known: StoreReadMemo<{ token: TokenInfo | undefined; owner: Account | undefined }>;

  /**
   * Without `changes` every request reads the store (one indexed lookup, plus the owner's row).
   * With it, a request whose secret was read since the store's last change skips both reads.
   */
  constructor(tokens: TokenStore, directory: UserDirectory, changes?: StoreChanges) {
    this.#tokens = tokens;
    this.#directory = directory;
    this.#known = new StoreReadMemo(changes);
  }

  /** Forgets what was read (htpasswd users or admins changed: owners' accounts may differ). */
  clear(): void {
    this.#known.clear();
  }

  /** The token row of `secret` and its owner's account, read now or remembered exactly. */
  #resolve(secret: string): Promise<{ token: TokenInfo | undefined; owner: Account | undefined }> {
    return this.#known.get(
      () => sha256Hex(secret),
      async () => {
        const token = await this.#tokens.lookup(secret);
        return { token, owner: token && (await this.#directory.account(token.user)) };
      },
    );
  }

  /**
   * The principal of a token secret; undefined when no such token exists, its owner is no
   * longer a user, or its owner is suspended (gone from the htpasswd file: identity.ts). Throws UNAUTHORIZED "token expired" for an expired token: it is a token, and
   * no other resolver may take it as something else.
   * Roles: the token's role capped by its owner's (admin from `[auth] admin_users`, read only
   * for `[auth] read_only_users`: a write token of a user listed since reads).
   */
  async principal(secret: string, now = Date.now()): Promise<Principal | undefined> {
    const { token, owner } = await this.#resolve(secret);
    if (!token) return undefined;
    if (token.expiresAt !== undefined && token.expiresAt <= now) {
      throw new RegistryError('UNAUTHORIZED', 'token expired');
    }
    // Suspended: refused even while the file names the user again and the store does not yet
    // know it (identity.ts reconciles on each read of the file).
    if (!owner || token.ownerSuspendedAt !== undefined) return undefined;
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
      ...(owner.readOnlyUser === true ? { readOnlyUser: true } : {}),
      ...(token.expiresAt === undefined ? {} : { expiresAt: token.expiresAt }),
      ...(networks === undefined ? {} : { networks }),
      ...(token.scope === undefined ? {} : { scope: patternScope(token.scope) }),
    };
  }
}

/** What one credential binding was found to be, and the store version it was read at. */
interface KnownBinding {
  /** For a token binding: the token's owner when it is valid, and its expiry (epoch ms). */
  readonly owner: string | undefined;
  readonly expiresAt: number | undefined;
  /** For a password binding: the subject's fingerprint now (undefined: no password, no user). */
  readonly fingerprint: string | undefined;
  /** The subject's roles now (UserDirectory: `[auth] admin_users`, read_only_users applied). */
  readonly roles: readonly Role[];
  /** For a token binding: the API token's CIDR whitelist (empty: anywhere). */
  readonly cidrs: readonly string[];
  /** For a token binding: the API token's resource patterns (undefined: no limit). */
  readonly scope?: readonly string[] | undefined;
}

/**
 * Checks that the credential a registry token was minted from is still valid
 * (registry-token.ts BindingCheck), on every request that carries one. The answer is remembered
 * while the store is unchanged (the same StoreChanges and clear() as TokenAuthenticator: a
 * revocation through the API bites at the next request, `nora token revoke` on the host within
 * 100 ms, an htpasswd change at its read), so a run of registry requests costs no database read
 * until something is written; the expiry is compared with the clock on every request.
 */
export class CredentialBindings {
  readonly #tokens: TokenStore;
  readonly #directory: UserDirectory;
  readonly #known: StoreReadMemo<KnownBinding>;

  constructor(tokens: TokenStore, directory: UserDirectory, changes?: StoreChanges) {
    this.#tokens = tokens;
    this.#directory = directory;
    this.#known = new StoreReadMemo(changes);
  }

  /** Forgets what was read (htpasswd users or admins changed). */
  clear(): void {
    this.#known.clear();
  }

  /** True when `binding` is still a valid credential of `subject` (see BindingCheck). */
  async valid(subject: string, binding: CredentialBinding, now = Date.now()): Promise<boolean> {
    return (await this.state(subject, binding, now)) !== undefined;
  }

  /**
   * When `binding` is still a valid credential of `subject` (see BindingCheck): the subject's
   * roles now and the API token's address ranges (BindingState); undefined when it is not.
   */
  async state(
    subject: string,
    binding: CredentialBinding,
    now = Date.now(),
  ): Promise<BindingState | undefined> {
    const known = await this.#known.get(
      () => (binding.kind === 'token' ? `t:${binding.id}` : `p:${subject}:${binding.fingerprint}`),
      () => this.#read(subject, binding),
    );
    if (binding.kind === 'password') {
      const same =
        known.fingerprint !== undefined && sameHex(known.fingerprint, binding.fingerprint);
      return same ? { roles: known.roles } : undefined;
    }
    if (known.owner !== subject || (known.expiresAt !== undefined && known.expiresAt <= now)) {
      return undefined;
    }
    const networks = networkListOf(known.cidrs);
    return {
      roles: known.roles,
      ...(networks === undefined ? {} : { networks }),
      ...(known.scope === undefined ? {} : { tokenScope: known.scope }),
    };
  }

  async #read(subject: string, binding: CredentialBinding): Promise<KnownBinding> {
    if (binding.kind === 'token') {
      const token = await this.#tokens.lookupKey(binding.id);
      // The owner must still be a user, and not suspended (gone from the htpasswd file).
      const account =
        token !== undefined && token.ownerSuspendedAt === undefined
          ? await this.#directory.account(token.user)
          : undefined;
      return {
        owner: account === undefined ? undefined : token?.user,
        expiresAt: token?.expiresAt,
        fingerprint: undefined,
        roles: account?.roles ?? [],
        cidrs: token?.cidrWhitelist ?? [],
        scope: token?.scope,
      };
    }
    const fingerprint = await this.#directory.passwordFingerprint(subject);
    const account = fingerprint === undefined ? undefined : await this.#directory.account(subject);
    return {
      owner: undefined,
      expiresAt: undefined,
      fingerprint,
      roles: account?.roles ?? [],
      cidrs: [],
    };
  }
}

/**
 * Re-resolves the subject of a registry token that carries no credential binding
 * (registry-token.ts SubjectCheck), on every request with one. A subject with a `:` is an OIDC
 * identity (`<provider>:<sub>`: user names never hold one — the htpasswd line and npm adduser
 * refuse it): asked of the running `[auth.oidc]` (`oidc`; without it such a token is refused).
 * Any other subject is a user: its account now (UserDirectory: htpasswd file or store, admins and
 * read-only users applied; no password check), remembered while the store is unchanged and until
 * clear(), like CredentialBindings, so a run of registry requests reads nothing.
 */
export class RegistrySubjects {
  readonly #directory: UserDirectory;
  readonly #oidc: ((name: string) => SubjectState | string) | undefined;
  readonly #known: StoreReadMemo<Account | undefined>;

  constructor(
    directory: UserDirectory,
    oidc: ((name: string) => SubjectState | string) | undefined,
    changes?: StoreChanges,
  ) {
    this.#directory = directory;
    this.#oidc = oidc;
    this.#known = new StoreReadMemo(changes);
  }

  /** Forgets what was read (htpasswd users, admins or read-only users changed). */
  clear(): void {
    this.#known.clear();
  }

  /** The subject's standing now, or why its tokens are refused (SubjectCheck). */
  async state(subject: string): Promise<SubjectState | string> {
    if (subject.includes(':')) {
      return this.#oidc?.(subject) ?? 'OIDC identities are not accepted here';
    }
    const account = await this.#known.get(
      () => subject,
      () => this.#directory.account(subject),
    );
    if (account === undefined) return `its user ${subject} no longer exists; log in again`;
    return { roles: account.roles };
  }
}

/** Constant-time comparison of two hex fingerprints. */
function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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
    const principal = accountPrincipal(account, 'password');
    if (this.#verified.size >= BASIC_CACHE_MAX) this.#verified.clear();
    this.#verified.set(cacheKey, { principal, until: Date.now() + BASIC_CACHE_MS });
    return principal;
  }
}
