/**
 * OCI's retention adapter (src/retention/types.ts): a name is an image (`team/app`), a version a
 * TAG of it, stored when the tag was last set (a re-push of the tag counts from then); its
 * `tags` is the tag itself, which `exclude_tags` globs match. Untagged manifests (an index's
 * platform children, pushes by digest, referrers) are not versions and are left alone.
 *
 * A delete is the registry API's: `DELETE /v2/<name>/manifests/<tag>` (the tag goes), then,
 * when no tag of the name points at its manifest any more, `DELETE …/manifests/<digest>`
 * (Hosted.deleteManifest, under the name's lock, refused while an index of the name lists the
 * manifest: it is then kept, untagged). So a retention pass leaves no untagged image behind that
 * gc could not free; the layers are freed by gc once no manifest refers to them.
 */
import { RegistryError } from '../../core/errors.ts';
import type { RetentionAdapter } from '../../retention/types.ts';
import type { Hosted } from './hosted.ts';

interface OciHandle {
  readonly digest: string;
}

export function ociRetention(hosted: Hosted): RetentionAdapter {
  return {
    format: 'docker',
    async versions(repo) {
      const rows = await hosted.sql.tagRows(repo.name);
      return rows.map((row) => ({
        name: row.name,
        version: row.tag,
        storedAt: row.updated_at,
        bytes: row.size,
        tags: [row.tag],
        handle: { digest: row.digest } satisfies OciHandle,
      }));
    },
    async delete(repo, version) {
      const { digest } = version.handle as OciHandle;
      // The tag may have moved to another manifest since the listing: the rules judged this one.
      const current = await hosted.sql.manifestByTag(repo.name, version.name, version.version);
      if (current?.digest !== digest) return { deleted: false, bytes: 0 };
      const deleted = await hosted.sql.deleteTag(repo.name, version.name, version.version);
      if (!deleted) return { deleted: false, bytes: 0 };
      // Bytes freed are the manifest's only when the manifest goes: a tag whose manifest another
      // tag (or an index) still holds frees nothing, now or after gc (trial 27 newR F7).
      let freed = 0;
      if ((await hosted.sql.tagsOf(repo.name, version.name, digest)).length === 0) {
        freed = await hosted.deleteManifest(repo.name, version.name, digest).then(
          () => version.bytes,
          (err: unknown) => {
            // Listed by an index of the name: kept (untagged), as the API's DELETE would refuse.
            if (!(err instanceof RegistryError && err.status === 409)) throw err;
            return 0;
          },
        );
      }
      return { deleted: true, bytes: freed };
    },
  };
}
