/**
 * The Docker registry token endpoint (`/v2/token`) and the Bearer challenge that points clients
 * to it, as plain functions (routes.ts adapts them to Fastify).
 *
 * - `GET /v2/token?service=…&scope=…&offline_token=true&client_id=…` (distribution's "Token
 *   Authentication Specification"): the caller authenticates with Basic (the central resolvers
 *   already did: `principal`) or comes anonymous.
 * - `POST /v2/token` form-encoded ("OAuth2 Token Authentication"): `grant_type=password` with
 *   `username`/`password`, or `grant_type=refresh_token` with `refresh_token`; `access_type=offline`
 *   asks for a refresh token.
 *
 * Each requested `repository:<name>:<actions>` is resolved to (repository, image) exactly as a
 * `/v2/<name>/…` URL is (OciService.locate), and the token grants the requested actions that
 * `access.can` allows now; the rest are left out (the spec lets a token grant a subset).
 */
import { timingSafeEqual } from 'node:crypto';
import {
  type AccessControl,
  type Action,
  ANONYMOUS,
  type CredentialBinding,
  type Principal,
} from '../../auth/access.ts';
import { type Grant, type RegistryTokens, type ResourceAccess } from '../../auth/registry-token.ts';
import { accountPrincipal, type UserDirectory } from '../../auth/directory.ts';
import { isRegistryError, RegistryError } from '../../core/errors.ts';
import type { Repository } from '../../repos/repository.ts';
import { isValidName } from './reference.ts';

/** The registry's actions → ours; `*` is every one of them. */
const ACTIONS: Readonly<Record<string, readonly Action[]>> = {
  pull: ['read'],
  push: ['write'],
  delete: ['delete'],
  '*': ['read', 'write', 'delete'],
};

/**
 * Our actions for a registry action, undefined for one we do not know. Own keys only: a scope
 * may name `constructor` or `__proto__`, which the table inherits (a 500 when looked up plainly).
 */
function oursOf(action: string): readonly Action[] | undefined {
  return Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
}

/** The single actions `*` stands for, as a subset of it is granted. */
const EACH = ['pull', 'push', 'delete'] as const;

export interface TokenEndpointDeps {
  readonly access: AccessControl;
  readonly tokens: RegistryTokens;
  /**
   * Every user (htpasswd and store): a refresh re-checks that its user still exists and still
   * has the password (fingerprint) the refresh token was issued against.
   */
  readonly users: UserDirectory;
  /** OciService.locate: where `/v2/<name>/…` lands. */
  readonly locate: (
    name: string,
  ) => { readonly repository: Repository; readonly name: string } | undefined;
  /**
   * Where a write to `repository` lands (a group's hosted member; itself when hosted). The OCI
   * service authorizes a write on both, so a push/delete grant must cover both.
   */
  readonly writeTarget: (repository: Repository) => Repository | undefined;
  /** The repositories `_catalog` under `/v2/` lists (the default one first). */
  readonly catalogRepositories: () => readonly Repository[];
  readonly service: () => string;
  /** Access token lifetime, seconds (`[auth] docker_token_ttl`). */
  readonly ttlSeconds: () => number;
}

export interface TokenRequest {
  readonly method: 'GET' | 'POST';
  /** Who the central resolvers say the caller is (Basic on GET; usually anonymous on POST). */
  readonly principal: Principal;
  /** GET: the query; POST: the form body. */
  readonly params: URLSearchParams;
  /** Authenticates a username and password as a Basic header would (POST grant_type=password). */
  readonly authenticate: (username: string, password: string) => Promise<Principal>;
}

export interface TokenResponse {
  readonly token: string;
  readonly access_token: string;
  readonly expires_in: number;
  readonly issued_at: string;
  readonly refresh_token?: string;
}

/** A refused token request: its status and the OAuth2 error code (`invalid_request`, …). */
export class TokenError extends RegistryError {
  readonly oauthError: string;

  constructor(status: 400 | 401, oauthError: string, message: string) {
    super(status === 401 ? 'UNAUTHORIZED' : 'BAD_REQUEST', message, {
      protocolCode: oauthError.toUpperCase(),
    });
    this.oauthError = oauthError;
  }
}

