/**
 * An upstream `index.yaml` (Helm's IndexFile, https://helm.sh/docs/topics/chart_repository/#the-index-file)
 * as chart entries rewritten to point at us. Pure and synchronous: it runs on the event loop for
 * a small index and in the index-parse worker (index-worker.ts, through index-parser.ts) for a
 * large one, with the same result and the same errors either way.
 */
import { type Document, isMap, isScalar, isSeq } from 'yaml';
import { RegistryError } from '../../core/errors.ts';
import {
  chartFilename,
  chartMetadata,
  entryFragment,
  isChartName,
  isChartVersion,
  parseBoundedYaml,
  writtenScalar,
} from './chart.ts';
import { sortEntries } from './index-render.ts';
import type { SnapshotEntry } from './model.ts';
import { HelmRefusal, helmWrittenScalar } from './yaml-number.ts';

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
  /**
   * Entries left out because of their content (a field of the wrong type, a malformed digest, a
   * URL NORA cannot fetch): how many, and the first few as `<name> <version>: <reason>` for the
   * one warning logged per parse. Entries without a chart name, version or URL are not counted.
   */
  readonly skipped?: { readonly count: number; readonly examples: readonly string[] };
}

/** Skipped entries named in the warning; the rest are only counted. */
const SKIPPED_EXAMPLES = 5;
/** RFC 3339 date-time, what Go's time.Time reads from JSON (`created`). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An upstream index.yaml as rewritten chart entries. Entries that are not a mapping with a chart
 * name, a SemVer 2 version and at least one URL are skipped (one bad entry must not make the
 * whole repository unreadable); a document that is not an index is refused: throws a
 * RegistryError (BAD_REQUEST, `index.yaml is not valid YAML: …`) for what parseBoundedYaml
 * refuses, an Error for a document that is not an index.
 */
export function parseUpstreamIndex(text: string, base: string, upstream: number): ParsedIndex {
  const doc = parseBoundedYaml(text, 'index.yaml', helmIndexScalars);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error('not an index (a mapping)');
  }
  const entries = (doc as Record<string, unknown>)['entries'];
  const charts: UpstreamChart[] = [];
  if (entries === undefined || entries === null) return { charts };
  if (typeof entries !== 'object' || Array.isArray(entries))
    throw new Error('entries is not a mapping');
  const baseUrl = base.endsWith('/') ? base : `${base}/`;
  const origin = new URL(baseUrl).origin;
  let skippedCount = 0;
  const examples: string[] = [];
  for (const [name, versions] of Object.entries(entries as Record<string, unknown>)) {
    if (!isChartName(name) || !Array.isArray(versions)) continue;
    for (const raw of versions as unknown[]) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
      const entry = raw as Record<string, unknown>;
      const version = entry['version'];
      const urls = entry['urls'];
      if (entry['name'] !== name || typeof version !== 'string' || !isChartVersion(version))
        continue;
      if (!Array.isArray(urls) || typeof urls[0] !== 'string') continue;
      let url: string;
      try {
        url = new URL(urls[0], baseUrl).toString();
      } catch {
        continue;
      }
      const skip = (reason: string) => {
        skippedCount++;
        if (examples.length < SKIPPED_EXAMPLES) examples.push(`${name} ${version}: ${reason}`);
      };
      const fetchedFrom = new URL(url);
      if (!/^https?:$/.test(fetchedFrom.protocol)) {
        skip(`its URL is not http(s) (${fetchedFrom.protocol})`);
        continue;
      }
      const digest = entry['digest'];
      let sha256: string | undefined;
      if (digest !== undefined && digest !== null && digest !== '') {
        // A digest that is not sha256 hex is a broken entry, not an unverified one: serving its
        // bytes unchecked would trust exactly the entry that says something is off.
        if (typeof digest !== 'string' || !/^(sha256:)?[0-9a-f]{64}$/i.test(digest)) {
          skip('its digest is not a sha256 (64 hex digits)');
          continue;
        }
        sha256 = digest.slice(-64).toLowerCase();
      }
      // Without a digest a chart is fetched only from the index's own origin (proxy.ts,
      // #unverified): an entry elsewhere could never be served, and listed it would be the
      // "newest" version a client picks and then cannot download.
      if (sha256 === undefined && fetchedFrom.origin !== origin) {
        skip(`it has no digest and its URL is on another host (${fetchedFrom.origin})`);
        continue;
      }
      // The field types Helm's Go structs expect, as for a hosted upload (chartMetadata): one
      // entry Helm cannot decode (`keywords: "cache"`) makes Helm refuse the whole index, the
      // merged group index with hosted charts included. Only Helm's fields are kept; a numeric
      // appVersion becomes its text and a missing apiVersion is v1, as Helm reads them
      // (helmIndexScalars put Helm's reading of appVersion and kubeVersion in place).
      let metadata: Record<string, unknown>;
      try {
        const apiVersion = entry['apiVersion'] ?? 'v1';
        metadata = chartMetadata({ ...entry, apiVersion });
      } catch (err) {
        skip(
          err instanceof RegistryError
            ? err.message.replace(/^invalid Chart.yaml: /, '')
            : 'invalid',
        );
        continue;
      }
      const rewritten: Record<string, unknown> = {
        ...metadata,
        urls: [`charts/${chartFilename(name, version)}`],
      };
      const created = entry['created'];
      if (created !== undefined && created !== null) {
        if (typeof created !== 'string' || !RFC3339.test(created)) {
          skip('created is not an RFC 3339 time');
          continue;
        }
        rewritten['created'] = created;
      }
      if (entry['removed'] !== undefined && entry['removed'] !== null) {
        if (typeof entry['removed'] !== 'boolean') {
          skip('removed must be true or false');
          continue;
        }
        rewritten['removed'] = entry['removed'];
      }
      if (typeof digest === 'string' && sha256 !== undefined) rewritten['digest'] = digest;
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
  return skippedCount === 0 ? { charts } : { charts, skipped: { count: skippedCount, examples } };
}

