/**
 * SQL metadata of hosted Helm repositories (table `helm_charts`, migrations.ts). Each write is
 * one transaction: of two racing uploads of one version exactly one wins (the other gets 409),
 * and a failed write leaves nothing behind.
 */
import type { Kysely } from 'kysely';
import { RegistryError } from '../../core/errors.ts';
import type { HelmChartsTable, HelmTables } from './migrations.ts';
import { versionTwin } from './chart.ts';

export type StoredChart = HelmChartsTable;
export type NewChart = Omit<HelmChartsTable, 'created_at' | 'updated_at'>;

export class HelmStore {
  readonly #db: Kysely<HelmTables>;

  constructor(db: Kysely<HelmTables>) {
    this.#db = db;
  }

  chart(repo: string, name: string, version: string): Promise<StoredChart | undefined> {
    return this.#db
      .selectFrom('helm_charts')
      .selectAll()
      .where('repo', '=', repo)
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  /**
   * The stored row of `name` `version` or of its other spelling (`v1.2.3` for `1.2.3` and back:
   * the same SemVer version, chart.ts `versionTwin`); the exact spelling first.
   */
  async sameVersion(repo: string, name: string, version: string): Promise<StoredChart | undefined> {
    const rows = await this.#db
      .selectFrom('helm_charts')
      .selectAll()
      .where('repo', '=', repo)
      .where('name', '=', name)
      .where('version', 'in', [version, versionTwin(version)])
      .execute();
    return rows.find((r) => r.version === version) ?? rows[0];
  }

  /** Every version of `name` (unordered). */
  versions(repo: string, name: string): Promise<StoredChart[]> {
    return this.#db
      .selectFrom('helm_charts')
      .selectAll()
      .where('repo', '=', repo)
      .where('name', '=', name)
      .execute();
  }

  /** Every version row of `repo`'s charts (retention's listing: helm/retention.ts). */
  allVersions(
    repo: string,
  ): Promise<Pick<StoredChart, 'name' | 'version' | 'size' | 'prov_size' | 'updated_at'>[]> {
    return this.#db
      .selectFrom('helm_charts')
      .select(['name', 'version', 'size', 'prov_size', 'updated_at'])
      .where('repo', '=', repo)
      .execute();
  }

  /** What an index needs of every row: name, version, entry, updated_at (unordered). */
  entries(repo: string): Promise<Pick<StoredChart, 'name' | 'version' | 'entry' | 'updated_at'>[]> {
    return this.#db
      .selectFrom('helm_charts')
      .select(['name', 'version', 'entry', 'updated_at'])
      .where('repo', '=', repo)
      .execute();
  }

  /** True when `name` was ever published in `repo` (deleted since or not). */
  async hasName(repo: string, name: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('helm_names')
      .select('name')
      .where('repo', '=', repo)
      .where('name', '=', name)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Every name ever published in `repo` (deleted since or not), unordered. */
  async names(repo: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('helm_names')
      .select('name')
      .where('repo', '=', repo)
      .execute();
    return rows.map((r) => r.name);
  }

  /**
   * Records a chart version; with `overwrite` false an existing row of the same SemVer version
   * (`1.2.3` or `v1.2.3`: one version to Helm) is a 409 (checked inside the transaction). A
   * replaced row keeps its `created_at`; one of the other spelling is deleted (the index then
   * lists the version once, as uploaded last). With `immutable` (`[helm] allow_overwrite =
   * false`) a version deleted before (`helm_deleted_versions`, either spelling) comes back only
   * with the archive it had: other bytes are a 409 (`deletedVersionConflict`). Returns whether the
   * row is new and the version a replaced row had.
   */
  async put(
    row: NewChart,
    overwrite: boolean,
    immutable = false,
  ): Promise<{ created: boolean; replaced: string | undefined }> {
    return this.#db.transaction().execute(async (trx) => {
      const now = Date.now();
      const found = await trx
        .selectFrom('helm_charts')
        .select(['version', 'created_at'])
        .where('repo', '=', row.repo)
        .where('name', '=', row.name)
        .where('version', 'in', [row.version, versionTwin(row.version)])
        .execute();
      const existing = found.find((r) => r.version === row.version) ?? found[0];
      if (existing && !overwrite) throw versionConflict(row.name, row.version, existing.version);
      if (existing) {
        await trx
          .deleteFrom('helm_charts')
          .where('repo', '=', row.repo)
          .where('name', '=', row.name)
          .where('version', 'in', [row.version, versionTwin(row.version)])
          .execute();
        await trx
          .insertInto('helm_charts')
          .values({ ...row, created_at: existing.created_at, updated_at: now })
          .execute();
        return { created: false, replaced: existing.version };
      }
      if (immutable) {
        const deleted = await trx
          .selectFrom('helm_deleted_versions')
          .select(['version', 'digest', 'deleted_at'])
          .where('repo', '=', row.repo)
          .where('name', '=', row.name)
          .where('version', 'in', [row.version, versionTwin(row.version)])
          .execute();
        if (deleted.length > 0 && !deleted.some((d) => d.digest === row.digest)) {
          const last = deleted.find((d) => d.version === row.version) ?? deleted[0];
          if (last) throw deletedVersionConflict(row.name, row.version, last);
        }
      }
      await trx
        .insertInto('helm_charts')
        .values({ ...row, created_at: now, updated_at: now })
        .execute();
      await trx
        .insertInto('helm_names')
        .values({ repo: row.repo, name: row.name, first_published_at: now })
        .onConflict((c) => c.columns(['repo', 'name']).doNothing())
        .execute();
      return { created: true, replaced: undefined };
    });
  }