/** A parsed `type:name:actions` scope (the name may itself contain `:`, e.g. a host port). */
export interface ParsedScope {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

const MAX_SCOPES = 64;

/**
 * Parses the space-separated scopes of every `scope` parameter. Throws TokenError 400
 * `invalid_scope` for a malformed one (fewer than three parts, an empty part, an invalid
 * repository name).
 */
export function parseScopes(values: readonly string[]): ParsedScope[] {
  const scopes: ParsedScope[] = [];
  const texts = values.flatMap((v) => v.split(' ')).filter((t) => t !== '');
  // A token carries its grants: hundreds of scopes would make a JWT no client can send back.
  if (texts.length > MAX_SCOPES) {
    throw new TokenError(400, 'invalid_scope', `at most ${MAX_SCOPES} scopes per token request`);
  }
  for (const text of texts) {
    const first = text.indexOf(':');
    const last = text.lastIndexOf(':');
    if (first <= 0 || last === first || last === text.length - 1) {
      throw new TokenError(
        400,
        'invalid_scope',
        `malformed scope "${text}": expected type:name:actions`,
      );
    }
    // `repository(plugin):name:pull` is the spec's resource class; the class does not matter here.
    const type = withoutResourceClass(text.slice(0, first));
    const name = text.slice(first + 1, last);
    const actions = text.slice(last + 1).split(',');
    if (type === 'repository' && !isValidName(name)) {
      throw new TokenError(400, 'invalid_scope', `scope "${text}" names an invalid repository`);
    }
    if (actions.some((a) => a === '')) {
      throw new TokenError(400, 'invalid_scope', `malformed scope "${text}": empty action`);
    }
    scopes.push({ type, name, actions });
  }
  return scopes;
}

/**
 * `repository(plugin)` → `repository`: what `/\(.*\)$/` removed (from the first `(` after the
 * last line break, when the text ends in `)`), in one pass; the RegExp was quadratic in the
 * number of `(` (a token request form, 64 KiB, anonymous: seconds per request).
 */
export function withoutResourceClass(type: string): string {
  if (!type.endsWith(')')) return type;
  const lineStart =
    Math.max(...['\n', '\r', '\u2028', '\u2029'].map((c) => type.lastIndexOf(c))) + 1;
  const open = type.indexOf('(', lineStart);
  return open === -1 ? type : type.slice(0, open);
}

/**
 * What the access and audit lines of an access token's requests name the credential it was
 * issued from by (UserPrincipal.tokenFrom): the API token's public id, `password` (a refresh
 * token counts as the password it is bound to), the OIDC issuer and subject; a registry token
 * presented here passes on its own. Never a secret; undefined for anonymous.
 */
export function tokenFrom(principal: Principal): string | undefined {
  if (principal.kind !== 'user') return undefined;
  switch (principal.credential) {
    case 'token':
      return principal.tokenId === undefined ? undefined : `api-token ${principal.tokenId}`;
    case 'password':
      return 'password';
    case 'oidc': {
      // The principal's name is `<provider>:<sub>`; its issuer names the provider for good.
      const sub = principal.name.slice(principal.name.indexOf(':') + 1);
      return `oidc ${principal.oidcIssuer ?? principal.name.slice(0, principal.name.indexOf(':'))} ${sub}`;
    }
    case 'registry-token':
      return principal.tokenFrom;
    case undefined:
      return undefined;
  }
}

export class TokenEndpoint {
  readonly #deps: TokenEndpointDeps;

  constructor(deps: TokenEndpointDeps) {
    this.#deps = deps;
  }

