/**
 * The PyPI service: the one place that decides which PypiSource answers for a repository (hosted,
 * proxy or the group merge of group.ts), checks every operation with access control
 * (`authorize(principal, repo, action, <project>)`), and routes writes to the repository that
 * takes them (a hosted repository, or a group's write member; a proxy refuses). Free of HTTP:
 * routes.ts turns its answers and RegistryErrors into responses.
 */
import type { Readable } from 'node:stream';
import {
  refusalBeforeName,
  refusedAnswer,
  type AccessControl,
  type Action,
  type Principal,
} from '../../auth/access.ts';
import { isRegistryError, methodNotAllowed, RegistryError } from '../../core/errors.ts';
import { missNote } from '../../repos/group-read.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import { readAllBounded } from '../../core/streams.ts';
import { MAX_CORE_METADATA_BYTES } from './core-metadata.ts';
import type { OpenedDistFile, ProjectPage, PypiSource } from './model.ts';
import {
  creationRefusal,
  type HeldElsewhere,
  heldElsewhere,
  notAskedWarning,
  takeoverCheck,
  servedByProxy,
  refusalText,
  takeoverRefusal,
  takeoverWarning,
} from '../../repos/group-write.ts';
import { compileGlob } from '../../auth/patterns.ts';
import type { Logger } from '../../core/logger.ts';
import type { CurationGate } from '../../curation/types.ts';
import { normalizeProjectName } from './names.ts';
import { parseDistFilename } from './filenames.ts';
import { hiddenPublishTime } from './curated.ts';
import { proxiedJson } from './proxied-json.ts';
import { parseVersion } from './versions.ts';

/** A legacy-API upload as the routes hand it over: the raw body, unparsed. */
export interface UploadRequest {
  /** The request body as received (multipart/form-data), never buffered by the routes. */
  readonly body: Readable;
  readonly contentType: string | undefined;
  /** The declared Content-Length, when the client sent one. */
  readonly contentLength: number | undefined;
  /** The authenticated user's name (recorded with the file); undefined for anonymous. */
  readonly uploader: string | undefined;
  /**
   * Called with the normalised project once the form names it, before anything is stored;
   * throws UNAUTHORIZED/DENIED to refuse (rules may grant writes per project).
   */
  readonly authorize: (project: string) => void;
  /**
   * Called with the normalised project once the whole form is read and authorized, before
   * anything is stored; rejects to refuse (a group's write member would create a second project
   * of a name another member holds: PypiService #refuseSecondProject, 409).
   */
  readonly admit?: ((project: string) => Promise<void>) | undefined;
  /**
   * Set when the caller may not write the repository as a whole (see `upload`): `authorize`
   * then always refuses, naming the project, and no file byte is read before it is named.
   */
  readonly refused?: RegistryError | undefined;
}

/** What an upload stored. */
export interface UploadResult {
  readonly project: string;
  readonly filename: string;
  /** What the takeover check could not settle or allowed (#refuseTakeover); absent: none. */
  readonly warnings?: readonly string[];
}

/**
 * What hosted repositories do beyond reading (the pypi-hosted module implements it): upload,
 * yank/unyank (PEP 592), deletes, and the Warehouse-style JSON API. Values returned are JSON
 * documents for the client.
 */
export interface PypiHostedOperations {
  upload(repo: Repository, request: UploadRequest): Promise<UploadResult>;
  /** `yanked`: false to unyank, else the reason ('' for none). */
  setYanked(
    repo: Repository,
    project: string,
    version: string,
    yanked: false | string,
  ): Promise<unknown>;
  deleteRelease(repo: Repository, project: string, version: string): Promise<unknown>;
  /** The versions of `project` (release by release, oldest first); NOT_FOUND when none. */
  projectVersions(repo: Repository, project: string): Promise<string[]>;
  deleteFile(
    repo: Repository,
    project: string,
    version: string,
    filename: string,
  ): Promise<unknown>;
  /**
   * True when the hosted repository holds `project` now (a file of it): the group guard's
   * question. A project whose files were all deleted is no longer hosted: the group asks its
   * proxies for it again (trial 25 fmts F2); its deleted filenames stay refused.
   */
  holdsProject?(repo: Repository, project: string): Promise<boolean>;
}

/** The absolute URL of a file for the JSON API's `url` fields. */
export type FileUrl = (project: string, filename: string) => string;

/**
 * The Warehouse JSON API document (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`) of
 * a hosted repository; undefined when the project or version is unknown there.
 */
