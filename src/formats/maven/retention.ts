/**
 * Retention of hosted Maven repositories (src/retention/types.ts): a name is an artifact, its
 * GA written `groupId:artifactId` (`com.example:lib`); a version is one version directory of it
 * with every file in it (POM, jars, classifiers, signatures). A SNAPSHOT version is ONE version,
 * all its timestamped builds included, stored at its newest build: `keep_last` counts snapshot
 * versions, not builds (a repository's `keep_snapshots` prunes the builds within one), and a
 * snapshot still being deployed to stays young.
 *
 * Versions are ordered by when they were deployed (their newest file), not by Maven's version
 * order: a 1.2.9 patch deployed after 2.0 counts as the newer. Deletion is
 * MavenHosted.removeVersion on the instance the routes serve from, what `DELETE
 * <g>/<a>/<version>/` does: the rows go, maven-metadata.xml (artifact and snapshot levels) is
 * derived from the rows left, the rendered-metadata and hot-file caches are told; an artifact
 * with no version left is no longer hosted, so a group guarding hosted names asks its proxies
 * for it again. The bytes stay for `nora gc`.
 */
import type { Repository } from '../../repos/repository.ts';
import type {
  RetentionAdapter,
  RetentionDeleted,
  RetentionSupport,
  RetentionVersion,
} from '../../retention/types.ts';
import type { MavenHosted } from './hosted.ts';

export const MAVEN_RETENTION: RetentionSupport = {
  name: 'artifact (groupId:artifactId)',
  version: 'version (a SNAPSHOT with all its builds)',
};

/** The coordinate `delete` is handed back (exact, rather than split again from `name`). */
interface MavenHandle {
  readonly groupId: string;
  readonly artifactId: string;
}

/** The retention adapter over `hosted`, the MavenHosted the routes use. */
export function mavenRetention(hosted: MavenHosted): RetentionAdapter {
  return {
    format: 'maven',
    async versions(repo: Repository): Promise<RetentionVersion[]> {
      return (await hosted.versionTotals(repo)).map((v) => {
        const handle: MavenHandle = { groupId: v.groupId, artifactId: v.artifactId };
        return {
          name: `${v.groupId}:${v.artifactId}`,
          version: v.version,
          storedAt: v.updatedAt,
          bytes: v.bytes,
          tags: [],
          handle,
        };
      });
    },
    async delete(repo: Repository, version: RetentionVersion): Promise<RetentionDeleted> {
      const { groupId, artifactId } = version.handle as MavenHandle;
      const removed = await hosted.removeVersion(repo, groupId, artifactId, version.version);
      // 0: deleted in between (a DELETE, another pass): nothing counted.
      return removed > 0 ? { deleted: true, bytes: version.bytes } : { deleted: false, bytes: 0 };
    },
  };
}
