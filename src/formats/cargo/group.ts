/**
 * Cargo group repositories — PLACEHOLDER owned by the cargo-proxy work (branch `cargo-proxy`),
 * which replaces this file. Until then: members in order through the shared GroupReader, the
 * first member with the crate's index file answers it (and its `.crate` files); a crate a hosted
 * member holds is served from hosted members only (`protect_hosted_names`, the
 * dependency-confusion guard).
 */
import { RegistryError } from '../../core/errors.ts';
import { type GroupReader, hostedNameGuard } from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { CargoSource, IndexFile, OpenedCrate } from './model.ts';

export interface CargoGroupDeps {
  readonly reader: GroupReader;
  /** The group's members in read order. */
  readonly membersOf: (group: Repository) => readonly Repository[];
  /** The source answering for one member (hosted or proxy). */
  readonly sourceOf: (member: Repository) => CargoSource;
  /** True when the hosted repository `member` holds crate `name` (lower-cased). */
  readonly hostedHas: (member: Repository, name: string) => Promise<boolean>;
}

export class CargoGroup implements CargoSource {
  readonly #deps: CargoGroupDeps;

  constructor(deps: CargoGroupDeps) {
    this.#deps = deps;
  }

  async indexFile(group: Repository, name: string): Promise<IndexFile | undefined> {
    const members = this.#deps.membersOf(group);
    return this.#deps.reader.first(
      group,
      members,
      (member) => this.#deps.sourceOf(member).indexFile(member, name),
      (note) => new RegistryError('NOT_FOUND', `crate \`${name}\` not found${note}`),
      hostedNameGuard(group, members, (member) => this.#deps.hostedHas(member, name)),
    );
  }

  async openCrate(
    group: Repository,
    name: string,
    version: string,
  ): Promise<OpenedCrate | undefined> {
    const members = this.#deps.membersOf(group);
    return this.#deps.reader.first(
      group,
      members,
      (member) => this.#deps.sourceOf(member).openCrate(member, name, version),
      (note) => new RegistryError('NOT_FOUND', `crate \`${name}\` ${version} not found${note}`),
      hostedNameGuard(group, members, (member) => this.#deps.hostedHas(member, name)),
    );
  }
}
