/**
 * The shapes every Go module repository kind answers in, so hosted, proxy and group repositories
 * are interchangeable behind the routes (DESIGN.md §4).
 *
 * Vocabulary is the Go modules reference ("GOPROXY protocol", "Module zip files"): module paths
 * and versions here are *decoded* (`github.com/Azure/x`, not `github.com/!azure/x`); the routes
 * decode the case-encoded URL once (module.ts) and encode again only when talking to an upstream.
 */
import type { Readable } from 'node:stream';
import type { Repository } from '../../repos/repository.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import type { MissNotes } from '../../proxy/negative-cache.ts';

/** The JSON of `@v/<version>.info` and `@latest` (`{"Version":…,"Time":…}`). */
export interface VersionInfo {
  /** Canonical semantic version, e.g. `v1.2.3`, `v0.0.0-20191109021931-daa7c04131f5`. */
  readonly Version: string;
  /** RFC 3339 commit/upload time; absent when unknown. */
  readonly Time?: string;
  /**
   * Not part of the JSON: true when every upstream failed and this is the kept copy of a
   * revalidated answer (`@latest`, a non-canonical `.info`), sent with `x-nora-stale: true`.
   */
  readonly stale?: boolean;
}

/** A `.mod` or `.zip` file ready to send. */
export interface OpenedModuleFile {
  readonly size: number;
  /** Lowercase hex SHA-256 (the ETag). */
  readonly sha256: string;
  /** When it was stored here (published, or fetched from an upstream), epoch ms: Last-Modified. */
  readonly modifiedAt?: number | undefined;
  /** Opens the bytes (a range when given; a Buffer when they are in memory); once per response. */
  open(range?: ReadRange): Promise<Readable | Buffer>;
  /**
   * Whether the stored bytes are there (files read from the store), so a HEAD does not answer
   * 200 for a file whose GET is a 410 (http/send-body.ts refuseHeadOfMissing). Absent: assumed.
   */
  readonly present?: () => Promise<boolean>;
}

/** What `@v/list` answers: versions, one per line; `stale` when every upstream failed. */
export interface VersionList {
  readonly versions: readonly string[];
  readonly stale?: boolean;
}

/**
 * What one repository kind answers. Absent = undefined, never an error (the routes answer the
 * 404/410 `go` falls through on); a proxy whose upstreams failed throws the upstream error
 * (isUpstreamFailure), which a group treats as "not here". `miss`, when given, collects what the
 * 404 of an absence says about a proxy's remembered upstream miss (negative-cache.ts
 * `rememberedMissText`); a group passes it to its members.
 */
export interface GoSource {
  /** `@v/list`: the module's known tagged versions (not pseudo-versions), any order. */
  list(repo: Repository, module: string, miss?: MissNotes): Promise<VersionList | undefined>;
  /** `@v/<version>.info`. */
  info(
    repo: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<VersionInfo | undefined>;
  /** `@latest`: the version `go` should take when `list` is empty (or the newest). */
  latest(repo: Repository, module: string, miss?: MissNotes): Promise<VersionInfo | undefined>;
  /** `@v/<version>.mod`. */
  mod(
    repo: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<OpenedModuleFile | undefined>;
  /** `@v/<version>.zip`. */
  zip(
    repo: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<OpenedModuleFile | undefined>;
}
