/**
 * The shapes every Helm repository kind answers in (hosted, proxy, group), so the routes and the
 * index renderer never care who produced an answer (DESIGN.md §4).
 */
import type { Readable } from 'node:stream';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';

/** A chart archive or provenance file, ready to send. */
export interface OpenedChartFile {
  /**
   * Bytes; undefined while it streams through from an upstream (sent chunked, without
   * Content-Length, so a fill that fails its digest check ends as an incomplete response the
   * client notices, never as a complete one).
   */
  readonly size: number | undefined;
  /** sha256 of the bytes, lowercase hex (the ETag). */
  readonly sha256: string;
  /** ms since the epoch (Last-Modified). */
  readonly modifiedAt: number;
  /** Opens the bytes (a range when given); call once per response. */
  open(range?: ReadRange): Promise<Readable>;
  /**
   * Whether the stored bytes are there (files read from the store), so a HEAD does not answer
   * 200 for a file whose GET is a 410 (http/send-body.ts refuseHeadOfMissing). Absent: assumed.
   */
  readonly present?: () => Promise<boolean>;
}

/** One chart version of an index, as the renderer needs it. */
export interface SnapshotEntry {
  readonly name: string;
  readonly version: string;
  /**
   * The index entry (Helm's ChartVersion) as one JSON text, `urls` already pointing at us
   * (`charts/<name>-<version>.tgz`, relative to the repository URL): JSON is YAML flow style,
   * so index.yaml is these fragments concatenated (chart.ts `entryFragment`).
   */
  readonly fragment: string;
}

/**
 * The chart versions of a repository at one moment: entries sorted by name (ascending, code
 * unit order) then version (newest first, SemVer precedence). `key` identifies the content
 * (same key, same entries), so a rendered index.yaml is kept per key; `validUntil` (ms epoch)
 * bounds how long it may be kept for reasons other than a hosted write (a proxy's TTL; 0 = not
 * at all; Infinity = until the key changes).
 */
export interface IndexSnapshot {
  readonly key: string;
  readonly validUntil: number;
  readonly entries: readonly SnapshotEntry[];
  /** Newest change, ms epoch (Last-Modified, `generated`). */
  readonly modifiedAt: number;
  /** A proxy's stale copy is part of it (the response says `x-nora-stale: true`). */
  readonly stale?: boolean;
  /**
   * A group's chart names whose entries it left out of some members' parts — a rule reserved the
   * name for other members, or a hosted member holds it (`protect_hosted_names`) — each with the
   * note its 404s for the name end in (group-read.ts `missNote`): ChartMuseum's
   * `/api/charts/<name>[/<version>]` answer from this snapshot, not from a group read.
   */
  readonly withheld?: ReadonlyMap<string, string>;
}

/** What one repository kind answers. Absent = undefined, never an error. */
export interface HelmSource {
  /** The repository's chart versions (a proxy's: its upstream index, rewritten). */
  index(repo: Repository): Promise<IndexSnapshot | undefined>;
  /** The archive (`prov` false) or provenance file of one chart version. */
  openChart(
    repo: Repository,
    name: string,
    version: string,
    prov: boolean,
  ): Promise<OpenedChartFile | undefined>;
}
