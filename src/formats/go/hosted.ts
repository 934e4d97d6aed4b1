/**
 * Hosted Go module repositories (beyond NORA and Athens, which have none): the GoSource the
 * routes read, and `publish`, which takes one module version as its module zip.
 *
 * Upload (the API `nora go publish` uses; docs/go.md "Hosted modules"):
 *   PUT <mount>/<escaped module>/@v/<escaped version>.zip   body: the module zip
 * The zip streams to a spool file (bounded by `[go] max_zip_size`), is checked by the module
 * zip rules (zip.ts), then its `.mod` is taken from the zip's go.mod (or synthesized as
 * `module <path>` when it has none, as the `go` command does) and its `.info` made
 * (`Time` = the pseudo-version's timestamp, else the upload time). Blobs are committed, then one
 * row; any failure leaves no row (a committed blob without a row is an unreferenced blob the
 * garbage collection removes). A version is immutable: an upload of other bytes gets 409; the
 * same zip again (a retried publish) is a success that changes nothing (200); when a stored
 * file of that version is missing, an upload reproducing it stores it again first (repair).
 *
 * An admin deletes a version or a whole module (deleteVersion, deleteModule; delete.ts): rows go,
 * blobs stay for gc.
 *
 * Reads: `list` = tagged versions (no pseudo-versions) sorted; `latest` = the newest release,
 * else the newest prerelease, else the newest pseudo-version, `+incompatible` ones left out when
 * the newest compatible version has its own go.mod (the `go` command's rule for `@latest`,
 * latestOf); `mod`/`zip` open the blobs (ranged).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { digestOf, parseDigest } from '../../core/digest.ts';
import { methodNotAllowed, RegistryError } from '../../core/errors.ts';
import { limitBytes } from '../../core/streams.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { GoTables } from './migrations.ts';
import type { GoSource, OpenedModuleFile, VersionInfo, VersionList } from './model.ts';
import {
  checkModuleVersion,
  compareSemver,
  impossiblePseudoTimestamp,
  isPseudoVersion,
  pseudoVersionTime,
  semverPrerelease,
  sortVersions,
} from './module.ts';
import { GoStore, type StoredVersion, versionExistsError } from './store.ts';
import { checkModuleZip } from './zip.ts';

export interface GoHostedOptions {
  readonly db: Kysely<GoTables>;
  readonly blobs: BlobStore;
  /** Largest module zip accepted, bytes (read per upload: `[go] max_zip_size` may change). */
  readonly maxZipSize: () => number;
  /** Clock (tests). */
  readonly now?: () => number;
}

/** What a successful publish answers (the routes send it as plain text or JSON). */
export interface PublishResult {
  readonly module: string;
  readonly version: string;
  readonly info: VersionInfo;
  readonly zipSize: number;
  readonly zipSha256: string;
  readonly modSize: number;
  readonly files: number;
  /** True when the version was already stored with these exact bytes (a retried publish). */
  readonly unchanged: boolean;
  /** The version's files missing from storage that this upload stored again (`.zip`, `.mod`). */
  readonly restored: readonly string[];
}

/** "its .zip missing from storage was stored again" (for the answers of a repairing upload). */
export function restoredText(restored: readonly string[]): string {
  return `its ${restored.join(' and ')} missing from storage ${restored.length === 1 ? 'was' : 'were'} stored again`;
}

/** A hosted module as reads need it, built once per generation (see GoHosted#moduleOf). */
interface HostedModule {
  readonly versions: ReadonlyMap<string, StoredVersion>;
  /** `@v/list` (tagged versions, sorted); undefined when the module has none stored. */
  readonly list: VersionList | undefined;
  readonly latest: VersionInfo | undefined;
}

/** What one hosted repository holds, as last read from SQL (see GoHosted#state). */
interface RepoState {
  /** Every module path with a version (one query for the whole repository). */
  readonly modules: ReadonlySet<string>;
  /**
   * Every module path in `modules` and each of its leading path prefixes (`corp.example.com`,
   * `corp.example.com/t7` for `corp.example.com/t7/hello`), each with one module path in
   * `modules` it leads to: the index `modulesUnder` and `treeHolder` look up, built once per load
   * (no scan of `modules` per request).
   */
  readonly prefixes: ReadonlyMap<string, string>;
  /** Modules read so far, with their versions (bounded: cleared at MODULES_REMEMBERED). */
  readonly byModule: Map<string, HostedModule>;
}

