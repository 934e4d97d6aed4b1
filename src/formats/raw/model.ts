/**
 * The shapes every raw repository kind answers in (hosted, proxy, group), so they are
 * interchangeable behind the service and routes (DESIGN.md §4). Paths are repository-relative and
 * already checked by paths.ts.
 */
import type { MissNotes } from '../../proxy/negative-cache.ts';
import type { Readable } from 'node:stream';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';

/** A stored, cached or in-flight file. */
export interface OpenedRawFile {
  /** Bytes; undefined while a proxied file without Content-Length is still arriving. */
  readonly size: number | undefined;
  /** Lowercase sha256 hex (the ETag), when known (a proxied file still arriving has none yet). */
  readonly sha256: string | undefined;
  /** A proxy's answer fetched from the upstream now (a fill): quarantine's first seen. */
  readonly filled?: boolean;
  /** ms since the epoch (Last-Modified): the write, or the upstream's Last-Modified / fetch. */
  readonly modifiedAt: number;
  /**
   * Opens the bytes (an inclusive range when given); call once per response. Small hosted files
   * come as a Buffer from memory (see hosted.ts), everything else as a stream.
   */
  open(range?: ReadRange): Promise<Readable | Buffer>;
  /**
   * Whether a GET would find the bytes (hosted files: the blob's file, or the small-file cache),
   * so a HEAD does not answer 200 for a file whose bytes are gone (removed by the read check).
   * Absent: assumed present.
   */
  readonly present?: () => Promise<boolean>;
  /** A proxy's last known copy, served because every upstream failed (`x-nora-stale: true`). */
  readonly stale?: boolean;
}

/** One entry of a folder listing. */
export interface RawListingEntry {
  readonly kind: 'dir' | 'file';
  readonly name: string;
  /** Files: bytes. Folders: undefined. */
  readonly size: number | undefined;
  /** Files: sha256 hex. */
  readonly sha256: string | undefined;
  /** Folders: files anywhere beneath. */
  readonly files: number | undefined;
  /** ms since the epoch. */
  readonly modifiedAt: number;
}

/** One page of a folder: entries by name, and whether more follow the last one. */
export interface RawListing {
  readonly entries: readonly RawListingEntry[];
  readonly more: boolean;
  /**
   * An opaque resume point for the next page (`?cursor=`), when it does not start after the last
   * entry (a filtered listing that stopped at its scan bound on a hidden entry: service.ts).
   */
  readonly cursor?: string;
}

/** What the 404 of a raw read says (negative-cache.ts), and what a proxy learnt of the path. */
export interface RawMissNotes extends MissNotes {
  /**
   * A proxy's upstream answered the path with a redirect to `<path>/` (a web server's folder:
   * python's http.server, nginx, Apache): a folder there, never cached as a file.
   */
  upstreamFolder?: boolean;
}

/**
 * What one repository kind answers. Absent = undefined, never an error; a proxy whose upstreams
 * failed throws the upstream error (isUpstreamFailure), which a group treats as "not here".
 */
export interface RawSource {
  /**
   * The file at `path`. `miss`, when given, collects what the 404 of an absence says about a
   * proxy's remembered upstream miss (negative-cache.ts `rememberedMissText`); a group passes it
   * to its members. A proxy sets `miss.upstreamFolder` when the path is its upstream's folder.
   */
  openFile(repo: Repository, path: string, miss?: RawMissNotes): Promise<OpenedRawFile | undefined>;
  /**
   * Proxies: whether a copy of the file `path` is cached here, never asking an upstream: what a
   * DELETE through a group checks to say the file is this proxy's (service.ts `remove`).
   */
  cached?(repo: Repository, path: string): Promise<boolean>;
  /**
   * One page of the folder `dir` (`` = root): entries named after `after`, at most `limit`.
   * Undefined when this repository has no such folder (a proxy lists nothing: an HTTP origin has
   * no listing protocol).
   */
  list(
    repo: Repository,
    dir: string,
    after: string | undefined,
    limit: number,
  ): Promise<RawListing | undefined>;
}
