/**
 * Docker registry tokens (the distribution "Token Authentication Specification"): short-lived
 * JWTs that NORA issues at `/v2/token` and accepts back as `Authorization: Bearer <jwt>` on `/v2/`.
 *
 * - Access tokens: ES256, `iss` = {@link REGISTRY_TOKEN_ISSUER}, `aud` = the service, `sub` = the
 *   user (empty for anonymous), `exp`/`nbf`/`iat`/`jti`, and the spec's `access` claim
 *   (`[{type, name, actions}]`). A private `nora` claim carries what the grant means in our terms
 *   (repository and path inside it, our actions) and the holder's roles and groups, so a request
 *   needs no lookup of rights and the access check is the same `authorize` every credential meets.
 *   `nora.bind` names the credential the token was minted from (an API token's id, or the
 *   fingerprint of the password): each use checks it is still valid (BindingCheck: memoized
 *   against the store's writes), so revoking the API token, changing the password or removing
 *   the user ends the access tokens it obtained at the next request, not at their `exp`.
 *   A token without `nora.bind` (an OIDC identity's, or one of a version before it) is checked
 *   through its subject instead (SubjectCheck): the user still exists, or the OIDC provider and a
 *   role rule still admit `<provider>:<sub>`; the roles (and OIDC namespace scope) now cap it.
 * - Refresh tokens (OAuth2 `refresh_token`, docker's "identity token"): a JWT with the audience
 *   {@link REFRESH_AUDIENCE} and a long lifetime, exchangeable at `/v2/token` only; a refresh token
 *   sent as a bearer is refused (401). It carries `cred`, a sha256 fingerprint of the password
 *   hash it was issued against (never the hash), so a changed password ends it.
 *
 * The signing key is generated once and kept in the metadata store (`auth_signing_keys`), so
 * tokens survive restarts and every instance sharing the database verifies every other's tokens.
 */
import { randomUUID } from 'node:crypto';
import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  jwtVerify,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import type { Kysely } from 'kysely';
import { RegistryError } from '../core/errors.ts';
import {
  ANONYMOUS,
  type AccessTarget,
  type Action,
  type CredentialBinding,
  type CredentialResolver,
  type Principal,
  type RequestCredentials,
  type Role,
  type Scope,
} from './access.ts';
import { readOnlyRoles } from './directory.ts';
import type { AuthTables } from './migrations.ts';
import type { NetworkList } from './networks.ts';
import { capRole } from './users.ts';

/** The `iss` of every token NORA signs; a JWT with another issuer is not ours. */
export const REGISTRY_TOKEN_ISSUER = 'nora';
/** The default `service` (the challenge's `service`, the access token's `aud`). */
export const REGISTRY_SERVICE = 'nora';
/** The audience of refresh tokens: never the service, so they never pass as access tokens. */
export const REFRESH_AUDIENCE = 'nora-refresh';
/** Refresh tokens live 30 days; the user's existence and rights are re-checked at each exchange. */
export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;
/** Clock skew tolerated between instances, seconds. */
const CLOCK_TOLERANCE_SECONDS = 30;
const ALGORITHM = 'ES256';

/** One entry of the spec's `access` claim. */
export interface ResourceAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** What one access entry reaches in NORA's terms. */
export interface Grant {
  readonly repository: string;
  /** The path inside the repository (OCI image name); undefined for repository-wide (catalog). */
  readonly path?: string | undefined;
  readonly actions: readonly Action[];
}

export interface IssuedToken {
  readonly token: string;
  /** Seconds. */
  readonly expiresIn: number;
  readonly issuedAt: Date;
}

export interface AccessTokenRequest {
  /** Who the token is for; anonymous gets `sub` "". */
  readonly principal: Principal;
  readonly service: string;
  readonly access: readonly ResourceAccess[];
  readonly grants: readonly Grant[];
  /** Lifetime, seconds. */
  readonly ttlSeconds: number;
  /** The credential the principal proved itself with, re-checked at each use (BindingCheck). */
  readonly binding?: CredentialBinding | undefined;
  /** What the access and audit lines of its requests name it by (UserPrincipal.tokenFrom). */
  readonly from?: string | undefined;
}

/**
 * What a still-valid binding says about the token's holder now: the subject's current roles
 * (UserDirectory: a user taken out of `[auth] admin_users` has no `admin` any more), which cap
 * the roles the token carries from issue time, and the address ranges of the API token it was
 * obtained with (its CIDR whitelist), which every request with the token must come from.
 */
