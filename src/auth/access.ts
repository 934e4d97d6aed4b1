/**
 * The auth hook point. Every request resolves a Principal (one place: `authenticate`), and every
 * repository operation asks one function (`authorize`). Today: anonymous principals and an
 * allow-all policy unless `[auth] enabled`; credential resolvers (npm tokens, Basic, Bearer) plug
 * in here without scattering checks through the formats. A credential restricted to address
 * ranges (a token's `cidr_whitelist`) is refused here when the client address is outside them.
 */
import { RegistryError } from '../core/errors.ts';
import type { Repository } from '../repos/repository.ts';
import type { NetworkList } from './networks.ts';

export type Principal =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'user';
      readonly name: string;
      readonly roles: readonly Role[];
      /** The address ranges this credential may be used from (a token's CIDR list); any when unset. */
      readonly networks?: NetworkList | undefined;
      /** A read-only credential (`npm token create --read-only`): reads only, even with auth off. */
      readonly readOnly?: boolean | undefined;
    };

export type Role = 'read' | 'write' | 'admin';
export type Action = 'read' | 'write' | 'delete' | 'admin';

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export interface RequestCredentials {
  readonly authorization: string | undefined;
  /** The client's address as the socket reports it (`request.ip`); checked against `networks`. */
  readonly remoteAddress?: string | undefined;
}

/** Turns request credentials into a principal; returns undefined when it does not apply. */
export interface CredentialResolver {
  resolve(credentials: RequestCredentials): Promise<Principal | undefined>;
}

export interface AccessPolicy {
  readonly authEnabled: boolean;
  readonly anonymousRead: boolean;
}

export class AccessControl {
  readonly #resolvers: CredentialResolver[] = [];
  #policy: AccessPolicy;

  constructor(policy: AccessPolicy) {
    this.#policy = policy;
  }

  get authEnabled(): boolean {
    return this.#policy.authEnabled;
  }

  updatePolicy(policy: AccessPolicy): void {
    this.#policy = policy;
  }

  addResolver(resolver: CredentialResolver): void {
    this.#resolvers.push(resolver);
  }

  async authenticate(credentials: RequestCredentials): Promise<Principal> {
    if (isEmptyCredential(credentials.authorization)) return ANONYMOUS;
    for (const resolver of this.#resolvers) {
      const principal = await resolver.resolve(credentials);
      if (!principal) continue;
      if (credentials.remoteAddress !== undefined) this.admit(principal, credentials.remoteAddress);
      return principal;
    }
    if (this.#policy.authEnabled) {
      throw new RegistryError('UNAUTHORIZED', 'invalid credentials');
    }
    return ANONYMOUS;
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
   * anonymous-read policy. For protocol endpoints whose 401 is how a client learns it should send
   * credentials (the OCI base `/v2/`: docker, podman and skopeo only send them after a challenge
   * there, and `podman login` treats a 200 as "logged in" without sending any).
   */
  requireIdentity(principal: Principal): void {
    if (this.#policy.authEnabled && principal.kind === 'anonymous') {
      throw new RegistryError('UNAUTHORIZED', 'authentication required');
    }
  }

  /**
   * Throws UNAUTHORIZED (no identity) or DENIED (identity without the right). A read-only
   * credential is refused every write whether or not auth is enabled: whoever asked for a
   * read-only token (to hand to CI, say) relies on it being one, as with CIDR lists.
   */
  authorize(principal: Principal, repository: Repository, action: Action): void {
    if (principal.kind === 'user' && principal.readOnly === true && action !== 'read') {
      throw new RegistryError(
        'DENIED',
        `this token is read-only: it may not ${action} ${repository.name} (create a publish token with npm token create)`,
      );
    }
    if (!this.#policy.authEnabled) return;
    if (principal.kind === 'anonymous') {
      if (action === 'read' && this.#policy.anonymousRead) return;
      throw new RegistryError(
        'UNAUTHORIZED',
        `authentication required to ${action} ${repository.name}`,
      );
    }
    const needed: Role = action === 'read' ? 'read' : action === 'admin' ? 'admin' : 'write';
    if (!hasRole(principal.roles, needed)) {
      throw new RegistryError('DENIED', `${principal.name} may not ${action} ${repository.name}`);
    }
  }
}

/**
 * No header, an empty one, or Basic with an empty user and password (`Basic Og==`, what
 * containers/image sends for `--no-creds` after a Basic challenge): no credential, not a wrong one.
 */
function isEmptyCredential(authorization: string | undefined): boolean {
  if (authorization === undefined || authorization.trim() === '') return true;
  const basic = /^Basic\s+([A-Za-z0-9+/=]*)\s*$/i.exec(authorization);
  return basic !== null && Buffer.from(basic[1] ?? '', 'base64').toString('utf8') === ':';
}

function hasRole(roles: readonly Role[], needed: Role): boolean {
  if (roles.includes('admin')) return true;
  if (needed === 'read') return roles.includes('read') || roles.includes('write');
  return roles.includes(needed);
}
