/**
 * The repository model (DESIGN.md §4). A repository has a name, a format and a kind:
 * hosted (stores pushes), proxy (read-only cache of upstreams) or group (ordered members read as
 * one; writes go to its write member). NORA's fixed mounts are default repositories built from
 * the format sections; `[[repositories]]` adds named ones at `/repository/<name>/`.
 */
import { noteWriteTarget } from '../audit/requests.ts';
import { methodNotAllowed } from '../core/errors.ts';
import type { DockerUpstreamConfig } from '../formats/oci/config.ts';
import type { AppConfig, FormatName, RepositoryConfig, RepositoryKind } from '../config/schema.ts';

export type UpstreamConfig = DockerUpstreamConfig;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface Repository {
  readonly name: string;
  readonly format: FormatName;
  readonly kind: RepositoryKind;
  /** group: members in read order. */
  readonly members: readonly string[];
  /** group: the hosted member receiving writes, if any. */
  readonly writeMember: string | undefined;
  /**
   * proxy: upstreams in order. A reload that changes them replaces this array (never edits it),
   * and only such a reload does (RepositoryRegistry.reload): what was learned from the upstreams
   * (the negative caches' misses, src/proxy/negative-cache.ts) holds while the array is the same.
   */
  readonly upstreams: readonly UpstreamConfig[];
  /** proxy: overrides of the format section's settings; also updated by a reload. */
  readonly proxyTimeout: number | undefined;
  readonly metadataTtl: number | undefined;
  readonly serveStale: boolean | undefined;
  /**
   * group: a name with hosted content is served from hosted members only (see group-read.ts
   * `membersForName`). Updated by a reload.
   */
  readonly protectHostedNames: boolean;
  /**
   * npm/PyPI proxy: whether the takeover check of a first publish asks its upstream
   * (`shadow_check_upstream`); undefined = the format section's. Updated by a reload.
   */
  readonly shadowCheckUpstream?: boolean | undefined;
  /** True for the repositories behind NORA's fixed mounts. */
  readonly isDefault: boolean;
}

export class RepositoryConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RepositoryConfigError';
  }
}

export function toRepository(config: RepositoryConfig, isDefault: boolean): Repository {
  return {
    name: config.name,
    format: config.format,
    kind: config.kind,
    members: config.members,
    writeMember: config.write_member,
    upstreams: config.upstreams,
    proxyTimeout: config.proxy_timeout,
    metadataTtl: config.metadata_ttl,
    serveStale: config.serve_stale,
    protectHostedNames: config.protect_hosted_names ?? true,
    shadowCheckUpstream: config.shadow_check_upstream,
    isDefault,
  };
}

/** Default repositories of one format, provided by the format module. */
export type DefaultRepositories = (config: AppConfig) => RepositoryConfig[];

/**
 * Which members `membersOf(group, path)` left out because a rule reserved the path for others
 * (docs/auth.md "Semantics" 3), carried by the list it returns (`Members.reserved`): the group's
 * 404 for a name only a left-out member has says so (group-read.ts `missNote`), where it looked
 * exactly like "no such package" (tenth trial F5).
 */
export interface Reservation {
  readonly group: string;
  /**
   * The members that answer for the path, in member order: those the reserving rule names, and
   * the proxies too where it grants `write` without `read` (RuleSet.answeringMembers).
   */
  readonly answering: readonly string[];
  /** Those of `answering` that hold the path: the members the reserving rule names. */
  readonly holding: readonly string[];
  /** The members not asked for it. */
  readonly leftOut: readonly string[];
}

/**
 * The members of a group that may answer for one name, in read order, as `membersOf` answers
 * them: the list itself says what a rule reserving the name left out (`reserved`), so the group
 * reader's 404 (group-read.ts `missNote`) and a merge's "nothing found" outcome
 * (`GroupAnswers.reserved`) read it from what they were given, never from a side table. A list
 * made from it (a member's backend per member, OCI) keeps it through `mapMembers`; a filtered
 * part (`members.filter(...)`) does not, and a caller answering its own 404 for a name reads
 * `reserved` off the list `membersOf` gave it.
 */
export interface Members<M = Repository> extends ReadonlyArray<M> {
  /** What a rule reserving the name left out; undefined when every member answers. */
  readonly reserved?: Reservation | undefined;
}

