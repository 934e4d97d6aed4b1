/**
 * Go group repositories, read through the shared GroupReader (src/repos/group-read.ts):
 *
 * - `.info`, `.mod`, `.zip`, `@latest`: members in order (hosted first in the default group
 *   `go`), the first that has it answers.
 * - `@v/list`: the union of every member's versions (stale when a part was).
 * - A module path in a hosted member's tree is served from hosted members only, never asked of
 *   a proxy (`protect_hosted_names`, the dependency-confusion guard): a path the hosted member
 *   holds, one under it (`<hosted>/internal/pkg`: `go` asks for a package's path and each of its
 *   prefixes to find its module) and a prefix of it (`corp.example.com` when
 *   `corp.example.com/t7/hello` is hosted). An upstream cannot shadow or extend an internal
 *   module, and its name never leaves: such a path that no hosted member has is a 404, whose
 *   message says which hosted module kept the proxies out (group-read.ts `missNote`).
 * - A member whose upstream fails is "not here"; when nobody has it and some member failed, the
 *   answer is a 404 naming the failure (so `go` still falls through to its next GOPROXY entry).
 */
import { RegistryError } from '../../core/errors.ts';
import type { GroupDeps, KeptOut, NameGuard } from '../../repos/group-read.ts';
import { hostedNameGuard, keptOutText } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { GoSource, OpenedModuleFile, VersionInfo, VersionList } from './model.ts';
import { sortVersions } from './module.ts';

/** What the group needs from hosted repositories for the dependency-confusion guard. */
export interface HostedModules {
  /** True when the hosted repository `repo` holds (any version of) `module`. */
  hasModule(repo: Repository, module: string): Promise<boolean>;
  /**
   * The modules `repo` holds that are `module` or below it (`module/…`): `go` also asks the
   * checksum database about a module path's prefixes, which name the same private tree.
   */
  modulesUnder(repo: Repository, module: string): Promise<readonly string[]>;
  /**
   * A module path `repo` holds that is `module`, a prefix of it (`module` lies under it) or lies
   * under it (`module` is its prefix): `module`'s name would tell an upstream about the hosted
   * tree. Undefined when there is none. An index lookup per path segment, no scan.
   */
  treeHolder(repo: Repository, module: string): Promise<string | undefined>;
}

export interface GoGroupDeps extends GroupDeps<GoSource> {
  readonly hostedModules: HostedModules;
}

export class GoGroup implements GoSource {
  readonly #deps: GoGroupDeps;

  constructor(deps: GoGroupDeps) {
    this.#deps = deps;
  }

  #guard(group: Repository, members: readonly Repository[], module: string): NameGuard<Repository> {
    return hostedNameGuard(
      group,
      members,
      module,
      async (member) => (await this.#deps.hostedModules.treeHolder(member, module)) ?? false,
    );
  }

  #first<T>(
    group: Repository,
    module: string,
    what: string,
    read: (source: GoSource, member: Repository) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    // The members that may answer for the module (one a member reserved is that member's).
    const members = this.#deps.membersOf(group, module);
    return this.#deps.reader.first(
      group,
      members,
      (member) => read(this.#deps.sourceOf(member), member),
      (note, kept) => groupMiss(what, note, kept),
      this.#guard(group, members, module),
    );
  }

  async list(group: Repository, module: string): Promise<VersionList | undefined> {
    const members = this.#deps.membersOf(group, module);
    const answers = await this.#deps.reader.some(
      group,
      members,
      (member) => this.#deps.sourceOf(member).list(member, module),
      (note, kept) => groupMiss(`${module}/@v/list`, note, kept),
      this.#guard(group, members, module),
    );
    if (answers === undefined) return undefined;
    // Every member answers its versions sorted and without duplicates: one answer (the usual
    // case: the guard keeps the proxy out of a hosted module) is the group's as it is.
    const only = answers.length === 1 ? answers[0] : undefined;
    if (only !== undefined) return only.value;
    const versions = sortVersions([...new Set(answers.flatMap((a) => a.value.versions))]);
    const stale = answers.some((a) => a.value.stale === true);
    return stale ? { versions, stale } : { versions };
  }

  latest(group: Repository, module: string): Promise<VersionInfo | undefined> {
    return this.#first(group, module, `${module}@latest`, (s, m) => s.latest(m, module));
  }

  info(group: Repository, module: string, version: string): Promise<VersionInfo | undefined> {
    return this.#first(group, module, `${module}@${version}`, (s, m) => s.info(m, module, version));
  }

  mod(group: Repository, module: string, version: string): Promise<OpenedModuleFile | undefined> {
    return this.#first(group, module, `${module}@${version}.mod`, (s, m) =>
      s.mod(m, module, version),
    );
  }

  zip(group: Repository, module: string, version: string): Promise<OpenedModuleFile | undefined> {
    return this.#first(group, module, `${module}@${version}.zip`, (s, m) =>
      s.zip(m, module, version),
    );
  }
}

/**
 * A group's 404 whose note names a hosted module path other than the one read (the guard kept
 * the proxies out of a path sharing its tree): GoService answers `withheld`, which does not name
 * it, to a caller who may not read that path in its hosted repository.
 */
export class TreeMiss extends RegistryError {
  readonly kept: KeptOut;
  readonly withheld: string;

  constructor(message: string, kept: KeptOut, withheld: string) {
    super('NOT_FOUND', message);
    this.kept = kept;
    this.withheld = withheld;
  }
}

function groupMiss(what: string, note: string, kept: KeptOut | undefined): RegistryError {
  const message = `not found: ${what}${note}`;
  if (kept === undefined || kept.held === kept.name) return new RegistryError('NOT_FOUND', message);
  return new TreeMiss(message, kept, message.replace(keptOutText(kept), keptOutText(kept, false)));
}
