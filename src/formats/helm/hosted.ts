/**
 * Hosted Helm repositories: uploads (ChartMuseum's API and plain PUT), reads, deletes, over the
 * blob store (bytes) and store.ts (one row per chart version holding its index entry).
 *
 * An upload streams into the blob store (sha256 computed on the way, size bounded), then the
 * stored archive's Chart.yaml is read (chart.ts, bounded) and checked; a refused chart leaves
 * nothing behind (its blob, if new, is deleted; no row). Every write bumps the repository's
 * change counter: the index snapshot (and the rendered index.yaml kept per snapshot key) is
 * rebuilt from the rows on the next read, once, never by rescanning storage.
 */
import { Readable } from 'node:stream';
import { formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import {
  chartFilename,
  entryFragment,
  type IndexEntry,
  provenanceChart,
  readChartMetadata,
} from './chart.ts';
import { compareEntries, sortEntries } from './index-render.ts';
import type { HelmSource, IndexSnapshot, OpenedChartFile, SnapshotEntry } from './model.ts';
import type { HelmStore, StoredChart } from './store.ts';

/** Largest provenance file, bytes. */
export const MAX_PROV_BYTES = 1024 * 1024;

/** A chart archive ingested into the blob store and read, not yet recorded. */
export interface StagedChart {
  readonly digest: string;
  readonly hex: string;
  readonly size: number;
  readonly created: boolean;
  readonly metadata: IndexEntry;
}

/** A provenance file read, not yet recorded. */
export interface StagedProv {
  readonly digest: string;
  readonly size: number;
  readonly created: boolean;
  readonly name: string;
  readonly version: string;
  /** The archive digest it signs (`sha256:<hex>`), or undefined when it names none. */
  readonly chartDigest: string | undefined;
}

export interface HelmHostedDeps {
  readonly store: HelmStore;
  readonly blobs: BlobStore;
}

export class HelmHosted implements HelmSource {
  readonly #deps: HelmHostedDeps;
  /** Change counter per repository (bumped by every write in this process). */
  readonly #changes = new Map<string, number>();
  readonly #snapshots = new Map<string, IndexSnapshot>();
  /** Names ever published per repository (`helm_names`), once read; only uploads add to it. */
  readonly #names = new Map<string, Set<string>>();

  constructor(deps: HelmHostedDeps) {
    this.#deps = deps;
  }

  /**
   * Drops every hosted repository's index snapshot (`POST /api/v1/admin/reindex`): the next
   * `index.yaml` read builds it from the rows again and renders it anew (a new snapshot key).
   */
  forgetSnapshots(): void {
    for (const repo of new Set([...this.#snapshots.keys(), ...this.#changes.keys()])) {
      this.#changed(repo);
    }
  }

  /**
   * Bumps `repo`'s change counter. With `delta` (what the committed write did) a cached snapshot
   * is updated in place of being dropped: a copy with the entry inserted at its sorted position
   * (binary search) or removed, O(n) copying and no SQL or sort, so the next index read after a
   * publish at 10,000 versions only renders. Without (a failed write: unknown state), dropped.
   */
  #changed(
    repo: string,
    delta?: { put: SnapshotEntry } | { removed: { name: string; version: string } },
  ): void {
    const counter = (this.#changes.get(repo) ?? 0) + 1;
    this.#changes.set(repo, counter);
    const known = this.#snapshots.get(repo);
    this.#snapshots.delete(repo);
    if (!known || !delta) return;
    const entries = known.entries.slice();
    const target = 'put' in delta ? delta.put : delta.removed;
    const at = lowerBound(entries, target);
    const found = entries.at(at);
    const same =
      found !== undefined && found.name === target.name && found.version === target.version;
    if ('put' in delta) entries.splice(at, same ? 1 : 0, delta.put);
    else if (same) entries.splice(at, 1);
    const modifiedAt = Math.max(known.modifiedAt, Date.now());
    this.#snapshots.set(repo, {
      key: `hosted:${repo}:${counter}:${entries.length}:${modifiedAt}`,
      validUntil: Infinity,
      entries,
      modifiedAt,
    });
  }

  /** The snapshot of `repo`: from memory (kept up to date by writes), else from the rows (once). */
  async index(repo: Repository): Promise<IndexSnapshot> {
    const known = this.#snapshots.get(repo.name);
    if (known) return known;
    const counter = this.#changes.get(repo.name) ?? 0;
    const rows = await this.#deps.store.entries(repo.name);
    let modifiedAt = 0;
    const entries: SnapshotEntry[] = rows.map((row) => {
      if (row.updated_at > modifiedAt) modifiedAt = row.updated_at;
      return { name: row.name, version: row.version, fragment: row.entry };
    });
    sortEntries(entries);
    const snapshot: IndexSnapshot = {
      key: `hosted:${repo.name}:${counter}:${rows.length}:${modifiedAt}`,
      validUntil: Infinity,
      entries,
      modifiedAt,
    };
    // A write that raced this read bumped the counter: keep nothing then.
    if ((this.#changes.get(repo.name) ?? 0) === counter) this.#snapshots.set(repo.name, snapshot);
    return snapshot;
  }

  async openChart(
    repo: Repository,
    name: string,
    version: string,
    prov: boolean,
  ): Promise<OpenedChartFile | undefined> {
    const row = await this.#deps.store.chart(repo.name, name, version);
    if (!row) return undefined;
    return this.#opened(row, prov);
  }

  #opened(row: StoredChart, prov: boolean): OpenedChartFile | undefined {
    const address = prov ? row.prov_digest : row.digest;
    if (address === null) return undefined;
    const digest = parseDigest(address);
    const bytes = this.#deps.blobs.hosted(digest, 'helm');
    return {
      size: prov ? (row.prov_size ?? 0) : row.size,
      sha256: digest.hex,
      modifiedAt: row.updated_at,
      open: (range) => bytes.open(range),
      present: () => bytes.present(),
    };
  }

  chart(repo: Repository, name: string, version: string): Promise<StoredChart | undefined> {
    return this.#deps.store.chart(repo.name, name, version);
  }

  /** The stored row of `name` `version` in either spelling (`1.2.3`, `v1.2.3`): store.ts. */
  sameVersion(repo: Repository, name: string, version: string): Promise<StoredChart | undefined> {
    return this.#deps.store.sameVersion(repo.name, name, version);
  }

  versions(repo: Repository, name: string): Promise<StoredChart[]> {
    return this.#deps.store.versions(repo.name, name);
  }

  /**
   * True when `name` was ever published in `repo`, even if every version was deleted since (the
   * group's dependency-confusion guard, `helm_names`).
   */
  hasName(repo: Repository, name: string): Promise<boolean> {
    const known = this.#names.get(repo.name);
    if (known) return Promise.resolve(known.has(name));
    return this.#deps.store.hasName(repo.name, name);
  }

  /** Every name ever published in `repo` (kept in memory after the first read, grown by uploads). */
  async publishedNames(repo: Repository): Promise<ReadonlySet<string>> {
    const known = this.#names.get(repo.name);
    if (known) return known;
    const counter = this.#changes.get(repo.name) ?? 0;
    const names = new Set(await this.#deps.store.names(repo.name));
    // A write that raced this read bumped the counter: keep nothing then.
    if ((this.#changes.get(repo.name) ?? 0) === counter) this.#names.set(repo.name, names);
    return names;
  }

  /**
   * Streams a chart archive into the blob store (TOO_LARGE past `maxBytes`) and reads its
   * Chart.yaml; throws BAD_REQUEST for an archive without a valid Chart.yaml (nothing kept).
   */
  async stageChart(body: Readable, maxBytes: number): Promise<StagedChart> {
    const ingested = await this.#deps.blobs.ingest(body, { maxBytes });
    try {
      const metadata = await readChartMetadata(await this.#deps.blobs.open(ingested.digest));
      return {
        digest: formatDigest(ingested.digest),
        hex: ingested.digest.hex,
        size: ingested.size,
        created: ingested.created,
        metadata,
      };
    } catch (err) {
      if (ingested.created)
        await this.#deps.blobs.discardCreated(ingested.digest).catch(() => false);
      throw err;
    }
  }

  /** Reads a provenance file (bounded) and stores it; throws BAD_REQUEST when it is not one. */
  async stageProv(body: Readable): Promise<StagedProv> {
    const bytes = await readAllBounded(body, MAX_PROV_BYTES, 'provenance file');
    const { name, version, chartDigest } = provenanceChart(bytes.toString('utf8'));
    const ingested = await this.#deps.blobs.ingest(Readable.from([bytes]));
    return {
      digest: formatDigest(ingested.digest),
      size: ingested.size,
      created: ingested.created,
      name,
      version,
      chartDigest,
    };
  }

  /** Forgets staged blobs that were new (a refused upload). */
  async discard(...staged: ({ digest: string; created: boolean } | undefined)[]): Promise<void> {
    for (const s of staged) {
      if (s?.created)
        await this.#deps.blobs.discardCreated(parseDigest(s.digest)).catch(() => false);
    }
  }

  /**
   * Records a staged chart (and its provenance file) as `name`-`version`; 409 when the version
   * (in either spelling: `1.2.3`, `v1.2.3`) exists and `overwrite` is false, or, with
   * `immutable` (`[helm] allow_overwrite = false`), when it was deleted with other bytes
   * (store.ts `put`). Returns true when the version is new.
   */
  async commit(
    repo: Repository,
    chart: StagedChart,
    prov: StagedProv | undefined,
    overwrite: boolean,
    immutable = false,
  ): Promise<boolean> {
    const { name, version } = chart.metadata;
    const filename = chartFilename(name, version);
    const entry = {
      ...chart.metadata,
      created: new Date().toISOString(),
      digest: chart.hex,
      urls: [`charts/${filename}`],
    };
    const fragment = entryFragment(entry);
    let put: { created: boolean; replaced: string | undefined };
    try {
      put = await this.#deps.store.put(
        {
          repo: repo.name,
          name,
          version,
          filename,
          digest: chart.digest,
          size: chart.size,
          prov_digest: prov?.digest ?? null,
          prov_size: prov?.size ?? null,
          entry: fragment,
        },
        overwrite,
        immutable,
      );
    } catch (err) {
      this.#changed(repo.name);
      this.#names.delete(repo.name);
      throw err;
    }
    if (put.replaced !== undefined && put.replaced !== version) {
      // The other spelling's row went: the snapshot is rebuilt from the rows.
      this.#changed(repo.name);
    } else {
      this.#changed(repo.name, { put: { name, version, fragment } });
    }
    this.#names.get(repo.name)?.add(name);
    return put.created;
  }

  /** Attaches a staged provenance file to its version; NOT_FOUND when the chart is absent. */
  async commitProv(repo: Repository, prov: StagedProv, overwrite: boolean): Promise<void> {
    // A provenance file is not in index.yaml: the snapshot stays as it is.
    {
      const found = await this.#deps.store.setProv(
        repo.name,
        prov.name,
        prov.version,
        { digest: prov.digest, size: prov.size },
        overwrite,
      );
      if (!found) {
        throw new RegistryError(
          'NOT_FOUND',
          `${chartFilename(prov.name, prov.version)} not found: upload the chart before its provenance file`,
        );
      }
    }
  }

  /**
   * Deletes one version, `version` in either spelling (`1.2.3` finds a stored `v1.2.3`, the exact
   * one first); NOT_FOUND when absent. Returns the version deleted, as it was stored.
   */
  async remove(repo: Repository, name: string, version: string): Promise<string> {
    let removed: string | undefined;
    try {
      removed = await this.#deps.store.delete(repo.name, name, version);
    } catch (err) {
      this.#changed(repo.name);
      throw err;
    }
    if (removed === undefined)
      throw new RegistryError('NOT_FOUND', `chart ${name}-${version} not found`);
    this.#changed(repo.name, { removed: { name, version: removed } });
    return removed;
  }
}

/** The first position in sorted `entries` not before `target` (index-render.ts order). */
function lowerBound(
  entries: readonly SnapshotEntry[],
  target: SnapshotEntry | { name: string; version: string },
): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const entry = entries[mid];
    if (entry !== undefined && compareEntries(entry, target) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
