/**
 * Hosted PyPI repositories: the PypiSource the routes read (project list, project pages with
 * sha256, size, requires-python, PEP 592 yanked, PEP 700 upload-time and PEP 658 core metadata;
 * files and `.metadata` from the blob store, ranged), the legacy upload (upload.ts), PEP 592
 * yank/unyank and deletion of a release or a file, and the Warehouse JSON API (json-api.ts).
 *
 * Deleting removes rows only: the bytes stay in the content-addressed blob store (other rows may
 * share them) until a garbage collection finds them unreferenced. A project whose files are all
 * deleted stays known (`hasProject`) but is no longer hosted: a group asks its upstreams for it
 * again (the dependency-confusion guard asks for a file, `projectPage`). A deleted file's name is never accepted again
 * (store.ts `pypi_deleted_files`, the public index's rule): a name keeps meaning one set of bytes.
 *
 * Methods take plain values (repository, names, streams); no HTTP framework types.
 */
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { parseDigest } from '../../core/digest.ts';
import { methodNotAllowed, RegistryError } from '../../core/errors.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { projectJson, versionJson, type FileUrl, type WarehouseJson } from './json-api.ts';
import type { PypiTables } from './migrations.ts';
import type { DistFile, OpenedDistFile, ProjectPage, PypiSource } from './model.ts';
import { checkProjectName } from './names.ts';
import { PypiStore, type StoredFile, type StoredProject } from './store.ts';
import { receiveUpload, type UploadResult } from './upload.ts';
import { parseVersion } from './versions.ts';

export interface PypiHostedOptions {
  readonly db: Kysely<PypiTables>;
  readonly blobs: BlobStore;
  /** Largest upload, bytes (read per upload: `[pypi] max_upload_mb` may change on reload). */
  readonly maxUploadBytes: () => number;
  /** Clock for upload times (tests). */
  readonly now?: () => number;
}

/** What yank/unyank answer (and the routes return as JSON). */
export interface YankResult {
  readonly project: string;
  /** The release as stored (its first file's spelling). */
  readonly version: string;
  readonly yanked: boolean;
  readonly yankedReason: string | null;
}

/** Project pages kept in memory (the most recently read; each is a few hundred kB at most). */
const KEPT_PAGES = 256;

export class PypiHosted implements PypiSource {
  readonly store: PypiStore;
  /**
   * `<repo>\n<project>` → the page (or its absence) and whether the project is known, as read at
   * the store's generation `generation`: reused while nothing was written to the project, so a
   * warm page read costs no SQL and no JSON parsing, and returns the same `files` array (which
   * the render cache recognises by identity).
   */
  readonly #pages = new Map<
    string,
    { readonly generation: number; page?: ProjectPage | undefined; known?: boolean }
  >();
  readonly #blobs: BlobStore;
  readonly #maxUploadBytes: () => number;

  constructor(options: PypiHostedOptions) {
    this.store = new PypiStore(options.db, options.now);
    this.#blobs = options.blobs;
    this.#maxUploadBytes = options.maxUploadBytes;
  }

  /** Normalised names of projects with at least one file, sorted. */
  projectNames(repo: Repository): Promise<readonly string[]> {
    return this.store.projectNames(repo.name);
  }

  /** `project` normalised; undefined when it has no files in `repo`. */
  async projectPage(repo: Repository, project: string): Promise<ProjectPage | undefined> {
    const kept = this.#kept(repo, project);
    if (kept.entry !== undefined && 'page' in kept.entry) return kept.entry.page;
    const stored = await this.store.project(repo.name, project);
    let page: ProjectPage | undefined;
    if (stored !== undefined && stored.files.length > 0) {
      const yanked = new Map(stored.releases.map((r) => [r.versionKey, r.yanked]));
      page = {
        name: stored.name,
        files: stored.files.map((f) => toDistFile(f, yanked.get(f.versionKey) ?? false)),
      };
    }
    this.#keep(kept.key, kept.generation, { page, known: stored !== undefined });
    return page;
  }

