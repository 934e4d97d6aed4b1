/**
 * Helm's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a chart; its
 * versions newest first by SemVer, with the archive (+ provenance) size, digest, and the
 * description and app version of its index entry. Proxy repositories: the
 * chart files fetched through them (CACHED_CHARTS), marked cached.
 */
import { sql } from 'kysely';
import { firstHolder, sqlBrowseSource, sqlList, type BrowseDeps } from '../../ui/browse-sql.ts';
import type { BrowseSource } from '../../ui/types.ts';
import { compareVersionsDesc } from './chart.ts';
import { shellCommand } from '../../ui/shell.ts';

/** A field of an index entry (its JSON text), or undefined. */
function entryValue(entry: string, field: string): unknown {
  try {
    return (JSON.parse(entry) as Record<string, unknown>)[field];
  } catch {
    return undefined;
  }
}

function entryField(entry: string, field: string): string | undefined {
  const value = entryValue(entry, field);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A Helm proxy's cached chart files (the proxy engine's `chart@<upstream id>:<name>-<version>.tgz`
 * rows, and their `.prov`): the name ends before the first `-<digit>` (chart names rarely hold
 * one; versions are SemVer, which starts with a digit).
 */
const CACHED_CHARTS = `SELECT repository AS repo, substr(base, 1, cut - 1) AS name,
    substr(base, cut + 1) AS version, fetched_at AS at, size AS bytes, file, digest
  FROM (SELECT repository, fetched_at, size, digest, file, base,
      min(CASE instr(base, '-0') WHEN 0 THEN 1000000 ELSE instr(base, '-0') END, CASE instr(base, '-1') WHEN 0 THEN 1000000 ELSE instr(base, '-1') END, CASE instr(base, '-2') WHEN 0 THEN 1000000 ELSE instr(base, '-2') END, CASE instr(base, '-3') WHEN 0 THEN 1000000 ELSE instr(base, '-3') END, CASE instr(base, '-4') WHEN 0 THEN 1000000 ELSE instr(base, '-4') END, CASE instr(base, '-5') WHEN 0 THEN 1000000 ELSE instr(base, '-5') END, CASE instr(base, '-6') WHEN 0 THEN 1000000 ELSE instr(base, '-6') END, CASE instr(base, '-7') WHEN 0 THEN 1000000 ELSE instr(base, '-7') END, CASE instr(base, '-8') WHEN 0 THEN 1000000 ELSE instr(base, '-8') END, CASE instr(base, '-9') WHEN 0 THEN 1000000 ELSE instr(base, '-9') END) AS cut
    FROM (SELECT repository, fetched_at, size, digest, file,
        CASE WHEN file LIKE '%.tgz' THEN substr(file, 1, length(file) - 4)
          ELSE substr(file, 1, length(file) - 9) END AS base
      FROM (SELECT repository, fetched_at, size, digest, substr(key, instr(key, ':') + 1) AS file
        FROM proxy_entries WHERE substr(key, 1, 6) = 'chart@')
      WHERE file LIKE '%.tgz' OR file LIKE '%.tgz.prov'))
  WHERE cut < 1000000`;

/** `helm install` of chart `name` (`--version` when known) from the repository. */
function helmInstall(name: string, version: string | undefined, repositoryUrl: string): string {
  return shellCommand(
    'helm',
    'install',
    name,
    name,
    '--repo',
    `${repositoryUrl}/`,
    ...(version === undefined ? [] : ['--version', version]),
  );
}

export function helmBrowse(deps: BrowseDeps): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'helm',
    ...deps,
    rows: {
      select: `SELECT repo, name, version, updated_at AS at, size + COALESCE(prov_size, 0) AS bytes
        FROM helm_charts`,
      newestFirst: compareVersionsDesc,
      cached: {
        select: CACHED_CHARTS,
        install: (name, version, request) => helmInstall(name, version, request.repositoryUrl),
      },
    },
    async detail(repos, name, request) {
      const versions = firstHolder(
        (
          await sql<{
            repo: string;
            version: string;
            size: number;
            prov_size: number | null;
            digest: string;
            entry: string;
            updated_at: number;
          }>`SELECT repo, version, size, prov_size, digest, entry, updated_at FROM helm_charts
            WHERE repo IN (${sqlList(repos)}) AND name = ${name}`.execute(db)
        ).rows,
        repos,
      );
      const holder = versions[0]?.repo;
      if (holder === undefined) return undefined;
      const sorted = versions.sort((a, b) => compareVersionsDesc(a.version, b.version));
      const newest = sorted[0];
      const appVersion = newest === undefined ? undefined : entryField(newest.entry, 'appVersion');
      return {
        name,
        description: newest === undefined ? undefined : entryField(newest.entry, 'description'),
        versions: sorted.map((v) => ({
          version: v.version,
          publishedAt: v.updated_at,
          bytes: v.size + (v.prov_size ?? 0),
          digest: v.digest,
          marks: entryValue(v.entry, 'deprecated') === true ? [{ mark: 'deprecated' }] : [],
        })),
        install: helmInstall(name, newest?.version, request.repositoryUrl),
        facts: [
          { label: 'repository', value: holder },
          ...(appVersion === undefined
            ? []
            : [{ label: 'appVersion', value: appVersion } as const]),
        ],
      };
    },
  });
}
