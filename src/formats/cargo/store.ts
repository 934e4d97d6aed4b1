/**
 * SQL metadata of hosted Cargo repositories (tables in migrations.ts). A version is added in one
 * transaction with its crate row (and the first owner), after its `.crate` is committed and
 * verified, so a refused publish leaves no row. The unique (repo, crate, version_key) index
 * settles two concurrent publishes of one version: the second gets "already exists"; publishes
 * of different versions both land, since the index file is read from the rows. An admin may
 * delete a crate or one version (deleteCrate, deleteVersion): the rows go, the `.crate` blobs
 * are left for gc.
 */
import { type Kysely, sql } from 'kysely';
import semver from 'semver';
import { RegistryError } from '../../core/errors.ts';
import { type SqliteHandle, sqliteHandleOf } from '../../db/sqlite-handle.ts';
import type { CargoTables, CargoVersionsTable } from './migrations.ts';
import type { IndexEntry } from './model.ts';
import { canonicalName } from './names.ts';

export interface StoredCrate {
  /** Lower-cased. */
  readonly name: string;
  readonly displayName: string;
  readonly description: string | undefined;
  readonly keywords: readonly string[];
  /** The highest version published. */
  readonly maxVersion: string;
}

export interface StoredVersion {
  readonly vers: string;
  readonly versionKey: string;
  /** The index entry as published, with the current `yanked`. */
  readonly entry: IndexEntry;
  readonly cksum: string;
  readonly size: number;
  readonly blob: string;
  readonly publishedBy: string | undefined;
  readonly publishedAt: number;
}

export interface NewVersion {
  /** As published (its case kept for the index `name`). */
  readonly displayName: string;
  readonly versionKey: string;
  /** The index entry (its `yanked` is ignored: a new version is not yanked). */
  readonly entry: IndexEntry;
  readonly size: number;
  readonly blob: string;
  readonly description: string | undefined;
  readonly keywords: readonly string[];
  /** The publisher's NORA user name (becomes the first owner of a new crate). */
  readonly publisher: string | undefined;
  /**
   * The publisher also becomes the owner of an existing crate that has none (published while
   * auth was off), once `check` let the publish through. Default false.
   */
  readonly adoptOwnerless?: boolean;
}

/**
 * Called inside the publish transaction with the crate's owners (`undefined` for a crate that
 * does not exist yet); throws to refuse, so an ownership check cannot race a concurrent publish.
 */
export type PublishCheck = (owners: readonly string[] | undefined) => void;

const HAS_CRATE = 'SELECT name, display_name FROM cargo_crates WHERE repo = ? AND canon = ?';

/** A crate's name as published: lower-cased (its key) and as spelled at its first publish. */
export interface PublishedName {
  readonly name: string;
  readonly displayName: string;
}

/** crateName answers kept (name lookups of group reads and the web API; a few dozen bytes each). */
const KEPT_HAS_CRATE = 65_536;

export class CargoStore {
  readonly #db: Kysely<CargoTables>;
  readonly #now: () => number;
  /** `<repo>\n<crate>` → writes finished so far (see generation()). */
  readonly #generations = new Map<string, number>();
  /** `<repo>` → publishes finished so far (crate rows are inserted by publish alone). */
  readonly #crateSets = new Map<string, number>();
  /** `<repo>` → crate deletions finished so far (crate rows are removed by them alone). */
  readonly #crateRemovals = new Map<string, number>();
  /**
   * `<repo>\n<canon>` → crateName's answer (the crate's lower-cased name, undefined: none) and
   * the `#crateSets` and `#crateRemovals` counts it was read at.
   */
  readonly #hasCrate = new Map<
    string,
    {
      readonly at: number;
      readonly removals: number;
      readonly name: PublishedName | undefined;
    }
  >();

  /** On SQLite: hasCrate's query precompiled (asked once per crate name a group reads). */
  readonly #sqlite: SqliteHandle | undefined;

  constructor(db: Kysely<CargoTables>, now: () => number = Date.now) {
    this.#db = db;
    this.#sqlite = sqliteHandleOf(db);
    this.#now = now;
  }

  /** Forgets every remembered crateName answer (CargoHosted.forgetKept). */
  forgetNames(): void {
    this.#hasCrate.clear();
  }