export type PypiJsonApi = (
  repo: Repository,
  project: string,
  version: string | undefined,
  fileUrl: FileUrl,
) => Promise<unknown>;

export interface PypiServiceDeps {
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly hosted: PypiSource;
  readonly proxy: PypiSource;
  readonly group: PypiSource;
  readonly operations?: PypiHostedOperations | undefined;
  readonly jsonApi?: PypiJsonApi | undefined;
  /**
   * `[pypi] shadow_names` as running: the project name globs whose first upload may take a name
   * over from a guarding group's proxy member (#refuseTakeover). Absent: none.
   */
  readonly shadowNames?: () => readonly string[];
  /**
   * How long the takeover check of a first upload waits for the upstream of the proxy member
   * `proxy`, ms (`shadow_check_upstream`, group-write.ts upstreamCheckWait); undefined or absent:
   * it reads that proxy's cache only.
   */
  readonly upstreamCheckWait?: (proxy: Repository) => number | undefined;
  readonly log?: Logger | undefined;
  /** Curation (src/curation/types.ts): names the rule when a group's file is a blocked version. */
  readonly curation?: CurationGate;
}

export class PypiService {
  readonly #deps: PypiServiceDeps;

  constructor(deps: PypiServiceDeps) {
    this.#deps = deps;
  }

  /** The source answering for `repo` by its kind. */
  sourceOf(repo: Repository): PypiSource {
    return this.#deps[repo.kind];
  }

  /**
   * Refuses unless `principal` may `action` `project` in `repo` (UNAUTHORIZED / DENIED).
   * `project` undefined: a repository-wide operation (the project list, an upload before the
   * form names its project).
   */
  authorize(
    principal: Principal,
    repo: Repository,
    action: Action,
    project?: string,
    via?: Repository,
  ): void {
    this.#deps.access.authorize(principal, repo, action, project, { via });
  }

  /** PEP 503 root: the projects `principal` may read, sorted (normalised names). */
  async projectNames(repo: Repository, principal: Principal): Promise<string[]> {
    this.authorize(principal, repo, 'read');
    const names = await this.sourceOf(repo).projectNames(repo);
    return names.filter((name) =>
      this.#deps.access.can(principal, repo, 'read', name, { listing: true }),
    );
  }

  /** A project page; NOT_FOUND when no such project (naming failing upstreams in a group). */
  async projectPage(repo: Repository, project: string, principal: Principal): Promise<ProjectPage> {
    this.authorize(principal, repo, 'read', project);
    const page = await this.sourceOf(repo).projectPage(repo, project);
    if (page === undefined) throw notFound(`project ${project}`);
    return page;
  }

  /** A distribution file; NOT_FOUND when absent. */
  async file(
    repo: Repository,
    project: string,
    filename: string,
    principal: Principal,
  ): Promise<OpenedDistFile> {
    this.authorize(principal, repo, 'read', project);
    const file = await this.sourceOf(repo).openFile(repo, project, filename);
    if (file === undefined) {
      // A group reads a file from the member whose page lists it, and curation took a blocked
      // version off the proxy's page: say why (403 and the rule) rather than a bare 404.
      const version = parseDistFilename(filename, project)?.version;
      const gate = this.#deps.curation;
      const publishedAt = hiddenPublishTime(project, version);
      const subject = { registry: 'pypi', name: project, version, publishedAt } as const;
      if (repo.kind !== 'hosted' && gate?.hides(subject)) gate.guard(subject);
      throw notFound(`${project}/${filename}`);
    }
    return file;
  }

