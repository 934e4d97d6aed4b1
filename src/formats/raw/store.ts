/**
 * SQL metadata of hosted raw repositories (migrations.ts). Every write is one transaction, so the
 * conditions of a PUT are decided atomically whatever the storage backend: of two racing
 * `If-Match: <etag>` overwrites exactly one wins (compare-and-swap on the row's digest), of two
 * racing creates exactly one, and a refused write leaves no row behind.
 */
import type { Kysely, Transaction } from 'kysely';
import { RegistryError } from '../../core/errors.ts';
import type { RawDirsTable, RawFilesTable, RawTables } from './migrations.ts';
import { ancestors, splitPath } from './paths.ts';

export type StoredRawFile = RawFilesTable;

/**
 * What a write may do to an existing file at its path:
 * - `create`: nothing there (else 409: files are immutable);
 * - `create-only`: nothing there (else 412: `If-None-Match: *`);
 * - `match`: a file whose sha256 hex is one of `etags` is there (else 412: `If-Match`); `*`
 *   matches any existing file;
 * - `any`: create or replace (`[raw] immutable = false`).
 */
export type WriteCondition =
  | { readonly kind: 'create' }
  | { readonly kind: 'create-only' }
  | { readonly kind: 'match'; readonly etags: readonly string[] }
  | { readonly kind: 'any' };

/** One listing entry as the store has it. */
export type ListedEntry =
  | {
      readonly kind: 'dir';
      readonly name: string;
      readonly files: number;
      readonly updatedAt: number;
    }
  | {
      readonly kind: 'file';
      readonly name: string;
      readonly size: number;
      readonly digest: string;
      readonly updatedAt: number;
    };

export interface PutResult {
  readonly created: boolean;
  /** The digest the path held before (a replace), for blob cleanup. */
  readonly previous: string | undefined;
}

export class RawStore {
  readonly #db: Kysely<RawTables>;

  constructor(db: Kysely<RawTables>) {
    this.#db = db;
  }

  /** The row of `path` in `repo`, or undefined. */
  file(repo: string, path: string): Promise<StoredRawFile | undefined> {
    return this.#db
      .selectFrom('raw_files')
      .selectAll()
      .where('repo', '=', repo)
      .where('path', '=', path)
      .executeTakeFirst();
  }

  /** The folder row of `path` in `repo`, or undefined (a folder exists while it holds a file). */
  dir(repo: string, path: string): Promise<RawDirsTable | undefined> {
    return this.#db
      .selectFrom('raw_dirs')
      .selectAll()
      .where('repo', '=', repo)
      .where('path', '=', path)
      .executeTakeFirst();
  }

  /**
   * Records `path` → `digest` (`size` bytes) under `condition` (see WriteCondition), in one
   * transaction. Also refuses (409) a path whose folder is a file (`a.txt/b`) or that is a folder
   * (`a/` holding files): a tree that a browser and `wget -r` can walk.
   */
  async put(
    repo: string,
    path: string,
    digest: string,
    size: number,
    condition: WriteCondition,
  ): Promise<PutResult> {
    return this.#db.transaction().execute(async (trx) => {
      const now = Date.now();
      const existing = await trx
        .selectFrom('raw_files')
        .select(['digest'])
        .where('repo', '=', repo)
        .where('path', '=', path)
        .executeTakeFirst();
      checkCondition(path, existing?.digest, condition);
      if (existing) {
        await trx
          .updateTable('raw_files')
          .set({ digest, size, updated_at: now })
          .where('repo', '=', repo)
          .where('path', '=', path)
          .execute();
        await touchDirs(trx, repo, path, 0, now);
        return { created: false, previous: existing.digest };
      }
      await checkShape(trx, repo, path);
      const { parent, name } = splitPath(path);
      await trx
        .insertInto('raw_files')
        .values({ repo, path, parent, name, digest, size, created_at: now, updated_at: now })
        .execute();
      await touchDirs(trx, repo, path, 1, now);
      return { created: true, previous: undefined };
    });
  }

  /**
   * Deletes the file at `path` (when `etags` is given, only if its digest matches: `If-Match`,
   * else 412). Returns the digest it held, or undefined when there was no file.
   */
  async delete(repo: string, path: string, etags?: readonly string[]): Promise<string | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('raw_files')
        .select(['digest'])
        .where('repo', '=', repo)
        .where('path', '=', path)
        .executeTakeFirst();
      if (!existing) return undefined;
      if (etags !== undefined) checkCondition(path, existing.digest, { kind: 'match', etags });
      await trx.deleteFrom('raw_files').where('repo', '=', repo).where('path', '=', path).execute();
      const now = Date.now();
      await touchDirs(trx, repo, path, -1, now);
      await trx
        .deleteFrom('raw_dirs')
        .where('repo', '=', repo)
        .where('path', 'in', ancestors(path).length > 0 ? ancestors(path) : [''])
        .where('files', '<=', 0)
        .execute();
      return existing.digest;
    });
  }

  /** True when any file of any raw repository still refers to `digest` (blob cleanup). */
  async referenced(digest: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('raw_files')
      .select('path')
      .where('digest', '=', digest)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * One page of the folder `parent` (`` = root): folders and files ordered by name (code-unit
   * order), names strictly after `after`, at most `limit` of them, and whether more follow.
   */
  async list(
    repo: string,
    parent: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ entries: ListedEntry[]; more: boolean }> {
    let dirs = this.#db
      .selectFrom('raw_dirs')
      .select(['name', 'files', 'updated_at'])
      .where('repo', '=', repo)
      .where('parent', '=', parent);
    let files = this.#db
      .selectFrom('raw_files')
      .select(['name', 'size', 'digest', 'updated_at'])
      .where('repo', '=', repo)
      .where('parent', '=', parent);
    if (after !== undefined) {
      dirs = dirs.where('name', '>', after);
      files = files.where('name', '>', after);
    }
    const [dirRows, fileRows] = await Promise.all([
      dirs
        .orderBy('name')
        .limit(limit + 1)
        .execute(),
      files
        .orderBy('name')
        .limit(limit + 1)
        .execute(),
    ]);
    const entries: ListedEntry[] = [
      ...dirRows.map((d): ListedEntry => ({
        kind: 'dir',
        name: d.name,
        files: d.files,
        updatedAt: d.updated_at,
      })),
      ...fileRows.map((f): ListedEntry => ({
        kind: 'file',
        name: f.name,
        size: f.size,
        digest: f.digest,
        updatedAt: f.updated_at,
      })),
    ].sort((a, b) => compareNames(a.name, b.name));
    return { entries: entries.slice(0, limit), more: entries.length > limit };
  }
}

