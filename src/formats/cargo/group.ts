/**
 * Cargo groups (DESIGN.md §4): hosted and proxied crates behind one sparse index, read through
 * the shared GroupReader so the group rule and the dependency-confusion guard are the ones every
 * format keeps (src/repos/group-read.ts):
 *
 * - index file: the merge of the members' index files in member order, one entry per version
 *   (SemVer precedence: `1.0.0+a` and `1.0.0+b` are one version; the first member listing it
 *   wins), in the order the members list them; a member that fails (upstream down) is "not here";
 *   404 naming the failures only when no member has the crate;
 * - the guard (`protect_hosted_names`): a crate a hosted member holds is served from hosted
 *   members only, so an upstream can never add versions to a private name;
 * - `.crate` reads: the first member (the guard applied) whose index file lists the version, so
 *   a file is always served by the member whose index named it (and its `cksum` is the one the
 *   client was given);
 * - the `registry` field of dependencies. A crate published to a hosted member that depends on a
 *   crates.io crate carries `registry: "https://github.com/rust-lang/crates.io-index"` in its
 *   index line (Cargo writes the dependency's registry when it is not the one published to).
 *   Served as is, Cargo would fetch that dependency from crates.io itself: unreachable on an
 *   air-gapped host, and outside the group's guard. A group that has a proxy member stands for
 *   crates.io: in the lines of its hosted members, a `registry` naming crates.io's index (any of
 *   its spellings) or the upstream of one of the group's proxy members is removed, which makes
 *   the dependency "this registry", i.e. the group, where the proxy member answers for it. This
 *   works whether the client uses the group as a named registry or replaces crates-io with it
 *   (`[source.crates-io] replace-with`, where a dependency of the replaced source resolves through
 *   the replacement either way). Dependencies on any other registry are left as they are.
 */
import { RegistryError } from '../../core/errors.ts';
import {
  type GroupDeps,
  hostedNameGuard,
  MergeMemo,
  type NameGuard,
} from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { CargoSource, IndexDependency, IndexEntry, IndexFile, OpenedCrate } from './model.ts';
import { CRATES_IO_INDEX_ALIASES, indexRoot } from './upstream.ts';

export interface CargoGroupDeps extends GroupDeps<CargoSource> {
  /** True when the hosted repository `member` holds crate `name` (lower-cased): the guard's question. */
  readonly hostedHas: (member: Repository, name: string) => Promise<boolean>;
}

/** Merged index files kept (see #merged). */
const KEPT_MERGES = 1024;

/** The version a `vers` stands for under SemVer precedence (build metadata dropped). */
function versionKey(vers: string): string {
  const plus = vers.indexOf('+');
  return plus < 0 ? vers : vers.slice(0, plus);
}

/** A registry URL in one spelling (no `sparse+`, no trailing `/`, lower-cased). */
function registryId(url: string): string {
  const bare = url.startsWith('sparse+') ? url.slice('sparse+'.length) : url;
  return bare.replace(/\/+$/, '').toLowerCase();
}

const CRATES_IO_IDS = new Set(CRATES_IO_INDEX_ALIASES.map(registryId));

/** The CargoSource of group repositories. */
export class CargoGroup implements CargoSource {
  readonly #deps: CargoGroupDeps;
  /**
   * `<group>\n<name>` → the last merge and the member files it was made of: the same member files
   * (sources hand out the same object while unchanged) give the same merged IndexFile object,
   * which the routes' render cache recognises by identity.
   */
  readonly #merges = new MergeMemo<IndexFile, IndexFile>(KEPT_MERGES);
  /**
   * `<group>` → #foreignRegistries' answer and the proxies' `upstreams` arrays it was made from:
   * a config reload replaces a Repository's `upstreams` array (never edits it in place) and the
   * member list needs a restart, so the same arrays mean the same answer.
   */
  readonly #foreign = new Map<
    string,
    {
      readonly upstreams: readonly (readonly unknown[])[];
      readonly ids: ReadonlySet<string> | undefined;
    }
  >();
  /** Hosted entries with their `registry` rewritten, per original entries array. */
  readonly #rewritten = new WeakMap<readonly IndexEntry[], readonly IndexEntry[]>();

  constructor(deps: CargoGroupDeps) {
    this.#deps = deps;
  }

