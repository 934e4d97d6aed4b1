/**
 * Helm group repositories, read through the shared GroupReader (src/repos/group-read.ts):
 *
 * - index.yaml: every member's index merged: all chart versions, a version two members have
 *   taken from the first (member order); so is a file name two charts spell alike. A member whose upstream fails is "not here" (its part
 *   is missing, the merge is answered but not kept). The merged snapshot is kept per the members'
 *   keys, so a warm read merges nothing.
 * - Charts: the first member that has the version answers.
 * - The dependency-confusion guard (`protect_hosted_names`): a chart name a hosted member holds
 *   is served (index entries and archives) from hosted members only.
 */
import { RegistryError } from '../../core/errors.ts';
import type { GroupDeps } from '../../repos/group-read.ts';
import { hostedNameGuard, missNote } from '../../repos/group-read.ts';
import type { Members, Repository, Reservation } from '../../repos/repository.ts';
import { chartFilename } from './chart.ts';
import { sortEntries } from './index-render.ts';
import type { HelmSource, IndexSnapshot, OpenedChartFile, SnapshotEntry } from './model.ts';

export interface HelmGroupDeps extends GroupDeps<HelmSource> {
  /** RepositoryRegistry.answeringEpoch: changes when new rules may pick other members. */
  readonly answeringEpoch: () => number;
  /** True when `name` was ever published in a hosted member (deleted since or not). */
  readonly hostedHas: (member: Repository, name: string) => Promise<boolean>;
  /** Every name ever published in a hosted member (deleted since or not). */
  readonly hostedNames: (member: Repository) => Promise<ReadonlySet<string>>;
}

export class HelmGroup implements HelmSource {
  readonly #deps: HelmGroupDeps;
  readonly #merged = new Map<string, IndexSnapshot>();

  constructor(deps: HelmGroupDeps) {
    this.#deps = deps;
  }

  async index(group: Repository): Promise<IndexSnapshot | undefined> {
    const members = this.#deps.membersOf(group);
    const { answers, failures } = await this.#deps.reader.all(group, members, (member) =>
      this.#deps.sourceOf(member).index(member),
    );
    if (answers.length === 0) {
      if (failures.length > 0) {
        throw new RegistryError('NOT_FOUND', `index.yaml not available${missNote(failures)}`);
      }
      return undefined;
    }
    // The epoch: new rules may pick other members for a chart name (membersOf(group, name)).
    const key = `group:${group.name}:${group.protectHostedNames}:${this.#deps.answeringEpoch()}:${answers.map((a) => a.value.key).join('|')}`;
    const known = this.#merged.get(group.name);
    const stale = answers.some((a) => a.value.stale === true);
    if (known && known.key === key && failures.length === 0)
      return stale ? { ...known, stale } : known;
    const seen = new Set<string>();
    // Chart name → the first hosted member holding it.
    const hostedNames = new Map<string, string>();
    if (group.protectHostedNames) {
      for (const { member } of answers) {
        // Names ever published, not only those with versions now: deleting the last hosted
        // version must not hand the name back to a proxy (dependency confusion).
        if (member.kind !== 'hosted') continue;
        for (const name of await this.#deps.hostedNames(member)) {
          if (!hostedNames.has(name)) hostedNames.set(name, member.name);
        }
      }
    }
    // A chart name a member reserved lists that member's versions only (membersOf(group, name)).
    const answering = new Map<string, Members>();
    const answersFor = (name: string): Members => {
      let list = answering.get(name);
      if (list === undefined) {
        list = this.#deps.membersOf(group, name);
        answering.set(name, list);
      }
      return list;
    };
    // What was left out per name, for the note of its 404s (IndexSnapshot.withheld).
    const left = new Map<string, { kept: string[]; hosted?: string; reserved?: Reservation }>();
    const leave = (name: string): { kept: string[]; hosted?: string; reserved?: Reservation } => {
      let out = left.get(name);
      if (out === undefined) left.set(name, (out = { kept: [] }));
      return out;
    };
    const entries: SnapshotEntry[] = [];
    let modifiedAt = 0;
    let validUntil = failures.length > 0 ? 0 : Infinity;
    for (const { member, value } of answers) {
      validUntil = Math.min(validUntil, value.validUntil);
      modifiedAt = Math.max(modifiedAt, value.modifiedAt);
      const hosted = member.kind === 'hosted';
      for (const entry of value.entries) {
        const holder =
          hosted || !group.protectHostedNames ? undefined : hostedNames.get(entry.name);
        if (holder !== undefined) {
          const out = leave(entry.name);
          out.hosted = holder;
          if (!out.kept.includes(member.name)) out.kept.push(member.name);
          continue;
        }
        const list = answersFor(entry.name);
        if (!list.some((m) => m.name === member.name)) {
          if (list.reserved !== undefined) leave(entry.name).reserved = list.reserved;
          continue;
        }
        // One entry per file name: two charts whose files are spelt alike (`app` 1.2.3-x-0.1.0
        // and `app-1.2.3-x` 0.1.0, from different members) would share one URL.
        const id = chartFilename(entry.name, entry.version);
        if (seen.has(id)) continue;
        seen.add(id);
        entries.push(entry);
      }
    }
    // One member's entries arrive sorted; a merge of several needs one sort.
    if (answers.length > 1) sortEntries(entries);
    const withheld = new Map<string, string>();
    for (const [name, out] of left) {
      const kept =
        out.hosted === undefined
          ? undefined
          : { group: group.name, name, hosted: out.hosted, held: name, members: out.kept };
      withheld.set(name, missNote([], kept, out.reserved));
    }
    const merged: IndexSnapshot = {
      key,
      validUntil,
      entries,
      modifiedAt,
      ...(withheld.size === 0 ? {} : { withheld }),
    };
    if (failures.length === 0) this.#merged.set(group.name, merged);
    return stale ? { ...merged, stale } : merged;
  }

  async openChart(
    group: Repository,
    name: string,
    version: string,
    prov: boolean,
  ): Promise<OpenedChartFile | undefined> {
    // The members that may answer for the chart (one a member reserved is that member's).
    const members = this.#deps.membersOf(group, name);
    const file = chartFilename(name, version) + (prov ? '.prov' : '');
    return this.#deps.reader.first(
      group,
      members,
      (member) => this.#deps.sourceOf(member).openChart(member, name, version, prov),
      (note) => new RegistryError('NOT_FOUND', `${file} not found${note}`),
      hostedNameGuard(group, members, name, (member) => this.#deps.hostedHas(member, name)),
    );
  }
}
