/**
 * Raw group repositories, read through the shared GroupReader (src/repos/group-read.ts):
 * - members: those that may answer for the path (`membersOf(group, path)`: a path a rule on a
 *   member reserved is that member's alone);
 * - files: members in order, the first that has the path answers; a member whose upstream fails
 *   is "not here" (a 404 naming the failure when nobody has it, never a 502);
 * - listings: the pages of every member that has the folder, merged by name (the first member
 *   wins a name present in several), then cut to the page size: each member's page is sorted and
 *   starts after the same cursor, so the merge is exact.
 */
import { RegistryError } from '../../core/errors.ts';
import type { GroupDeps } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type {
  OpenedRawFile,
  RawListing,
  RawListingEntry,
  RawMissNotes,
  RawSource,
} from './model.ts';
import { compareNames } from './store.ts';

export type RawGroupDeps = GroupDeps<RawSource>;

export class RawGroup implements RawSource {
  readonly #deps: RawGroupDeps;

  constructor(deps: RawGroupDeps) {
    this.#deps = deps;
  }

  openFile(
    group: Repository,
    path: string,
    miss?: RawMissNotes,
  ): Promise<OpenedRawFile | undefined> {
    return this.#deps.reader.first(
      group,
      this.#deps.membersOf(group, path),
      (member) => this.#deps.sourceOf(member).openFile(member, path, miss),
      // A proxy member's remembered upstream miss is said first, as service.ts says it.
      (note) =>
        new RegistryError(
          'NOT_FOUND',
          `${path} not found${miss?.missNote === undefined ? '' : `: ${miss.missNote}`}${note}`,
        ),
    );
  }

  async list(
    group: Repository,
    dir: string,
    after: string | undefined,
    limit: number,
  ): Promise<RawListing | undefined> {
    // A folder's path is the rule path of its listing (service.ts); the root is no name.
    const members = this.#deps.membersOf(group, dir === '' ? undefined : dir);
    const { answers } = await this.#deps.reader.all(group, members, (member) =>
      this.#deps.sourceOf(member).list(member, dir, after, limit),
    );
    if (answers.length === 0) return undefined;
    return mergeListings(
      answers.map((a) => a.value),
      limit,
    );
  }
}

/** Merges sorted pages (earlier pages win a name), keeping `limit` entries. */
export function mergeListings(pages: readonly RawListing[], limit: number): RawListing {
  const byName = new Map<string, RawListingEntry>();
  for (const page of pages) {
    for (const entry of page.entries) if (!byName.has(entry.name)) byName.set(entry.name, entry);
  }
  const merged = [...byName.values()].sort((a, b) => compareNames(a.name, b.name));
  return {
    entries: merged.slice(0, limit),
    more: merged.length > limit || pages.some((p) => p.more),
  };
}