  /**
   * The merged index file (see the module comment; `stale` when an answering member's copy was
   * stale). Undefined when no member has the crate and none failed; NOT_FOUND naming the
   * failures when no member has it and some failed.
   */
  async indexFile(group: Repository, name: string): Promise<IndexFile | undefined> {
    // The members that may answer for the crate (one a member reserved is that member's).
    const members = this.#deps.membersOf(group, name);
    const answers = await this.#deps.reader.some(
      group,
      members,
      (member) => this.#deps.sourceOf(member).indexFile(member, name),
      (note) => notFound(name, note),
      this.#guard(group, members, name),
    );
    if (answers === undefined) return undefined;
    return this.#merged(
      `${group.name}\n${name}`,
      members,
      answers.map(({ member, value }) => ({ member, value })),
    );
  }

  /** The `.crate` from the first allowed member whose index file lists `version`. */
  async openCrate(
    group: Repository,
    name: string,
    version: string,
  ): Promise<OpenedCrate | undefined> {
    const members = this.#deps.membersOf(group, name);
    return this.#deps.reader.first(
      group,
      members,
      async (member) => {
        const source = this.#deps.sourceOf(member);
        const file = await source.indexFile(member, name);
        if (file?.entries.some((entry) => entry.vers === version) !== true) return undefined;
        return source.openCrate(member, name, version);
      },
      (note) => notFound(`${name} ${version}`, note),
      this.#guard(group, members, name),
    );
  }

  #merged(
    key: string,
    members: readonly Repository[],
    answers: readonly { member: Repository; value: IndexFile }[],
  ): IndexFile {
    const parts = answers.map(({ value }) => value);
    const kept = this.#merges.get(key, parts);
    if (kept !== undefined) return kept;
    const foreign = this.#foreignRegistries(key.slice(0, key.indexOf('\n')), members);
    const only = answers.length === 1 ? answers[0] : undefined;
    // One member answered and nothing is rewritten: its own object (its render is reused).
    if (only !== undefined && (only.member.kind !== 'hosted' || foreign === undefined)) {
      return only.value;
    }
    const seen = new Set<string>();
    const entries: IndexEntry[] = [];
    for (const { member, value } of answers) {
      const memberEntries =
        member.kind === 'hosted' && foreign !== undefined
          ? this.#withLocalRegistry(value.entries, foreign)
          : value.entries;
      for (const entry of memberEntries) {
        const version = versionKey(entry.vers);
        if (seen.has(version)) continue;
        seen.add(version);
        entries.push(entry);
      }
    }
    const first = parts[0];
    const stale = parts.some((part) => part.stale === true);
    const file: IndexFile = {
      name: first?.name ?? key.slice(key.indexOf('\n') + 1),
      entries,
      ...(stale ? { stale } : {}),
    };
    this.#merges.set(key, parts, file);
    return file;
  }

  /**
   * The registry ids a dependency of a hosted crate may name and still be served by this group:
   * crates.io's and those of the group's proxy members' upstreams. Undefined when the group has
   * no proxy member (nothing to rewrite to).
   */
  #foreignRegistries(
    group: string,
    members: readonly Repository[],
  ): ReadonlySet<string> | undefined {
    const proxies = members.filter((m) => m.kind === 'proxy');
    const upstreams = proxies.map((p) => p.upstreams);
    const kept = this.#foreign.get(group);
    if (
      kept !== undefined &&
      kept.upstreams.length === upstreams.length &&
      kept.upstreams.every((u, i) => u === upstreams[i])
    ) {
      return kept.ids;
    }
    const ids = this.#foreignIds(proxies);
    this.#foreign.set(group, { upstreams, ids });
    return ids;
  }

  #foreignIds(proxies: readonly Repository[]): ReadonlySet<string> | undefined {
    if (proxies.length === 0) return undefined;
    const ids = new Set(CRATES_IO_IDS);
    for (const proxy of proxies) {
      for (const upstream of proxy.upstreams) {
        ids.add(registryId(upstream.url));
        try {
          ids.add(registryId(indexRoot(upstream.url)));
        } catch {
          // An unparsable URL names nothing.
        }
      }
    }
    return ids;
  }

  /** `entries` with each dependency's `registry` removed when the group serves that registry. */
  #withLocalRegistry(
    entries: readonly IndexEntry[],
    foreign: ReadonlySet<string>,
  ): readonly IndexEntry[] {
    const known = this.#rewritten.get(entries);
    if (known) return known;
    const local = (dep: IndexDependency): boolean =>
      typeof dep.registry === 'string' && foreign.has(registryId(dep.registry));
    const out = entries.map((entry) => {
      if (!entry.deps.some(local)) return entry;
      return {
        ...entry,
        deps: entry.deps.map((dep) => {
          if (!local(dep)) return dep;
          const rest: Record<string, unknown> = { ...dep };
          delete rest['registry'];
          return rest as unknown as IndexDependency;
        }),
      };
    });
    this.#rewritten.set(entries, out);
    return out;
  }

  #guard(group: Repository, members: readonly Repository[], name: string): NameGuard<Repository> {
    return hostedNameGuard(group, members, name, (member) => this.#deps.hostedHas(member, name));
  }
}

function notFound(what: string, note: string): RegistryError {
  return new RegistryError('NOT_FOUND', `not found: ${what}${note}`);
}
