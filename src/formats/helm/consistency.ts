/**
 * `nora verify`'s check of Helm's rows (FormatModule.consistency): a chart version stored in both
 * spellings, `1.2.3` and `v1.2.3`. Helm reads them as one SemVer version, and since stop 52 a
 * repository stores one spelling only (store.ts `put`: the second is a 409 unless `?force`, which
 * replaces the first); stop 51's build accepted both, so a database it wrote may hold the pair.
 * Then index.yaml lists the version twice (which one `helm install --version 1.2.3` gets is the
 * client's pick), and the API's look-ups of either spelling answer the row spelled as asked.
 * Nothing is changed here: the report names each pair and the DELETE that keeps one.
 */
import { type Kysely, sql } from 'kysely';
import type { ConsistencyFinding } from '../format.ts';
import type { HelmTables } from './migrations.ts';

/** How many pairs the report names (all are counted). */
const EXAMPLES = 10;

interface Pair {
  repo: string;
  name: string;
  plain: string;
  plain_at: number;
  prefixed: string;
  prefixed_at: number;
}

/**
 * The pairs of rows of one chart whose versions differ only by a leading `v` (the `v` row found
 * through the primary key, one lookup per row), with what to do about them; [] when none.
 */
export async function helmVersionPairs(db: Kysely<HelmTables>): Promise<ConsistencyFinding[]> {
  const found = await sql<Pair>`
    SELECT a.repo AS repo, a.name AS name, a.version AS plain, a.updated_at AS plain_at,
      b.version AS prefixed, b.updated_at AS prefixed_at
    FROM helm_charts AS a
    JOIN helm_charts AS b ON b.repo = a.repo AND b.name = a.name AND b.version = 'v' || a.version
    ORDER BY a.repo, a.name, a.version`.execute(db);
  const pairs = found.rows;
  if (pairs.length === 0) return [];
  const n = pairs.length;
  return [
    {
      summary:
        `${n} Helm chart ${n === 1 ? 'version is' : 'versions are'} stored in both spellings (1.2.3 and v1.2.3, one SemVer version to Helm; ` +
        `a build before stop 52 took both): index.yaml lists ${n === 1 ? 'it' : 'each'} twice and clients may get either archive. ` +
        'Keep one per chart: DELETE <repository>/api/charts/<name>/<version> with the spelling to drop removes exactly that row ' +
        '(the delete permission is needed; with [helm] allow_overwrite = false the dropped archive stays the only bytes that spelling takes back)',
      count: n,
      examples: pairs.slice(0, EXAMPLES).map((p) => {
        // Keep what was uploaded last (as a ?force upload of the other spelling would now).
        const drop = p.prefixed_at > p.plain_at ? p.plain : p.prefixed;
        const when = (at: number) => new Date(at).toISOString();
        return (
          `helm_charts repo=${p.repo} name=${p.name}: ${p.plain} (uploaded ${when(p.plain_at)}) and ${p.prefixed} (uploaded ${when(p.prefixed_at)}); ` +
          `to keep the newer: DELETE /repository/${p.repo}/api/charts/${p.name}/${drop}`
        );
      }),
    },
  ];
}
