/**
 * The auth hook point. Every request resolves a Principal (one place: `authenticate`), and every
 * repository operation asks one function (`authorize`). Today: anonymous principals and an
 * allow-all policy unless `[auth] enabled`; credential resolvers (npm tokens, Basic, Bearer) plug
 * in here without scattering checks through the formats.
 */
import { RegistryError } from '../core/errors.ts';
import type { Repository } from '../repos/repository.ts';

export type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'user'; readonly name: string; readonly roles: readonly Role[] };

export type Role = 'read' | 'write' | 'admin';
export type Action = 'read' | 'write' | 'delete' | 'admin';

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export interface RequestCredentials {
  readonly authorization: string | undefined;
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
    if (credentials.authorization === undefined || credentials.authorization === '')
      return ANONYMOUS;
    for (const resolver of this.#resolvers) {
      const principal = await resolver.resolve(credentials);
      if (principal) return principal;
    }
    if (this.#policy.authEnabled) {
      throw new RegistryError('UNAUTHORIZED', 'invalid credentials');
    }
    return ANONYMOUS;
  }

  /** Throws UNAUTHORIZED (no identity) or DENIED (identity without the right). */
  authorize(principal: Principal, repository: Repository, action: Action): void {
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

function hasRole(roles: readonly Role[], needed: Role): boolean {
  if (roles.includes('admin')) return true;
  if (needed === 'read') return roles.includes('read') || roles.includes('write');
  return roles.includes(needed);
}