  /**
   * A change counter of `crate` in `repo`, bumped after every write to it (publish, yank,
   * unyank, delete) finished, committed or not. Read it BEFORE reading: what was read may be kept while
   * the counter stays the same. In-process (the database is written through this class alone).
   */
  generation(repo: string, crate: string): number {
    return this.#generations.get(`${repo}\n${crate}`) ?? 0;
  }

  #bump(repo: string, crate: string): void {
    const key = `${repo}\n${crate}`;
    this.#generations.set(key, (this.#generations.get(key) ?? 0) + 1);
  }

  async crate(repo: string, name: string): Promise<StoredCrate | undefined> {
    const row = await this.#db
      .selectFrom('cargo_crates')
      .selectAll()
      .where('repo', '=', repo)
      .where('name', '=', name)
      .executeTakeFirst();
    return row === undefined ? undefined : toStoredCrate(row);
  }

  /**
   * True when `name` or a spelling of it (`foo-bar` for `foo_bar`: crates.io's canonical name)
   * was ever published to `repo`: the group's guard, so an upstream crate that differs from a
   * hosted one by `-`/`_` is never served in its place.
   */
  async hasCrate(repo: string, name: string): Promise<boolean> {
    return (await this.crateName(repo, name)) !== undefined;
  }

  /**
   * The name as published of the crate of `repo` that `name` spells in any case and either of
   * `-`/`_` (crates.io's canonical name: `Bob-Crate` finds `bob_crate`), or undefined when there
   * is none. The one lookup by which the web API finds a crate.
   */
  async crateName(repo: string, name: string): Promise<PublishedName | undefined> {
    const known = this.crateNameKnown(repo, name);
    return known === undefined ? await this.#readCrateName(repo, name) : (known ?? undefined);
  }

  /** hasCrate's answer when it is known without SQL, else undefined (see crateNameKnown). */
  hasCrateKnown(repo: string, name: string): boolean | undefined {
    const known = this.crateNameKnown(repo, name);
    return known === undefined ? undefined : known !== null;
  }

  /**
   * crateName's answer when it is known without SQL (null: no such crate), else undefined.
   * Exact: a `cargo_crates` row is only ever inserted by publish() and removed by deleteCrate()
   * or the deletion of a crate's last version (never renamed); each counts the repository's
   * changes of its kind once it finished (`#crateSets`, `#crateRemovals`, committed or not). An
   * answer is kept with the counts read BEFORE its query, so a publish that ran meanwhile makes
   * a kept "absent" stale, and a deletion a kept name, never a wrong one.
   */
  crateNameKnown(repo: string, name: string): PublishedName | null | undefined {
    const kept = this.#hasCrate.get(`${repo}\n${canonicalName(name)}`);
    if (kept === undefined) return undefined;
    if (kept.name !== undefined) {
      return kept.removals === (this.#crateRemovals.get(repo) ?? 0) ? kept.name : undefined;
    }
    return kept.at === (this.#crateSets.get(repo) ?? 0) ? null : undefined;
  }

  async #readCrateName(repo: string, name: string): Promise<PublishedName | undefined> {
    const at = this.#crateSets.get(repo) ?? 0;
    const removals = this.#crateRemovals.get(repo) ?? 0;
    const canon = canonicalName(name);
    const sqlite = this.#sqlite;
    // Directly only while no transaction is open on the connection: a publish's transaction
    // (open across awaits) would show its crate row before it commits, and a kept name is
    // never asked again. Otherwise Kysely's query waits for the connection.
    const row =
      sqlite !== undefined && !sqlite.db.isTransaction
        ? (sqlite.prepare(HAS_CRATE).get(repo, canon) as
            { name: string; display_name: string } | undefined)
        : await this.#db
            .selectFrom('cargo_crates')
            .select(['name', 'display_name'])
            .where('repo', '=', repo)
            .where('canon', '=', canon)
            .executeTakeFirst();
    const found = row === undefined ? undefined : { name: row.name, displayName: row.display_name };
    const key = `${repo}\n${canon}`;
    this.#hasCrate.delete(key);
    if (this.#hasCrate.size >= KEPT_HAS_CRATE) {
      const oldest = this.#hasCrate.keys().next();
      if (oldest.done !== true) this.#hasCrate.delete(oldest.value);
    }
    this.#hasCrate.set(key, { at, removals, name: found });
    return found;
  }

  /** The versions of `name` (lower-cased) in publish order; empty when none. */
  async versions(repo: string, name: string): Promise<StoredVersion[]> {
    const rows = await this.#db
      .selectFrom('cargo_versions')
      .selectAll()
      .where('repo', '=', repo)
      .where('crate', '=', name)
      .orderBy('id')
      .execute();
    return rows.map(toStoredVersion);
  }

  /** Every version of every crate in `repo` (`crate`: its lower-cased key), any order: retention. */
  async allVersions(repo: string): Promise<(StoredVersion & { readonly crate: string })[]> {
    const rows = await this.#db
      .selectFrom('cargo_versions')
      .selectAll()
      .where('repo', '=', repo)
      .execute();
    return rows.map((row) => ({ ...toStoredVersion(row), crate: row.crate }));
  }

  async version(
    repo: string,
    name: string,
    versionKey: string,
  ): Promise<StoredVersion | undefined> {
    const row = await this.#db
      .selectFrom('cargo_versions')
      .selectAll()
      .where('repo', '=', repo)
      .where('crate', '=', name)
      .where('version_key', '=', versionKey)
      .executeTakeFirst();
    return row === undefined ? undefined : toStoredVersion(row);
  }

  /**
   * Records a published version (and its crate when new, with the publisher as first owner), in
   * one transaction. `check` runs inside it (ownership). Throws CONFLICT when the crate exists
   * under another spelling (`foo-bar` vs `foo_bar`) or the version (by precedence) exists.
   */
  async publish(
    repo: string,
    canon: string,
    version: NewVersion,
    check: PublishCheck,
  ): Promise<void> {
    const name = version.entry.name.toLowerCase();
    try {
      await this.#db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('cargo_crates')
          .selectAll()
          .where('repo', '=', repo)
          .where('canon', '=', canon)
          .executeTakeFirst();
        if (existing !== undefined && existing.display_name !== version.displayName) {
          throw new RegistryError(
            'CONFLICT',
            `crate ${version.displayName} conflicts with the existing crate ${existing.display_name}: ` +
              'crate names differing only in case or "-"/"_" are the same crate',
          );
        }
        const owners =
          existing === undefined
            ? undefined
            : (
                await trx
                  .selectFrom('cargo_owners')
                  .select('login')
                  .where('repo', '=', repo)
                  .where('crate', '=', name)
                  .orderBy('added_at')
                  .execute()
              ).map((r) => r.login);
        check(owners);
        const taken = await trx
          .selectFrom('cargo_versions')
          .select('vers')
          .where('repo', '=', repo)
          .where('crate', '=', name)
          .where('version_key', '=', version.versionKey)
          .executeTakeFirst();
        if (taken !== undefined) throw versionExists(version.displayName, taken.vers);
        const now = this.#now();
        const vers = version.entry.vers;
        if (existing === undefined) {
          await trx
            .insertInto('cargo_crates')
            .values({
              repo,
              name,
              canon,
              display_name: version.displayName,
              created_at: now,
              description: version.description ?? null,
              keywords: JSON.stringify(version.keywords),
              max_version: vers,
            })
            .execute();
          if (version.publisher !== undefined) {
            await trx
              .insertInto('cargo_owners')
              .values({ repo, crate: name, login: version.publisher, added_at: now })
              .execute();
          }
        } else if (
          version.adoptOwnerless === true &&
          version.publisher !== undefined &&
          owners?.length === 0
        ) {
          await trx
            .insertInto('cargo_owners')
            .values({ repo, crate: name, login: version.publisher, added_at: now })
            .execute();
        }
        if (existing !== undefined && semver.gt(vers, existing.max_version)) {
          await trx
            .updateTable('cargo_crates')
            .set({
              description: version.description ?? null,
              keywords: JSON.stringify(version.keywords),
              max_version: vers,
            })
            .where('repo', '=', repo)
            .where('name', '=', name)
            .execute();
        }
        // The stored entry has no `yanked`: the column is the truth.
        const entry: Record<string, unknown> = { ...version.entry };
        delete entry['yanked'];
        await trx
          .insertInto('cargo_versions')
          .values({
            repo,
            crate: name,
            version_key: version.versionKey,
            vers,
            entry: JSON.stringify(entry),
            cksum: version.entry.cksum,
            size: version.size,
            blob: version.blob,
            yanked: 0,
            published_by: version.publisher ?? null,
            published_at: now,
          })
          .execute();
      });
    } catch (err) {
      // Two concurrent publishes of one version (or two spellings of a new crate): the unique
      // indexes refuse the second.
      if (err instanceof Error && /UNIQUE constraint failed: cargo_versions/.test(err.message)) {
        throw versionExists(version.displayName, version.entry.vers);
      }
      if (err instanceof Error && /UNIQUE constraint failed: cargo_crates/.test(err.message)) {
        throw new RegistryError(
          'CONFLICT',
          `crate ${version.displayName} was published concurrently under another spelling; retry`,
        );
      }
      throw err;
    } finally {
      this.#bump(repo, name);
      this.#crateSets.set(repo, (this.#crateSets.get(repo) ?? 0) + 1);
    }
  }

  /** Sets `yanked` of one version; false when there is no such version. */
  async setYanked(
    repo: string,
    name: string,
    versionKey: string,
    yanked: boolean,
  ): Promise<boolean> {
    try {
      const result = await this.#db
        .updateTable('cargo_versions')
        .set({ yanked: yanked ? 1 : 0 })
        .where('repo', '=', repo)
        .where('crate', '=', name)
        .where('version_key', '=', versionKey)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    } finally {
      this.#bump(repo, name);
    }
  }

  /**
   * Deletes the crate `name` (lower-cased) of `repo`: its row, every version row and its owners,
   * in one transaction. The versions' `.crate` blobs are left in the blob store: nothing refers
   * to them any more, so the next gc pass removes them (blobs may be shared, gc decides). Returns
   * the versions deleted (as published, in publish order); empty when there was no such crate.
   */
  async deleteCrate(repo: string, name: string): Promise<string[]> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const versions = await trx
          .selectFrom('cargo_versions')
          .select('vers')
          .where('repo', '=', repo)
          .where('crate', '=', name)
          .orderBy('id')
          .execute();
        if (!(await dropCrateRows(trx, repo, name))) return [];
        return versions.map((v) => v.vers);
      });
    } finally {
      this.#removed(repo, name);
    }
  }

  /**
   * Deletes one version (by precedence key) of the crate `name` (lower-cased) of `repo`; its
   * `.crate` blob is left for gc (see deleteCrate). When it was the crate's last version the
   * crate goes too, owners included: a crate row without versions would keep the name hosted
   * (the group's guard) with nothing to serve. Otherwise the crate's `max_version` becomes the
   * highest version left (its description and keywords stay: they are not kept per version).
   * Returns the version deleted (as published) and whether the crate went with it; undefined
   * when there is no such version.
   */
  async deleteVersion(
    repo: string,
    name: string,
    versionKey: string,
  ): Promise<{ vers: string; crateDeleted: boolean } | undefined> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('cargo_versions')
          .select('vers')
          .where('repo', '=', repo)
          .where('crate', '=', name)
          .where('version_key', '=', versionKey)
          .executeTakeFirst();
        if (row === undefined) return undefined;
        await trx
          .deleteFrom('cargo_versions')
          .where('repo', '=', repo)
          .where('crate', '=', name)
          .where('version_key', '=', versionKey)
          .execute();
        const left = await trx
          .selectFrom('cargo_versions')
          .select('vers')
          .where('repo', '=', repo)
          .where('crate', '=', name)
          .execute();
        if (left.length === 0) {
          await dropCrateRows(trx, repo, name);
          return { vers: row.vers, crateDeleted: true };
        }
        const highest = left
          .map((v) => v.vers)
          .reduce((best, vers) => (semver.gt(vers, best) ? vers : best));
        await trx
          .updateTable('cargo_crates')
          .set({ max_version: highest })
          .where('repo', '=', repo)
          .where('name', '=', name)
          .execute();
        return { vers: row.vers, crateDeleted: false };
      });
    } finally {
      this.#removed(repo, name);
    }
  }

  /** After a deletion finished (committed or not): kept reads of the crate are stale. */
  #removed(repo: string, name: string): void {
    this.#bump(repo, name);
    this.#crateRemovals.set(repo, (this.#crateRemovals.get(repo) ?? 0) + 1);
  }

  /**
   * Crates of `repos` that have no owner (published while auth was off), as `repo/crate`, up to
   * `limit` of them, and how many there are in all.
   */
  async ownerless(
    repos: readonly string[],
    limit: number,
  ): Promise<{ total: number; crates: string[] }> {
    if (repos.length === 0) return { total: 0, crates: [] };
    const rows = await this.#db
      .selectFrom('cargo_crates as c')
      .select(['c.repo', 'c.display_name'])
      .where('c.repo', 'in', repos)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('cargo_owners as o')
              .select('o.login')
              .whereRef('o.repo', '=', 'c.repo')
              .whereRef('o.crate', '=', 'c.name'),
          ),
        ),
      )
      .orderBy('c.repo')
      .orderBy('c.name')
      .execute();
    return {
      total: rows.length,
      crates: rows.slice(0, limit).map((r) => `${r.repo}/${r.display_name}`),
    };
  }

  /** Owner logins of `name`, in the order they were added. */
  async owners(repo: string, name: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('cargo_owners')
      .select('login')
      .where('repo', '=', repo)
      .where('crate', '=', name)
      .orderBy('added_at')
      .orderBy('login')
      .execute();
    return rows.map((r) => r.login);
  }

  /**
   * Owners of `name` with their stable ids (`cargo_user_ids`), in the order they were added. A
   * login met for the first time gets its id here (insert-or-ignore: concurrent reads agree).
   */
  async ownerUsers(repo: string, name: string): Promise<{ id: number; login: string }[]> {
    const read = () =>
      this.#db
        .selectFrom('cargo_owners as o')
        .leftJoin('cargo_user_ids as u', 'u.login', 'o.login')
        .select(['o.login as login', 'u.id as id'])
        .where('o.repo', '=', repo)
        .where('o.crate', '=', name)
        .orderBy('o.added_at')
        .orderBy('o.login')
        .execute();
    let rows = await read();
    const unnumbered = rows.filter((r) => r.id === null).map((r) => ({ login: r.login }));
    if (unnumbered.length > 0) {
      await this.#db
        .insertInto('cargo_user_ids')
        .values(unnumbered)
        .onConflict((oc) => oc.column('login').doNothing())
        .execute();
      rows = await read();
    }
    return rows.map((r) => ({ id: r.id ?? 0, login: r.login }));
  }

  async addOwners(repo: string, name: string, logins: readonly string[]): Promise<void> {
    const now = this.#now();
    await this.#db.transaction().execute(async (trx) => {
      for (const login of logins) {
        await trx
          .insertInto('cargo_owners')
          .values({ repo, crate: name, login, added_at: now })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
    });
  }

  /**
   * Removes owners; refuses (BAD_REQUEST) to remove the last one, as crates.io does, so a crate
   * always has someone who may publish it, and a login that is not an owner (crates.io's
   * "could not find owner with login `x`", every such login named). With `publishers` (the
   * owners who may publish the crate, as the caller judged them) it also refuses, with
   * `refusal(owners left)`'s message, when none of the owners left is one of them: a crate
   * owned only by read-only users could never get a new version. Checked inside the
   * transaction, so two removals at once cannot each leave the other's writer as the last one.
   * All or nothing.
   */
  async removeOwners(
    repo: string,
    name: string,
    logins: readonly string[],
    publishers?: {
      readonly logins: ReadonlySet<string>;
      readonly refusal: (left: readonly string[]) => string;
    },
  ): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('cargo_owners')
        .select('login')
        .where('repo', '=', repo)
        .where('crate', '=', name)
        .where('login', 'in', [...logins])
        .execute();
      const owners = new Set(current.map((row) => row.login));
      const strangers = [...new Set(logins)].filter((login) => !owners.has(login));
      if (strangers.length > 0) {
        throw new RegistryError('BAD_REQUEST', notFoundLogins('owner', strangers));
      }
      await trx
        .deleteFrom('cargo_owners')
        .where('repo', '=', repo)
        .where('crate', '=', name)
        .where('login', 'in', [...logins])
        .execute();
      const left = (
        await trx
          .selectFrom('cargo_owners')
          .select('login')
          .where('repo', '=', repo)
          .where('crate', '=', name)
          .orderBy('added_at')
          .orderBy('login')
          .execute()
      ).map((row) => row.login);
      if (left.length === 0) {
        throw new RegistryError('BAD_REQUEST', 'cannot remove all owners of a crate');
      }
      if (publishers !== undefined && !left.some((login) => publishers.logins.has(login))) {
        throw new RegistryError('BAD_REQUEST', publishers.refusal(left));
      }
    });
  }

  /**
   * The highest version of each crate of `names` (lower-cased) in `repo` that is not yanked, by
   * SemVer precedence; "0.0.0" for a crate whose versions are all yanked (crates.io's
   * `max_version`). Names without a crate are left out.
   */
  async maxUnyankedVersions(repo: string, names: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (names.length === 0) return found;
    const rows = await this.#db
      .selectFrom('cargo_versions')
      .select(['crate', 'vers', 'yanked'])
      .where('repo', '=', repo)
      .where('crate', 'in', [...names])
      .execute();
    for (const row of rows) {
      if (row.yanked !== 0) continue;
      const best = found.get(row.crate);
      if (best === undefined || semver.gt(row.vers, best)) found.set(row.crate, row.vers);
    }
    for (const row of rows) if (!found.has(row.crate)) found.set(row.crate, '0.0.0');
    return found;
  }

  /**
   * Crates of `repo` whose name, description or keywords contain `query` (case-insensitive;
   * the name also in its canonical form, so `foo-bar` finds `foo_bar`; every crate when empty),
   * sorted by name; the first `limit` of them, with the total count. `maxVersion` is the highest
   * version published, yanked or not (see maxUnyankedVersions).
   */
  async search(
    repo: string,
    query: string,
    limit: number,
  ): Promise<{ crates: StoredCrate[]; total: number }> {
    const needle = query.toLowerCase();
    const base = this.#db
      .selectFrom('cargo_crates')
      .where('repo', '=', repo)
      .where((eb) =>
        needle === ''
          ? eb.val(true)
          : eb.or([
              eb(sql`instr(name, ${needle})`, '>', 0),
              eb(sql`instr(canon, ${canonicalName(needle)})`, '>', 0),
              eb(sql`instr(lower(coalesce(description, '')), ${needle})`, '>', 0),
              eb(sql`instr(lower(keywords), ${needle})`, '>', 0),
            ]),
      );
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('name').limit(limit).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { crates: rows.map(toStoredCrate), total: count?.n ?? 0 };
  }
}