  /** Attaches a provenance file; false when the version does not exist. */
  async setProv(
    repo: string,
    name: string,
    version: string,
    prov: { digest: string; size: number },
    overwrite: boolean,
  ): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('helm_charts')
        .select('prov_digest')
        .where('repo', '=', repo)
        .where('name', '=', name)
        .where('version', '=', version)
        .executeTakeFirst();
      if (!row) return false;
      if (row.prov_digest !== null && !overwrite) {
        throw new RegistryError(
          'CONFLICT',
          `${name}-${version}.tgz.prov already exists: ${forceHint(name, `${name}-${version}.tgz.prov`, 'prov')}`,
        );
      }
      await trx
        .updateTable('helm_charts')
        .set({ prov_digest: prov.digest, prov_size: prov.size, updated_at: Date.now() })
        .where('repo', '=', repo)
        .where('name', '=', name)
        .where('version', '=', version)
        .execute();
      return true;
    });
  }

  /**
   * Deletes one version, `version` in either spelling (`1.2.3` / `v1.2.3`, the exact one first);
   * returns the version deleted as it was spelled, undefined when absent. Its digest is
   * remembered (`helm_deleted_versions`: with `[helm] allow_overwrite = false` the version comes
   * back only with those bytes). Bytes stay until blob GC finds them unused; the name stays in
   * `helm_names` (the group's guard keeps protecting it).
   */
  async delete(repo: string, name: string, version: string): Promise<string | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('helm_charts')
        .select(['version', 'digest'])
        .where('repo', '=', repo)
        .where('name', '=', name)
        .where('version', 'in', [version, versionTwin(version)])
        .execute();
      const row = rows.find((r) => r.version === version) ?? rows[0];
      if (!row) return undefined;
      const result = await trx
        .deleteFrom('helm_charts')
        .where('repo', '=', repo)
        .where('name', '=', name)
        .where('version', '=', row.version)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return undefined;
      const deletedAt = Date.now();
      await trx
        .insertInto('helm_deleted_versions')
        .values({ repo, name, version: row.version, digest: row.digest, deleted_at: deletedAt })
        .onConflict((c) =>
          c
            .columns(['repo', 'name', 'version'])
            .doUpdateSet({ digest: row.digest, deleted_at: deletedAt }),
        )
        .execute();
      return row.version;
    });
  }
}

/**
 * How to replace an existing chart version or provenance file (`file`, of the chart `name`,
 * uploaded by POST to `api/<endpoint>`), for a 409 while [helm] allow_overwrite is on:
 * ChartMuseum's `?force` query on the upload (any value but `false` or `0`: routes.ts forceOf),
 * which also needs `delete` on the chart (the `write` role includes it; with rules, a rule
 * granting `delete`).
 */
export function forceHint(name: string, file: string, endpoint: 'charts' | 'prov'): string {
  return `to replace it, upload it again with ?force=true (POST <repository>/api/${endpoint}?force=true, or PUT <repository>/${file}?force=true), which needs the delete permission on ${name} (the write role includes it; with [[auth.rules]], a rule granting "delete")`;
}

export function versionConflict(name: string, version: string, stored = version): RegistryError {
  return new RegistryError(
    'CONFLICT',
    `${sameVersionAs(name, version, stored)} already exists (replaced only by an upload with ?force, where [helm] allow_overwrite is on)`,
  );
}

/**
 * What a 409 names: `<name>-<version>.tgz`, or, when the stored row spells the version the
 * other way (`1.2.3` for an upload of `v1.2.3`), that it is the same SemVer version as it.
 */
export function sameVersionAs(name: string, version: string, stored: string): string {
  return stored === version
    ? `${name}-${version}.tgz`
    : `${name}-${version}.tgz is the same SemVer version as ${name}-${stored}.tgz, which`;
}

/**
 * The 409 for an upload of other bytes under a version deleted before, while `[helm]
 * allow_overwrite = false` makes versions immutable: a client (or a cache: the archive was served
 * `immutable`) that fetched the deleted archive must never get other bytes under its name.
 */
export function deletedVersionConflict(
  name: string,
  version: string,
  deleted: { version: string; digest: string; deleted_at: number },
): RegistryError {
  return new RegistryError(
    'CONFLICT',
    `${sameVersionAs(name, version, deleted.version)} was deleted on ${new Date(deleted.deleted_at).toISOString()}, and versions are immutable on this server ([helm] allow_overwrite = false): a deleted version may come back only with the archive it had (${deleted.digest}), not other bytes. Publish the changed chart as a new version (raise version in Chart.yaml)`,
  );
}
