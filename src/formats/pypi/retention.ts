/**
 * Retention of hosted PyPI repositories (src/retention/types.ts): a name is a project (PEP 503
 * normalised, as access rules and `/simple/<project>/` write it), a version is a release — every
 * file of it (sdist and wheels) goes together, as `DELETE /pypi/<project>/<version>` deletes it.
 *
 * A release's `storedAt` is its newest file's upload: a wheel added to an old release later
 * makes the release young again (what was uploaded last is kept longest). Deletion is
 * PypiHosted.deleteRelease on the instance the routes serve from: its page memo is keyed by the
 * store's per-project generation, which the delete bumps, and the deleted filenames are
 * remembered (`pypi_deleted_files`), so they are never accepted again — the public index's rule.
 * A project whose releases all go stops being hosted: a group guarding hosted names asks its
 * upstreams for it again, as after a DELETE.
 */
import type { Repository } from '../../repos/repository.ts';
import { deleteUnlessGone } from '../../retention/delete.ts';
import type {
  RetentionAdapter,
  RetentionDeleted,
  RetentionSupport,
  RetentionVersion,
} from '../../retention/types.ts';
import type { PypiHosted } from './hosted.ts';

export const PYPI_RETENTION: RetentionSupport = { name: 'project', version: 'release' };

/** The retention adapter over `hosted`, the PypiHosted the routes use. */
export function pypiRetention(hosted: PypiHosted): RetentionAdapter {
  return {
    format: 'pypi',
    async versions(repo: Repository): Promise<RetentionVersion[]> {
      const out: RetentionVersion[] = [];
      for (const name of await hosted.store.projectNames(repo.name)) {
        const project = await hosted.store.project(repo.name, name);
        if (project === undefined) continue;
        // Releases without files are not served (a release row goes with its last file anyway).
        const byKey = new Map<string, { storedAt: number; bytes: number }>();
        for (const file of project.files) {
          const seen = byKey.get(file.versionKey) ?? { storedAt: 0, bytes: 0 };
          seen.storedAt = Math.max(seen.storedAt, file.uploadTime);
          seen.bytes += file.size + (file.metadata?.size ?? 0);
          byKey.set(file.versionKey, seen);
        }
        for (const release of project.releases) {
          const files = byKey.get(release.versionKey);
          if (files === undefined) continue;
          out.push({
            name: project.name,
            version: release.version,
            storedAt: files.storedAt,
            bytes: files.bytes,
            tags: [],
          });
        }
      }
      return out;
    },
    delete(repo: Repository, version: RetentionVersion): Promise<RetentionDeleted> {
      // The release as stored: deleteRelease finds it by its PEP 440 key, any spelling.
      return deleteUnlessGone(
        () => hosted.deleteRelease(repo, version.name, version.version),
        version.bytes,
      );
    },
  };
}
