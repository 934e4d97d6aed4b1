/**
 * Retention of hosted Go module repositories (src/retention/types.ts): a name is a module path
 * (`example.com/team/lib`, `…/v2` a module of its own), a version is one stored version with
 * its `.mod` and `.zip`, pseudo-versions included (they are stored and counted like the others,
 * though `@v/list` does not show them). A version is stored at its upload; `keep_last` counts in
 * upload order, not semver order.
 *
 * Deletion is GoHosted.deleteVersion on the instance the routes serve from, what an admin's
 * `DELETE <mount>/<module>/@v/<version>.zip` does (delete.ts): `@v/list`, `.info`, `.mod`,
 * `.zip` and `@latest` are recomputed from the rows left (the in-memory copy is dropped), a
 * module path with no version left is no longer hosted (a group guarding hosted names asks its
 * proxies for that path's tree again, unless a sub-module still holds it), and the blobs stay for
 * `nora gc`. A go.mod requiring a deleted version no longer builds with a fresh module cache.
 */
import type { Repository } from '../../repos/repository.ts';
import { deleteUnlessGone } from '../../retention/delete.ts';
import type {
  RetentionAdapter,
  RetentionDeleted,
  RetentionSupport,
  RetentionVersion,
} from '../../retention/types.ts';
import type { GoHosted } from './hosted.ts';

export const GO_RETENTION: RetentionSupport = { name: 'module', version: 'version' };

/** The retention adapter over `hosted`, the GoHosted the routes use. */
export function goRetention(hosted: GoHosted): RetentionAdapter {
  return {
    format: 'go',
    async versions(repo: Repository): Promise<RetentionVersion[]> {
      const out: RetentionVersion[] = [];
      for (const module of await hosted.store.modules(repo.name)) {
        for (const v of await hosted.store.versions(repo.name, module)) {
          out.push({
            name: module,
            version: v.version,
            storedAt: v.createdAt,
            bytes: v.mod.size + v.zip.size,
            tags: [],
          });
        }
      }
      return out;
    },
    delete(repo: Repository, version: RetentionVersion): Promise<RetentionDeleted> {
      return deleteUnlessGone(
        () => hosted.deleteVersion(repo, version.name, version.version),
        version.bytes,
      );
    },
  };
}
