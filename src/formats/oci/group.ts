/**
 * A group repository read as one: members are asked in order and the first that has the content
 * answers; listings (tags, catalog, referrers) are merged.
 */
import type { Repository } from '../../repos/repository.ts';
import type {
  BlobHandle,
  Descriptor,
  ManifestContent,
  ManifestInfo,
  OciBackend,
} from './backend.ts';
import type { Reference } from './reference.ts';

export class GroupBackend implements OciBackend {
  readonly repository: Repository;
  readonly #members: readonly OciBackend[];

  constructor(repository: Repository, members: readonly OciBackend[]) {
    this.repository = repository;
    this.#members = members;
  }

  getManifest(name: string, reference: Reference): Promise<ManifestContent | undefined> {
    return this.#first((m) => m.getManifest(name, reference));
  }

  statManifest(name: string, reference: Reference): Promise<ManifestInfo | undefined> {
    return this.#first((m) => m.statManifest(name, reference));
  }

  getBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    return this.#first((m) => m.getBlob(name, digest));
  }

  statBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    return this.#first((m) => m.statBlob(name, digest));
  }

  async listTags(name: string): Promise<readonly string[] | undefined> {
    let found = false;
    const tags = new Set<string>();
    for (const member of this.#members) {
      const list = await member.listTags(name);
      if (list === undefined) continue;
      found = true;
      for (const tag of list) tags.add(tag);
    }
    return found ? [...tags].sort(compare) : undefined;
  }

  async catalog(): Promise<readonly string[]> {
    const names = new Set<string>();
    for (const member of this.#members) for (const name of await member.catalog()) names.add(name);
    return [...names].sort(compare);
  }

  async referrers(name: string, digest: string): Promise<readonly Descriptor[]> {
    const seen = new Map<string, Descriptor>();
    for (const member of this.#members) {
      for (const descriptor of await member.referrers(name, digest)) {
        if (!seen.has(descriptor.digest)) seen.set(descriptor.digest, descriptor);
      }
    }
    return [...seen.values()];
  }

  async #first<T>(read: (member: OciBackend) => Promise<T | undefined>): Promise<T | undefined> {
    for (const member of this.#members) {
      const value = await read(member);
      if (value !== undefined) return value;
    }
    return undefined;
  }
}

/** Byte-wise order (what the spec's "lexical" means and what `last` pagination relies on). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
