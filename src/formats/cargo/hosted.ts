/**
 * Hosted Cargo repositories: the CargoSource the routes read (index files derived from the
 * per-version rows, `.crate` files from the blob store), `cargo publish` (publish.ts: the body is
 * verified in a spool file, its same-registry dependencies looked up, then the blob committed,
 * then the version row written — a refused publish stores nothing visible), yank/unyank, an
 * admin's deletion of a crate or version, owners and search (web-api.ts shapes them).
 *
 * Methods take plain values (repository, names, streams); no HTTP framework types. Ownership
 * policy is the caller's (service.ts): publish takes a check run inside the store's transaction.
 */
import type { Readable } from 'node:stream';
import fs from 'node:fs/promises';
import type { Kysely } from 'kysely';
import { formatDigest, parseDigest } from '../../core/digest.ts';
import { methodNotAllowed, RegistryError } from '../../core/errors.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { CargoTables } from './migrations.ts';
import type { CargoSource, IndexFile, OpenedCrate } from './model.ts';
import { canonicalName, checkCrateName, checkCrateVersion } from './names.ts';
import { checkDependencies, receivePublish } from './publish.ts';
import {
  CargoStore,
  type PublishCheck,
  type PublishedName,
  type StoredCrate,
  type StoredVersion,
} from './store.ts';

export interface CargoHostedOptions {
  readonly db: Kysely<CargoTables>;
  readonly blobs: BlobStore;
  /** Largest .crate, bytes (read per publish: `[cargo] max_upload_mb` may change on reload). */
  readonly maxCrateBytes: () => number;
  readonly now?: () => number;
}

/** What a publish stored. */
export interface PublishResult {
  readonly name: string;
  readonly vers: string;
  readonly cksum: string;
}

interface KeptCrate {
  readonly generation: number;
  readonly file: IndexFile | undefined;
  readonly versions: readonly StoredVersion[];
}

/** Index files kept in memory (the most recently read; a few kB each). */
const KEPT_FILES = 1024;

export class CargoHosted implements CargoSource {
  readonly store: CargoStore;
  readonly #blobs: BlobStore;
  readonly #maxCrateBytes: () => number;
  /**
   * `<repo>\n<crate>` → the versions and index file (or its absence) read at store generation
   * `generation`: reused while nothing was written to the crate, so a warm index read or
   * download costs no SQL, and the same IndexFile object lets index-file.ts reuse its rendering.
   */
  readonly #files = new Map<string, KeptCrate>();

  constructor(options: CargoHostedOptions) {
    this.store = new CargoStore(options.db, options.now);
    this.#blobs = options.blobs;
    this.#maxCrateBytes = options.maxCrateBytes;
  }

  /**
   * Forgets every kept crate and name lookup (`POST /api/v1/admin/reindex`): the next read of an
   * index file asks SQL.
   */
  forgetKept(): void {
    this.#files.clear();
    this.store.forgetNames();
  }

  async indexFile(repo: Repository, name: string): Promise<IndexFile | undefined> {
    return (await this.#read(repo, name)).file;
  }

  /** The crate's versions and index file, from memory while the store generation holds. */
  async #read(repo: Repository, name: string): Promise<KeptCrate> {
    const key = `${repo.name}\n${name}`;
    const generation = this.store.generation(repo.name, name);
    const kept = this.#files.get(key);
    if (kept?.generation === generation) return kept;
    // A name never published here (by any spelling) has no versions: the group's guard asks the
    // same question right after, so a proxied crate's first read through a group costs one SQL
    // here, not two. Exact: crate and version rows are inserted by the same transaction. Index
    // files are exact (as crates.io's): another spelling of a crate here has none.
    const published = await this.store.crateName(repo.name, name);
    const versions = published?.name === name ? await this.store.versions(repo.name, name) : [];
    const file: IndexFile | undefined =
      versions.length === 0
        ? undefined
        : { name: versions[0]?.entry.name ?? name, entries: versions.map((v) => v.entry) };
    this.#files.delete(key);
    if (this.#files.size >= KEPT_FILES) {
      const oldest = this.#files.keys().next();
      if (oldest.done !== true) this.#files.delete(oldest.value);
    }
    const entry = { generation, file, versions };
    this.#files.set(key, entry);
    return entry;
  }

