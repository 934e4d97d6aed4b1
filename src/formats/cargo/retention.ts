/**
 * Retention of hosted Cargo registries (src/retention/types.ts): a name is a crate (its
 * lower-cased name, as access rules and the index path write it), a version is one published
 * version, yanked or not (a yanked version still holds its `.crate` and serves locked builds).
 *
 * Retention DELETES, it does not yank: CargoHosted.deleteVersion on the instance the routes serve
 * from, what an admin's `DELETE /api/v1/crates/<name>/<vers>` does. The version's line leaves the
 * sparse index file (derived from the rows left; the in-memory copy is keyed by the store's
 * per-crate generation, which the delete bumps), a Cargo.lock pinning it no longer resolves, and
 * when it was the crate's last version the crate and its owners go: a group guarding hosted names
 * asks its proxies for the name again. The `.crate` blobs stay for `nora gc`. A version is stored
 * at its publish; `keep_last` counts in publish order.
 */
import type { Repository } from '../../repos/repository.ts';
import { deleteUnlessGone } from '../../retention/delete.ts';
import type {
  RetentionAdapter,
  RetentionDeleted,
  RetentionSupport,
  RetentionVersion,
} from '../../retention/types.ts';
import type { CargoHosted } from './hosted.ts';

export const CARGO_RETENTION: RetentionSupport = { name: 'crate', version: 'version' };

/** The retention adapter over `hosted`, the CargoHosted the routes use. */
export function cargoRetention(hosted: CargoHosted): RetentionAdapter {
  return {
    format: 'cargo',
    async versions(repo: Repository): Promise<RetentionVersion[]> {
      return (await hosted.store.allVersions(repo.name)).map((v) => ({
        name: v.crate,
        version: v.vers,
        storedAt: v.publishedAt,
        bytes: v.size,
        tags: [],
      }));
    },
    delete(repo: Repository, version: RetentionVersion): Promise<RetentionDeleted> {
      return deleteUnlessGone(
        () => hosted.deleteVersion(repo, version.name, version.version),
        version.bytes,
      );
    },
  };
}