  /** Answers a token request; throws TokenError (400/401) or RegistryError UNAUTHORIZED. */
  async handle(request: TokenRequest): Promise<TokenResponse> {
    const { params } = request;
    const service = params.get('service');
    if (service !== null && service !== '' && service !== this.#deps.service()) {
      throw new TokenError(400, 'invalid_request', `unknown service "${service}"`);
    }
    const scopes = parseScopes(params.getAll('scope'));
    let principal = request.principal;
    let offline = params.get('offline_token') === 'true';
    if (request.method === 'POST') {
      offline = params.get('access_type') === 'offline';
      const grantType = params.get('grant_type');
      if (grantType === 'refresh_token') {
        principal = await this.#fromRefreshToken(params.get('refresh_token'));
      } else if (grantType === 'password') {
        const username = params.get('username');
        const password = params.get('password');
        if (username === null || password === null) {
          throw new TokenError(
            400,
            'invalid_request',
            'grant_type=password needs username and password',
          );
        }
        // A wrong password is "invalid_grant"; a lockout is not (the password may be right):
        // it stays the 429 with Retry-After that a Basic header gets (routes.ts renders it).
        principal = await request.authenticate(username, password).catch((err: unknown) => {
          if (isRegistryError(err) && err.code === 'TOO_MANY_REQUESTS') throw err;
          return ANONYMOUS;
        });
        if (principal.kind === 'anonymous') {
          throw new TokenError(401, 'invalid_grant', 'incorrect username or password');
        }
      } else {
        throw new TokenError(
          400,
          'unsupported_grant_type',
          `grant_type must be password or refresh_token, got ${JSON.stringify(grantType ?? '')}`,
        );
      }
    }
    const { access, grants } = this.#grant(principal, scopes);
    const issued = await this.#deps.tokens.issueAccess({
      principal,
      service: this.#deps.service(),
      access,
      grants,
      ttlSeconds: this.#deps.ttlSeconds(),
      binding: await this.#binding(principal),
      from: tokenFrom(principal),
    });
    const response: TokenResponse = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    };
    if (offline && mayRefresh(principal)) {
      // Bound to the password the user has now: no password (an OIDC-only user), no token.
      const credential = await this.#deps.users.passwordFingerprint(principal.name);
      if (credential !== undefined) {
        const refresh = await this.#deps.tokens.issueRefresh(principal.name, credential);
        return { ...response, refresh_token: refresh };
      }
    }
    return response;
  }

  /**
   * The credential `principal` proved itself with, which the access token stays bound to: the API
   * token's id, the password's fingerprint, or (a registry token presented here) the binding of
   * that token. None for OIDC (its own JWT's expiry bounds it) and anonymous.
   */
  async #binding(principal: Principal): Promise<CredentialBinding | undefined> {
    if (principal.kind !== 'user') return undefined;
    switch (principal.credential) {
      case 'token':
        return principal.tokenId === undefined
          ? undefined
          : { kind: 'token', id: principal.tokenId };
      case 'password': {
        const fingerprint = await this.#deps.users.passwordFingerprint(principal.name);
        return fingerprint === undefined ? undefined : { kind: 'password', fingerprint };
      }
      case 'registry-token':
        return principal.binding;
      case 'oidc':
      case undefined:
        return undefined;
    }
  }

  /** The user behind a refresh token, with the rights the store gives it now. */
  async #fromRefreshToken(token: string | null): Promise<Principal> {
    if (token === null || token === '') {
      throw new TokenError(400, 'invalid_request', 'grant_type=refresh_token needs refresh_token');
    }
    let bound: { subject: string; credential: string };
    try {
      bound = await this.#deps.tokens.verifyRefresh(token);
    } catch (err) {
      throw new TokenError(401, 'invalid_grant', (err as Error).message);
    }
    const user = await this.#deps.users.account(bound.subject);
    if (user === undefined) {
      throw new TokenError(401, 'invalid_grant', 'the refresh token belongs to no current user');
    }
    // A refresh token must not outlive the credential it came from: a changed password (or a
    // user now known from elsewhere) ends it.
    const current = await this.#deps.users.passwordFingerprint(user.name);
    if (current === undefined || !sameFingerprint(current, bound.credential)) {
      throw new TokenError(
        401,
        'invalid_grant',
        "the refresh token's credential has changed (new password or removed user): log in again",
      );
    }
    return accountPrincipal(user, 'password');
  }

  /** What `principal` gets of each requested scope: only the actions `access.can` allows. */
  #grant(
    principal: Principal,
    scopes: readonly ParsedScope[],
  ): { access: ResourceAccess[]; grants: Grant[] } {
    const { access: control } = this.#deps;
    const merged = new Map<string, { type: string; name: string; actions: Set<string> }>();
    for (const scope of scopes) {
      const key = `${scope.type}:${scope.name}`;
      const entry = merged.get(key) ?? { type: scope.type, name: scope.name, actions: new Set() };
      for (const action of scope.actions) entry.actions.add(action);
      merged.set(key, entry);
    }
    const access: ResourceAccess[] = [];
    const grants: Grant[] = [];
    for (const { type, name, actions } of merged.values()) {
      if (type === 'registry' && name === 'catalog') {
        const repositories = this.#deps.catalogRepositories();
        const readable =
          repositories.length > 0 && repositories.every((r) => control.can(principal, r, 'read'));
        if (!readable || !actions.has('*')) continue;
        access.push({ type, name, actions: ['*'] });
        for (const r of repositories) grants.push({ repository: r.name, actions: ['read'] });
        continue;
      }
      if (type !== 'repository') continue; // unknown resource types get nothing
      const located = this.#deps.locate(name);
      if (located === undefined) continue;
      const { repository, name: path } = located;
      const member = this.#deps.writeTarget(repository);
      const landsElsewhere = member !== undefined && member.name !== repository.name;
      // Decided exactly as OciService.#writeRepo decides the same request with the same
      // credential: on the repository addressed, then on the member the change lands in with
      // `via` set, so a credential scope naming the group (`docker:team/**`) covers the member
      // there too. Without `via` such a scope was granted pull only, though Basic pushed
      // (trial 20 authx F7).
      const allowed = (ours: readonly Action[]) =>
        ours.every(
          (a) =>
            control.can(principal, repository, a, path) &&
            (a === 'read' ||
              !landsElsewhere ||
              control.can(principal, member, a, path, { via: repository })),
        );
      // `*` the user may not do in full grants what it may of it (skopeo delete asks `*`): the
      // spec lets a token grant a subset, and a refused DELETE then says "delete", not that the
      // token reaches nothing.
      const granted = [
        ...new Set(
          [...actions].flatMap((a) => {
            const ours = oursOf(a);
            if (ours === undefined) return [];
            if (allowed(ours)) return [a];
            return a === '*' ? EACH.filter((one) => allowed(oursOf(one) ?? [])) : [];
          }),
        ),
      ];
      if (granted.length === 0) continue;
      access.push({ type, name, actions: granted });
      const ours = new Set(granted.flatMap((a) => oursOf(a) ?? []));
      grants.push({ repository: repository.name, path, actions: [...ours] });
      const writes = [...ours].filter((a) => a !== 'read');
      if (landsElsewhere && writes.length > 0) {
        grants.push({ repository: member.name, path, actions: writes });
      }
    }
    return { access, grants };
  }
}

