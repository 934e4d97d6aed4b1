/**
 * What a format module is. Adding a format = a folder under src/formats/ + one entry in
 * src/formats/index.ts (+ its config section in config/schema.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AccessControl } from '../auth/access.ts';
import type { Identity } from '../auth/identity.ts';
import type { AppConfig, FormatName, RepositoryConfig } from '../config/schema.ts';
import type { Db, Migrations } from '../db/database.ts';
import type { WriteGeneration } from '../core/write-generation.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { RepositoryRegistry } from '../repos/repository.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Logger } from '../core/logger.ts';
import type { ProxyEngine } from '../proxy/engine.ts';
import type { ReindexRegistry } from '../core/reindex.ts';
import type { UploadSessionsSlot } from '../core/upload-sessions.ts';
import type { RetentionRegistry, RetentionSupport } from '../retention/types.ts';
import type { CurationGate } from '../curation/types.ts';
import type { BrowseRegistry } from '../ui/types.ts';
import type { ActivityFeed, AuditSink } from '../audit/types.ts';

/** One kind of disagreement among a format's rows, as `nora verify` reports it. */
export interface ConsistencyFinding {
  /** What disagrees, what it does to clients and what to do, in one line. */
  readonly summary: string;
  /** How many cases there are. */
  readonly count: number;
  /** The first few cases, one line each, naming the rows and the step that repairs each. */
  readonly examples: readonly string[];
}

/** Everything a format gets from the composition root. */
export interface FormatContext {
  /** The current configuration (changes on SIGHUP reload: read it per request). */
  readonly config: () => AppConfig;
  readonly db: Db;
  /**
   * Bumped after every write of `db` (db/node-sqlite-dialect.ts). A source whose answers change
   * outside the store must bump it too: kept answers (http/answer-memo.ts) are exact only so.
   */
  readonly writes: WriteGeneration;
  readonly blobs: BlobStore;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  /** Users and API tokens shared by every format (their resolvers are already registered). */
  readonly identity: Identity;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The shared proxy engine (upstream client, circuit breakers, fills) for proxy repositories. */
  readonly proxy: ProxyEngine;
  /**
   * The curation policy's gate (src/curation/types.ts): asked on the proxy side of every read
   * (internal names never go upstream; blocked versions refused and hidden). Reloaded in place.
   */
  readonly curation: CurationGate;
  /**
   * The audit log (src/audit/types.ts): where events that no request carries are recorded
   * (retention applies). Requests' push/pull/delete events are recorded for the formats by the
   * HTTP layer (recordAnswer), so routes do not call it.
   */
  readonly audit: AuditSink;
  /** The newest audit events, newest first, for the dashboard (src/ui/). */
  readonly activity: ActivityFeed;
  /** Registers a task to run on shutdown (timers, pools). */
  readonly onClose: (task: () => Promise<void> | void) => void;
  /**
   * Registers a task run after every applied reload (SIGHUP), with the configuration running
   * before and the one running now (`config()`). It must not throw; app.ts logs it if it does.
   */
  readonly onReload: (task: (previous: AppConfig, next: AppConfig) => void) => void;
  /**
   * Where a format with `FormatModule.retention` hands its retention adapter from `register()`,
   * built over the services its routes use (src/retention/types.ts).
   */
  readonly retention: RetentionRegistry;
  /**
   * Where a format that keeps documents derived from its rows in memory hands the task that
   * forgets them (`POST /api/v1/admin/reindex`, src/core/reindex.ts), from `register()`.
   */
  readonly reindex: ReindexRegistry;
  /**
   * Where a browsable format hands its web UI browse source from `register()`
   * (`context.browse.provide(source)`, src/ui/types.ts), built over the services its routes use.
   */
  readonly browse: BrowseRegistry;
  /**
   * Where the Docker format hands its open upload sessions from `register()`, for the admin API
   * (`GET/DELETE /api/v1/admin/uploads`, src/core/upload-sessions.ts).
   */
  readonly uploadSessions: UploadSessionsSlot;
}

/**
 * A column whose values name blobs of the blob store (`sha256:<hex>` / `sha512:<hex>`; NULL =
 * none), read by `nora gc`'s mark phase and `nora verify` (src/gc/collector.ts): every row's
 * value is a reference, except in rows `tombstone` marks.
 */
