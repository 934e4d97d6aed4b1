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
 * guarding hosted names whose proxy member serves that path, a path under it or a prefix of it,
 * would make the group stop asking the proxy for them: every build pinned to a proxied version
 * (`go.sum`) would get 404s until an admin deletes the hosted module (delete.ts). "Serves": its
 * cache holds a file of it (GoProxy.servedInTree), or — the path itself, not yet fetched through
 * NORA (trial 18 fmts F1: a public `github.com/kr/text` taken over unasked) — its upstream has
 * the path's `@v/list`, or a prefix's (a hosted `github.com/kr/text/v2` takes the public
 * `github.com/kr/text` over too), now (GoProxy.upstreamHas, asked through the proxy so the
 * answer is cached, within the metadata timeout). Such a publish is refused (409, naming the group, the proxy and
 * the path) unless the upload says it means it (`?shadow=1`, `nora go publish --shadow`); then
 * it goes ahead and its answer carries the same words as a `warning:` line. An upstream that
 * cannot be asked (unreachable, too slow, open circuit: an air-gapped host with the default
 * upstream) does not block the publish, as for Maven, Cargo and Helm: it goes ahead with a
 * `warning:` saying the proxy could not be asked. The check runs before the body is read, and
 * only for a path the hosted repository does not hold yet.
 *
 * A version a proxy already served (trial 17): before that, and `?shadow=1` or not, a publish of
 * `module@version` is refused (409) when a proxy member of a go group that has the hosted target
 * among the members answering for the module path has served that very version (its `.info`,
 * `.mod` or `.zip` cached, or its cached `@v/list` lists it — the list the takeover check just
 * asked the upstream for included; GoProxy.servedVersion): other bytes
 * under it would fail every build holding it in go.sum (checksum mismatch) and silently change
 * the code for builds that do not check. The takeover 409 therefore never concerns the version
 * published: its 404 is for the proxied versions the hosted repository lacks.
 *
 * Packages inside another's namespace (trial rustgo F7): `go` resolves an import path against
 * every module of the build whose path is a prefix of it, so a module `corp.example.com` whose
 * zip holds `platform/y/y.go` provides the package `corp.example.com/platform/y` — inside a
 * namespace a rule over `corp.example.com/platform/**` reserves for others — and makes
 * `corp.example.com/platform/x` an ambiguous import for builds that also require the reserved
 * module. So once the zip has passed the module zip rules, and before anything is stored, the
 * publisher must also be allowed to `write` the import path of every package the zip provides
 * (`<module>/<dir>` for each directory holding a `.go` file, spelled as the module path; each
 * directory once), on the group and its member as for the module path. Else 403 naming the
 * first such package (sorted by directory) and the refusal of its path, which says whose rule
 * owns it.
 */
import type { Readable } from 'node:stream';
import type { AccessControl, Principal } from '../../auth/access.ts';
import { isRegistryError, RegistryError } from '../../core/errors.ts';
import { shadowedProxies, shadowedText } from '../../repos/group-read.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { GoHosted, PackagePath, PublishResult } from './hosted.ts';

