/**
 * Repositories the metadata database holds artifacts of that the configuration does not name
 * (trial 25 ops F4): a repository's name is its storage identity, so renaming one in the
 * configuration starts an empty repository under the new name, and the old name's files are no
 * longer served, though nothing is lost (gc keeps them; the old name put back serves them). Start-up
 * says so, instead of a silent empty repository and a 404 for the old name.
 */
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';

/** At most this many distinct repository names are read per table (the query stays bounded). */
const MAX_NAMES_PER_TABLE = 1000;
/** Rows counted per repository and table, at most (shown as `1000+`). */
const MAX_COUNTED = 1000;
/** Repositories named in the warning, at most. */
const MAX_LISTED = 10;

export interface UnconfiguredRepository {
  readonly repo: string;
  /** Table → rows (at most MAX_COUNTED; `atLeast` when there are more). */
  readonly rows: readonly { table: string; count: number; atLeast: boolean }[];
}

/**
 * The repositories `tables` (each with a `repo` column leading an index: every format's
 * blobReferences table) hold rows of that `configured` does not name, by name. One query: a
 * loose index scan per table (a recursive `MIN(repo) WHERE repo > previous`, one index seek per
 * distinct name, at most MAX_NAMES_PER_TABLE), each unknown name's rows counted up to
 * MAX_COUNTED. Tables without a `repo` column (or missing) are left out.
 */
export async function unconfiguredRepositories(
  db: Db,
  tables: readonly string[],
  configured: ReadonlySet<string>,
): Promise<UnconfiguredRepository[]> {
  const unique = [...new Set(tables)];
  if (unique.length === 0) return [];
  const withRepo = await sql<{ name: string }>`
    SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) p
    WHERE m.type = 'table' AND p.name = 'repo' AND m.name IN (${sql.join(unique)})`.execute(db);
  const present = unique.filter((t) => withRepo.rows.some((r) => r.name === t));
  if (present.length === 0) return [];
  const parts = present.map((table, i) => {
    const t = sql.table(table);
    const cte = sql.id(`r${String(i)}`);
    return {
      cte: sql`${cte}(repo, n) AS (
        SELECT (SELECT MIN(repo) FROM ${t}), 1
        UNION ALL
        SELECT (SELECT MIN(repo) FROM ${t} WHERE repo > ${cte}.repo), n + 1
        FROM ${cte} WHERE ${cte}.repo IS NOT NULL AND n < ${MAX_NAMES_PER_TABLE}
      )`,
      select: sql`SELECT ${table} AS tbl, repo,
        (SELECT COUNT(*) FROM (SELECT 1 FROM ${t} WHERE repo = ${cte}.repo LIMIT ${MAX_COUNTED + 1})) AS count
        FROM ${cte} WHERE repo IS NOT NULL AND repo NOT IN (${sql.join([...configured, ''])})`,
    };
  });
  const { rows } = await sql<{ tbl: string; repo: string; count: number }>`
    WITH RECURSIVE ${sql.join(
      parts.map((p) => p.cte),
      sql`, `,
    )}
    ${sql.join(
      parts.map((p) => p.select),
      sql` UNION ALL `,
    )}`.execute(db);
  const byRepo = new Map<string, { table: string; count: number; atLeast: boolean }[]>();
  for (const row of rows) {
    const list = byRepo.get(row.repo) ?? [];
    list.push({
      table: row.tbl,
      count: Math.min(row.count, MAX_COUNTED),
      atLeast: row.count > MAX_COUNTED,
    });
    byRepo.set(row.repo, list);
  }
  return [...byRepo]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([repo, list]) => ({ repo, rows: list }));
}

/**
 * The start-up warning for `found` (undefined when empty): `the database holds artifacts of 1
 * repository the configuration does not name: team-raw (1 row in raw_files); they are not
 * served: a repository's name is where its artifacts are kept, so a renamed repository starts
 * empty; put the old name back to serve them`.
 */
export function unconfiguredWarning(found: readonly UnconfiguredRepository[]): string | undefined {
  if (found.length === 0) return undefined;
  const listed = found.slice(0, MAX_LISTED).map((r) => {
    const rows = r.rows
      .map(
        (x) =>
          `${String(x.count)}${x.atLeast ? '+' : ''} ${x.count === 1 && !x.atLeast ? 'row' : 'rows'} in ${x.table}`,
      )
      .join(', ');
    return `${r.repo} (${rows})`;
  });
  const more = found.length > MAX_LISTED ? ` and ${String(found.length - MAX_LISTED)} more` : '';
  const count = `${String(found.length)} ${found.length === 1 ? 'repository' : 'repositories'}`;
  return `the database holds artifacts of ${count} the configuration does not name: ${listed.join(', ')}${more}; they are not served (renamed or removed? a repository's name is where its artifacts are kept, so a renamed repository starts empty: put the old name back to serve them; nothing is deleted, gc keeps them)`;
}
