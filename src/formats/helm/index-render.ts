/**
 * index.yaml rendering (Helm's IndexFile: `apiVersion: v1`, `entries: {<name>: [ChartVersion…]}`,
 * `generated`, https://helm.sh/docs/topics/chart_repository/#the-index-file).
 *
 * Each chart version is one pre-rendered JSON text (chart.ts `entryFragment`); JSON is YAML flow
 * style, so the document is those fragments concatenated under their (quoted) chart names:
 * rendering 10,000 versions is a string join, not a YAML serialisation (see docs/helm.md,
 * "Why JSON-style entries"). Helm's loader (sigs.k8s.io/yaml) reads it as any index.yaml.
 */
import { createHash } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import semver from 'semver';
import { compareParsedDesc, compareVersionsDesc } from './chart.ts';
import type { IndexSnapshot, SnapshotEntry } from './model.ts';

/** A rendered index.yaml, kept per snapshot key. */
export interface RenderedIndex {
  readonly key: string;
  readonly body: Buffer;
  /**
   * The same body gzipped (sent for `Accept-Encoding: gzip`), compressed off the event loop
   * (zlib's thread pool) right after the render, so the render does not wait for it.
   */
  readonly gzip: Promise<Buffer>;
  /** `"<sha256 of body>"` */
  readonly etag: string;
  readonly modifiedAt: number;
  readonly validUntil: number;
  /** Made from a proxy's stale copy (`x-nora-stale: true`). */
  readonly stale?: boolean;
}

/**
 * Sorts entries in place: name ascending (code units), then version newest first. Each version
 * is parsed once (a comparator that parsed would cost ~0.5 s at 10,000 versions).
 */
export function sortEntries<T extends SnapshotEntry>(entries: T[]): T[] {
  const parsed = new Map<string, semver.SemVer | null>();
  const parse = (version: string): semver.SemVer | null => {
    let known = parsed.get(version);
    if (known === undefined) {
      known = semver.parse(version);
      parsed.set(version, known);
    }
    return known;
  };
  return entries.sort((a, b) =>
    a.name < b.name
      ? -1
      : a.name > b.name
        ? 1
        : compareParsedDesc(parse(a.version), parse(b.version), a.version, b.version),
  );
}

/** The order of sortEntries for two entries (parses their versions: for single comparisons). */
export function compareEntries(
  a: { readonly name: string; readonly version: string },
  b: { readonly name: string; readonly version: string },
): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersionsDesc(a.version, b.version);
}

/**
 * The index.yaml text of sorted entries. `generated` is RFC 3339 (ms epoch `modifiedAt`; 0 = now).
 */
export function renderIndexText(entries: readonly SnapshotEntry[], modifiedAt: number): string {
  return [...indexTextSlices(entries, modifiedAt, Infinity)].join('');
}

/**
 * Entries per slice of an incremental rendering: about 1-2 ms of joining and encoding, so a
 * 10,000-version index (4.6 MB) yields the event loop twenty times instead of blocking it for
 * 40-55 ms in one piece (docs/performance.md "Helm index.yaml off the event loop").
 */
export const RENDER_SLICE = 500;

/**
 * renderIndexText in pieces of at most `perSlice` entries (the last piece also holds the
 * trailer); the pieces joined are renderIndexText's text. Each piece ends at an entry's end, so
 * encoding them one by one gives the bytes of the whole text.
 */
function* indexTextSlices(
  entries: readonly SnapshotEntry[],
  modifiedAt: number,
  perSlice: number,
): Generator<string> {
  let parts: string[] = ['apiVersion: v1\n'];
  if (entries.length === 0) parts.push('entries: {}\n');
  else {
    parts.push('entries:\n');
    let current: string | undefined;
    let inSlice = 0;
    for (const entry of entries) {
      if (inSlice === perSlice) {
        yield parts.join('');
        parts = [];
        inSlice = 0;
      }
      inSlice += 1;
      if (entry.name !== current) {
        current = entry.name;
        parts.push(`  ${JSON.stringify(entry.name)}:\n`);
      }
      parts.push('  - ', entry.fragment, '\n');
    }
  }
  // No change known (an empty repository or group): the time of this rendering, never the epoch
  // (a rendering is kept per snapshot key, so the ETag stays stable).
  const generated = new Date(modifiedAt > 0 ? modifiedAt : Date.now());
  parts.push(`generated: ${JSON.stringify(generated.toISOString())}\n`);
  parts.push('serverInfo: {}\n');
  yield parts.join('');
}

const gzipAsync = promisify(gzipCallback);

/**
 * Renders a snapshot with its gzip and ETag, incrementally: RENDER_SLICE entries are joined,
 * encoded and hashed per event-loop turn (setImmediate between slices), so other requests are
 * answered while a large index renders; the bytes are renderIndexText's.
 */
export async function renderIndex(snapshot: IndexSnapshot): Promise<RenderedIndex> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let first = true;
  for (const text of indexTextSlices(snapshot.entries, snapshot.modifiedAt, RENDER_SLICE)) {
    if (!first) await setImmediate();
    first = false;
    const chunk = Buffer.from(text, 'utf8');
    hash.update(chunk);
    chunks.push(chunk);
  }
  const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  const gzip = gzipAsync(body, { level: 6 });
  gzip.catch(() => undefined); // awaited by gzip readers only; never an unhandled rejection
  return {
    key: snapshot.key,
    body,
    gzip,
    etag: `"${hash.digest('hex')}"`,
    modifiedAt: snapshot.modifiedAt,
    validUntil: snapshot.validUntil,
  };
}