function versionExists(name: string, vers: string): RegistryError {
  return new RegistryError('CONFLICT', `crate version \`${name}@${vers}\` already exists`);
}

function toStoredCrate(row: CargoTables['cargo_crates']): StoredCrate {
  return {
    name: row.name,
    displayName: row.display_name,
    description: row.description ?? undefined,
    keywords: parseStrings(row.keywords),
    maxVersion: row.max_version,
  };
}

function toStoredVersion(row: Omit<CargoVersionsTable, 'id'>): StoredVersion {
  const entry = JSON.parse(row.entry) as Omit<IndexEntry, 'yanked'>;
  return {
    vers: row.vers,
    versionKey: row.version_key,
    entry: { ...entry, yanked: row.yanked !== 0 },
    cksum: row.cksum,
    size: row.size,
    blob: row.blob,
    publishedBy: row.published_by ?? undefined,
    publishedAt: row.published_at,
  };
}

function parseStrings(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * crates.io's wording for logins it cannot act on: "could not find owner with login `x`" (it stops
 * at the first; every one is named here), e.g. `notFoundLogins('user', ['a', 'b'])`.
 */
export function notFoundLogins(what: 'owner' | 'user', logins: readonly string[]): string {
  const named = logins.map((login) => `\`${login}\``).join(', ');
  return logins.length === 1
    ? `could not find ${what} with login ${named}`
    : `could not find ${what}s with logins ${named}`;
}

/**
 * Removes the crate `name` of `repo` from the metadata store within the caller's transaction:
 * its row, its version rows and its owners (the rows that keep a name hosted). Returns false when
 * there was no crate row (nothing else is removed then).
 */
async function dropCrateRows(
  trx: Kysely<CargoTables>,
  repo: string,
  name: string,
): Promise<boolean> {
  const removed = await trx
    .deleteFrom('cargo_crates')
    .where('repo', '=', repo)
    .where('name', '=', name)
    .executeTakeFirst();
  if (removed.numDeletedRows === 0n) return false;
  await trx
    .deleteFrom('cargo_versions')
    .where('repo', '=', repo)
    .where('crate', '=', name)
    .execute();
  await trx.deleteFrom('cargo_owners').where('repo', '=', repo).where('crate', '=', name).execute();
  return true;
}