/** `members` mapped one by one (`each`: its backend, its source), keeping `reserved`. */
export function mapMembers<M, T>(members: Members<M>, each: (member: M) => T): Members<T> {
  const mapped = members.map(each);
  return members.reserved === undefined
    ? mapped
    : Object.assign(mapped, { reserved: members.reserved });
}

/**
 * Which of `group`'s direct members (names) may answer for `path`; undefined: every member.
 * See RepositoryRegistry.membersOf.
 */
export type AnsweringMembers = (
  group: Repository,
  path: string,
  members: readonly string[],
) => readonly string[] | undefined;

export class RepositoryRegistry {
  readonly #byName: ReadonlyMap<string, Repository>;
  #answering: AnsweringMembers | undefined;
  #answeringEpoch = 0;

  private constructor(repositories: readonly Repository[]) {
    this.#byName = new Map(repositories.map((r) => [r.name, r]));
  }

  /** Builds and cross-checks every repository; throws RepositoryConfigError naming the problem. */
  static build(
    defaults: readonly RepositoryConfig[],
    named: readonly RepositoryConfig[],
  ): RepositoryRegistry {
    const all = [
      ...defaults.map((r) => toRepository(r, true)),
      ...named.map((r) => toRepository(r, false)),
    ];
    const byName = new Map<string, Repository>();
    for (const repo of all) {
      if (byName.has(repo.name)) {
        throw new RepositoryConfigError(
          `repository name "${repo.name}" is already used by a default repository`,
        );
      }
      byName.set(repo.name, repo);
    }
    for (const repo of all) {
      if (repo.kind !== 'group') continue;
      for (const memberName of repo.members) {
        const member = byName.get(memberName);
        if (!member)
          throw new RepositoryConfigError(`group "${repo.name}": unknown member "${memberName}"`);
        if (member.format !== repo.format) {
          throw new RepositoryConfigError(
            `group "${repo.name}": member "${memberName}" is ${member.format}, not ${repo.format}`,
          );
        }
        if (member.kind === 'group') {
          throw new RepositoryConfigError(
            `group "${repo.name}": member "${memberName}" is itself a group`,
          );
        }
      }
      if (repo.writeMember !== undefined) {
        const target = byName.get(repo.writeMember);
        if (target?.kind !== 'hosted' || !repo.members.includes(repo.writeMember)) {
          throw new RepositoryConfigError(
            `group "${repo.name}": write_member must be one of its hosted members`,
          );
        }
      }
    }
    return new RepositoryRegistry(all);
  }

  get(name: string): Repository | undefined {
    return this.#byName.get(name);
  }

