/**
 * The shapes every PyPI repository kind answers in, so hosted, proxy and group repositories are
 * interchangeable behind the routes (DESIGN.md §4) and the simple index is rendered in one place
 * (simple-index.ts) whoever produced the page.
 *
 * URLs: a project page lists its files with *relative* links (`<filename>` from
 * `<mount>/<project>/`, PEP 503 allows relative URLs and pip, poetry, pdm resolve them), so a page
 * is the same bytes whatever host or proxy the client reached us through, and a group's page
 * never names a member.
 */
import type { Readable } from 'node:stream';
import type { Repository } from '../../repos/repository.ts';
import type { ReadRange } from '../../proxy/fill.ts';

/** One file as a simple index lists it (PEP 503, 691, 592, 658/714, 700). */
export interface DistFile {
  /** A safe single path segment (filenames.ts `isSafeFilename`). */
  readonly filename: string;
  /** The version as the filename spells it (for PEP 700 `versions`, normalised by the renderer). */
  readonly version: string;
  /** Lowercase hex SHA-256 of the file: `#sha256=` and JSON `hashes.sha256`. */
  readonly sha256: string;
  /** Bytes (PEP 700 `size`); undefined when an upstream did not say. */
  readonly size: number | undefined;
  /** The `Requires-Python` specifier as given (the renderer escapes it). */
  readonly requiresPython: string | undefined;
  /** PEP 592: false, or the yank reason ('' when none was given). */
  readonly yanked: false | string;
  /** PEP 700 `upload-time`: ISO 8601 UTC with `Z`; undefined when unknown. */
  readonly uploadTime: string | undefined;
  /**
   * PEP 658/714: the core metadata file `<filename>.metadata` is served. `sha256` is its hash
   * when known (PEP 658 allows `true` without one); undefined: no metadata file is offered.
   */
  readonly coreMetadata: { readonly sha256: string | undefined } | undefined;
}

/** A project's page in one repository (or the merge of a group's members). */
export interface ProjectPage {
  /** PEP 503-normalised. */
  readonly name: string;
  /** In any order: the renderer sorts (by version precedence, then filename). */
  readonly files: readonly DistFile[];
  /** true when this is the last known copy because every upstream failed (`x-nora-stale`). */
  readonly stale?: boolean;
  /**
   * When (epoch ms) the earliest curation mark on it ends (a quarantine hold's or a min release
   * age's `until`, curated.ts): the page is different from then, so no kept answer outlives it.
   */
  readonly changesAt?: number | undefined;
}

/** File bytes ready to send. */
export interface OpenedDistFile {
  readonly size: number;
  /** Lowercase hex SHA-256 (the ETag). */
  readonly sha256: string;
  /** When it was stored here (uploaded, or fetched from an upstream), epoch ms: Last-Modified. */
  readonly modifiedAt?: number | undefined;
  /** Fetched from the upstream now (a proxy fill), not the cache: quarantine's first seen. */
  readonly filled?: boolean;
  /** Opens the bytes (a range when given); call once per response. */
  open(range?: ReadRange): Promise<Readable>;
  /** The whole file, when it is in memory (sent as one buffer: no stream, no store read). */
  readonly bytes?: Buffer | undefined;
  /**
   * Whether the stored bytes are there (hosted files), so a HEAD does not answer 200 for a file
   * whose GET is a 410 (gone from storage: BlobStore.hosted). Absent: assumed present.
   */
  readonly present?: () => Promise<boolean>;
}

/**
 * What one repository kind answers. Absent = undefined, never an error; a proxy whose upstreams
 * failed throws the upstream error (isUpstreamFailure), which a group treats as "not here".
 */
export interface PypiSource {
  /** Normalised names of the projects this repository can list (PEP 503 root page). */
  projectNames(repo: Repository): Promise<readonly string[]>;
  /** `project` is normalised. */
  projectPage(repo: Repository, project: string): Promise<ProjectPage | undefined>;
  /**
   * Proxies: `project`'s page as cached here, never asking an upstream (undefined when none is
   * cached): what a write through a group checks to say a release is a proxy member's
   * (service.ts #refuseProxied) without sending the name upstream.
   */
  cachedPage?(repo: Repository, project: string): Promise<ProjectPage | undefined>;
  /** A file of `project`'s page. */
  openFile(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<OpenedDistFile | undefined>;
  /**
   * PEP 658: the core metadata of a wheel of `project` (`<filename>.metadata`). `prefetch`
   * false: the caller is not pip about to download the wheel (a proxy fetches it ahead only for
   * a client's `.metadata` request).
   */
  openCoreMetadata(
    repo: Repository,
    project: string,
    filename: string,
    options?: { readonly prefetch?: boolean },
  ): Promise<OpenedDistFile | undefined>;
}