export interface BindingState {
  readonly roles: readonly Role[];
  readonly networks?: NetworkList | undefined;
  /**
   * The API token's resource patterns (`docker:team/**`), when it has a scope: named when the
   * registry token it gave is refused outside its grant (the likely reason it was granted less).
   */
  readonly tokenScope?: readonly string[] | undefined;
}

/**
 * Whether the credential a registry token of `subject` was minted from is still valid: the API
 * token exists, is the subject's, unexpired and not suspended; the password fingerprint is the
 * subject's current one. Undefined when it is not, else what it says now (BindingState). Runs on
 * every request with a registry token: keep it cheap.
 */
export type BindingCheck = (
  subject: string,
  binding: CredentialBinding,
) => Promise<BindingState | undefined>;

/**
 * What the subject of a registry token that carries no credential binding (an OIDC identity's,
 * or one issued before `nora.bind` existed) is now, found from its name alone: the roles it has
 * now (a user's account; an OIDC identity's role rule), which cap the roles the token carries,
 * and for an OIDC identity the namespace scope its provider gives it now, a ceiling on top of
 * the token's grant. `readOnly`: the subject's role now only reads (an OIDC role rule lowered to
 * `read`), so a refused push says the credential is read-only.
 */
export interface SubjectState {
  readonly roles: readonly Role[];
  readonly scope?: Scope | undefined;
  readonly readOnly?: boolean | undefined;
}

/**
 * Re-resolves the subject of a registry token without a binding (SubjectState), on every request
 * with one: a string is the reason it is refused (the user no longer exists, the OIDC provider
 * or role rule that admitted it is gone). Keep it cheap: no password hashing.
 */
export type SubjectCheck = (subject: string) => Promise<SubjectState | string>;

/** The private claim: the grant in our terms and the holder's roles at issue time. */
interface NoraClaim {
  readonly grants: readonly Grant[];
  readonly roles: readonly Role[];
  readonly groups?: readonly string[] | undefined;
  /**
   * The holder's credential was a read-only API token: kept so that a refused push says so
   * ("this token is read-only") rather than blaming the user, whose own roles may write.
   */
  readonly readOnly?: true | undefined;
  /** The credential the token was minted from; absent for anonymous and OIDC tokens. */
  readonly bind?: CredentialBinding | undefined;
  /**
   * The credential it was issued from, for the access and audit lines (UserPrincipal.tokenFrom):
   * `api-token <id>`, `password`, `oidc <issuer> <sub>`. Absent in tokens of earlier versions.
   */
  readonly from?: string | undefined;
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

/** The ES256 keys in `auth_signing_keys`: the newest signs, any verifies (by `kid`). */
export class SigningKeys {
  readonly #db: Kysely<AuthTables>;
  #current: Promise<SigningKey> | undefined;
  readonly #byKid = new Map<string, Promise<SigningKey | undefined>>();

  constructor(db: Kysely<AuthTables>) {
    this.#db = db;
  }

  /** The key to sign with; generated and stored on first use. */
  current(): Promise<SigningKey> {
    this.#current ??= this.#loadOrCreate().catch((err: unknown) => {
      this.#current = undefined;
      throw err;
    });
    return this.#current;
  }

  /** The key named by a token's `kid`, or undefined when the store has no such key. */
  async byKid(kid: string): Promise<SigningKey | undefined> {
    const current = await this.current();
    if (current.kid === kid) return current;
    let found = this.#byKid.get(kid);
    if (found === undefined) {
      found = this.#load(kid);
      // Unknown kids are not cached: the bound keeps forged kids from filling memory.
      if ((await found) !== undefined) this.#byKid.set(kid, found);
    }
    return found;
  }

  async #load(kid: string): Promise<SigningKey | undefined> {
    const row = await this.#db
      .selectFrom('auth_signing_keys')
      .selectAll()
      .where('kid', '=', kid)
      .executeTakeFirst();
    return row === undefined ? undefined : toSigningKey(row.kid, row.private_jwk);
  }

  async #loadOrCreate(): Promise<SigningKey> {
    const newest = () =>
      this.#db
        .selectFrom('auth_signing_keys')
        .selectAll()
        .where('algorithm', '=', ALGORITHM)
        .orderBy('created_at', 'desc')
        .orderBy('kid')
        .executeTakeFirst();
    let row = await newest();
    if (row === undefined) {
      const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      const jwk = await exportJWK(privateKey);
      await this.#db
        .insertInto('auth_signing_keys')
        .values({
          kid: randomUUID(),
          algorithm: ALGORITHM,
          private_jwk: JSON.stringify(jwk),
          created_at: Date.now(),
        })
        .execute()
        .catch((err: unknown) => {
          throw unstorableKey(err);
        });
      // Two instances starting together may both insert: both then sign with the same newest key.
      row = await newest();
      if (row === undefined) throw new Error('the signing key was not stored');
    }
    return toSigningKey(row.kid, row.private_jwk);
  }
}

