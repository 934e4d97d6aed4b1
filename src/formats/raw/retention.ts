/**
 * Raw's retention adapter (src/retention/types.ts): a name is a FOLDER (`releases/tool`; `` for
 * the repository's root, which `name_glob = "**"` matches), a version a FILE directly in it
 * (`tool-1.4.tar.gz`), stored when it was last written; no tags. So `keep_last = 5` keeps the
 * five newest files of each folder, e.g. of a folder CI uploads nightly builds into. Files of
 * sub-folders are judged with their own folder.
 *
 * A delete is `DELETE /raw/<path>` with `If-Match: <etag>` (RawHosted.remove): only the very
 * file the rules judged goes (one replaced since the listing is kept), its folders go with their
 * last file, and the hosted warm-row and small-file caches forget it.
 */
import { RegistryError } from '../../core/errors.ts';
import type { RetentionAdapter } from '../../retention/types.ts';
import type { RawHosted } from './hosted.ts';
import type { RawStore } from './store.ts';

interface RawHandle {
  readonly path: string;
  readonly etag: string;
}

export function rawRetention(store: RawStore, hosted: RawHosted): RetentionAdapter {
  return {
    format: 'raw',
    async versions(repo) {
      const rows = await store.allFiles(repo.name);
      return rows.map((row) => ({
        name: row.parent,
        version: row.name,
        storedAt: row.updated_at,
        bytes: row.size,
        tags: [],
        handle: {
          path: row.path,
          etag: row.digest.slice(row.digest.indexOf(':') + 1),
        } satisfies RawHandle,
      }));
    },
    async delete(repo, version) {
      const { path, etag } = version.handle as RawHandle;
      try {
        await hosted.remove(repo, path, [etag]);
      } catch (err) {
        // Gone (404) or replaced since the listing (412): not the file the rules judged.
        if (err instanceof RegistryError && (err.status === 404 || err.status === 412)) {
          return { deleted: false, bytes: 0 };
        }
        throw err;
      }
      return { deleted: true, bytes: version.bytes };
    },
  };
}
