/**
 * The shapes every Maven repository kind answers in, so hosted, proxy and group repositories are
 * interchangeable behind the routes (DESIGN.md §4) and `maven-metadata.xml` is rendered in one
 * place (metadata.ts) whoever produced it.
 *
 * Paths are repository-relative Maven 2 layout paths (`org/example/demo/1.0/demo-1.0.jar`),
 * already validated (no empty, `.` or `..` segments, no encoded separators) by coordinates.ts.
 */
import type { CurationSubject } from '../../curation/types.ts';
import type { Readable } from 'node:stream';
import type { Repository } from '../../repos/repository.ts';
import type { ReadRange } from '../../proxy/fill.ts';

/** The checksum files Maven asks for, by extension (`.md5`, `.sha1`, `.sha256`, `.sha512`). */
export type ChecksumName = 'md5' | 'sha1' | 'sha256' | 'sha512';
export const CHECKSUM_NAMES: readonly ChecksumName[] = ['md5', 'sha1', 'sha256', 'sha512'];

/** A stored or cached file (artifact, POM, signature…; never maven-metadata.xml). */
export interface OpenedMavenFile {
  readonly size: number;
  /**
   * Lowercase hex of every checksum, computed when the bytes were ingested; '' for one not
   * computed yet (a proxied file's md5 and sha512, see `lateChecksum`).
   */
  readonly checksums: Readonly<Record<ChecksumName, string>>;
  /**
   * Computes (from the stored bytes), records and returns a checksum that `checksums` holds as ''
   * (proxy.ts: md5 and sha512 are computed on their first request, not at every fill).
   */
  readonly lateChecksum?: ((algorithm: ChecksumName) => Promise<string>) | undefined;
  /** Milliseconds since the epoch (Last-Modified). */
  readonly modifiedAt: number;
  /**
   * Opens the bytes (a range when given); call once per response. A function, not a method: the
   * hot-file cache keeps it apart from this object (which may carry `body`).
   */
  readonly open: (range?: ReadRange) => Promise<Readable>;
  /**
   * Whether the stored bytes are there (files read from the store), so a HEAD does not answer
   * 200 for a file whose GET is a 410 (http/send-body.ts refuseHeadOfMissing). Absent: assumed.
   */
  readonly present?: () => Promise<boolean>;
  /**
   * The whole body, when the source has it in memory anyway (a small proxy file just fetched and
   * verified: its bytes went by on the way to the blob store), so the hot-file cache keeps it
   * without reading the blob back. The same bytes as `open()` gives (blobs are content-addressed).
   */
  readonly body?: Buffer | undefined;
  /**
   * Set for a proxy file answered while its bytes still arrive from the upstream (proxy.ts
   * `streamable`): `size` is the announced length, `checksums.sha1` the upstream's `.sha1` the
   * bytes are verified against, the other checksums empty until then; `open()` follows the fill,
   * whose last byte waits for the verification. Settles with the file as stored once verified
   * (its checksums are all known then); rejects with the upstream failure. Such an answer is
   * never kept.
   */
  readonly verified?: Promise<OpenedMavenFile>;
  /**
   * Set on a file a proxy serves (fetched or cached from an upstream): the artifact curation
   * decides it by (`groupId:artifactId`, version). The service asks the gate with it on every
   * answer, the hot-file cache's included; hosted files have none (trusted, never curated).
   */
  readonly curation?: CurationSubject | undefined;
}

/** One `<snapshotVersion>` of a snapshot version's metadata. */
export interface SnapshotVersion {
  readonly classifier: string | undefined;
  readonly extension: string;
  /** `1.0-20261130.101010-3` */
  readonly value: string;
  /** `yyyyMMddHHmmss` UTC */
  readonly updated: string;
}

/** One `<plugin>` of group-level metadata (Maven plugin prefixes). */
export interface PluginEntry {
  readonly name: string | undefined;
  readonly prefix: string;
  readonly artifactId: string;
}

/**
 * A `maven-metadata.xml` document as data: artifact level (groupId + artifactId + versioning),
 * snapshot-version level (+ version + snapshot/snapshotVersions) or group level (plugins).
 */