/**
 * Why the first key could not be stored, when it is that the database is read-only (SQLITE_READONLY
 * or SQLITE_CANTOPEN: a server started on a data directory it cannot write, database.ts
 * openReadOnly): a 503 that says so and what to do, not the bare "not writable" every upload
 * gets; a key stored before is used as it is. Any other error is returned unchanged.
 */
function unstorableKey(err: unknown): unknown {
  const errcode = (err as { errcode?: unknown } | undefined)?.errcode;
  const primary = typeof errcode === 'number' ? errcode & 0xff : undefined;
  if (primary !== 8 && primary !== 14) return err;
  return new RegistryError(
    'UNAVAILABLE',
    'no registry-token signing key exists yet, and none can be stored: the metadata database is read-only (its data directory cannot be written); make the data directory writable and restart NORA',
    { cause: err },
  );
}

async function toSigningKey(kid: string, privateJwk: string): Promise<SigningKey> {
  const jwk = JSON.parse(privateJwk) as JWK;
  // The public half: the JWK without its private component `d`.
  const publicJwk = Object.fromEntries(Object.entries(jwk).filter(([k]) => k !== 'd')) as JWK;
  return {
    kid,
    privateKey: (await importJWK(jwk, ALGORITHM)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, ALGORITHM)) as CryptoKey,
  };
}

/** Issues and verifies registry access and refresh tokens. */
export class RegistryTokens {
  readonly #keys: SigningKeys;
  readonly #check: BindingCheck | undefined;
  readonly #isReadOnlyUser: ((subject: string) => boolean) | undefined;
  readonly #subject: SubjectCheck | undefined;

  /**
   * Without `check`, a token's binding is carried but never checked (unit tests).
   * `isReadOnlyUser`: whether `[auth] read_only_users` names a subject now (UserDirectory): the
   * roles a token carries from before the user was listed are capped at read at each use.
   * `subject`: re-resolves the subject of a token without a binding at each use (SubjectCheck);
   * without it such a token keeps the roles it was minted with until `exp` (unit tests).
   */
  constructor(
    keys: SigningKeys,
    check?: BindingCheck,
    isReadOnlyUser?: (subject: string) => boolean,
    subject?: SubjectCheck,
  ) {
    this.#keys = keys;
    this.#check = check;
    this.#isReadOnlyUser = isReadOnlyUser;
    this.#subject = subject;
  }

