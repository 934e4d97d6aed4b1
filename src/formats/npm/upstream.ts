/**
 * What the npm service needs from a proxy repository. The implementation (proxy.ts) sits on the
 * shared proxy engine in src/proxy; the service only sees validated views and byte streams.
 */
import type { Readable } from 'node:stream';
import type { PackageView } from './packument.ts';

export interface UpstreamPackument {
  readonly view: PackageView;
  /** ms epoch until which a rendering of this view may be reused. */
  readonly validUntil: number;
  /** True when served from cache because every upstream failed. */
  readonly stale: boolean;
}

export interface UpstreamTarball {
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly stale: boolean;
  /** Fetched from the upstream now (a fill), not served from the cache: quarantine's first seen. */
  readonly filled?: boolean;
  /** Opens the bytes (a range when given; inclusive offsets). */
  open(range?: { start: number; end: number }): Promise<Readable>;
}

export interface NpmUpstream {
  /** The upstream packument, or undefined when the upstream says 404. Throws 502/504 otherwise. */
  packument(name: string): Promise<UpstreamPackument | undefined>;
  /**
   * Whether a packument of `name` is cached here (fetched before, not since answered absent),
   * without asking the upstream: what a write through a group checks to say the package is
   * this proxy's (a write never sends a name upstream, NpmService #heldElsewhere, repos/group-write.ts).
   */
  cached(name: string): Promise<boolean>;
  /**
   * The cached packument of `name` as this proxy last stored it (stale or not), without asking
   * the upstream; undefined when none is cached. What the web UI shows (src/ui/types.ts: a
   * proxy's page reads its cache, never the upstream).
   */
  peek(name: string): Promise<PackageView | undefined>;
  /** A tarball named in the upstream packument, verified against its integrity when filled. */
  tarball(name: string, filename: string): Promise<UpstreamTarball | undefined>;
  /** Forwards an audit request body; returns the upstream status and body. */
  audit(
    endpoint: string,
    body: Buffer,
  ): Promise<{ status: number; body: Buffer; contentType: string }>;
}
