/**
 * The retention contract (NORA's `[retention]`, `nora retention-plan`, `nora retention-apply`):
 * what a format hands the retention engine (src/retention/) so the rules can judge a hosted
 * repository's versions and delete the ones they select.
 *
 * A format supporting retention sets `FormatModule.retention` (static facts: what a name and a
 * version are) and, in its `register()`, calls `context.retention.provide(adapter)` with an
 * adapter built over the SAME services its routes use: a deletion then goes through the format's
 * own delete path (index/metadata files rewritten, group-held names given back, in-memory caches
 * and snapshots invalidated, locks taken) exactly as its HTTP DELETE / unpublish does. Rows the
 * adapter writes bump `context.writes` (db/node-sqlite-dialect.ts), which invalidates kept
 * answers (http/answer-memo.ts); a source changing outside the store bumps it itself.
 *
 * Retention applies to HOSTED repositories only: proxy caches refetch what they drop, and groups
 * hold nothing of their own. The engine never asks an adapter about another kind.
 */
import type { FormatName } from '../config/schema.ts';
import type { Repository } from '../repos/repository.ts';

/** One deletable unit of a hosted repository, as the rules see it. */
export interface RetentionVersion {
  /**
   * The name `name_glob` matches and versions are grouped by: an image (`team/app`), a package
   * (`@scope/pkg`), a project, a GA (`com.example:lib`), a crate, a module path, a raw folder, a
   * chart. Written as the format's URLs and access rules write it.
   */
  readonly name: string;
  /** The version within `name`: a tag, a version string, a raw file name. */
  readonly version: string;
  /**
   * When the version was stored (ms since the epoch): the age `older_than_days` compares and the
   * order `keep_last` counts in (newest first). A re-push that replaced it counts from then.
   */
  readonly storedAt: number;
  /**
   * Bytes the version's own files hold (tarball, archive, manifest + its layers' sizes as the
   * manifest states them...). Reported as "bytes of versions deleted": shared blobs are freed
   * only by gc, once nothing refers to them.
   */
  readonly bytes: number;
  /**
   * Tags naming this version, which `exclude_tags` globs are matched against: OCI's tag itself
   * (a version IS a tag there), npm's dist-tags pointing at it. `[]` when the format has none.
   */
  readonly tags: readonly string[];
  /**
   * Set when no rule may delete this version, with why (npm: the version `latest` points to;
   * OCI: a tag whose manifest an index lists). The planner keeps it and counts it toward
   * `keep_last` like any kept version; the plan names the reason.
   */
  readonly protectedBy?: string | undefined;
  /**
   * Adapter-private data the delete needs (a digest, a file path...), passed back unchanged to
   * `delete`. Never shown to users.
   */
  readonly handle?: unknown;
}

/** What deleting one version did. */
export interface RetentionDeleted {
  /** False when it was already gone (deleted in between): not an error, nothing counted. */
  readonly deleted: boolean;
  /** Bytes of the version deleted (its `bytes`, or what the delete path reports). */
  readonly bytes: number;
}

/**
 * A format's retention adapter over its live services (one per built app). Methods throw only
 * for real failures (storage, database); the engine logs them per version and goes on.
 */
export interface RetentionAdapter {
  readonly format: FormatName;
  /**
   * Every version `repo` (a hosted repository of this format) holds, in any order, all names.
   * Versions that are not live (npm's unpublished tombstones, half-written uploads) are left out.
   */
  versions(repo: Repository): Promise<RetentionVersion[]>;
  /**
   * Deletes `version` (one `versions(repo)` returned) from `repo` through the format's own delete
   * path, as its HTTP delete would, acting as the server itself (no access check: the rules are
   * the administrator's). Must not delete a `protectedBy` version (the engine never asks).
   */
  delete(repo: Repository, version: RetentionVersion): Promise<RetentionDeleted>;
}

/** Static facts a format declares on its FormatModule (`retention`), for plans and docs. */
export interface RetentionSupport {
  /** What a "name" is in this format, e.g. `image`, `package`, `folder`. */
  readonly name: string;
  /** What a "version" is, e.g. `tag`, `version`, `file`. */
  readonly version: string;
}

/**
 * Where formats hand their adapters (FormatContext.retention). One per built app: the engine,
 * the scheduler, `nora retention-plan/-apply` and the admin endpoint read it.
 */
export interface RetentionRegistry {
  /** Records `adapter` for its format (a second one for the same format replaces it). */
  provide(adapter: RetentionAdapter): void;
  /** The adapter of `format`, if its format provided one (formats disabled provide none). */
  adapter(format: FormatName): RetentionAdapter | undefined;
}

/** A simple RetentionRegistry (app.ts builds one per app). */
export class RetentionAdapters implements RetentionRegistry {
  readonly #byFormat = new Map<FormatName, RetentionAdapter>();
  provide(adapter: RetentionAdapter): void {
    this.#byFormat.set(adapter.format, adapter);
  }
  adapter(format: FormatName): RetentionAdapter | undefined {
    return this.#byFormat.get(format);
  }
}