export interface GoPublisherDeps {
  readonly access: AccessControl;
  readonly repositories: RepositoryRegistry;
  readonly hosted: GoHosted;
  /**
   * The module path in `module`'s tree (itself, under it, a prefix of it) the proxy repository
   * `proxy` has served, from its cache (GoProxy.servedInTree); undefined when none.
   */
  readonly servedInTree?: (proxy: Repository, module: string) => Promise<string | undefined>;
  /**
   * True when the proxy repository `proxy` has served `module@version` (its `.info`/`.mod`/`.zip`
   * cached, or its cached `@v/list` lists it): GoProxy.servedVersion.
   */
  readonly servedVersion?: (proxy: Repository, module: string, version: string) => Promise<boolean>;
  /**
   * The path — `module` or a prefix of it — the upstream of the proxy repository `proxy` has
   * now (GoProxy.upstreamHas): `served`, that path; `unknown` when none has it and the upstream
   * could not be asked about some; `absent` when it has none of them; none of the three for a
   * path the proxy never asks about (`[go] private`, no upstream).
   */
  readonly upstreamHas?: (
    proxy: Repository,
    module: string,
  ) => Promise<{ readonly served?: string; readonly unknown?: true; readonly absent?: true }>;
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
    const target = this.#writeTarget(repo, principal, module);
    // The takeover check first: asking the upstream caches its list, which the served-version
    // check then reads (a version the upstream has is refused even with --shadow).
    const { taken, notAsked } = await this.#takeover(target, module);
    await this.#refuseServedVersion(target, module, version);
    if (taken.length > 0 && options.shadow !== true) {
      throw new RegistryError(
        'CONFLICT',
        `refusing to publish ${module}@${version}: it is a new module path in ${target.name}, and ${taken.join('; and ')}. ` +
          `Builds through the group that use a proxied version ${target.name} does not have (go.sum) would then fail with 404 (${version} itself was never served by the proxy), and only an admin can undo it (nora go delete --all ${module}). ` +
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
      (packages) => {
        this.#mayProvide(repo, target, principal, module, version, packages);
      },
    );
    return { ...result, warnings: [...taken, ...notAsked] };
  }

