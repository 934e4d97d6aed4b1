/**
 * Helm's retention adapter (src/retention/types.ts): a name is a chart, a version a chart
 * version, stored when it was last uploaded (a `?force` replacement counts from then); its bytes
 * are the `.tgz` and its `.prov`; no tags. A delete is ChartMuseum's
 * `DELETE /api/charts/<name>/<version>` (HelmHosted.remove): the row goes, the repository's
 * change counter moves so index.yaml is rendered again without the version, the name stays
 * reserved to the repository (as after any delete). The files are freed by gc.
 */
import { RegistryError } from '../../core/errors.ts';
import type { RetentionAdapter } from '../../retention/types.ts';
import type { HelmHosted } from './hosted.ts';
import type { HelmStore } from './store.ts';

export function helmRetention(store: HelmStore, hosted: HelmHosted): RetentionAdapter {
  return {
    format: 'helm',
    async versions(repo) {
      const rows = await store.allVersions(repo.name);
      return rows.map((row) => ({
        name: row.name,
        version: row.version,
        storedAt: row.updated_at,
        bytes: row.size + (row.prov_size ?? 0),
        tags: [],
      }));
    },
    async delete(repo, version) {
      try {
        await hosted.remove(repo, version.name, version.version);
      } catch (err) {
        if (err instanceof RegistryError && err.status === 404) return { deleted: false, bytes: 0 };
        throw err;
      }
      return { deleted: true, bytes: version.bytes };
    },
  };
}
