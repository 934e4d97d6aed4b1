/**
 * SQL metadata of hosted Go module repositories (table in migrations.ts). A version is added in
 * one statement after its blobs are committed, so a failed upload leaves no row; the primary key
 * (repo, module, version) settles two concurrent uploads of one version: the second is refused
 * with 409, and the version keeps meaning the bytes of the first (module versions are immutable:
 * go.sum pins their hashes). An admin's delete (deleteVersion, deleteModule) removes rows; the
 * `.mod`/`.zip` blobs stay until garbage collection finds them unreferenced (`nora gc`).
 */
import type { Kysely } from 'kysely';
import { RegistryError } from '../../core/errors.ts';
import type { GoModuleVersionsTable, GoTables } from './migrations.ts';

export interface StoredVersion {
  readonly module: string;
  readonly version: string;
  readonly pseudo: boolean;
  readonly mod: { readonly blob: string; readonly size: number };
  readonly zip: { readonly blob: string; readonly size: number };
  /** RFC 3339. */
  readonly time: string;
  readonly createdAt: number;
  readonly uploader: string | undefined;
}

export type NewVersion = Omit<StoredVersion, 'createdAt'>;

/** The answer to a second upload of a version (409: versions are immutable). */
export function versionExistsError(module: string, version: string): RegistryError {
  return new RegistryError(
    'CONFLICT',
    `${module}@${version} already exists; module versions are immutable (publish a new version)`,
  );
}

export class GoStore {
  readonly #db: Kysely<GoTables>;
  readonly #now: () => number;

  constructor(db: Kysely<GoTables>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Every stored version of `module` in `repo` (any order); empty when none. */
  async versions(repo: string, module: string): Promise<StoredVersion[]> {
    const rows = await this.#db
      .selectFrom('go_module_versions')
      .selectAll()
      .where('repo', '=', repo)
      .where('module', '=', module)
      .execute();
    return rows.map(toStored);
  }

  async version(repo: string, module: string, version: string): Promise<StoredVersion | undefined> {
    const row = await this.#db
      .selectFrom('go_module_versions')
      .selectAll()
      .where('repo', '=', repo)
      .where('module', '=', module)
      .where('version', '=', version)
      .executeTakeFirst();
    return row === undefined ? undefined : toStored(row);
  }

  async hasModule(repo: string, module: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('go_module_versions')
      .select('version')
      .where('repo', '=', repo)
      .where('module', '=', module)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Module paths with at least one version in `repo`, sorted. */
  async modules(repo: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('go_module_versions')
      .select('module')
      .distinct()
      .where('repo', '=', repo)
      .orderBy('module')
      .execute();
    return rows.map((r) => r.module);
  }

  /**
   * Deletes `module@version` of `repo` (exact canonical version); its blobs are left for gc.
   * Returns the row deleted and whether it was the module's last version (the module path is
   * then no longer hosted in `repo`); undefined when there was no such version.
   */
  async deleteVersion(
    repo: string,
    module: string,
    version: string,
  ): Promise<{ readonly deleted: StoredVersion; readonly moduleDeleted: boolean } | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      // DELETE … RETURNING: the row and its removal in one statement.
      const row = await trx
        .deleteFrom('go_module_versions')
        .where('repo', '=', repo)
        .where('module', '=', module)
        .where('version', '=', version)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) return undefined;
      const left = await trx
        .selectFrom('go_module_versions')
        .select('version')
        .where('repo', '=', repo)
        .where('module', '=', module)
        .limit(1)
        .executeTakeFirst();
      return { deleted: toStored(row), moduleDeleted: left === undefined };
    });
  }

  /**
   * Deletes every version of `module` in `repo`, pseudo-versions included; blobs are left for
   * gc. Returns the versions deleted (any order); empty when the module had none.
   */
  async deleteModule(repo: string, module: string): Promise<StoredVersion[]> {
    const rows = await this.#db
      .deleteFrom('go_module_versions')
      .where('repo', '=', repo)
      .where('module', '=', module)
      .returningAll()
      .execute();
    return rows.map(toStored);
  }

  /** Adds a version; throws CONFLICT (409) when it exists already. */
  async add(repo: string, v: NewVersion): Promise<StoredVersion> {
    const createdAt = this.#now();
    try {
      await this.#db
        .insertInto('go_module_versions')
        .values({
          repo,
          module: v.module,
          version: v.version,
          pseudo: v.pseudo ? 1 : 0,
          mod_blob: v.mod.blob,
          mod_size: v.mod.size,
          zip_blob: v.zip.blob,
          zip_size: v.zip.size,
          time: v.time,
          created_at: createdAt,
          uploader: v.uploader ?? null,
        })
        .execute();
    } catch (err) {
      if (
        err instanceof Error &&
        /UNIQUE constraint failed: go_module_versions/.test(err.message)
      ) {
        throw versionExistsError(v.module, v.version);
      }
      throw err;
    }
    return { ...v, createdAt };
  }
}

function toStored(row: GoModuleVersionsTable): StoredVersion {
  return {
    module: row.module,
    version: row.version,
    pseudo: row.pseudo === 1,
    mod: { blob: row.mod_blob, size: row.mod_size },
    zip: { blob: row.zip_blob, size: row.zip_size },
    time: row.time,
    createdAt: row.created_at,
    uploader: row.uploader ?? undefined,
  };
}
