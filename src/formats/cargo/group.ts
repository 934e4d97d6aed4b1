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
 * - the `registry` field of dependencies is served as published, as crates.io's own index does:
 *   a hosted crate's dependency on a crates.io crate names crates.io's index
 *   (`https://github.com/rust-lang/crates.io-index`, which Cargo writes for a dependency from
 *   another registry than the one published to). Cargo then puts that dependency in the
 *   client's crates-io source — the one the client's own `anyhow = "1"` is in — so the hosted
 *   crate and the client share one copy: through the group when the client replaces crates-io
 *   with it (`[source.crates-io] replace-with`), from crates.io when it does not. The group used
 *   to remove the field (making the dependency "this registry"), which split every shared
 *   dependency in two (rustgo F1; docs/cargo.md, Group).
 */
import { RegistryError } from '../../core/errors.ts';
import {
  type GroupDeps,
  hostedNameGuard,
  MergeMemo,
  type NameGuard,
} from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { CargoSource, IndexEntry, IndexFile, OpenedCrate } from './model.ts';

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

/** The CargoSource of group repositories. */
export class CargoGroup implements CargoSource {
  readonly #deps: CargoGroupDeps;
  /**
   * `<group>\n<name>` → the last merge and the member files it was made of: the same member files
   * (sources hand out the same object while unchanged) give the same merged IndexFile object,
   * which the routes' render cache recognises by identity.
   */
  readonly #merges = new MergeMemo<IndexFile, IndexFile>(KEPT_MERGES);
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
      answers.map(({ value }) => value),
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

  #merged(key: string, parts: readonly IndexFile[]): IndexFile {
    // One member answered: its own object (its render is reused).
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only !== undefined) return only;
    const kept = this.#merges.get(key, parts);
    if (kept !== undefined) return kept;
    const seen = new Set<string>();
    const entries: IndexEntry[] = [];
    for (const value of parts) {
      for (const entry of value.entries) {
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

  #guard(group: Repository, members: readonly Repository[], name: string): NameGuard<Repository> {
    return hostedNameGuard(group, members, name, (member) => this.#deps.hostedHas(member, name));
  }
}

function notFound(what: string, note: string): RegistryError {
  return new RegistryError('NOT_FOUND', `not found: ${what}${note}`);
}