export interface BlobReference {
  readonly table: string;
  readonly column: string;
  /** Which file of the row the column holds, for `nora verify`'s lines (`file=.zip`) when a row holds several. */
  readonly file?: string;
  /**
   * A column of the same table whose non-NULL value marks a tombstone: a row kept only so its
   * name can never be reused (npm's unpublished versions), whose blob is no longer served. Such
   * a row refers to no blob, so gc frees the bytes and verify does not miss them. Read at mark
   * time, so rows tombstoned before this existed count too (no data rewrite).
   */
  readonly tombstone?: string;
}

/** How a protocol's errors look on the wire (http/unknown-repository.ts writes them). */
export type ErrorShape = 'text' | 'npm' | 'cargo' | 'helm' | 'oci';

/** A request path below `/repository/<name>`, split for `ProtocolPath.claim`. */
export interface RequestPath {
  /** The path without its query, starting with `/` or empty. */
  readonly path: string;
  /** Its non-empty segments as sent (percent-encoded). */
  readonly segments: readonly string[];
  /** The same segments percent-decoded (a segment that does not decode is kept as sent). */
  readonly decoded: readonly string[];
}

/** What a path asks of a format, as that format's access check would see it. */
export interface ClaimedPath {
  /** The rule path the format would check (a package, project, file, module), if any. */
  readonly path: string | undefined;
  /**
   * OCI only: what the Bearer challenge's scope names (`image`: `repository:<name>/<image>:…`;
   * `catalog`: `registry:catalog:*`; neither for `/v2/` itself, whose refusal is the bare
   * "authentication required").
   */
  readonly oci?:
    { readonly image?: string | undefined; readonly catalog?: boolean | undefined } | undefined;
}

/**
 * How a format recognises its own protocol in a path it has no repository for (a request to
 * `/repository/<name>/…` where no repository has that name: http/unknown-repository.ts answers
 * it as that protocol's closed repository would).
 */
export interface ProtocolPath {
  readonly errorShape: ErrorShape;
  /** The claim when `request` has this protocol's shape, else undefined. Never throws. */
  claim(request: RequestPath): ClaimedPath | undefined;
}

export interface FormatModule {
  readonly format: FormatName;
  /** NORA's fixed mount, e.g. `/v2`, `/npm`. */
  readonly mount: string;
  /**
   * Further fixed mounts of the default repository (PyPI's JSON API at `/pypi` beside `/simple`):
   * what a request path there is in, for the audit log and the metrics label.
   */
  readonly extraMounts?: readonly string[];
  /** The repository served at the mount. */
  readonly defaultRepository: string;
  readonly migrations?: Migrations;
  /**
   * Seconds proxied metadata stays fresh by default (the format section's TTL key; a
   * repository's `metadata_ttl` overrides it): -1 forever, 0 revalidate on every read. Absent:
   * the format keeps no answer of a proxy (http/answer-memo.ts).
   */
  readonly proxiedMetadataTtl?: (config: AppConfig) => number;
  defaultRepositories(config: AppConfig): RepositoryConfig[];
  /**
   * Every column of the format's tables that holds blob digests (hosted files, manifests, proxy
   * caches of its own; the shared `proxy_entries` is the collector's). `nora gc` refuses to
   * sweep while a registered format leaves this undefined: a blob it refers to would look
   * unreferenced. `[]` = the format stores no blobs.
   */
  readonly blobReferences?: readonly BlobReference[];
  /**
   * Columns holding spool file paths (absolute) of sessions still open (OCI uploads): `nora gc`
   * leaves those files to their format's own expiry.
   */
  readonly spoolReferences?: readonly BlobReference[];
  /**
   * The spelling `[[auth.rules]]` paths and request paths are compared in, when the format
   * treats several spellings as one name (auth/rules.ts PathForm). Absent: as written.
   */
  readonly rulePath?: (path: string) => string;
  /**
   * Retention (`[[retention.rules]]`): what a name and a version are in this format. A format
   * setting it provides its adapter from `register()` (`context.retention.provide`); absent: the
   * rules never touch this format (src/retention/types.ts).
   */
  readonly retention?: RetentionSupport;
  /** Recognising this format's paths under an unknown repository name. Absent: never claims. */
  readonly protocolPath?: ProtocolPath;
  /**
   * Checks of the format's own rows that `nora verify` runs after the blobs (read-only): each
   * finding says what disagrees, how many, the first few rows and what to do. Absent: none.
   */
  readonly consistency?: (db: Db) => Promise<readonly ConsistencyFinding[]>;
  /**
   * Mounts the format's routes (its mount and `/repository/<name>/` for its named repositories)
   * inside its own encapsulated Fastify scope.
   */
  register(scope: FastifyInstance, context: FormatContext): Promise<void>;
}