export interface MavenMetadata {
  readonly groupId: string | undefined;
  readonly artifactId: string | undefined;
  /** Snapshot-version level only: `1.0-SNAPSHOT`. */
  readonly version: string | undefined;
  /** Artifact level: every version, in Maven (ComparableVersion) order. */
  readonly versions: readonly string[];
  readonly latest: string | undefined;
  readonly release: string | undefined;
  /** `yyyyMMddHHmmss` UTC */
  readonly lastUpdated: string | undefined;
  /** Snapshot-version level: the newest timestamped build. */
  readonly snapshot: { readonly timestamp: string; readonly buildNumber: number } | undefined;
  readonly snapshotVersions: readonly SnapshotVersion[];
  /** Group level. */
  readonly plugins: readonly PluginEntry[];
}

/**
 * What one repository kind answers. Absent = undefined, never an error; a proxy whose upstreams
 * failed throws the upstream error (isUpstreamFailure), which a group treats as "not here".
 */
export interface MavenSource {
  /**
   * A file at `path` (not maven-metadata.xml, not a checksum file: routes derive those).
   * `validity`, when given, is lowered to the ms epoch after which this answer may be out of date
   * for reasons other than a hosted write (a remembered upstream miss expiring; an upstream
   * failure → 0): the service's hot-file cache (hot-files.ts) keeps the answer until then.
   */
  openFile(
    repo: Repository,
    path: string,
    validity?: MetadataValidity,
  ): Promise<OpenedMavenFile | undefined>;
  /**
   * The metadata document of the directory `dir` (`org/example/demo`, `org/example/demo/1.0-SNAPSHOT`
   * or `org/example` for plugins), as data; the routes render it and its checksums.
   * `validity`, when given, is lowered to the ms epoch after which this answer (a document or an
   * absence) may be out of date for reasons other than a hosted write (a proxy's freshness, a
   * remembered upstream miss, an upstream failure → 0): the service keeps the rendered document
   * until then.
   */
  metadata(
    repo: Repository,
    dir: string,
    validity?: MetadataValidity,
  ): Promise<MavenMetadata | undefined>;
  /**
   * A file `repo` holds, here (never asking an upstream), at `path` or under the directory
   * `path` — its repository-relative path —, or undefined: what a group's DELETE checks to say
   * whose a path is and what it is (service.ts `remove`, coordinates.ts `dirRole`).
   */
  held?(repo: Repository, path: string): Promise<string | undefined>;
  /**
   * Proxies: whether this repository serves the artifact whose directory is `dir`
   * (`<group dirs>/<artifactId>`): `served` when its cache holds a file under `dir` or its
   * `maven-metadata.xml`, or its upstreams have that document now (asked as a read asks, so the
   * answer is cached; waited for at most `waitMs`); `absent` when they say 404; `unknown` when
   * they could not be asked in time (a failure, an open circuit, past `waitMs`). What a first
   * deploy of the artifact checks before taking the coordinate over (service.ts `deploy`).
   */
  serves?(repo: Repository, dir: string, waitMs: number): Promise<'served' | 'absent' | 'unknown'>;
}

/** How long a metadata answer stays right without a hosted write: see MavenSource.metadata. */
export interface MetadataValidity {
  /** ms since the epoch; Infinity until a hosted write, 0 = do not keep. */
  until: number;
  /** Set when a proxy part is a stale copy (the response says `x-nora-stale: true`). */
  stale?: boolean;
  /**
   * Set when an absence comes from a proxy's remembered upstream miss: what the 404 says about it
   * (`upstream maven-proxy#0 said 404 at 06:38:36Z (remembered for 300 s, …)`; several: `; `).
   */
  missNote?: string;
}

/** Adds a note to a validity's miss note (when given): the proxies' one helper. */
export { noteMiss } from '../../proxy/negative-cache.ts';

/** Lowers `validity` (when given) to `until`. */
export function bound(validity: MetadataValidity | undefined, until: number): void {
  if (validity !== undefined && until < validity.until) validity.until = until;
}