  /** Signs an access token for `request.principal` granting `request.access`. */
  async issueAccess(request: AccessTokenRequest): Promise<IssuedToken> {
    const key = await this.#keys.current();
    const now = Math.floor(Date.now() / 1000);
    const { principal } = request;
    const nora: NoraClaim =
      principal.kind === 'user'
        ? {
            grants: request.grants,
            roles: principal.roles,
            ...(principal.groups === undefined ? {} : { groups: principal.groups }),
            ...(principal.readOnly === true ? { readOnly: true as const } : {}),
            ...(request.binding === undefined ? {} : { bind: request.binding }),
            ...(request.from === undefined ? {} : { from: request.from }),
          }
        : { grants: request.grants, roles: [] };
    const token = await new SignJWT({ access: request.access, nora })
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setIssuer(REGISTRY_TOKEN_ISSUER)
      .setAudience(request.service)
      .setSubject(principal.kind === 'user' ? principal.name : '')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + request.ttlSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresIn: request.ttlSeconds, issuedAt: new Date(now * 1000) };
  }

  /**
   * Signs a refresh token for user `subject` (exchangeable at `/v2/token` only), bound to
   * `credential`: a one-way fingerprint of the credential it came from (the user's password hash
   * now, see UserDirectory.passwordFingerprint). The exchange compares it with the current one.
   */
  async issueRefresh(subject: string, credential: string): Promise<string> {
    const key = await this.#keys.current();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ typ: 'refresh', cred: credential })
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setIssuer(REGISTRY_TOKEN_ISSUER)
      .setAudience(REFRESH_AUDIENCE)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + REFRESH_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  /**
   * The user a refresh token was issued to and the credential fingerprint it is bound to; throws
   * UNAUTHORIZED when it is not a valid one (a refresh token from before the binding has none:
   * it is refused, its user logs in again).
   */
  async verifyRefresh(token: string): Promise<{ subject: string; credential: string }> {
    const payload = await this.#verify(token, REFRESH_AUDIENCE, 'refresh token');
    if (payload.sub === undefined || payload.sub === '') {
      throw new RegistryError('UNAUTHORIZED', 'invalid refresh token');
    }
    const credential = payload['cred'];
    if (typeof credential !== 'string' || credential === '') {
      throw new RegistryError(
        'UNAUTHORIZED',
        'refresh token is bound to no credential (issued by an older version): log in again',
      );
    }
    return { subject: payload.sub, credential };
  }

  /**
   * The principal an access token stands for: undefined when `token` is not a JWT issued by us
   * (another issuer's JWT is some other resolver's); throws UNAUTHORIZED when it is ours but
   * expired, not yet valid, tampered with, for another service, or a refresh token.
   */
  async principal(token: string, service: string): Promise<Principal | undefined> {
    if (!isOurs(token)) return undefined;
    const payload = await this.#verify(token, service, 'registry token');
    const nora = payload['nora'] as NoraClaim | undefined;
    if (nora === undefined || !Array.isArray(nora.grants)) {
      throw new RegistryError('UNAUTHORIZED', 'invalid registry token');
    }
    if (payload.sub === undefined || payload.sub === '') return ANONYMOUS;
    const binding = bindingOf(nora.bind);
    let state: BindingState | undefined;
    let subject: SubjectState | undefined;
    if (binding !== undefined && this.#check !== undefined) {
      state = await this.#check(payload.sub, binding);
      if (state === undefined) {
        throw new RegistryError(
          'UNAUTHORIZED',
          binding.kind === 'token'
            ? 'registry token invalid: the API token it was obtained with was revoked or expired'
            : "registry token invalid: its user's password changed or the user was removed; log in again",
        );
      }
    } else if (binding === undefined && this.#subject !== undefined) {
      // No credential to check (an OIDC identity's token, or one from before `nora.bind`): the
      // subject itself is looked up again, so a removed user, a user put in `read_only_users` or
      // taken out of `admin_users`, an OIDC provider disabled or a role rule lowered bites at the
      // next request, not at `exp`.
      const now = await this.#subject(payload.sub);
      if (typeof now === 'string') {
        throw new RegistryError('UNAUTHORIZED', `registry token invalid: ${now}`);
      }
      subject = now;
    }
    const readOnlyUser = this.#isReadOnlyUser?.(payload.sub) === true;
    // The roles at issue time, capped by the user's roles now: an admin taken out of
    // `[auth] admin_users` (SIGHUP) loses admin at the next request, not at `exp`.
    const current = state?.roles ?? subject?.roles;
    const roles = current === undefined ? nora.roles : capRoles(nora.roles, current);
    const grant = new GrantScope(nora.grants, state?.tokenScope);
    return {
      kind: 'user',
      name: payload.sub,
      roles: readOnlyUser ? readOnlyRoles(roles) : roles,
      ...(readOnlyUser ? { readOnlyUser: true } : {}),
      ...(nora.groups === undefined ? {} : { groups: nora.groups }),
      ...(nora.readOnly === true || subject?.readOnly === true ? { readOnly: true } : {}),
      credential: 'registry-token',
      scope: subject?.scope === undefined ? grant : new BothScopes(grant, subject.scope),
      ...(binding === undefined ? {} : { binding }),
      ...(typeof nora.from === 'string' ? { tokenFrom: nora.from } : {}),
      // The API token's address ranges: access.ts `admit` refuses a request from outside them.
      ...(state?.networks === undefined ? {} : { networks: state.networks }),
    };
  }

  async #verify(token: string, audience: string, what: string): Promise<JWTPayload> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new RegistryError('UNAUTHORIZED', `invalid ${what}`);
    }
    const key = kid === undefined ? undefined : await this.#keys.byKid(kid);
    if (key === undefined) throw new RegistryError('UNAUTHORIZED', `invalid ${what}: unknown key`);
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        issuer: REGISTRY_TOKEN_ISSUER,
        audience,
        algorithms: [ALGORITHM],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      return payload;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const reason =
        code === 'ERR_JWT_EXPIRED'
          ? 'expired'
          : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' &&
              (err as { claim?: unknown }).claim === 'aud'
            ? audience === REFRESH_AUDIENCE
              ? 'not a refresh token'
              : 'is a refresh token: refresh tokens are exchanged at /v2/token, never sent as a bearer'
            : 'invalid';
      throw new RegistryError('UNAUTHORIZED', `${what} ${reason}`);
    }
  }
}

