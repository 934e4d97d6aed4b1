/**
 * Curation on the PyPI proxy (src/curation/types.ts): the proxy source wrapped so every proxy
 * read, a proxy repository's and a group's proxy members', passes the gate. A project in an
 * internal namespace is never asked upstream (the page and its files are "not here": a group
 * answers from its hosted members, a proxy 404s); in enforce, a refused file (a blocked or too
 * young version, or a file quarantine holds) stays on the project page marked yanked (PEP 592)
 * with the refusal as the reason: resolvers skip yanked files unless pinned (`==`), and pip
 * prints the reason when a pin selects one (a hidden file left pip with "from versions: none"
 * and no why, trial 31). Its download is refused with 403 and the same reason, also when the
 * file is already cached. The min release age reads a version's publish time from its files'
 * PEP 700 `upload-time`; the quarantine keys a file by its page `sha256`.
 */
import { quarantineCheck } from '../../curation/quarantine.ts';
import type { CurationGate } from '../../curation/types.ts';
import { parseDistFilename } from './filenames.ts';
import { normalizeProjectName } from './names.ts';
import type { DistFile, ProjectPage, PypiSource } from './model.ts';

/**
 * Each version's publish time on `page`, ms: the earliest PEP 700 `upload-time` of its files
 * (a version is as old as its first file). Versions without any upload-time are absent.
 */
export function publishTimes(page: ProjectPage): Map<string, number> {
  const times = new Map<string, number>();
  for (const file of page.files) {
    const at = file.uploadTime === undefined ? Number.NaN : Date.parse(file.uploadTime);
    if (Number.isNaN(at)) continue;
    const seen = times.get(file.version);
    if (seen === undefined || at < seen) times.set(file.version, at);
  }
  return times;
}

/** Publish times of versions a page hid (bounded): a group's file 404 asks why (service.ts). */
const hiddenTimes = new Map<string, number>();
const HIDDEN_TIMES_MAX = 10_000;

function rememberHidden(project: string, version: string, publishedAt: number): void {
  const key = `${normalizeProjectName(project)}\n${version}`;
  hiddenTimes.delete(key);
  hiddenTimes.set(key, publishedAt);
  if (hiddenTimes.size > HIDDEN_TIMES_MAX) {
    const oldest = hiddenTimes.keys().next().value;
    if (oldest !== undefined) hiddenTimes.delete(oldest);
  }
}

/**
 * The publish time of a version a curated page left out, if one did: a group reads a file from
 * the member whose page lists it, so a young version's file is "not here" to it; with this time
 * the gate can say why (403, the age and when it becomes available) instead of a bare 404.
 */
export function hiddenPublishTime(
  project: string,
  version: string | undefined,
): number | undefined {
  return version === undefined
    ? undefined
    : hiddenTimes.get(`${normalizeProjectName(project)}\n${version}`);
}

/** Whether the page may carry curation marks: enforce, or a quarantine that refuses. */
function marks(gate: CurationGate): boolean {
  return gate.mode() === 'enforce' || gate.timeSettings('pypi').quarantine === 'enforce';
}

/**
 * Why `file` of `project` is refused (the message its download's 403 gives), or undefined when
 * it is served: a list or the min release age in enforce (`hides`, on the page's upload-time),
 * or a quarantine hold in enforce (by the file's digest, first seen less than the TTL ago).
 */
function refusalOf(
  gate: CurationGate,
  project: string,
  file: DistFile,
  publishedAt: number | undefined,
): { readonly message: string; readonly until: number | undefined } | undefined {
  const subject = { registry: 'pypi' as const, name: project, version: file.version, publishedAt };
  const digest = `sha256:${file.sha256}`;
  if (!gate.hides(subject) && gate.held({ ...subject, digest })?.refuse !== true) return undefined;
  const verdict = gate.decide({ ...subject, digest });
  return verdict.refuse ? { message: verdict.message, until: verdict.until } : undefined;
}

/** `source` (the proxy's) behind `gate`. */
export function curatedPypiSource(source: PypiSource, gate: CurationGate): PypiSource {
  const internal = (project: string): boolean => gate.isInternal('pypi', project);
  return {
    projectNames: (repo) => source.projectNames(repo),
    ...(source.cachedPage === undefined
      ? {}
      : {
          cachedPage: (repo, project) =>
            source.cachedPage?.(repo, project) ?? Promise.resolve(undefined),
        }),
    async projectPage(repo, project) {
      if (internal(project)) return undefined;
      const page = await source.projectPage(repo, project);
      if (page === undefined || !marks(gate)) return page;
      const published = publishTimes(page);
      // The earliest end of a mark (a hold's, an age's): a kept answer of the page (the answer
      // memo) must not show the file yanked past it.
      let changesAt: number | undefined;
      const files = page.files.map((file) => {
        const publishedAt = published.get(file.version);
        const refusal = refusalOf(gate, project, file, publishedAt);
        if (refusal === undefined) return file;
        if (publishedAt !== undefined) rememberHidden(project, file.version, publishedAt);
        if (refusal.until !== undefined) changesAt = Math.min(changesAt ?? Infinity, refusal.until);
        // Yanked with the reason: pip skips it unpinned while another version matches; pinned
        // (`==`), or with nothing else, it takes it and prints the download's 403 and reason.
        // No PEP 658 metadata: pip would read it first and fail on its 404 without the reason.
        return { ...file, yanked: refusal.message, coreMetadata: undefined };
      });
      return files.some((file, i) => file !== page.files[i]) ? { ...page, files, changesAt } : page;
    },
    async openFile(repo, project, filename) {
      if (internal(project)) return undefined;
      const version = parseDistFilename(filename, project)?.version;
      // The min release age needs the version's upload-time, the quarantine the file's digest
      // (so the refusal and its log line name it whether the file is cached or fetched now):
      // both from the (cached) project page.
      let publishedAt: number | undefined;
      let digest: string | undefined;
      const times = gate.timeSettings('pypi');
      if (version !== undefined && (times.minReleaseAge > 0 || times.quarantine !== 'off')) {
        const page = await source.projectPage(repo, project).catch(() => undefined);
        publishedAt = page === undefined ? undefined : publishTimes(page).get(version);
        const listed = page?.files.find((f) => f.filename === filename);
        digest = listed === undefined ? undefined : `sha256:${listed.sha256}`;
      }
      gate.guard({ registry: 'pypi', name: project, version, publishedAt, digest });
      const file = await source.openFile(repo, project, filename);
      if (file !== undefined) {
        const subject = {
          registry: 'pypi' as const,
          name: project,
          version,
          digest: `sha256:${file.sha256}`,
        };
        quarantineCheck(gate, subject, file.filled === true);
      }
      return file;
    },
    async openCoreMetadata(repo, project, filename, options) {
      if (internal(project)) return undefined;
      const version = parseDistFilename(filename.replace(/\.metadata$/, ''), project)?.version;
      // Metadata of a hidden version is not offered either: pip reads it before the wheel.
      if (gate.hides({ registry: 'pypi', name: project, version })) return undefined;
      return source.openCoreMetadata(repo, project, filename, options);
    },
  };
}