  /** The kept entry of `project` when still current (see #pages), and what to keep it under. */
  #kept(repo: Repository, project: string) {
    const key = `${repo.name}\n${project}`;
    const generation = this.store.generation(repo.name, project);
    const entry = this.#pages.get(key);
    return { key, generation, entry: entry?.generation === generation ? entry : undefined };
  }

  #keep(
    key: string,
    generation: number,
    values: { page?: ProjectPage | undefined; known?: boolean },
  ): void {
    const entry = this.#pages.get(key);
    if (entry?.generation === generation) {
      Object.assign(entry, values);
      return;
    }
    this.#pages.delete(key);
    if (this.#pages.size >= KEPT_PAGES) {
      const oldest = this.#pages.keys().next();
      if (oldest.done !== true) this.#pages.delete(oldest.value);
    }
    this.#pages.set(key, { generation, ...values });
  }

  async openFile(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<OpenedDistFile | undefined> {
    const file = await this.store.file(repo.name, project, filename);
    if (file === undefined) return undefined;
    return this.#opened(file.blob, file.sha256, file.size, file.uploadTime);
  }

  /** PEP 658: `<filename>.metadata` of a wheel uploaded here (`filename` is the wheel's). */
  async openCoreMetadata(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<OpenedDistFile | undefined> {
    const file = await this.store.file(repo.name, project, filename);
    if (file?.metadata === undefined) return undefined;
    return this.#opened(
      file.metadata.blob,
      file.metadata.sha256,
      file.metadata.size,
      file.uploadTime,
    );
  }

  /**
   * True when `project` (normalised) was ever uploaded to `repo`, even if deleted since: the
   * group's dependency-confusion guard.
   */
  async hasProject(repo: Repository, project: string): Promise<boolean> {
    const kept = this.#kept(repo, project);
    if (kept.entry?.known !== undefined) return kept.entry.known;
    const known = await this.store.hasProject(repo.name, project);
    this.#keep(kept.key, kept.generation, { known });
    return known;
  }

  /**
   * The legacy upload API (upload.ts `receiveUpload`): `contentType` is the request's header,
   * `body` the request stream, `uploader` the authenticated principal's name (recorded).
   * `authorize`, when given, is called with the normalised project the form names before
   * anything is stored (and early, while the file streams, when `name` comes first); it throws
   * to refuse (access rules per project). `refused`: the caller may not write the repository
   * as a whole; the form is read only until `authorize` can name the project (UploadLimits).
   * `admit`: awaited with the project before anything is stored; rejects to refuse.
   */
  async upload(
    repo: Repository,
    uploader: string | undefined,
    contentType: string | undefined,
    body: Readable,
    authorize?: (project: string) => void,
    refused?: RegistryError,
    admit?: (project: string) => Promise<void>,
  ): Promise<UploadResult> {
    checkHosted(repo);
    return await receiveUpload(this.#blobs, this.store, repo.name, uploader, contentType, body, {
      maxFileBytes: this.#maxUploadBytes(),
      authorize,
      refused,
      admit,
    });
  }

  /**
   * PEP 592: yanks the release `version` (any PEP 440-equal spelling) with `reason` ('' none).
   * NOT_FOUND when there is no such release; BAD_REQUEST for an invalid name or version.
   */
  async yank(repo: Repository, project: string, version: string, reason = ''): Promise<YankResult> {
    checkHosted(repo);
    if (reason.length > 1000)
      throw new RegistryError('BAD_REQUEST', 'yank reason is longer than 1000 characters');
    return this.#setYanked(repo, project, version, reason);
  }

  /** Undoes yank. NOT_FOUND when there is no such release. */
  async unyank(repo: Repository, project: string, version: string): Promise<YankResult> {
    checkHosted(repo);
    return this.#setYanked(repo, project, version, false);
  }

  /**
   * Deletes the release `version` and all its files; returns their filenames. NOT_FOUND when
   * there is no such release.
   */
  async deleteRelease(repo: Repository, project: string, version: string): Promise<string[]> {
    checkHosted(repo);
    const name = checkProjectName(project);
    const deleted = await this.store.deleteRelease(repo.name, name, versionKey(version));
    if (deleted.length === 0) throw releaseNotFound(name, version);
    return deleted.map((f) => f.filename);
  }

  /** The versions of `project`'s releases, oldest first. NOT_FOUND when it has none here. */
  async projectVersions(repo: Repository, project: string): Promise<string[]> {
    checkHosted(repo);
    const name = checkProjectName(project);
    const stored = await this.#project(repo, name);
    if (stored === undefined) throw new RegistryError('NOT_FOUND', `project ${name} not found`);
    return [...stored.releases].sort((a, b) => a.createdAt - b.createdAt).map((r) => r.version);
  }

  /** Deletes one file of `project`. NOT_FOUND when there is no such file. */
  async deleteFile(repo: Repository, project: string, filename: string): Promise<void> {
    checkHosted(repo);
    const name = checkProjectName(project);
    const deleted = await this.store.deleteFile(repo.name, name, filename);
    if (deleted === undefined) {
      throw new RegistryError('NOT_FOUND', `no file ${filename} in project ${name}`);
    }
  }

  /**
   * Warehouse JSON of `project` (`GET /pypi/<project>/json`), or of one release when `version`
   * is given (`/pypi/<project>/<version>/json`, any PEP 440-equal spelling). undefined when the
   * project or release does not exist. `fileUrl` builds each file's `url`.
   */
  async json(
    repo: Repository,
    project: string,
    version: string | undefined,
    fileUrl: FileUrl,
  ): Promise<WarehouseJson | undefined> {
    const stored = await this.#project(repo, project);
    if (stored === undefined) return undefined;
    if (version === undefined) return projectJson(stored, fileUrl);
    return versionJson(stored, version, fileUrl);
  }

  async #project(repo: Repository, project: string): Promise<StoredProject | undefined> {
    const stored = await this.store.project(repo.name, project);
    return stored !== undefined && stored.files.length > 0 ? stored : undefined;
  }

  async #setYanked(
    repo: Repository,
    project: string,
    version: string,
    reason: false | string,
  ): Promise<YankResult> {
    const name = checkProjectName(project);
    const key = versionKey(version);
    const found = await this.store.setYanked(repo.name, name, key, reason);
    if (!found) throw releaseNotFound(name, version);
    const release = (await this.store.project(repo.name, name))?.releases.find(
      (r) => r.versionKey === key,
    );
    return {
      project: name,
      version: release?.version ?? version,
      yanked: reason !== false,
      yankedReason: reason === false ? null : reason,
    };
  }

  #opened(blob: string, sha256: string, size: number, modifiedAt: number): OpenedDistFile {
    const digest = parseDigest(blob);
    const bytes = this.#blobs.hosted(digest, 'pypi');
    return {
      size,
      sha256,
      modifiedAt,
      open: (range?: ReadRange): Promise<Readable> =>
        bytes.open(range === undefined ? undefined : { ...range }),
      present: () => bytes.present(),
    };
  }
}

