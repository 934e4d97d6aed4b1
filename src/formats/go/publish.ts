/**
 * The write side of the Go service: `PUT <mount>/<module>/@v/<version>.zip` (hosted.ts
 * `publish`) addressed to a hosted repository or to a group (its write member). No HTTP types.
 *
 * Access: `write` on the module path (`access.authorize(principal, repo, 'write', module)`, so a
 * `[[auth.rules]] paths = ["corp.example/**"]` rule scopes publishing to a module subtree), on
 * both the group and its member when addressed through a group; checked before the body is read.
 *
 * Taking over a module path (`protect_hosted_names`, docs/auth.md "Write permission can shadow a
 * public name"): the first version of a module path new to the hosted repository, in a group
 * guarding hosted names whose proxy member has served that path, a path under it or a prefix of
 * it (its cache says so), would make the group stop asking the proxy for them: every build
 * pinned to a proxied version (`go.sum`) would get 404s, and a Go module version can never be
 * deleted to undo it. Such a publish is refused (409, naming the group, the proxy and the path)
 * unless the upload says it means it (`?shadow=1`, `nora go publish --shadow`); then it goes
 * ahead and its answer carries the same words as a `warning:` line. The check runs before the
 * body is read, and only for a path the hosted repository does not hold yet.
 */
import type { Readable } from 'node:stream';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import { RegistryError } from '../../core/errors.ts';
import { shadowedProxies, shadowedText } from '../../repos/group-read.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { GoHosted, PublishResult } from './hosted.ts';

export interface GoPublisherDeps {
  readonly access: AccessControl;
  readonly repositories: RepositoryRegistry;
  readonly hosted: GoHosted;
  /**
   * The module path in `module`'s tree (itself, under it, a prefix of it) the proxy repository
   * `proxy` has served, from its cache (GoProxy.servedInTree); undefined when none.
   */
  readonly servedInTree?: (proxy: Repository, module: string) => Promise<string | undefined>;
}

export interface GoPublishAnswer extends PublishResult {
  /** What the publish took over (see the module comment), one line per group; usually empty. */
  readonly warnings: readonly string[];
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
   * CONFLICT for a takeover not asked for (`shadow` false, see the module comment), and
   * hosted.publish's errors (BAD_REQUEST, TOO_LARGE, CONFLICT).
   */
  async publish(
    repo: Repository,
    module: string,
    version: string,
    body: Readable,
    principal: Principal,
    contentLength?: number,
    options: { readonly shadow?: boolean } = {},
  ): Promise<GoPublishAnswer> {
    const target = this.#writeTarget(repo, principal, 'write', module);
    const warnings = await this.#takeover(target, module);
    if (warnings.length > 0 && options.shadow !== true) {
      throw new RegistryError(
        'CONFLICT',
        `refusing to publish ${module}@${version}: it is a new module path in ${target.name}, and ${warnings.join('; and ')}. ` +
          `Builds that use those proxied versions (go.sum) would then fail with 404, and a Go module version cannot be deleted to undo it. ` +
          `To publish it all the same, run nora go publish --shadow (or add ?shadow=1 to the upload URL); to keep the proxied module, publish under another module path.`,
      );
    }
    const result = await this.#deps.hosted.publish(
      target,
      module,
      version,
      body,
      principal.kind === 'user' ? principal.name : undefined,
      contentLength,
    );
    return { ...result, warnings };
  }

  /** The takeover lines of a first publish of `module` in `target` (see the module comment). */
  async #takeover(target: Repository, module: string): Promise<string[]> {
    const servedInTree = this.#deps.servedInTree;
    if (servedInTree === undefined || (await this.#deps.hosted.hasModule(target, module))) {
      return [];
    }
    const repositories = this.#deps.repositories;
    const shadowed = await shadowedProxies(
      repositories.byFormat('go'),
      (group, path) => repositories.membersOf(group, path),
      target,
      module,
      (proxy) => servedInTree(proxy, module),
    );
    return shadowedText((name) => name, module, target.name, shadowed);
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