/**
 * Puts Helm's reading (helmWrittenScalar) in place of every entry's `appVersion` and
 * `kubeVersion` scalar, before the document becomes plain values: the JS reader follows YAML 1.2
 * and leaves `yes` as "yes", `!!int 017` as 17, `1e400` as Infinity, where Helm (go-yaml v2,
 * YAML 1.1) reads "true", "15" and "1e400" (trial 23 fmts F1). A value Helm cannot read
 * (`!!float 1e400`) becomes a HelmRefusal, and chartMetadata skips its entry. Only the
 * `entries` tree is walked, not the whole document.
 */
function helmIndexScalars(doc: Document.Parsed): void {
  const entries = isMap(doc.contents) ? doc.contents.get('entries', true) : undefined;
  if (!isMap(entries)) return;
  for (const chart of entries.items) {
    if (!isSeq(chart.value)) continue;
    for (const entry of chart.value.items) {
      if (!isMap(entry)) continue;
      for (const pair of entry.items) {
        const key = isScalar(pair.key) ? pair.key.value : undefined;
        if (key !== 'appVersion' && key !== 'kubeVersion') continue;
        const written = writtenScalar(pair.value);
        if (written === undefined || !isScalar(pair.value) || pair.value.value === null) continue;
        const read = helmWrittenScalar(written);
        if (read === undefined) {
          // Text to Helm; the JS reader may have made it a number (`1e400`, Infinity).
          if (typeof pair.value.value !== 'string') pair.value.value = written.source;
        } else if ('refused' in read) {
          const tag = written.tag?.replace(/^tag:yaml\.org,2002:/, '!!') ?? '';
          pair.value.value = new HelmRefusal(
            `is ${tag} ${written.source} in YAML, which Helm cannot read (${read.refused})`,
          );
        } else {
          pair.value.value = read.text ?? null;
        }
      }
    }
  }
}