/**
 * Each of `roles` held to the highest of `ceiling` (none when `ceiling` is empty), as an API
 * token's role is held to its owner's (capRole): a lone `write` capped by `read` reads, rather
 * than losing everything (an OIDC identity's or an API token's roles are one role).
 */
export function capRoles(roles: readonly Role[], ceiling: readonly Role[]): readonly Role[] {
  const capped = roles.flatMap((role) => capRole(role, ceiling) ?? []);
  return [...new Set(capped)];
}

/** Two ceilings at once (a token's grant and the OIDC namespace scope its subject has now). */
class BothScopes implements Scope {
  readonly #first: Scope;
  readonly #second: Scope;

  constructor(first: Scope, second: Scope) {
    this.#first = first;
    this.#second = second;
  }

  allows(target: AccessTarget, action: Action): boolean {
    return this.#first.allows(target, action) && this.#second.allows(target, action);
  }

  get description(): string {
    return `${this.#first.description}, within ${this.#second.description}`;
  }

  get empty(): boolean | undefined {
    return this.#first.empty;
  }

  get narrowedBy(): string | undefined {
    return this.#first.narrowedBy;
  }
}

/** The `bind` claim when well-formed; undefined otherwise (a token of an older version). */
function bindingOf(claim: unknown): CredentialBinding | undefined {
  if (typeof claim !== 'object' || claim === null) return undefined;
  const c = claim as Record<string, unknown>;
  if (c['kind'] === 'token' && typeof c['id'] === 'string') return { kind: 'token', id: c['id'] };
  if (c['kind'] === 'password' && typeof c['fingerprint'] === 'string') {
    return { kind: 'password', fingerprint: c['fingerprint'] };
  }
  return undefined;
}

/** True when `token` is a JWT whose (unverified) issuer is ours. */
function isOurs(token: string): boolean {
  if (token.split('.').length !== 3) return false;
  try {
    return decodeJwt(token).iss === REGISTRY_TOKEN_ISSUER;
  } catch {
    return false;
  }
}

/**
 * The ceiling of a registry token: exactly the granted (repository, path, action)s. A grant
 * without a path (the catalog) reaches only repository-wide reads; a grant with one reaches only
 * that path.
 */
export class GrantScope implements Scope {
  readonly #grants: readonly Grant[];
  /** The scope of the API token the registry token was obtained with, if it had one. */
  readonly tokenScope: readonly string[] | undefined;

  constructor(grants: readonly Grant[], tokenScope?: readonly string[]) {
    this.#grants = grants;
    this.tokenScope = tokenScope;
  }

  /** True when the grant names nothing at all (nothing asked for was allowed). */
  get empty(): boolean {
    return this.#grants.length === 0;
  }

  get narrowedBy(): string | undefined {
    if (this.tokenScope === undefined) return undefined;
    return `the API token it was obtained with is limited to ${this.tokenScope.join(', ')}`;
  }

  allows(target: AccessTarget, action: Action): boolean {
    return this.#grants.some(
      (g) =>
        (g.repository === target.repository.name || g.repository === target.via?.name) &&
        // A grant without a path (the catalog's) lists the repository's names, reads none.
        (g.path === target.path || (g.path === undefined && target.listing === true)) &&
        g.actions.includes(action),
    );
  }

  get description(): string {
    if (this.#grants.length === 0) return 'no access';
    return this.#grants
      .map(
        (g) =>
          `${g.repository}${g.path === undefined ? '' : `:${g.path}`} (${g.actions.join(',')})`,
      )
      .join(', ');
  }
}

/**
 * `Authorization: Bearer <jwt>` issued by us → the principal the token stands for, held to its
 * grant. Other bearers (API tokens, provider JWTs) are left to the other resolvers.
 */
export class RegistryTokenResolver implements CredentialResolver {
  readonly #tokens: RegistryTokens;
  readonly #service: () => string;

  constructor(tokens: RegistryTokens, service: () => string = () => REGISTRY_SERVICE) {
    this.#tokens = tokens;
    this.#service = service;
  }

  resolve(credentials: RequestCredentials): Promise<Principal | undefined> {
    const match = /^Bearer\s+(\S+)$/i.exec(credentials.authorization ?? '');
    if (!match?.[1]) return Promise.resolve(undefined);
    return this.#tokens.principal(match[1], this.#service());
  }
}
