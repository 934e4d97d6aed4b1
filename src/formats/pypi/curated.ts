/**
 * Curation on the PyPI proxy (src/curation/types.ts): the proxy source wrapped so every proxy
 * read, a proxy repository's and a group's proxy members', passes the gate. A project in an
 * internal namespace is never asked upstream (the page and its files are "not here": a group
 * answers from its hosted members, a proxy 404s); in enforce, a blocked version's files leave
 * the project page (pip then picks another version, or says none matches) and its file
 * download is refused with 403 and the reason, also when the file is already cached. The min
 * release age reads a version's publish time from its files' PEP 700 `upload-time`.
 */
import { quarantineCheck } from '../../curation/quarantine.ts';
import type { CurationGate } from '../../curation/types.ts';
import { parseDistFilename } from './filenames.ts';
import { normalizeProjectName } from './names.ts';
import type { ProjectPage, PypiSource } from './model.ts';

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
      if (page === undefined || gate.mode() !== 'enforce') return page;
      const published = publishTimes(page);
      const files = page.files.filter((file) => {
        const publishedAt = published.get(file.version);
        const hidden = gate.hides({
          registry: 'pypi',
          name: project,
          version: file.version,
          publishedAt,
        });
        if (hidden && publishedAt !== undefined) rememberHidden(project, file.version, publishedAt);
        return !hidden;
      });
      return files.length === page.files.length ? page : { ...page, files };
    },
    async openFile(repo, project, filename) {
      if (internal(project)) return undefined;
      const version = parseDistFilename(filename, project)?.version;
      // The min release age needs the version's upload-time: from the (cached) project page.
      let publishedAt: number | undefined;
      if (version !== undefined && gate.timeSettings('pypi').minReleaseAge > 0) {
        const page = await source.projectPage(repo, project).catch(() => undefined);
        publishedAt = page === undefined ? undefined : publishTimes(page).get(version);
      }
      gate.guard({ registry: 'pypi', name: project, version, publishedAt });
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
