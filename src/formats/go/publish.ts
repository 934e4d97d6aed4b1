/**
 * The write side of the Go service: `PUT <mount>/<module>/@v/<version>.zip` (hosted.ts
 * `publish`) addressed to a hosted repository or to a group (its write member). No HTTP types.
 *
 * Access: `write` on the module path (`access.authorize(principal, repo, 'write', module)`, so a
 * `[[auth.rules]] paths = ["corp.example/**"]` rule scopes publishing to a module subtree), on
 * both the group and its member when addressed through a group; checked before the body is read.
 */
import type { Readable } from 'node:stream';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { GoHosted, PublishResult } from './hosted.ts';

export interface GoPublisherDeps {
  readonly access: AccessControl;
  readonly repositories: RepositoryRegistry;
  readonly hosted: GoHosted;
}

export class GoPublisher {
  readonly #deps: GoPublisherDeps;

  constructor(deps: GoPublisherDeps) {
    this.#deps = deps;
  }

  /**
   * Publishes `module@version` (decoded) from the zip `body` into `repo` or its write member;
   * `contentLength` is the request's declared length (refused up front past max_zip_size).
   * Throws UNAUTHORIZED/DENIED, METHOD_NOT_ALLOWED (a proxy, a group without hosted member),
   * and hosted.publish's errors (BAD_REQUEST, TOO_LARGE, CONFLICT).
   */
  async publish(
    repo: Repository,
    module: string,
    version: string,
    body: Readable,
    principal: Principal,
    contentLength?: number,
  ): Promise<PublishResult> {
    const target = this.#writeTarget(repo, principal, 'write', module);
    return this.#deps.hosted.publish(
      target,
      module,
      version,
      body,
      principal.kind === 'user' ? principal.name : undefined,
      contentLength,
    );
  }

  #writeTarget(repo: Repository, principal: Principal, action: Action, module: string): Repository {
    const target = this.#deps.repositories.requireWriteTarget(repo, { verb: 'publish' });
    if (target.name !== repo.name) this.#deps.access.authorize(principal, repo, action, module);
    this.#deps.access.authorize(principal, target, action, module, {
      via: target.name === repo.name ? undefined : repo,
    });
    return target;
  }
}
