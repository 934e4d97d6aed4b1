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
import type { MissNotes } from '../../proxy/negative-cache.ts';
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

  /**
   * The first member's answer for `module` (at `version`, for a version's file). A version the
   * guard kept from the proxies, of a module a hosted member holds, that the hosted member lacks
   * is a 404 saying first which versions that member has (hostedVersionMiss).
   */
  async #first<T>(
    group: Repository,
    module: string,
    what: string,
    read: (source: GoSource, member: Repository) => Promise<T | undefined>,
    miss: MissNotes | undefined,
    version?: string,
  ): Promise<T | undefined> {
    // The members that may answer for the module (one a member reserved is that member's).
    const members = this.#deps.membersOf(group, module);
    try {
      return await this.#deps.reader.first(
        group,
        members,
        (member) => read(this.#deps.sourceOf(member), member),
        (note, kept) => groupMiss(what, note, kept, miss),
        this.#guard(group, members, module),
      );
    } catch (err) {
      const hosted = err instanceof HostedMiss && members.find((m) => m.name === err.kept.hosted);
      if (version === undefined || !(err instanceof HostedMiss) || !hosted) throw err;
      const list = await this.#deps.sourceOf(hosted).list(hosted, module);
      throw new RegistryError(
        'NOT_FOUND',
        hostedVersionMiss(what, err.note, err.kept, list?.versions ?? []),
      );
    }
  }

  async list(
    group: Repository,
    module: string,
    miss?: MissNotes,
  ): Promise<VersionList | undefined> {
    const members = this.#deps.membersOf(group, module);
    const answers = await this.#deps.reader.some(
      group,
      members,
      (member) => this.#deps.sourceOf(member).list(member, module, miss),
      (note, kept) => groupMiss(`${module}/@v/list`, note, kept, miss),
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

  latest(group: Repository, module: string, miss?: MissNotes): Promise<VersionInfo | undefined> {
    return this.#first(
      group,
      module,
      `${module}@latest`,
      (s, m) => s.latest(m, module, miss),
      miss,
    );
  }

  info(
    group: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<VersionInfo | undefined> {
    return this.#first(
      group,
      module,
      `${module}@${version}`,
      (s, m) => s.info(m, module, version, miss),
      miss,
      version,
    );
  }

  mod(
    group: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<OpenedModuleFile | undefined> {
    return this.#first(
      group,
      module,
      `${module}@${version}.mod`,
      (s, m) => s.mod(m, module, version, miss),
      miss,
      version,
    );
  }

  zip(
    group: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<OpenedModuleFile | undefined> {
    return this.#first(
      group,
      module,
      `${module}@${version}.zip`,
      (s, m) => s.zip(m, module, version, miss),
      miss,
      version,
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

/**
 * A group's 404 for a module path a hosted member holds itself (the guard kept the proxies out
 * of it): its `note` and what was kept, for a version read to say what the hosted member has.
 */
class HostedMiss extends RegistryError {
  readonly kept: KeptOut;
  readonly note: string;

  constructor(message: string, kept: KeptOut, note: string) {
    super('NOT_FOUND', message);
    this.kept = kept;
    this.note = note;
  }
}

/**
 * A group's 404 when a member failed or the guard kept members out (`note`: group-read.ts
 * `missNote`); a proxy member's remembered upstream miss (`miss`) is said first, as a 404 of no
 * failure says it (service.ts `notFound`).
 */
function groupMiss(
  what: string,
  note: string,
  kept: KeptOut | undefined,
  miss: MissNotes | undefined,
): RegistryError {
  const message = `not found: ${what}${rememberedNote(miss)}${note}`;
  if (kept === undefined) return new RegistryError('NOT_FOUND', message);
  if (kept.held === kept.name) return new HostedMiss(message, kept, note);
  return new TreeMiss(message, kept, message.replace(keptOutText(kept), keptOutText(kept, false)));
}

/** Versions a version's 404 lists, newest first; the rest are counted. */
const VERSIONS_SHOWN = 5;

/**
 * `it has v1.2.0, v1.1.0, v1.0.0` for a module's `versions` (oldest first, as @v/list sorts
 * them): the newest VERSIONS_SHOWN, `…and N more` past them; `it has none now` when empty.
 */
export function versionsHeld(versions: readonly string[]): string {
  const newest = [...versions].reverse();
  const shown = newest.slice(0, VERSIONS_SHOWN).join(', ');
  const more = newest.length > VERSIONS_SHOWN ? ` …and ${newest.length - VERSIONS_SHOWN} more` : '';
  return newest.length === 0 ? 'it has none now' : `it has ${shown}${more}`;
}

/**
 * The 404 of a version (`what`: `m@v1.9.9`, `….mod`, `….zip`) of a module hosted member
 * `kept.hosted` holds but not at that version: first what is missing and the versions it has
 * (newest first, at most VERSIONS_SHOWN, `…and N more`), then, in the note's place, why the
 * group's proxies were not asked (sixteenth trial F1: the note alone read as if the guard were
 * the cause):
 *
 *   not found: corp.example.com/m@v1.9.9: go-hosted has no such version (it has v1.2.0,
 *   v1.1.0, v1.0.0) (group go does not ask its proxy for a module hosted in go-hosted:
 *   protect_hosted_names)
 */
export function hostedVersionMiss(
  what: string,
  note: string,
  kept: KeptOut,
  versions: readonly string[],
): string {
  const has = versionsHeld(versions);
  const proxies = kept.members.length === 1 ? 'proxy' : 'proxies';
  const why = `group ${kept.group} does not ask its ${proxies} for a module hosted in ${kept.hosted}: protect_hosted_names`;
  return `not found: ${what}: ${kept.hosted} has no such version (${has})${note.replace(keptOutText(kept), why)}`;
}

/**
 * `: upstream go-proxy#0 said 404/410 at 12:00:01Z (remembered for 60 s, [go]
 * negative_cache_ttl)` when a proxy answered from its remembered miss (`miss.missNote`), else
 * empty: what a Go 404's text ends in after `not found: <what>`.
 */
export function rememberedNote(miss: MissNotes | undefined): string {
  return miss?.missNote === undefined ? '' : `: ${miss.missNote}`;
}