/**
 * Refresh tokens go to users who proved a password only: a refresh token from an API token, a
 * registry token or an OIDC identity would outlive (and widen) the credential it came from.
 */
function mayRefresh(principal: Principal): principal is Extract<Principal, { kind: 'user' }> {
  return (
    principal.kind === 'user' &&
    (principal.credential === undefined || principal.credential === 'password') &&
    principal.tokenId === undefined &&
    principal.readOnly !== true &&
    principal.scope === undefined &&
    principal.networks === undefined
  );
}

function sameFingerprint(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The registry action a request method needs: reads pull, DELETE deletes, other writes push. */
export function challengeActions(method: string): string {
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'DELETE') return 'delete';
  return 'pull,push';
}

/**
 * The `WWW-Authenticate` value of a 401 when auth is on: a Bearer challenge naming our token
 * endpoint, the service, and the scope the refused request needed (omitted when none).
 * `insufficientScope`, the refusal's message: the request carried a valid registry token that
 * does not grant that scope (an anonymous one asking to push): `error="insufficient_scope"` and
 * the message as `error_description` follow the scope (RFC 6750 §3, distribution's token access
 * controller; no scope, no such error). Clients built on distribution's client read the error
 * from the challenge alone and print the description (`denied: <message>`), not the body.
 */
export function bearerChallenge(
  realm: string,
  service: string,
  scope: string | undefined,
  insufficientScope?: string,
): string {
  const parts = [`realm=${quoted(realm)}`, `service=${quoted(service)}`];
  if (scope === undefined) return `Bearer ${parts.join(',')}`;
  parts.push(`scope=${quoted(scope)}`);
  if (insufficientScope !== undefined) {
    parts.push('error="insufficient_scope"');
    parts.push(`error_description="${describable(insufficientScope)}"`);
  }
  return `Bearer ${parts.join(',')}`;
}

/**
 * RFC 6750 §3's error_description: printable ASCII without `"` and `\` (%x20-21 / %x23-5B /
 * %x5D-7E); others become `'`, `/` or `?`. Bounded, as a header value should be.
 */
function describable(message: string): string {
  return message
    .slice(0, 300)
    .replace(/"/g, "'")
    .replace(/\\/g, '/')
    .replace(/[^\x20-\x7e]/g, '?');
}

/**
 * An RFC 9110 §5.6.4 quoted-string: `"` and `\` escaped. The realm comes from the request's Host
 * when no public_url is set, and a `"` in it would otherwise end the value early.
 */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
