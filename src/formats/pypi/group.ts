/**
 * PyPI groups (DESIGN.md §4): the members' pages merged into one, read through the shared
 * GroupReader so the group rule and the dependency-confusion guard are the ones every format
 * keeps (src/repos/group-read.ts):
 *
 * - project page: the merge of the members' pages in member order, one entry per filename (the
 *   first member listing a filename wins); a member that fails (upstream down) is "not here";
 *   404 naming the failures only when no member has the project;
 * - the guard (`protect_hosted_names`): a project a hosted member holds (a file of it) is served
 *   from hosted members only, so an upstream can never add files to a private name;
 * - file and core-metadata reads: the first member (the guard applied) whose page lists the
 *   filename, so a file is always served by the member whose page named it;
 * - the project list: the union of the members' lists.
 */
import { RegistryError } from '../../core/errors.ts';
import {
  type GroupDeps,
  hostedNameGuard,
  MergeMemo,
  type NameGuard,
} from '../../repos/group-read.ts';
import type { Repository } from '../../repos/repository.ts';
import type { DistFile, OpenedDistFile, ProjectPage, PypiSource } from './model.ts';

export interface PypiGroupDeps extends GroupDeps<PypiSource> {
  /**
   * True when the hosted member holds `project` now (the guard's question). Defaults to
   * "its page exists" when the hosted source offers nothing better.
   */
  readonly hostedKnows?: (member: Repository, project: string) => Promise<boolean>;
}

/** Merged pages kept (see #merged). */
const KEPT_MERGES = 256;

/** The PypiSource of group repositories. */
export class PypiGroup implements PypiSource {
  readonly #deps: PypiGroupDeps;
  /**
   * `<group>\n<project>` → the last merge and the member `files` arrays it was made of: the same
   * arrays (members hand out the same array while their page is unchanged) give the same merged
   * array, which the render cache recognises by identity.
   */
  readonly #merges = new MergeMemo<readonly DistFile[], readonly DistFile[]>(KEPT_MERGES);

  constructor(deps: PypiGroupDeps) {
    this.#deps = deps;
  }

  /** Union of the members' project lists; failing members are left out (and logged). */
  async projectNames(group: Repository): Promise<readonly string[]> {
    const { answers } = await this.#deps.reader.all(group, this.#deps.membersOf(group), (member) =>
      this.#deps.sourceOf(member).projectNames(member),
    );
    const names = new Set<string>();
    for (const { value } of answers) for (const name of value) names.add(name);
    return [...names].sort();
  }

  /**
   * The merged page (first member wins per filename; `stale` when an answering member's page
   * was stale). Undefined when no member has the project and none failed; NOT_FOUND naming the
   * failures when no member has it and some failed.
   */
  async projectPage(group: Repository, project: string): Promise<ProjectPage | undefined> {
    // The members that may answer for the project (one a member reserved is that member's).
    const members = this.#deps.membersOf(group, project);
    const answers = await this.#deps.reader.some(
      group,
      members,
      (member) => this.#deps.sourceOf(member).projectPage(member, project),
      (note) => notFound(project, note),
      this.#guard(group, members, project),
    );
    if (answers === undefined) return undefined;
    const stale = answers.some(({ value }) => value.stale === true);
    const files = this.#merged(
      `${group.name}\n${project}`,
      answers.map(({ value }) => value.files),
    );
    // The earliest end of a member's curation mark ends the merged page's too.
    const ends = answers.flatMap(({ value }) =>
      value.changesAt === undefined ? [] : [value.changesAt],
    );
    return {
      name: project,
      files,
      ...(stale ? { stale } : {}),
      ...(ends.length === 0 ? {} : { changesAt: Math.min(...ends) }),
    };
  }

  /** The members' files merged in order (first wins per filename); reused when `parts` are. */
  #merged(key: string, parts: readonly (readonly DistFile[])[]): readonly DistFile[] {
    const kept = this.#merges.get(key, parts);
    if (kept !== undefined) return kept;
    const byName = new Map<string, DistFile>();
    for (const part of parts) {
      for (const file of part) if (!byName.has(file.filename)) byName.set(file.filename, file);
    }
    const files = [...byName.values()];
    this.#merges.set(key, parts, files);
    return files;
  }

  openFile(group: Repository, project: string, filename: string) {
    return this.#fromLister(group, project, filename, filename, (source, member) =>
      source.openFile(member, project, filename),
    );
  }

  openCoreMetadata(
    group: Repository,
    project: string,
    filename: string,
    options?: { readonly prefetch?: boolean },
  ) {
    return this.#fromLister(group, project, filename, `${filename}.metadata`, (source, member) =>
      source.openCoreMetadata(member, project, filename, options),
    );
  }

  /**
   * Reads `filename` (`what`: the file or its `.metadata`, for the 404) from the first allowed
   * member whose page lists it. When a member listed the file but had nothing to open (an
   * sdist's core metadata, which no page offers), nobody answering is that member's answer: the
   * 404 is plain, not a note blaming the guard or an upstream (the thirteenth trial's F9).
   */
  async #fromLister(
    group: Repository,
    project: string,
    filename: string,
    what: string,
    open: (source: PypiSource, member: Repository) => Promise<OpenedDistFile | undefined>,
  ): Promise<OpenedDistFile | undefined> {
    const members = this.#deps.membersOf(group, project);
    let listed = false;
    return this.#deps.reader.first(
      group,
      members,
      async (member) => {
        const source = this.#deps.sourceOf(member);
        const page = await source.projectPage(member, project);
        if (page?.files.some((file) => file.filename === filename) !== true) return undefined;
        listed = true;
        return open(source, member);
      },
      (note) => notFound(`${project}/${what}`, listed ? '' : note),
      this.#guard(group, members, project),
    );
  }

  #guard(
    group: Repository,
    members: readonly Repository[],
    project: string,
  ): NameGuard<Repository> {
    const knows =
      this.#deps.hostedKnows ??
      (async (member: Repository, name: string) =>
        (await this.#deps.sourceOf(member).projectPage(member, name)) !== undefined);
    return hostedNameGuard(group, members, project, (member) => knows(member, project));
  }
}

function notFound(what: string, note: string): RegistryError {
  return new RegistryError('NOT_FOUND', `not found: ${what}${note}`);
}
