/**
 * The shapes every Cargo repository kind answers in, so hosted, proxy and group repositories are
 * interchangeable behind the routes (DESIGN.md §4) and an index file is rendered in one place
 * whoever produced its entries.
 *
 * Vocabulary is the Cargo book's ("Registry index", "Registry web API"): an *index file* is the
 * file at the crate's prefix path (`3/s/syn`, `se/rd/serde`) holding one JSON *index entry* per
 * published version, in publish order.
 */
import type { Readable } from 'node:stream';
import type { Repository } from '../../repos/repository.ts';
import type { ReadRange } from '../../proxy/fill.ts';

/** One dependency of an index entry (Cargo book, "Index format", `deps`). */
export interface IndexDependency {
  /** The name used in the dependent's code (the rename when `package` is set). */
  readonly name: string;
  /** A SemVer requirement, e.g. `^1.0`. */
  readonly req: string;
  readonly features: readonly string[];
  readonly optional: boolean;
  readonly default_features: boolean;
  readonly target: string | null;
  /** `normal` | `dev` | `build` (absent = normal in the book; we always write it). */
  readonly kind: 'normal' | 'dev' | 'build';
  /** Index URL of the registry the dependency comes from; absent = this registry. */
  readonly registry?: string | null;
  /** The real crate name when the dependency is renamed. */
  readonly package?: string | null;
}

/** One line of an index file (Cargo book, "Index format"). Field names are the wire names. */
export interface IndexEntry {
  readonly name: string;
  readonly vers: string;
  readonly deps: readonly IndexDependency[];
  /** Lowercase hex SHA-256 of the `.crate` file. */
  readonly cksum: string;
  readonly features: Readonly<Record<string, readonly string[]>>;
  /** Features using `dep:`/`?` syntax, split out so old Cargo can read `features` (then `v: 2`). */
  readonly features2?: Readonly<Record<string, readonly string[]>>;
  readonly yanked: boolean;
  readonly links?: string | null;
  readonly v?: number;
  readonly rust_version?: string | null;
}

/** An index file in one repository (or what a group answers for it). */
export interface IndexFile {
  /** The crate name as published (index files are looked up lower-cased). */
  readonly name: string;
  /** In publish order (the order Cargo's index files keep). */
  readonly entries: readonly IndexEntry[];
  /** true when this is the last known copy because every upstream failed (`x-nora-stale`). */
  readonly stale?: boolean;
}

/** A `.crate` file ready to send. */
export interface OpenedCrate {
  readonly size: number;
  /** Lowercase hex SHA-256 (= the index entry's `cksum`; the ETag). */
  readonly sha256: string;
  /** When it was stored here (published, or fetched from an upstream), epoch ms: Last-Modified. */
  readonly modifiedAt?: number | undefined;
  /** Fetched from the upstream now (a proxy fill), not the cache: quarantine's first seen. */
  readonly filled?: boolean;
  /** Opens the bytes (a range when given); call once per response. */
  open(range?: ReadRange): Promise<Readable>;
  /**
   * Whether the stored bytes are there (files read from the store), so a HEAD does not answer
   * 200 for a file whose GET is a 410 (http/send-body.ts refuseHeadOfMissing). Absent: assumed.
   */
  readonly present?: () => Promise<boolean>;
}

/**
 * What one repository kind answers. Absent = undefined, never an error; a proxy whose upstreams
 * failed throws the upstream error (isUpstreamFailure), which a group treats as "not here".
 */
export interface CargoSource {
  /** `name` is lower-cased by the caller (index paths are case-insensitive). */
  indexFile(repo: Repository, name: string): Promise<IndexFile | undefined>;
  /** `name` lower-cased; `version` as in the index entry's `vers`. */
  openCrate(repo: Repository, name: string, version: string): Promise<OpenedCrate | undefined>;
}
