/**
 * A group repository read as one: members are asked in order and the first that has the content
 * answers; listings (tags, catalog, referrers) are merged. The shared group rule
 * (src/repos/group-read.ts) applies to every read: a member whose upstream fails counts as "not
 * here" (a total miss is the OCI 404 naming the failed upstream, never a 502), and an image name
 * with a manifest in a hosted member takes its tags and manifests-by-tag from hosted members only
 * (`protect_hosted_names`; blob links alone do not count). Reads by digest are not guarded: the bytes are what was asked for.
 * Every read of an image asks only the members that may answer for its name: a name a rule on a
 * member reserved is read from that member alone (RepositoryRegistry.membersOf).
 */
import type { GroupReader, NameGuard } from '../../repos/group-read.ts';
import { hostedNameGuard } from '../../repos/group-read.ts';
import type { Members, Repository } from '../../repos/repository.ts';
import type {
  BlobHandle,
  Descriptor,
  ManifestContent,
  ManifestInfo,
  OciBackend,
} from './backend.ts';
import { blobUnknown, manifestUnknown, nameUnknown } from './hosted.ts';
import type { Reference } from './reference.ts';

export class GroupBackend implements OciBackend {
  readonly repository: Repository;
  readonly #members: (name?: string) => Members<OciBackend>;
  readonly #reader: GroupReader;

  /**
   * `members(name)`: the member backends that may answer for the image `name` (the rule path:
   * RepositoryRegistry.membersOf, a name a member reserved is that member's alone); without a
   * name (the catalog) every member.
   */
  constructor(
    repository: Repository,
    members: (name?: string) => Members<OciBackend>,
    reader: GroupReader,
  ) {
    this.repository = repository;
    this.#members = members;
    this.#reader = reader;
  }

  /** The members this group may read by tag for `name` (see protect_hosted_names). */
  #guard(name: string): NameGuard<OciBackend> {
    return hostedNameGuard(
      this.repository,
      this.#members(name),
      name,
      // A manifest, not blob links alone: a name whose pushed manifests were all deleted goes
      // back to the proxies (trial 25 fmts F3).
      async (member) =>
        member.holds !== undefined
          ? member.holds(name)
          : (await member.listTags(name)) !== undefined,
    );
  }

  getManifest(name: string, reference: Reference): Promise<ManifestContent | undefined> {
    return this.#reader.first(
      this.repository,
      this.#members(name),
      (m) => m.getManifest(name, reference),
      (note) => manifestUnknown(reference, note),
      reference.kind === 'tag' ? this.#guard(name) : undefined,
    );
  }

  statManifest(name: string, reference: Reference): Promise<ManifestInfo | undefined> {
    return this.#reader.first(
      this.repository,
      this.#members(name),
      (m) => m.statManifest(name, reference),
      (note) => manifestUnknown(reference, note),
      reference.kind === 'tag' ? this.#guard(name) : undefined,
    );
  }

  getBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    return this.#reader.first(
      this.repository,
      this.#members(name),
      (m) => m.getBlob(name, digest),
      (note) => blobUnknown(digest, note),
    );
  }

  statBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    return this.#reader.first(
      this.repository,
      this.#members(name),
      (m) => m.statBlob(name, digest),
      (note) => blobUnknown(digest, note),
    );
  }

  async listTags(name: string): Promise<readonly string[] | undefined> {
    const answers = await this.#reader.some(
      this.repository,
      this.#members(name),
      (m) => m.listTags(name),
      (note) => nameUnknown(name, note),
      this.#guard(name),
    );
    if (answers === undefined) return undefined;
    const tags = new Set<string>();
    for (const { value } of answers) for (const tag of value) tags.add(tag);
    return [...tags].sort(compare);
  }

  async catalog(): Promise<readonly string[]> {
    const { answers } = await this.#reader.all(this.repository, this.#members(), (m) =>
      m.catalog(),
    );
    const names = new Set<string>();
    for (const { value } of answers) for (const name of value) names.add(name);
    return [...names].sort(compare);
  }

  async referrers(name: string, digest: string): Promise<readonly Descriptor[]> {
    const { answers } = await this.#reader.all(this.repository, this.#members(name), (m) =>
      m.referrers(name, digest),
    );
    const seen = new Map<string, Descriptor>();
    for (const { value } of answers) {
      for (const descriptor of value) {
        if (!seen.has(descriptor.digest)) seen.set(descriptor.digest, descriptor);
      }
    }
    return [...seen.values()];
  }
}

/** Byte-wise order (what the spec's "lexical" means and what `last` pagination relies on). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
