/**
 * How the OCI format reads a repository: the `OciBackend` interface.
 *
 * Every docker repository kind provides one: `hosted` (metadata rows + links into the shared blob
 * store, implemented in hosted.ts), `proxy` (pull-through cache of upstreams, built by the proxy
 * engine and registered in `OCI_BACKEND_FACTORIES`), and `group` (group.ts: its members' backends
 * tried in order). The HTTP layer only ever talks to this interface for reads.
 *
 * Writes (manifest PUT, uploads, deletes, mounts) never go through a backend: the service sends
 * them to `repositories.writeTarget(repo)`, which is always a hosted repository, and answers
 * 405 UNSUPPORTED for a proxy (or a group without a hosted member). So a read-only backend only
 * implements this file.
 *
 * Conventions for implementers:
 * - `name` is the image name inside the repository (`library/alpine`, `a/b/c/image`), already
 *   validated against the distribution-spec grammar; a repository-selecting prefix has already
 *   been removed.
 * - "Not found" is `undefined` (or an empty list), never an exception: a group relies on it to try
 *   the next member. Throw `RegistryError` only for real failures (upstream down → UPSTREAM_*).
 * - Manifest bodies are small (≤ 4 MiB) and returned whole; blob bodies are streams.
 * - Digests are strings in canonical form (`sha256:<hex>`, `sha512:<hex>`).
 */
import type { Readable } from 'node:stream';
import type { ByteRange } from '../../core/http-range.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext } from '../format.ts';
import type { Reference } from './reference.ts';

/** An OCI content descriptor (what an index or the referrers API lists). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What HEAD on a manifest needs. */
export interface ManifestInfo {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /**
   * Set by a proxy backend when every upstream failed and this is the last cached copy of a tag:
   * the HTTP layer answers it with `x-nora-stale: true`.
   */
  readonly stale?: boolean;
}

/** A manifest with its exact bytes (the digest is over these bytes). */
export interface ManifestContent extends ManifestInfo {
  readonly body: Buffer;
}

/** A blob the repository can see: its size now, its bytes on demand (whole or one range). */
export interface BlobHandle {
  readonly digest: string;
  readonly size: number;
  open(range?: ByteRange): Promise<Readable>;
}

export interface OciBackend {
  /** The repository this backend serves. */
  readonly repository: Repository;
  /** Manifest by tag or digest, with its bytes. */
  getManifest(name: string, reference: Reference): Promise<ManifestContent | undefined>;
  /** Same as getManifest without needing the bytes (HEAD). */
  statManifest(name: string, reference: Reference): Promise<ManifestInfo | undefined>;
  /** A blob linked to `name` in this repository. */
  getBlob(name: string, digest: string): Promise<BlobHandle | undefined>;
  /**
   * The same blob when its bytes are not wanted (HEAD): a proxy asks its upstream with HEAD
   * instead of starting a download; opening the handle fetches as getBlob would.
   */
  statBlob(name: string, digest: string): Promise<BlobHandle | undefined>;
  /** Tags of `name`, sorted lexically; undefined when the name is unknown here. */
  listTags(name: string): Promise<readonly string[] | undefined>;
  /**
   * True when this repository holds `name`: a manifest of it (tagged or not), stored (hosted) or
   * cached (proxy: never asks an upstream). Blob links alone do not count. The group guard
   * (`protect_hosted_names`) and the push takeover check ask it; absent: `listTags` answers.
   */
  holds?(name: string): Promise<boolean>;
  /** Image names this repository holds, sorted lexically (what `_catalog` lists). */
  catalog(): Promise<readonly string[]>;
  /** Manifests of `name` whose `subject` is `digest` (the referrers API), unfiltered. */
  referrers(name: string, digest: string): Promise<readonly Descriptor[]>;
}

/**
 * Builds the backend of one non-group repository. Factories are keyed by repository kind; a group
 * backend is assembled from its members' backends by the format itself.
 */
export type OciBackendFactory = (repository: Repository, deps: OciBackendDeps) => OciBackend;

/**
 * What a factory receives. `hosted` gives a proxy backend the hosted machinery so it can cache what
 * it fetches under its own repository name (e.g. `hosted.forRepository(proxyRepo)` for reads of
 * cached content, `hosted.store` to record fetched manifests and blob links).
 */
export interface OciBackendDeps {
  readonly context: FormatContext;
  readonly hosted: HostedMachinery;
}

/** Implemented in hosted.ts; exposed here as an opaque-ish handle for other backends. */
export interface HostedMachinery {
  /** A hosted-style read backend over the rows stored under `repository`'s name. */
  forRepository(repository: Repository): OciBackend;
  /** Records content under a repository (used by caches): see store.ts `OciStore`. */
  readonly store: OciCacheWriter;
}

/** The writes a cache needs: store a fetched manifest / blob and link them to a repository name. */
export interface OciCacheWriter {
  /**
   * Stores manifest bytes (already verified against `digest` by the caller or not: this verifies
   * again) under repo/name, and tags it when `tag` is given. Referenced blobs are not checked.
   */
  cacheManifest(
    repo: string,
    name: string,
    body: Buffer,
    mediaType: string,
    tag?: string,
  ): Promise<ManifestInfo>;
  /** Links an already-committed blob store digest to repo/name. */
  linkBlob(repo: string, name: string, digest: string, size: number): Promise<void>;
}

/**
 * Backends per repository kind. The hosted one is built in; the proxy engine registers its own
 * with one line in index.ts (`proxy: createProxyBackend`). Until then a proxy member has nothing.
 */
export type OciBackendFactories = Readonly<Record<'hosted' | 'proxy', OciBackendFactory>>;

/** A backend that holds nothing (a proxy before the proxy engine exists, or a disabled member). */
export function emptyBackend(repository: Repository): OciBackend {
  return {
    repository,
    getManifest: () => Promise.resolve(undefined),
    statManifest: () => Promise.resolve(undefined),
    getBlob: () => Promise.resolve(undefined),
    statBlob: () => Promise.resolve(undefined),
    listTags: () => Promise.resolve(undefined),
    catalog: () => Promise.resolve([]),
    referrers: () => Promise.resolve([]),
  };
}
