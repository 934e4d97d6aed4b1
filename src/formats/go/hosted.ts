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
 * garbage collection removes). A version is immutable: a second upload gets 409.
 *
 * Reads: `list` = tagged versions (no pseudo-versions) sorted; `latest` = the newest release,
 * else the newest prerelease, else the newest pseudo-version (the `go` command's order for
 * `@latest`); `mod`/`zip` open the blobs (ranged).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import { parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { limitBytes } from '../../core/streams.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { GoTables } from './migrations.ts';
import type { GoSource, OpenedModuleFile, VersionInfo, VersionList } from './model.ts';
import {
  checkModuleVersion,
  compareSemver,
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
}

export class GoHosted implements GoSource {
  readonly store: GoStore;
  readonly #blobs: BlobStore;
  readonly #maxZipSize: () => number;
  readonly #now: () => number;

  constructor(options: GoHostedOptions) {
    this.store = new GoStore(options.db, options.now);
    this.#blobs = options.blobs;
    this.#maxZipSize = options.maxZipSize;
    this.#now = options.now ?? Date.now;
  }

  async list(repo: Repository, module: string): Promise<VersionList | undefined> {
    const versions = await this.store.versions(repo.name, module);
    if (versions.length === 0) return undefined;
    return { versions: sortVersions(versions.filter((v) => !v.pseudo).map((v) => v.version)) };
  }

  async info(repo: Repository, module: string, version: string): Promise<VersionInfo | undefined> {
    const v = await this.store.version(repo.name, module, version);
    return v === undefined ? undefined : { Version: v.version, Time: v.time };
  }

  async latest(repo: Repository, module: string): Promise<VersionInfo | undefined> {
    const newest = latestOf(await this.store.versions(repo.name, module));
    return newest === undefined ? undefined : { Version: newest.version, Time: newest.time };
  }

  async mod(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<OpenedModuleFile | undefined> {
    const v = await this.store.version(repo.name, module, version);
    return v === undefined ? undefined : this.#opened(v.mod.blob, v.mod.size);
  }

  async zip(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<OpenedModuleFile | undefined> {
    const v = await this.store.version(repo.name, module, version);
    return v === undefined ? undefined : this.#opened(v.zip.blob, v.zip.size);
  }

  /** True when `repo` holds any version of `module` (the group's dependency-confusion guard). */
  hasModule(repo: Repository, module: string): Promise<boolean> {
    return this.store.hasModule(repo.name, module);
  }

  /**
   * Stores `module@version` (decoded) from its module zip `body`. Throws RegistryError:
   * METHOD_NOT_ALLOWED for a non-hosted repository, BAD_REQUEST for an invalid path, version or
   * zip, TOO_LARGE past `[go] max_zip_size`, CONFLICT when the version exists.
   */
  async publish(
    repo: Repository,
    module: string,
    version: string,
    body: Readable,
    uploader: string | undefined,
  ): Promise<PublishResult> {
    checkHosted(repo);
    const err = checkModuleVersion(module, version);
    if (err !== undefined) throw new RegistryError('BAD_REQUEST', err);
    // Refuse before reading the body: the usual case of a re-run publish.
    if ((await this.store.version(repo.name, module, version)) !== undefined) {
      throw versionExistsError(module, version);
    }
    const maxZipSize = this.#maxZipSize();
    const spool = await this.#blobs.spoolPath('go-upload');
    try {
      const hash = createHash('sha256');
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(
        body,
        limitBytes(maxZipSize, 'module zip'),
        tap,
        createWriteStream(spool, { flags: 'wx' }),
      );
      const zipSha256 = hash.digest('hex');
      const checked = await checkModuleZip(spool, size, module, version, maxZipSize);
      const modBytes = checked.goMod ?? Buffer.from(`module ${quotePath(module)}\n`);
      const mod = await this.#blobs.ingest(Readable.from([modBytes]));
      await this.#blobs.commitFile(spool, { algorithm: 'sha256', hex: zipSha256 }, size);
      const time = pseudoVersionTime(version) ?? rfc3339(this.#now());
      await this.store.add(repo.name, {
        module,
        version,
        pseudo: isPseudoVersion(version),
        mod: { blob: `sha256:${mod.digest.hex}`, size: mod.size },
        zip: { blob: `sha256:${zipSha256}`, size },
        time,
        uploader,
      });
      return {
        module,
        version,
        info: { Version: version, Time: time },
        zipSize: size,
        zipSha256,
        modSize: mod.size,
        files: checked.files,
      };
    } finally {
      await fs.rm(spool, { force: true });
    }
  }

  #opened(blob: string, size: number): OpenedModuleFile {
    const digest = parseDigest(blob);
    return {
      size,
      sha256: digest.hex,
      open: (range?: ReadRange): Promise<Readable> =>
        this.#blobs.open(digest, range === undefined ? undefined : { ...range }),
    };
  }
}

/**
 * The version `@latest` answers among `versions`: the newest release (not a prerelease, not a
 * pseudo-version), else the newest prerelease, else the newest pseudo-version; undefined when
 * empty. A `+incompatible` release loses to any compatible one, as in the `go` command.
 */
export function latestOf<T extends { readonly version: string; readonly pseudo: boolean }>(
  versions: readonly T[],
): T | undefined {
  const newest = (pick: (v: T) => boolean): T | undefined => {
    let best: T | undefined;
    for (const v of versions) {
      if (!pick(v)) continue;
      if (best === undefined || compareSemver(v.version, best.version) > 0) best = v;
    }
    return best;
  };
  const release = (v: T): boolean => !v.pseudo && semverPrerelease(v.version) === '';
  return (
    newest((v) => release(v) && !v.version.endsWith('+incompatible')) ??
    newest(release) ??
    newest((v) => !v.pseudo) ??
    newest(() => true)
  );
}

/** The stored row of the newest version (exported for tests). */
export type { StoredVersion };

/** go.mod's AutoQuote: quote a module path only when it needs it (it never does once valid). */
function quotePath(module: string): string {
  return /^[\w.~/+-]+$/.test(module) ? module : JSON.stringify(module);
}

/** RFC 3339 in UTC without fractional seconds (`2026-12-01T10:26:17Z`), as proxies write it. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function checkHosted(repo: Repository): void {
  if (repo.kind !== 'hosted') {
    throw new RegistryError(
      'METHOD_NOT_ALLOWED',
      `repository ${repo.name} is a ${repo.kind} repository; modules are published to a hosted one`,
    );
  }
}