/** Each path in `modules` and every leading `/`-prefix of it, with a module it leads to. */
function prefixesOf(modules: ReadonlySet<string>): Map<string, string> {
  const prefixes = new Map<string, string>();
  for (const module of modules) prefixes.set(module, module);
  for (const module of modules) {
    for (let cut = module.indexOf('/'); cut > 0; cut = module.indexOf('/', cut + 1)) {
      const prefix = module.slice(0, cut);
      if (!prefixes.has(prefix)) prefixes.set(prefix, module);
    }
  }
  return prefixes;
}

/** Hosted modules whose versions are kept in memory at once, at most. */
const MODULES_REMEMBERED = 10_000;

export class GoHosted implements GoSource {
  readonly store: GoStore;
  readonly #blobs: BlobStore;
  readonly #maxZipSize: () => number;
  readonly #now: () => number;
  /**
   * In-memory copy of go_module_versions, by repository: a read does no SQL once its module (or
   * the repository's module set, for a module that is not hosted: the common case in the default
   * group `go`, asked first and by the dependency-confusion guard) has been read. Exact because
   * `publish` (store.add) and an admin's delete (deleteVersion, deleteModule) are the only writers
   * of that table: each bumps #generation and drops the repository's state after its statement
   * has run, and a load stores its result only when no write happened while it ran (a load that
   * read before the commit is thrown away). Nothing else writes the table (no GC of rows;
   * publish-cli goes through HTTP); a config reload changes no row.
   */
  readonly #states = new Map<string, RepoState>();
  #generation = 0;

  constructor(options: GoHostedOptions) {
    this.store = new GoStore(options.db, options.now);
    this.#blobs = options.blobs;
    this.#maxZipSize = options.maxZipSize;
    this.#now = options.now ?? Date.now;
  }

  async #state(repo: string): Promise<RepoState> {
    const known = this.#states.get(repo);
    if (known !== undefined) return known;
    const generation = this.#generation;
    const modules = new Set(await this.store.modules(repo));
    const state: RepoState = { modules, prefixes: prefixesOf(modules), byModule: new Map() };
    if (generation === this.#generation) this.#states.set(repo, state);
    return state;
  }