  async openCrate(
    repo: Repository,
    name: string,
    version: string,
  ): Promise<OpenedCrate | undefined> {
    // The exact spelling the index gave (`1.0.0+build`): another build of the same key is not it.
    const stored = (await this.#read(repo, name)).versions.find((v) => v.vers === version);
    if (stored === undefined) return undefined;
    const bytes = this.#blobs.hosted(parseDigest(stored.blob), 'cargo');
    return {
      size: stored.size,
      sha256: stored.cksum,
      modifiedAt: stored.publishedAt,
      open: (range?: ReadRange): Promise<Readable> =>
        bytes.open(range === undefined ? undefined : { ...range }),
      present: () => bytes.present(),
    };
  }

  /** True when `name` (lower-cased) was published here: the group's dependency-confusion guard. */
  hasCrate(repo: Repository, name: string): Promise<boolean> {
    return this.store.hasCrate(repo.name, name);
  }

  /**
   * `cargo publish`: reads and verifies `body` (publish.ts), commits the .crate, records the
   * version. `authorize(name)` runs once the metadata names the crate, before the .crate is read;
   * `check(owners)` inside the store transaction. `publisher` becomes a new crate's first owner.
   */
  async publish(
    repo: Repository,
    body: Readable,
    options: {
      readonly publisher: string | undefined;
      /** The publisher becomes the owner of an existing crate that has none (auth on). */
      readonly adoptOwnerless?: boolean;
      readonly authorize: (name: string) => Promise<void> | void;
      readonly check: (name: string) => PublishCheck;
      /**
       * The index file of a crate (lower-cased name) in the registry the client published to,
       * for the dependency check (publish.ts `checkDependencies`); absent: not checked.
       */
      readonly lookupDependency?: (name: string) => Promise<IndexFile | undefined>;
      /** The body's declared length (Content-Length), when known. */
      readonly bodyLength?: number | undefined;
    },
  ): Promise<PublishResult> {
    checkHosted(repo);
    const received = await receivePublish(body, {
      maxCrateBytes: this.#maxCrateBytes(),
      spoolPath: () => this.#blobs.spoolPath('cargo-publish'),
      authorize: options.authorize,
      bodyLength: options.bodyLength,
    });
    const { metadata, entry } = received;
    let blob: string;
    try {
      if (options.lookupDependency !== undefined) {
        await checkDependencies(metadata, options.lookupDependency);
      }
      // Ownership and existing versions are refused before committing bytes (the transaction
      // checks both again), so a refused publish leaves no blob behind.
      const name = metadata.name.toLowerCase();
      if ((await this.store.crate(repo.name, name)) !== undefined) {
        options.check(metadata.name)(await this.store.owners(repo.name, name));
      }
      const existing = await this.store.version(repo.name, name, received.version.key);
      const digest = { algorithm: 'sha256' as const, hex: received.sha256 };
      if (existing !== undefined) {
        // The same .crate again: still refused (versions are immutable; Cargo has no delete), but
        // its bytes are stored again when missing (removed after failing the integrity check,
        // docs/storage.md), so the publisher's re-publish is how a hosted crate is repaired.
        if (existing.blob === formatDigest(digest)) {
          await this.#blobs.commitFile(received.spool, digest, received.size);
        }
        throw new RegistryError(
          'CONFLICT',
          `crate version \`${metadata.name}@${existing.vers}\` already exists`,
        );
      }
      await this.#blobs.commitFile(received.spool, digest, received.size);
      blob = formatDigest(digest);
    } finally {
      await fs.rm(received.spool, { force: true });
    }
    await this.store.publish(
      repo.name,
      canonicalName(metadata.name),
      {
        displayName: metadata.name,
        versionKey: received.version.key,
        entry,
        size: received.size,
        blob,
        description: metadata.description ?? undefined,
        keywords: metadata.keywords,
        publisher: options.publisher,
        adoptOwnerless: options.adoptOwnerless === true,
      },
      options.check(metadata.name),
    );
    return { name: metadata.name, vers: metadata.vers, cksum: received.sha256 };
  }

  /**
   * Yanks or unyanks `version` (exact SemVer; by precedence) of the crate `name` spells
   * (canonically, see crate()). NOT_FOUND when absent.
   */
  async setYanked(repo: Repository, name: string, version: string, yanked: boolean): Promise<void> {
    checkHosted(repo);
    const parsed = checkCrateVersion(version);
    const crate = await this.crate(repo, name);
    if (!(await this.store.setYanked(repo.name, crate.name, parsed.key, yanked))) {
      throw new RegistryError(
        'NOT_FOUND',
        `crate \`${crate.displayName}\` does not have a version \`${version}\``,
      );
    }
  }

  /**
   * Deletes the crate `name` spells (any case, `-` or `_`) with every version and its owners
   * (CargoStore.deleteCrate: the `.crate` blobs are left for gc). NOT_FOUND when absent.
   * Returns the crate's name as published and the versions deleted.
   */
  async deleteCrate(
    repo: Repository,
    name: string,
  ): Promise<{ readonly name: string; readonly versions: readonly string[] }> {
    checkHosted(repo);
    const crate = await this.crate(repo, name);
    const versions = await this.store.deleteCrate(repo.name, crate.name);
    // Deleted meanwhile by another request: absent all the same.
    if (versions.length === 0) {
      throw new RegistryError('NOT_FOUND', `crate \`${name}\` does not exist`);
    }
    return { name: crate.displayName, versions };
  }

  /**
   * Deletes `version` (exact SemVer; by precedence, as yank) of the crate `name` spells; the
   * crate goes with its last version (CargoStore.deleteVersion). NOT_FOUND when either is absent.
   * Returns the crate's name as published, the version as published and whether the crate went.
   */
  async deleteVersion(
    repo: Repository,
    name: string,
    version: string,
  ): Promise<{ readonly name: string; readonly vers: string; readonly crateDeleted: boolean }> {
    checkHosted(repo);
    const parsed = checkCrateVersion(version);
    const crate = await this.crate(repo, name);
    const deleted = await this.store.deleteVersion(repo.name, crate.name, parsed.key);
    if (deleted === undefined) {
      throw new RegistryError(
        'NOT_FOUND',
        `crate \`${crate.displayName}\` does not have a version \`${version}\``,
      );
    }
    return { name: crate.displayName, ...deleted };
  }

  /**
   * The name as published of the crate `name` spells here in any case and `-`/`_` (crates.io's
   * canonical name), or undefined. Every web API request finds its crate through this (crate()
   * for hosted repositories, service.ts for downloads); the sparse index stays exact.
   */
  crateName(repo: Repository, name: string): Promise<PublishedName | undefined> {
    return this.store.crateName(repo.name, name);
  }

  /**
   * The crate row of the crate `name` spells (any case, `-` or `_`: `bob-crate` is the crate
   * published as `bob_crate`); NOT_FOUND when no spelling of it was published here.
   */
  async crate(repo: Repository, name: string): Promise<StoredCrate> {
    checkCrateName(name);
    const published = await this.store.crateName(repo.name, name);
    const crate =
      published === undefined ? undefined : await this.store.crate(repo.name, published.name);
    if (crate === undefined) {
      throw new RegistryError('NOT_FOUND', `crate \`${name}\` does not exist`);
    }
    return crate;
  }

  async owners(repo: Repository, name: string): Promise<string[]> {
    const crate = await this.crate(repo, name);
    return this.store.owners(repo.name, crate.name);
  }

  /** The owners API's users: login and stable id, in the order they were added. */
  async ownerUsers(repo: Repository, name: string): Promise<{ id: number; login: string }[]> {
    const crate = await this.crate(repo, name);
    return this.store.ownerUsers(repo.name, crate.name);
  }

  /** Adds owners; returns the crate's name as published. */
  async addOwners(repo: Repository, name: string, logins: readonly string[]): Promise<string> {
    checkHosted(repo, ['GET']);
    const crate = await this.crate(repo, name);
    await this.store.addOwners(repo.name, crate.name, logins);
    return crate.displayName;
  }

  /**
   * Removes owners (see CargoStore.removeOwners: `publishers`, given the crate's name as
   * published, are the owners one of whom must stay); returns the crate's name as published.
   */
  async removeOwners(
    repo: Repository,
    name: string,
    logins: readonly string[],
    publishers?: (
      crate: string,
      owners: readonly string[],
    ) => Promise<Parameters<CargoStore['removeOwners']>[3]>,
  ): Promise<string> {
    checkHosted(repo, ['GET']);
    const crate = await this.crate(repo, name);
    const guard =
      publishers === undefined
        ? undefined
        : await publishers(crate.displayName, await this.store.owners(repo.name, crate.name));
    await this.store.removeOwners(repo.name, crate.name, logins, guard);
    return crate.displayName;
  }

  search(repo: Repository, query: string, limit: number) {
    return this.store.search(repo.name, query, limit);
  }

  /** See CargoStore.maxUnyankedVersions. */
  maxUnyankedVersions(repo: Repository, names: readonly string[]) {
    return this.store.maxUnyankedVersions(repo.name, names);
  }
}

/**
 * Refuses a change to a repository that is not hosted (a guard: service.ts writes to
 * `requireWriteTarget`'s hosted repository, and routes.ts gives that 405 its URL's `Allow`).
 * `allowed` is what the changed URL still serves there: nothing for a publish, a yank or a
 * deletion (an empty `Allow`, RFC 9110 §10.2.1), GET for a crate's owners.
 */
function checkHosted(repo: Repository, allowed: readonly string[] = []): void {
  if (repo.kind !== 'hosted') {
    throw methodNotAllowed(
      `repository ${repo.name} is a ${repo.kind} repository; publishes and changes go to a hosted one`,
      allowed,
    );
  }
}
