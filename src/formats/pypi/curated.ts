/**
 * Curation on the PyPI proxy (src/curation/types.ts): the proxy source wrapped so every proxy
 * read, a proxy repository's and a group's proxy members', passes the gate. A project in an
 * internal namespace is never asked upstream (the page and its files are "not here": a group
 * answers from its hosted members, a proxy 404s); in enforce, a blocked version's files leave
 * the project page (pip then picks another version, or says none matches) and its file
 * download is refused with 403 and the reason, also when the file is already cached.
 */
import { quarantineCheck } from '../../curation/quarantine.ts';
import type { CurationGate } from '../../curation/types.ts';
import { parseDistFilename } from './filenames.ts';
import type { PypiSource } from './model.ts';

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
      const files = page.files.filter(
        (file) => !gate.hides({ registry: 'pypi', name: project, version: file.version }),
      );
      return files.length === page.files.length ? page : { ...page, files };
    },
    async openFile(repo, project, filename) {
      if (internal(project)) return undefined;
      gate.guard({
        registry: 'pypi',
        name: project,
        version: parseDistFilename(filename, project)?.version,
      });
      const file = await source.openFile(repo, project, filename);
      if (file !== undefined) {
        const version = parseDistFilename(filename, project)?.version;
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
