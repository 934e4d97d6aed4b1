/**
 * An upstream `index.yaml` (Helm's IndexFile, https://helm.sh/docs/topics/chart_repository/#the-index-file)
 * as chart entries rewritten to point at us. Pure and synchronous: it runs on the event loop for
 * a small index and in the index-parse worker (index-worker.ts, through index-parser.ts) for a
 * large one, with the same result and the same errors either way.
 */
import { chartFilename, entryFragment, isChartName, isSemver2, parseBoundedYaml } from './chart.ts';
import { sortEntries } from './index-render.ts';
import type { SnapshotEntry } from './model.ts';

/** One upstream chart version: its entry rewritten to us, and where its bytes are. */
export interface UpstreamChart extends SnapshotEntry {
  /** The upstream URL of the archive (absolute: a relative one resolved against the upstream). */
  readonly url: string;
  /** The entry's `digest`, lowercase hex, when it is a sha256. */
  readonly sha256: string | undefined;
  /** Index of the upstream (its target label). */
  readonly upstream: number;
}

/** A parsed upstream index: its entries, sorted as sortEntries sorts them. */
export interface ParsedIndex {
  readonly charts: readonly UpstreamChart[];
}

/**
 * An upstream index.yaml as rewritten chart entries. Entries that are not a mapping with a chart
 * name, a SemVer 2 version and at least one URL are skipped (one bad entry must not make the
 * whole repository unreadable); a document that is not an index is refused: throws a
 * RegistryError (BAD_REQUEST, `index.yaml is not valid YAML: …`) for what parseBoundedYaml
 * refuses, an Error for a document that is not an index.
 */
export function parseUpstreamIndex(text: string, base: string, upstream: number): ParsedIndex {
  const doc = parseBoundedYaml(text, 'index.yaml');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error('not an index (a mapping)');
  }
  const entries = (doc as Record<string, unknown>)['entries'];
  const charts: UpstreamChart[] = [];
  if (entries === undefined || entries === null) return { charts };
  if (typeof entries !== 'object' || Array.isArray(entries))
    throw new Error('entries is not a mapping');
  const baseUrl = base.endsWith('/') ? base : `${base}/`;
  for (const [name, versions] of Object.entries(entries as Record<string, unknown>)) {
    if (!isChartName(name) || !Array.isArray(versions)) continue;
    for (const raw of versions as unknown[]) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
      const entry = raw as Record<string, unknown>;
      const version = entry['version'];
      const urls = entry['urls'];
      if (entry['name'] !== name || typeof version !== 'string' || !isSemver2(version)) continue;
      if (!Array.isArray(urls) || typeof urls[0] !== 'string') continue;
      let url: string;
      try {
        url = new URL(urls[0], baseUrl).toString();
      } catch {
        continue;
      }
      if (!/^https?:$/.test(new URL(url).protocol)) continue;
      const digest = entry['digest'];
      const sha256 =
        typeof digest === 'string' && /^(sha256:)?[0-9a-f]{64}$/i.test(digest)
          ? digest.slice(-64).toLowerCase()
          : undefined;
      const rewritten = { ...entry, urls: [`charts/${chartFilename(name, version)}`] };
      let fragment: string;
      try {
        fragment = entryFragment(rewritten);
      } catch {
        continue; // not writable as JSON (a recursive alias): skipped like any bad entry
      }
      charts.push({ name, version, fragment, url, sha256, upstream });
    }
  }
  sortEntries(charts);
  return { charts };
}
