/**
 * npm's retention adapter (src/retention/types.ts): a name is a package, a version a published
 * version, its tags the dist-tags pointing at it. The version `latest` points to is protected:
 * npm installs it by default, and `npm unpublish` refuses to leave a package without it only by
 * moving the tag, which a rule cannot decide (move `latest` first to let a rule delete it).
 * A delete is `npm unpublish <name>@<version>`'s step (NpmService.deleteTarball): the version
 * becomes a tombstone (name@version never reused, the tarball left to gc), tags pointing at it go,
 * the package's revision moves, and its rendered packuments are dropped from the cache.
 */
import type { RenderedDocCache } from '../../core/rendered-docs.ts';
import type { RetentionAdapter, RetentionVersion } from '../../retention/types.ts';
import type { NpmStore } from './store.ts';

export function npmRetention(store: NpmStore, cache: RenderedDocCache): RetentionAdapter {
  return {
    format: 'npm',
    async versions(repo) {
      const out: RetentionVersion[] = [];
      for (const name of await store.names(repo.name)) {
        const pkg = await store.get(repo.name, name);
        if (!pkg) continue;
        const tagsOf = new Map<string, string[]>();
        for (const [tag, version] of Object.entries(pkg.tags)) {
          tagsOf.set(version, [...(tagsOf.get(version) ?? []), tag]);
        }
        for (const v of pkg.versions) {
          const tags = (tagsOf.get(v.version) ?? []).sort();
          out.push({
            name,
            version: v.version,
            storedAt: v.publishedAt,
            bytes: v.size,
            tags,
            protectedBy: tags.includes('latest')
              ? 'dist-tag latest points to it (move the tag to let a rule delete it)'
              : undefined,
          });
        }
      }
      return out;
    },
    async delete(repo, version) {
      const pkg = await store.get(repo.name, version.name);
      const live = pkg?.versions.find((v) => v.version === version.version);
      if (!pkg || !live) return { deleted: false, bytes: 0 };
      // Checked again at delete time: `latest` may have moved onto it since the listing.
      if (pkg.tags['latest'] === version.version) return { deleted: false, bytes: 0 };
      try {
        await store.update(repo.name, version.name, { remove: [version.version] });
      } finally {
        cache.invalidate(version.name);
      }
      return { deleted: true, bytes: live.size };
    },
  };
}