/** SQLite's default (BINARY) collation on UTF-8 text: byte order, the order the indexes keep. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function checkCondition(
  path: string,
  existing: string | undefined,
  condition: WriteCondition,
): void {
  switch (condition.kind) {
    case 'any':
      return;
    case 'create':
      if (existing !== undefined) {
        throw new RegistryError(
          'CONFLICT',
          `${path} already exists and raw files are immutable: overwrite with If-Match: "<etag>"`,
        );
      }
      return;
    case 'create-only':
      if (existing !== undefined)
        throw preconditionFailed(`${path} already exists (If-None-Match: *)`);
      return;
    case 'match': {
      if (existing === undefined) throw preconditionFailed(`${path} does not exist (If-Match)`);
      const hex = existing.slice(existing.indexOf(':') + 1);
      if (!condition.etags.some((e) => e === '*' || e === hex)) {
        throw preconditionFailed(`${path} has changed: its ETag is "${hex}" (If-Match)`);
      }
      return;
    }
  }
}

export function preconditionFailed(message: string): RegistryError {
  return new RegistryError('PRECONDITION_FAILED', message);
}

/** No ancestor of `path` is a file, and `path` itself is not a folder. */
async function checkShape(trx: Transaction<RawTables>, repo: string, path: string): Promise<void> {
  const above = ancestors(path);
  if (above.length > 0) {
    const blocking = await trx
      .selectFrom('raw_files')
      .select('path')
      .where('repo', '=', repo)
      .where('path', 'in', above)
      .executeTakeFirst();
    if (blocking) {
      throw new RegistryError(
        'CONFLICT',
        `${blocking.path} is a file, so it cannot be a folder of ${path}`,
      );
    }
  }
  const folder = await trx
    .selectFrom('raw_dirs')
    .select('path')
    .where('repo', '=', repo)
    .where('path', '=', path)
    .executeTakeFirst();
  if (folder) throw new RegistryError('CONFLICT', `${path} is a folder, not a file`);
}

/** Adds `delta` to the file count of every folder above `path` (creating them), stamps `now`. */
async function touchDirs(
  trx: Transaction<RawTables>,
  repo: string,
  path: string,
  delta: number,
  now: number,
): Promise<void> {
  for (const dir of ancestors(path)) {
    const { parent, name } = splitPath(dir);
    await trx
      .insertInto('raw_dirs')
      .values({ repo, path: dir, parent, name, files: Math.max(delta, 0), updated_at: now })
      .onConflict((oc) =>
        oc.columns(['repo', 'path']).doUpdateSet((eb) => ({
          files: eb('raw_dirs.files', '+', delta),
          updated_at: now,
        })),
      )
      .execute();
  }
}