  /**
   * Throws (403) unless `principal` may write the import path of each of `packages`, the
   * packages the zip of `module@version` provides (see the module comment). The module path
   * itself was checked before the body was read.
   */
  #mayProvide(
    repo: Repository,
    target: Repository,
    principal: Principal,
    module: string,
    version: string,
    packages: readonly PackagePath[],
  ): void {
    // Usually no rule speaks below the module path: then each package is decided as the module
    // path was (one remembered look-up), else each directory once (at most the zip's entries).
    const access = this.#deps.access;
    const asModule = (r: Repository) => access.decidesUnderAsPrefix(principal, r, module);
    if (asModule(target) && (target.name === repo.name || asModule(repo))) return;
    for (const { dir, importPath } of packages) {
      if (importPath === module) continue;
      try {
        this.#authorizeWrite(repo, target, principal, importPath);
      } catch (err) {
        if (!isRegistryError(err) || (err.code !== 'DENIED' && err.code !== 'UNAUTHORIZED')) {
          throw err;
        }
        throw new RegistryError(
          err.code,
          `refusing to publish ${module}@${version}: its zip holds the package ${importPath} (directory ${dir}/), and ${err.message}. ` +
            `Go looks a package up in every module whose path is a prefix of its import path, so a module may hold packages only where its publisher may write: ` +
            `leave ${dir}/ out of the module, or have it published as its own module by someone who may.`,
          err.headers === undefined ? {} : { headers: err.headers },
        );
      }
    }
  }

  /**
   * Throws CONFLICT, `--shadow` or not, when a proxy member of a group that has `target` among
   * the members answering for `module` has served `module@version` (see the module comment):
   * other bytes under a version builds already hold would fail every build with it in go.sum
   * (checksum mismatch) and silently change it for builds that do not check (GONOSUMDB).
   */
  async #refuseServedVersion(target: Repository, module: string, version: string): Promise<void> {
    const servedVersion = this.#deps.servedVersion;
    if (servedVersion === undefined) return;
    const repositories = this.#deps.repositories;
    const known = new Map<string, boolean>();
    const clashes: { group: string; proxy: string }[] = [];
    for (const group of repositories.byFormat('go')) {
      if (group.kind !== 'group') continue;
      const members = repositories.membersOf(group, module);
      if (!members.some((m) => m.name === target.name)) continue;
      for (const proxy of members.filter((m) => m.kind === 'proxy')) {
        if (!known.has(proxy.name)) {
          known.set(proxy.name, await servedVersion(proxy, module, version));
        }
        if (known.get(proxy.name) === true) clashes.push({ group: group.name, proxy: proxy.name });
      }
    }
    if (clashes.length === 0) return;
    const proxies = [...new Set(clashes.map((c) => c.proxy))].join(', ');
    const groups = [...new Set(clashes.map((c) => c.group))].join(', ');
    throw new RegistryError(
      'CONFLICT',
      `refusing to publish ${module}@${version}: that version is served by ${proxies} (through group ${groups}: cached there, or its upstream lists it). ` +
        `Publishing other bytes under the same version would fail every build that has it in go.sum (checksum mismatch) and silently change its code for builds that do not check it (GOPRIVATE, GONOSUMDB or GOSUMDB=off, with no go.sum line yet); --shadow does not allow it. ` +
        `Publish a version ${proxies} has not served (a later one), or publish under another module path.`,
    );
  }

  /**
   * The takeover lines of a first publish of `module` in `target` (see the module comment):
   * `taken`, what it takes over (a 409 without --shadow); `notAsked`, warnings only: a line
   * naming the proxies whose upstream could not be asked, and one naming the proxies the guard
   * now keeps out of the paths under `module` (which no upstream can be asked about). Both empty
   * for a path `target` holds.
   */
  async #takeover(
    target: Repository,
    module: string,
  ): Promise<{ taken: string[]; notAsked: string[] }> {
    const servedInTree = this.#deps.servedInTree;
    if (servedInTree === undefined || (await this.#deps.hosted.hasModule(target, module))) {
      return { taken: [], notAsked: [] };
    }
    const upstreamHas = this.#deps.upstreamHas;
    const unreachable = new Set<string>();
    // Proxies that would be asked for paths under `module` (not private to them): the guard
    // keeps them out of that whole tree from now on, which no upstream can be asked about.
    const askable = new Set<string>();
    const repositories = this.#deps.repositories;
    const shadowed = await shadowedProxies(
      repositories.byFormat('go'),
      (group, path) => repositories.membersOf(group, path),
      target,
      module,
      async (proxy) => {
        const cached = await servedInTree(proxy, module);
        if (cached !== undefined || upstreamHas === undefined) return cached;
        // Never fetched through NORA: does the upstream have the path or a prefix of it now?
        // (Paths under it are known from the cache alone: a GOPROXY has no listing.)
        const answer = await upstreamHas(proxy, module);
        if (answer.unknown === true) unreachable.add(proxy.name);
        if (answer.absent === true || answer.unknown === true) askable.add(proxy.name);
        return answer.served;
      },
    );
    const notAsked = [...unreachable].filter((proxy) => !shadowed.some((s) => s.proxy === proxy));
    const hidden = [...askable].filter((proxy) => !shadowed.some((s) => s.proxy === proxy));
    return {
      taken: shadowedText((name) => name, module, target.name, shadowed),
      notAsked: [
        ...(notAsked.length === 0
          ? []
          : [
              `could not ask ${notAsked.join(', ')} whether its upstream has ${module} (unreachable or too slow, nothing cached): if it does, groups guarding hosted names now serve only ${target.name}'s versions of it (protect_hosted_names)`,
            ]),
        // Trial 19 fmts F1: a short path (`golang.org`) hid every public module under it,
        // silently. No GOPROXY can list what lies under a path, so say what the guard now does.
        ...(hidden.length === 0
          ? []
          : [
              `groups guarding hosted names now answer every module path under ${module} (${module}/…) from ${target.name} only, never from ${hidden.join(', ')} (protect_hosted_names): upstream modules under it that NORA has not fetched yet no longer resolve through them; if that tree is yours alone, list it in [go] private (NORA_GO_PRIVATE), else an admin undoes this with nora go delete --all ${module}`,
            ]),
      ],
    };
  }

  #writeTarget(repo: Repository, principal: Principal, module: string): Repository {
    const target = this.#deps.repositories.requireWriteTarget(repo, { verb: 'publish' });
    this.#authorizeWrite(repo, target, principal, module);
    return target;
  }

  /** `write` on `path` in `target`, and in `repo` when that is a group publishing into it. */
  #authorizeWrite(repo: Repository, target: Repository, principal: Principal, path: string): void {
    if (target.name !== repo.name) this.#deps.access.authorize(principal, repo, 'write', path);
    this.#deps.access.authorize(principal, target, 'write', path, {
      via: target.name === repo.name ? undefined : repo,
    });
  }
}