  /** `module` in `repo` as reads need it; undefined when no version of it is stored. */
  async #moduleOf(repo: string, module: string): Promise<HostedModule | undefined> {
    const generation = this.#generation;
    const state = await this.#state(repo);
    if (!state.modules.has(module)) return undefined;
    const known = state.byModule.get(module);
    if (known !== undefined) return known;
    const rows = await this.store.versions(repo, module);
    const tagged = sortVersions(rows.filter((v) => !v.pseudo).map((v) => v.version));
    // A `.mod` that is the one synthesized for a zip without go.mod is no go.mod (latestOf).
    const legacyMod = `sha256:${createHash('sha256').update(legacyGoMod(module)).digest('hex')}`;
    const newest = latestOf(rows, (v) => v.mod.blob !== legacyMod);
    const built: HostedModule = {
      versions: new Map(rows.map((v) => [v.version, v])),
      list: rows.length === 0 ? undefined : { versions: tagged },
      latest: newest === undefined ? undefined : { Version: newest.version, Time: newest.time },
    };
    if (generation === this.#generation && this.#states.get(repo) === state) {
      if (state.byModule.size >= MODULES_REMEMBERED) state.byModule.clear();
      state.byModule.set(module, built);
    }
    return built;
  }

  async #version(
    repo: string,
    module: string,
    version: string,
  ): Promise<StoredVersion | undefined> {
    return (await this.#moduleOf(repo, module))?.versions.get(version);
  }

  async list(repo: Repository, module: string): Promise<VersionList | undefined> {
    return (await this.#moduleOf(repo.name, module))?.list;
  }

  async info(repo: Repository, module: string, version: string): Promise<VersionInfo | undefined> {
    const v = await this.#version(repo.name, module, version);
    return v === undefined ? undefined : { Version: v.version, Time: v.time };
  }

  async latest(repo: Repository, module: string): Promise<VersionInfo | undefined> {
    return (await this.#moduleOf(repo.name, module))?.latest;
  }

  async mod(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<OpenedModuleFile | undefined> {
    const v = await this.#version(repo.name, module, version);
    return v === undefined ? undefined : this.#opened(v.mod.blob, v.mod.size, v.createdAt);
  }

  async zip(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<OpenedModuleFile | undefined> {
    const v = await this.#version(repo.name, module, version);
    return v === undefined ? undefined : this.#opened(v.zip.blob, v.zip.size, v.createdAt);
  }

  /** True when `repo` holds any version of `module` (the group's dependency-confusion guard). */
  async hasModule(repo: Repository, module: string): Promise<boolean> {
    return (await this.#state(repo.name)).modules.has(module);
  }

  async modulesUnder(repo: Repository, module: string): Promise<readonly string[]> {
    const { modules, prefixes } = await this.#state(repo.name);
    // The common case (a path with nothing hosted at or below it) is one index lookup.
    if (!prefixes.has(module)) return [];
    const below = `${module}/`;
    return [...modules].filter((held) => held === module || held.startsWith(below));
  }

  async treeHolder(repo: Repository, module: string): Promise<string | undefined> {
    const { modules, prefixes } = await this.#state(repo.name);
    const under = prefixes.get(module);
    if (under !== undefined) return under;
    for (let cut = module.lastIndexOf('/'); cut > 0; cut = module.lastIndexOf('/', cut - 1)) {
      const prefix = module.slice(0, cut);
      if (modules.has(prefix)) return prefix;
    }
    return undefined;
  }

  /**
   * Deletes `module@version` (decoded, exact canonical version) from the hosted `repo`: its row
   * goes, its `.mod`/`.zip` blobs stay for gc. When it was the module's last version the module
   * path is no longer hosted here (`moduleDeleted`): a group guarding hosted names asks its
   * proxies for that path's tree again. Throws METHOD_NOT_ALLOWED for a non-hosted repository,
   * BAD_REQUEST for an invalid path or version, NOT_FOUND when the version is not stored.
   */
  async deleteVersion(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<{ readonly deleted: StoredVersion; readonly moduleDeleted: boolean }> {
    checkHosted(repo);
    const err = checkModuleVersion(module, version);
    if (err !== undefined) throw new RegistryError('BAD_REQUEST', err);
    let result;
    try {
      result = await this.store.deleteVersion(repo.name, module, version);
    } finally {
      this.#invalidate(repo.name);
    }
    if (result === undefined) {
      throw new RegistryError(
        'NOT_FOUND',
        (await this.store.hasModule(repo.name, module))
          ? `not found: ${module}@${version} is not a version of ${module} in ${repo.name}`
          : `not found: ${module} is not hosted in ${repo.name}`,
      );
    }
    return result;
  }

  /**
   * Deletes every version of `module` (pseudo-versions included) from the hosted `repo`, as
   * deleteVersion does one. Returns the versions deleted, sorted as `@v/list` sorts. Throws
   * METHOD_NOT_ALLOWED for a non-hosted repository, NOT_FOUND when the module is not hosted.
   */
  async deleteModule(repo: Repository, module: string): Promise<readonly string[]> {
    checkHosted(repo);
    let rows;
    try {
      rows = await this.store.deleteModule(repo.name, module);
    } finally {
      this.#invalidate(repo.name);
    }
    if (rows.length === 0) {
      throw new RegistryError('NOT_FOUND', `not found: ${module} is not hosted in ${repo.name}`);
    }
    return sortVersions(rows.map((v) => v.version));
  }

  /** Drops what reads remember of every repository (`POST /api/v1/admin/reindex`). */
  forgetStates(): void {
    this.#generation++;
    this.#states.clear();
  }

  /** Drops what reads remember of `repo` (after every write of go_module_versions). */
  #invalidate(repo: string): void {
    this.#generation++;
    this.#states.delete(repo);
  }

  /**
   * Stores `module@version` (decoded) from its module zip `body`. Throws RegistryError:
   * METHOD_NOT_ALLOWED for a non-hosted repository, BAD_REQUEST for an invalid path, version or
   * zip, TOO_LARGE past `[go] max_zip_size` (a `contentLength` past it before reading the body), CONFLICT when the version exists with another zip or
   * `.mod` (after storing again the missing files of the version this upload reproduces byte for
   * byte). An upload identical to the stored version (same zip, so same `.mod`) succeeds with
   * `unchanged` (a retried publish; missing files of it are stored again first).
   *
   * `mayProvide`, when given, is called once the zip has passed the module zip rules and before
   * anything is stored (a retry's repair included), with the import paths of the packages the
   * zip provides (`importPathsOf`); it throws to refuse the upload (publish.ts: the publisher must
   * be allowed to write each of them).
   */
  async publish(
    repo: Repository,
    module: string,
    version: string,
    body: Readable,
    uploader: string | undefined,
    contentLength?: number,
    mayProvide?: (packages: readonly PackagePath[]) => void,
  ): Promise<PublishResult> {
    checkHosted(repo);
    const err = checkModuleVersion(module, version);
    if (err !== undefined) throw new RegistryError('BAD_REQUEST', err);
    // A pseudo-version's `.info` Time is its timestamp: one that is no real UTC date (month 13,
    // day 99) is refused, not silently given the upload time (`go` refuses it too).
    const badTimestamp = impossiblePseudoTimestamp(version);
    if (badTimestamp !== undefined) {
      throw new RegistryError(
        'BAD_REQUEST',
        `invalid pseudo-version ${version}: timestamp ${badTimestamp} is not a real UTC date and time (yyyymmddhhmmss)`,
      );
    }
    const maxZipSize = this.#maxZipSize();
    // A declared length past the limit is refused before any byte is read (as raw and Helm do);
    // a chunked body is held to the limit mid-stream below.
    if (contentLength !== undefined && contentLength > maxZipSize) {
      throw new RegistryError(
        'TOO_LARGE',
        `module zip of ${contentLength} bytes exceeds the limit of ${maxZipSize} bytes ([go] max_zip_size)`,
      );
    }
    // A version that exists: the body is read all the same, to tell a retried publish of the same
    // bytes (a success, as PyPI and Maven answer) from another zip under that version (409).
    const existing = await this.store.version(repo.name, module, version);
    const zip = await this.#blobs.spoolHashed(
      'go-upload',
      body,
      limitBytes(maxZipSize, 'module zip', '[go] max_zip_size, NORA_GO_MAX_ZIP_SIZE'),
    );
    const { size } = zip;
    const zipSha256 = zip.digest.hex;
    try {
      // Another zip for a version whose files are all stored: refused without checking it.
      if (
        existing !== undefined &&
        existing.zip.blob !== `sha256:${zipSha256}` &&
        (await this.#whole(existing))
      ) {
        throw versionExistsError(module, version);
      }
      const checked = await checkModuleZip(zip.path, size, module, version, maxZipSize);
      mayProvide?.(importPathsOf(module, checked.packageDirs));
      const modBytes = checked.goMod ?? legacyGoMod(module);
      if (existing !== undefined) {
        return await this.#again(existing, zip.path, zipSha256, size, modBytes, checked.files);
      }
      const mod = await this.#blobs.ingest(Readable.from([modBytes]));
      await this.#blobs.commitFile(zip.path, zip.digest, size);
      const time = pseudoVersionTime(version) ?? rfc3339(this.#now());
      try {
        await this.store.add(repo.name, {
          module,
          version,
          pseudo: isPseudoVersion(version),
          mod: { blob: `sha256:${mod.digest.hex}`, size: mod.size },
          zip: { blob: `sha256:${zipSha256}`, size },
          time,
          uploader,
        });
      } catch (e) {
        // Two uploads of one version at once: the one that lost is answered as a retry would be.
        const raced =
          e instanceof RegistryError && e.code === 'CONFLICT'
            ? await this.store.version(repo.name, module, version)
            : undefined;
        if (raced === undefined) throw e;
        return await this.#again(raced, zip.path, zipSha256, size, modBytes, checked.files);
      } finally {
        // Also after a refused insert: whatever the table says now, reads read it again.
        this.#invalidate(repo.name);
      }
      return {
        module,
        version,
        info: { Version: version, Time: time },
        zipSize: size,
        zipSha256,
        modSize: mod.size,
        files: checked.files,
        unchanged: false,
        restored: [],
      };
    } finally {
      await fs.rm(zip.path, { force: true });
    }
  }

  /** Whether both stored files of `v` (its `.mod` and `.zip`) are in storage. */
  async #whole(v: StoredVersion): Promise<boolean> {
    const [mod, zip] = await Promise.all([
      this.#blobs.stat(parseDigest(v.mod.blob)),
      this.#blobs.stat(parseDigest(v.zip.blob)),
    ]);
    return mod !== undefined && zip !== undefined;
  }

  /**
   * A second upload of `existing` (its zip in `spool`, its `.mod` taken from it): first stores
   * again those of the version's files missing from storage that it reproduces byte for byte
   * (the repair of docs/storage.md), then answers `unchanged` when both its zip and `.mod` are
   * the stored ones, else throws the 409, saying what was put back.
   */
  async #again(
    existing: StoredVersion,
    spool: string,
    zipSha256: string,
    size: number,
    modBytes: Buffer,
    files: number,
  ): Promise<PublishResult> {
    const restored: string[] = [];
    const sameZip = existing.zip.blob === `sha256:${zipSha256}`;
    if (sameZip) {
      const digest = { algorithm: 'sha256' as const, hex: zipSha256 };
      if (await this.#blobs.commitFile(spool, digest, size)) restored.push('.zip');
    }
    const modSha256 = digestOf(modBytes).hex;
    const sameMod = existing.mod.blob === `sha256:${modSha256}`;
    if (sameMod) {
      const digest = { algorithm: 'sha256' as const, hex: modSha256 };
      const mod = await this.#blobs.ingest(Readable.from([modBytes]), { expected: digest });
      if (mod.created) restored.push('.mod');
    }
    if (sameZip && sameMod) {
      return {
        module: existing.module,
        version: existing.version,
        info: { Version: existing.version, Time: existing.time },
        zipSize: size,
        zipSha256,
        modSize: modBytes.length,
        files,
        unchanged: true,
        restored,
      };
    }
    const err = versionExistsError(existing.module, existing.version);
    if (restored.length === 0) throw err;
    throw new RegistryError(
      'CONFLICT',
      `${err.message}; ${restoredText(restored)} from this identical upload`,
    );
  }

  #opened(blob: string, size: number, modifiedAt: number): OpenedModuleFile {
    const digest = parseDigest(blob);
    const bytes = this.#blobs.hosted(digest, 'go');
    return {
      size,
      sha256: digest.hex,
      modifiedAt,
      open: (range?: ReadRange): Promise<Readable> =>
        bytes.open(range === undefined ? undefined : { ...range }),
      present: () => bytes.present(),
    };
  }
}

/**
 * The version `@latest` answers among `versions`: the newest release (not a prerelease, not a
 * pseudo-version), else the newest prerelease, else the newest pseudo-version; undefined when
 * empty. `+incompatible` versions are left out when the newest compatible tagged version (no
 * `+incompatible`, prereleases included) has a go.mod of its own (`hasGoMod`: the module opted
 * into modules), else they compete by SemVer — the `go` command's rule (cmd/go/internal/modload
 * query.go `filterVersions`, `versionHasGoMod`: a `.mod` synthesized as `module <path>` for a
 * version without go.mod does not count).
 */
export function latestOf<T extends { readonly version: string; readonly pseudo: boolean }>(
  versions: readonly T[],
  hasGoMod: (v: T) => boolean,
): T | undefined {
  const newest = (pick: (v: T) => boolean): T | undefined => {
    let best: T | undefined;
    for (const v of versions) {
      if (!pick(v)) continue;
      if (best === undefined || compareSemver(v.version, best.version) > 0) best = v;
    }
    return best;
  };
  const incompatible = (v: T): boolean => v.version.endsWith('+incompatible');
  const lastCompatible = newest((v) => !v.pseudo && !incompatible(v));
  const skipIncompatible = lastCompatible !== undefined && hasGoMod(lastCompatible);
  const tagged = (v: T): boolean => !v.pseudo && !(skipIncompatible && incompatible(v));
  return (
    newest((v) => tagged(v) && semverPrerelease(v.version) === '') ??
    newest(tagged) ??
    newest(() => true)
  );
}

/** A package a module zip provides: its directory in the zip and its import path. */
export interface PackagePath {
  /** Slash path relative to the module root; `''` for the root. */
  readonly dir: string;
  /** `<module>/<dir>` (the module path itself for the root), spelled as the module path is. */
  readonly importPath: string;
}

/**
 * The import paths of the packages in `dirs` (zip.ts `packageDirs`) of `module` (decoded, as
 * the URL and `[[auth.rules]]` spell it): `go` resolves `<module>/<dir>` to that directory of
 * any module in the build whose path is a prefix of the import path.
 */
export function importPathsOf(module: string, dirs: readonly string[]): PackagePath[] {
  return dirs.map((dir) => ({ dir, importPath: dir === '' ? module : `${module}/${dir}` }));
}

/** The stored row of the newest version (exported for tests). */
export type { StoredVersion };

/** The `.mod` of a version whose zip has no go.mod, as the `go` command synthesizes it (modfetch.LegacyGoMod). */
function legacyGoMod(module: string): Buffer {
  return Buffer.from(`module ${quotePath(module)}\n`);
}

/** go.mod's AutoQuote: quote a module path only when it needs it (it never does once valid). */
function quotePath(module: string): string {
  return /^[\w.~/+-]+$/.test(module) ? module : JSON.stringify(module);
}

/** RFC 3339 in UTC without fractional seconds (`2026-12-01T10:26:17Z`), as proxies write it. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Refuses a write to a repository that is not hosted (a guard: publish.ts and delete.ts write to
 * `requireWriteTarget`'s hosted repository, whose 405 a proxy or a group answers first). The
 * URLs written (`.zip`, `@v/list`) are read with GET there, so `Allow: GET, HEAD`.
 */
function checkHosted(repo: Repository): void {
  if (repo.kind !== 'hosted') {
    throw methodNotAllowed(
      `repository ${repo.name} is a ${repo.kind} repository; modules are published to a hosted one`,
      ['GET'],
    );
  }
}