function toDistFile(file: StoredFile, yanked: false | string): DistFile {
  return {
    filename: file.filename,
    version: file.version,
    sha256: file.sha256,
    size: file.size,
    requiresPython: file.requiresPython,
    yanked,
    uploadTime: new Date(file.uploadTime).toISOString(),
    coreMetadata: file.metadata === undefined ? undefined : { sha256: file.metadata.sha256 },
  };
}

/**
 * Refuses a change to a repository that is not hosted (a guard: service.ts writes to
 * `requireWriteTarget`'s hosted repository, and routes.ts gives that 405 its URL's `Allow`).
 * The URLs of these changes (the upload URL, `…/yank`, a release, a file) serve no method on a
 * repository that takes no writes, so `Allow` is empty (RFC 9110 §10.2.1).
 */
function checkHosted(repo: Repository): void {
  if (repo.kind !== 'hosted') {
    throw methodNotAllowed(
      `repository ${repo.name} is a ${repo.kind} repository; uploads and changes go to a hosted one`,
      [],
    );
  }
}

function versionKey(version: string): string {
  const parsed = parseVersion(version);
  if (parsed === undefined) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid version: ${JSON.stringify(version.slice(0, 140))} is not a PEP 440 version`,
    );
  }
  return parsed.key;
}

function releaseNotFound(project: string, version: string): RegistryError {
  return new RegistryError('NOT_FOUND', `no release ${version} of project ${project}`);
}