  /** PEP 658 core metadata of a wheel; NOT_FOUND when absent. */
  async coreMetadata(
    repo: Repository,
    project: string,
    filename: string,
    principal: Principal,
  ): Promise<OpenedDistFile> {
    this.authorize(principal, repo, 'read', project);
    const source = this.sourceOf(repo);
    let file: OpenedDistFile | undefined;
    try {
      file = await source.openCoreMetadata(repo, project, filename);
    } catch (err) {
      if (isRegistryError(err) && err.code === 'NOT_FOUND') {
        throw (await this.#noCoreMetadata(repo, project, filename)) ?? err;
      }
      throw err;
    }
    if (file === undefined) {
      throw (
        (await this.#noCoreMetadata(repo, project, filename)) ??
        notFound(`${project}/${filename}.metadata`)
      );
    }
    return file;
  }

  /**
   * The 404 for the `.metadata` of a file the project page lists without core metadata (an
   * sdist: PEP 658 metadata is offered where the page says `data-core-metadata`, which NORA's
   * pages say for wheels), or undefined when that is not why (the page does not list the file,
   * or offers metadata for it). One more page read, on this 404 only.
   */
  async #noCoreMetadata(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<RegistryError | undefined> {
    const page = await this.sourceOf(repo)
      .projectPage(repo, project)
      .catch(() => undefined);
    const entry = page?.files.find((file) => file.filename === filename);
    if (entry === undefined || entry.coreMetadata !== undefined) return undefined;
    return notFound(
      `${project}/${filename}.metadata (the project page offers no core metadata for ${filename}: PEP 658 metadata is served for the files it marks with data-core-metadata, wheels)`,
    );
  }

  /**
   * The Warehouse JSON document of a project (or one version of it): from the first hosted
   * member that has it (a hosted repository is its own member), else, for a proxy or a group
   * with a proxy member, built from the project's page and core metadata (proxied-json.ts; an
   * upstream's own JSON API is not mirrored). NOT_FOUND otherwise; a proxy whose upstreams all
   * fail with nothing cached answers their error (502/504), as its pages do.
   */
  async projectJson(
    repo: Repository,
    project: string,
    version: string | undefined,
    fileUrl: FileUrl,
    principal: Principal,
  ): Promise<unknown> {
    this.authorize(principal, repo, 'read', project);
    const jsonApi = this.#deps.jsonApi;
    if (jsonApi === undefined) {
      throw new RegistryError('NOT_IMPLEMENTED', 'the JSON API is not available in this build');
    }
    // The members that may answer for the project (one a member reserved is that member's).
    const members = this.#deps.repositories.membersOf(repo, project);
    for (const member of members.filter((m) => m.kind === 'hosted')) {
      const document = await jsonApi(member, project, version, fileUrl);
      if (document !== undefined) return document;
    }
    // Not uploaded here: from the page this repository serves (a group's merge keeps its
    // hosted-name guard, so a proxied release never answers for an uploaded project's name) and
    // the core metadata read through the same verified path as a `.metadata` request.
    if (members.some((m) => m.kind !== 'hosted')) {
      const source = this.sourceOf(repo);
      const page = await source.projectPage(repo, project);
      if (page !== undefined && page.files.length > 0) {
        const document = await proxiedJson(page, version, fileUrl, async (filename) => {
          const opened = await source.openCoreMetadata(repo, project, filename, {
            prefetch: false,
          });
          if (opened === undefined) return undefined;
          return readAllBounded(await opened.open(), MAX_CORE_METADATA_BYTES);
        });
        if (document !== undefined) return document;
      }
    }
    // A rule that left members out of the group for the project says so, as the group's pages do.
    throw notFound(
      (version === undefined ? `project ${project}` : `release ${version} of ${project}`) +
        missNote([], undefined, members.reserved),
    );
  }

  /**
   * A legacy-API upload (twine, poetry, pdm) to `repo` or its write member. Repository-wide
   * `write` is checked before the body is read, then `write` on the project the form names.
   * A signed-in caller refused repository-wide is refused by the project's check as soon as the
   * form names it (tenth trial F1: `bob may not write corp-pkg in pypi (a rule on its member
   * pypi-hosted owns it)`, as npm says), never after a file byte was read (UploadLimits.refused);
   * anonymous callers get their 401 before the body is read. On a repository that takes no
   * uploads the 405's `Allow` is `allow`, what the upload URL serves there: GET at the simple
   * index's root, nothing at the repository's base URL.
   */
  async upload(
    repo: Repository,
    request: Omit<UploadRequest, 'authorize' | 'refused'>,
    principal: Principal,
    allow: readonly string[] = [],
  ): Promise<UploadResult> {
    const target = this.#deps.repositories.requireWriteTarget(repo, { allow });
    const refused = refusalBeforeName(principal, () => {
      this.#checkWrite(repo, target, principal, 'write', undefined);
    });
    let warnings: readonly string[] = [];
    try {
      const result = await this.#operations().upload(target, {
        ...request,
        authorize: (project) => {
          this.#checkWrite(repo, target, principal, 'write', project);
          // Refused on the repository but not on the project: the repository's answer holds.
          if (refused !== undefined) throw refused;
        },
        admit: async (project) => {
          await this.#refuseSecondProject(repo, target, project);
          warnings = await this.#refuseTakeover(target, project);
        },
        refused,
      });
      return warnings.length > 0 ? { ...result, warnings } : result;
    } catch (err) {
      throw refusedAnswer(err, refused);
    }
  }

  /** PEP 592 yank (`yanked` = reason, '' for none) or unyank (`false`) of a release. */
  async setYanked(
    repo: Repository,
    project: string,
    version: string,
    yanked: false | string,
    principal: Principal,
  ): Promise<unknown> {
    const target = this.#writeTarget(repo, principal, 'write', project);
    return this.#operations()
      .setYanked(target, project, version, yanked)
      .catch(async (err: unknown) => {
        throw await this.#proxiedAnswer(err, repo, target, project, version, 'yanked or unyanked');
      });
  }

  /** Deletes a release (every file of it). */
  async deleteRelease(
    repo: Repository,
    project: string,
    version: string,
    principal: Principal,
  ): Promise<unknown> {
    const target = this.#writeTarget(repo, principal, 'delete', project);
    return this.#operations()
      .deleteRelease(target, project, version)
      .catch(async (err: unknown) => {
        throw await this.#proxiedAnswer(err, repo, target, project, version, 'deleted');
      });
  }

  /**
   * The versions of `project` in the repository a delete addressed to `repo` lands in, after
   * the caller's delete right (so a refused caller learns nothing): what `DELETE J/<project>`
   * names in its refusal. NOT_FOUND when the project has no release there.
   */
  async projectVersions(
    repo: Repository,
    project: string,
    principal: Principal,
  ): Promise<string[]> {
    const target = this.#writeTarget(repo, principal, 'delete', project);
    return this.#operations()
      .projectVersions(target, project)
      .catch(async (err: unknown) => {
        throw await this.#proxiedAnswer(err, repo, target, project, undefined, 'deleted');
      });
  }

  /** Deletes one file of a release. */
  async deleteFile(
    repo: Repository,
    project: string,
    version: string,
    filename: string,
    principal: Principal,
  ): Promise<unknown> {
    const target = this.#writeTarget(repo, principal, 'delete', project);
    return this.#operations()
      .deleteFile(target, project, version, filename)
      .catch(async (err: unknown) => {
        throw await this.#proxiedAnswer(err, repo, target, project, version, 'deleted');
      });
  }

  /**
   * `err` as it is, unless it is a NOT_FOUND of a write through the group `repo` (a yank, an
   * unyank, a delete) of a release (`version`; undefined: the project) its hosted write member
   * `target` does not hold while another member of the group holds it: 405 naming that member
   * (`doing`: what cannot be done, "deleted"), the one group-write rule (repos/group-write.ts),
   * not "no release …", the text of a release nobody has (trial 23 fmts F3). Its `Allow` is
   * empty: these URLs serve nothing else. A proxy member counts from its cached page only
   * (PypiSource.cachedPage: a write never sends a project name upstream, so a project nobody
   * read through NORA keeps the 404), and not when the dependency-confusion guard keeps the
   * project from proxy members (a hosted member holds or held it); another hosted member counts
   * when it has the release (the project: any release).
   */
  async #proxiedAnswer(
    err: unknown,
    repo: Repository,
    target: Repository,
    project: string,
    version: string | undefined,
    doing: string,
  ): Promise<unknown> {
    if (!isRegistryError(err) || err.code !== 'NOT_FOUND') return err;
    const key = version === undefined ? undefined : parseVersion(version)?.key;
    if (version !== undefined && key === undefined) return err;
    const lists = (versions: readonly string[]) =>
      key === undefined ? versions.length > 0 : versions.some((v) => parseVersion(v)?.key === key);
    const held = await this.#heldElsewhere(repo, target, project, lists);
    if (held === undefined) return err;
    const what =
      version === undefined ? `project ${project}` : `release ${version} of project ${project}`;
    return methodNotAllowed(
      refusalText(held, {
        what,
        kept: 'hosted',
        proxy: `is read-only (it cannot be ${doing} here: its releases are the upstream's)`,
        hosted:
          version === undefined && held.member.kind === 'hosted'
            ? await this.#wholeProjectWords(held.member, project)
            : `it can be ${doing} there, at /repository/${held.member.name}/`,
      }),
      [],
      { cause: err },
    );
  }

  /**
   * What a DELETE of the whole `project` through a group is told about the hosted `member`
   * holding it: not "it can be deleted there" (a project is not deleted whole there either:
   * pypi/routes.ts answers 405, trial 26 mirrorR F7) but what that member says, releases one by
   * one at its URLs: `a project is not deleted whole there either: delete its releases one by one,
   * DELETE /repository/team/pypi/six/<version> (its releases: 1.0.0, 1.1.0)`.
   */
  async #wholeProjectWords(member: Repository, project: string): Promise<string> {
    const versions = (await this.#deps.operations?.projectVersions(member, project)) ?? [];
    const named = versions.length > 10 ? [...versions.slice(0, 10), '…'] : versions;
    return `a project is not deleted whole there either: delete its releases one by one, DELETE /repository/${member.name}/pypi/${project}/<version> (its releases: ${named.join(', ')})`;
  }

  /**
   * Whether the writes to release `version` of `project` through the group `repo` — a yank, an
   * unyank, a delete of the release or of one of its files — answer 405 with an empty `Allow`
   * (#proxiedAnswer): its write member does not have the release and another member the group
   * serves it from does (a proxy member from its cached page). A 405 of another method at those
   * write-only URLs must then not list the write (RFC 9110 §15.5.6; trial 27 devA). False for
   * anything but a group with a write member, and for a `principal` that may not read `project`
   * (its writes answer 401/403 first, and `Allow` must not tell it what a member holds). A lookup
   * per member: for 405s only, which are rare.
   */
  async writesRefused(
    repo: Repository,
    project: string,
    version: string,
    principal: Principal,
  ): Promise<boolean> {
    if (repo.kind !== 'group') return false;
    if (!this.#deps.access.can(principal, repo, 'read', project)) return false;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined || target.name === repo.name) return false;
    const key = parseVersion(version)?.key;
    if (key === undefined) return false;
    const lists = (versions: readonly string[]) =>
      versions.some((v) => parseVersion(v)?.key === key);
    const own = await Promise.resolve(this.#deps.operations?.projectVersions(target, project))
      .then((versions) => versions ?? [])
      .catch(() => []);
    if (lists(own)) return false;
    const held = await this.#heldElsewhere(repo, target, project, lists).catch(() => undefined);
    return held !== undefined;
  }

  /**
   * group-write.ts `heldElsewhere` for PyPI: the member of the group `repo` other than its write
   * member `target` whose versions of `project` (a hosted member's releases, a proxy member's
   * cached page) satisfy `lists`.
   */
  async #heldElsewhere(
    repo: Repository,
    target: Repository,
    project: string,
    lists: (versions: readonly string[]) => boolean,
    kinds?: readonly ('hosted' | 'proxy')[],
  ): Promise<HeldElsewhere<true> | undefined> {
    const operations = this.#deps.operations;
    return heldElsewhere({
      group: repo,
      writeTo: target,
      members: this.#deps.repositories.membersOf(repo, project),
      holds: async (member) => {
        if (member.kind === 'hosted') {
          return lists((await operations?.projectVersions(member, project)) ?? []);
        }
        const page = await this.#deps.proxy.cachedPage?.(member, project);
        return page !== undefined && lists(page.files.map((file) => file.version));
      },
      hostedClaims:
        repo.protectHostedNames && operations?.holdsProject !== undefined
          ? (member) => operations.holdsProject?.(member, project) ?? Promise.resolve(false)
          : undefined,
      ...(kinds === undefined ? {} : { kinds }),
    });
  }

  /**
   * The first upload of `project` to the write member `target` of the group `repo` is refused
   * (409) while another hosted member of the group holds the project: the group would serve
   * two projects of that name, their files merged (dependency confusion's ground). Twine uploads
   * to that member. A project the write member holds or held is not asked about.
   */
  async #refuseSecondProject(repo: Repository, target: Repository, project: string): Promise<void> {
    if (repo.kind !== 'group' || repo.name === target.name) return;
    if (await (this.#deps.operations?.holdsProject?.(target, project) ?? false)) return;
    const held = await this.#heldElsewhere(repo, target, project, (v) => v.length > 0, ['hosted']);
    if (held === undefined) return;
    throw creationRefusal(held, {
      what: `project ${project}`,
      kept: 'hosted',
      doing: 'uploading',
      instead:
        `upload it to ${held.member.name} directly (twine upload --repository-url <NORA>/repository/${held.member.name}/), or under another name; ` +
        `to keep releases in both members on purpose, upload its first file to ${target.name} directly (<NORA>/repository/${target.name}/)`,
    });
  }

  /**
   * The takeover check of an upload of `project` into the hosted repository `target`, addressed
   * directly or through a group (trial 25 fmts F2), as Maven's, Helm's, Cargo's and Go's: the
   * first file of a project `target` does not hold, while a group guarding hosted names
   * (`protect_hosted_names`) that has `target` among its members serves the project from a proxy
   * member, would make that group serve only `target`'s files from then on, hiding every
   * upstream release from pip through it. Refused (409, before anything is stored; twine prints
   * it) unless `[pypi] shadow_names` lists the project; then it goes ahead and the log says what
   * it took over (twine prints nothing of a success). "Serves": the proxy's cached page
   * (PypiSource.cachedPage: by default a write never sends a project name upstream, so a public
   * project nobody installed through NORA yet is not refused). A proxy with
   * `shadow_check_upstream` is asked (its page, fetched and cached as a read would) when nothing
   * is cached, waited for `upstreamCheckWait`; one that cannot be asked in time does not block the
   * upload: the returned warning lines (logged too) say so. Deleting every hosted file gives the
   * name back (`holdsProject`).
   */
  async #refuseTakeover(target: Repository, project: string): Promise<string[]> {
    const operations = this.#deps.operations;
    const proxy = this.#deps.proxy;
    if (operations?.holdsProject === undefined || proxy.cachedPage === undefined) return [];
    const holds = (member: Repository) =>
      operations.holdsProject?.(member, project) ?? Promise.resolve(false);
    if (await holds(target)) return [];
    const repositories = this.#deps.repositories;
    const { taken, notAsked } = await takeoverCheck({
      repositories: repositories.byFormat('pypi'),
      membersOf: (group, path) => repositories.membersOf(group, path),
      target,
      name: project,
      cached: (member) =>
        servedByProxy(
          async () => ((await proxy.cachedPage?.(member, project))?.files.length ?? 0) > 0,
          () => this.#deps.upstreamCheckWait?.(member),
          // The page as a read fetches it (internal names are never asked: curatedPypiSource).
          async () => ((await proxy.projectPage(member, project))?.files.length ?? 0) > 0,
        ),
      hostedHolds: holds,
    });
    const words = { what: `project ${project}`, versions: 'releases' };
    const warnings =
      notAsked.length === 0
        ? []
        : [notAskedWarning(notAsked.join(', '), words.what, target.name, words.versions)];
    for (const line of warnings) this.#deps.log?.warn({ project }, `pypi upload: ${line}`);
    if (taken.length === 0) return warnings;
    const globs = this.#deps.shadowNames?.() ?? [];
    if (globs.some((glob) => compileGlob(normalizeProjectName(glob)).test(project))) {
      this.#deps.log?.warn({ project }, `pypi upload: ${takeoverWarning(taken, words)}`);
      return [takeoverWarning(taken, words), ...warnings];
    }
    throw takeoverRefusal(taken, {
      ...words,
      doing: 'upload',
      section: 'pypi',
      name: project,
      glob: 'corp-*',
      undo: `every file of it in ${target.name} is deleted`,
      docs: 'docs/pypi.md, "Group"',
    });
  }

  /** Whether writes addressed to `repo` land somewhere (hosted, or a group's write member). */
  acceptsWrites(repo: Repository): boolean {
    return this.#deps.repositories.writeTarget(repo) !== undefined;
  }

  #operations(): PypiHostedOperations {
    const operations = this.#deps.operations;
    if (operations === undefined) {
      throw new RegistryError('NOT_IMPLEMENTED', 'uploads are not available in this build');
    }
    return operations;
  }

  /**
   * Where a write addressed to `repo` lands (itself when hosted, a group's write member), after
   * checking `action` on both the group and the member (a rule on either holds). A proxy, or a
   * group without a hosted member, refuses with 405 and an empty `Allow`: the URLs of these
   * writes (a yank, a release, a file, a project's DELETE) serve nothing else.
   */
  #writeTarget(
    repo: Repository,
    principal: Principal,
    action: Action,
    project?: string,
  ): Repository {
    const target = this.#deps.repositories.requireWriteTarget(repo, { allow: [] });
    this.#checkWrite(repo, target, principal, action, project);
    return target;
  }

  #checkWrite(
    repo: Repository,
    target: Repository,
    principal: Principal,
    action: Action,
    project: string | undefined,
  ): void {
    if (target.name !== repo.name) this.authorize(principal, repo, action, project);
    this.authorize(
      principal,
      target,
      action,
      project,
      target.name === repo.name ? undefined : repo,
    );
  }
}

function notFound(what: string): RegistryError {
  return new RegistryError('NOT_FOUND', `not found: ${what}`);
}