  /**
   * Applies a reloaded configuration. Upstreams and proxy timings change in place — backends read
   * them from their Repository per request — so a SIGHUP can repoint a proxy. Anything that
   * changes routing (names, formats, kinds, members) needs a restart: those changes are not
   * applied, and the returned list names them.
   */
  reload(next: RepositoryRegistry): string[] {
    const shape = (r: Repository): string =>
      JSON.stringify([r.format, r.kind, r.members, r.writeMember, r.isDefault]);
    const names = [...this.#byName.keys()].sort();
    const nextNames = [...next.#byName.keys()].sort();
    const changed =
      JSON.stringify(names) !== JSON.stringify(nextNames) ||
      names.some((name) => {
        const current = this.#byName.get(name);
        const updated = next.#byName.get(name);
        return current === undefined || updated === undefined || shape(current) !== shape(updated);
      });
    if (changed) return ['repositories'];
    for (const [name, repo] of this.#byName) {
      const updated = next.#byName.get(name);
      if (updated === undefined) continue;
      // The one place a Repository changes after start-up (see the interface's mutable fields).
      const live = repo as Mutable<Repository>;
      // Replaced only when changed: the array's identity is the upstream list answers were
      // learned from (negative-cache.ts drops the misses of a list that is not the current one).
      if (JSON.stringify(repo.upstreams) !== JSON.stringify(updated.upstreams)) {
        live.upstreams = updated.upstreams;
      }
      live.proxyTimeout = updated.proxyTimeout;
      live.metadataTtl = updated.metadataTtl;
      live.serveStale = updated.serveStale;
      live.protectHostedNames = updated.protectHostedNames;
      live.shadowCheckUpstream = updated.shadowCheckUpstream;
    }
    return [];
  }

  all(): Repository[] {
    return [...this.#byName.values()];
  }

  byFormat(format: FormatName): Repository[] {
    return this.all().filter((r) => r.format === format);
  }

  /**
   * Members of a group in order (a non-group repository is its own single member). With `path`
   * (the rule path of the name a read asks for, the one its access check uses: docs/auth.md
   * "Permissions"), the members that may answer for it: where a rule reserved the path for some
   * members, only those (the file is theirs, never another member's), the list's `reserved`
   * saying which it left out (Members); see `answerWith`. The one place every format's group
   * picks its members for a name.
   */
  membersOf(repo: Repository, path?: string): Repository[] & Members {
    if (repo.kind !== 'group') return [repo];
    const members = repo.members
      .map((name) => this.#byName.get(name))
      .filter((r): r is Repository => r !== undefined);
    if (path === undefined || this.#answering === undefined) return members;
    const answering = this.#answering(
      repo,
      path,
      members.map((m) => m.name),
    );
    if (answering === undefined) return members;
    const chosen = members.filter((m) => answering.includes(m.name));
    if (chosen.length === members.length) return chosen;
    const reserved: Reservation = {
      group: repo.name,
      answering: chosen.map((m) => m.name),
      holding: chosen.filter((m) => m.kind !== 'proxy').map((m) => m.name),
      leftOut: members.filter((m) => !answering.includes(m.name)).map((m) => m.name),
    };
    return Object.assign(chosen, { reserved });
  }

  /**
   * Installs the reservation check `membersOf(group, path)` applies (AccessControl's
   * `answeringMembers`, from the permission rules; buildApp sets it once, and it reads the rules
   * running now, so a reload applies).
   */
  answerWith(answering: AnsweringMembers): void {
    this.#answering = answering;
    this.#answeringEpoch++;
  }

  /**
   * Changes whenever the members a group picks for a path may have changed (new rules: a reload
   * calls `answerWith` again). A cache of a group's merged answer that outlives a request keys
   * it by this (npm packuments, Helm's merged index.yaml).
   */
  get answeringEpoch(): number {
    return this.#answeringEpoch;
  }

  /** Where writes addressed to `repo` land: itself if hosted, its write member if a group. */
  writeTarget(repo: Repository): Repository | undefined {
    if (repo.kind === 'hosted') return repo;
    if (repo.kind === 'proxy') return undefined;
    const name = repo.writeMember ?? this.membersOf(repo).find((m) => m.kind === 'hosted')?.name;
    return name === undefined ? undefined : this.#byName.get(name);
  }

  /**
   * `writeTarget(repo)`, or the refusal every format answers when there is none: a
   * RegistryError METHOD_NOT_ALLOWED (405, `methodNotAllowed`) whose `Allow` is `allow`, the
   * methods the URL still serves on a read-only repository (RFC 9110 §15.5.6; a proxy or a group
   * without a hosted member is read-only): `['GET']` (`GET, HEAD`) by default, `[]` (empty) for a
   * URL that only writes (an upload, a yank, a deletion). The message says why: `repository "x" is a read-only proxy; <verb> to a hosted
   * repository` or `group "x" has no hosted member to <verb> to` (`verb` defaults to "write").
   * Each format's HTTP layer maps the error to its own wire shape; `protocolCode` carries a
   * protocol's own code (OCI `UNSUPPORTED`). Authorization stays with the caller: formats differ
   * on whether a principal refused on `repo` learns of the 405 (maven, raw, helm and OCI check
   * `repo` first; cargo, pypi, npm and go answer 405 first).
   */
  requireWriteTarget(
    repo: Repository,
    options: {
      readonly verb?: string;
      readonly protocolCode?: string;
      readonly allow?: readonly string[];
    } = {},
  ): Repository {
    const target = this.writeTarget(repo);
    if (target !== undefined) {
      // The audit line of the request names the member a group's write lands in (`member`).
      noteWriteTarget(target.name);
      return target;
    }
    const verb = options.verb ?? 'write';
    throw methodNotAllowed(
      repo.kind === 'proxy'
        ? `repository "${repo.name}" is a read-only proxy; ${verb} to a hosted repository`
        : `group "${repo.name}" has no hosted member to ${verb} to`,
      options.allow ?? ['GET'],
      options.protocolCode === undefined ? {} : { protocolCode: options.protocolCode },
    );
  }
}
