/**
 * Maven proxy repositories on the shared proxy engine (src/proxy/engine.ts):
 *
 * - Artifact files (jars, POMs, signatures, any non-metadata path) are immutable: fetched once,
 *   verified, cached forever. The file and its `.sha1` (what every Maven repository publishes)
 *   are asked for at once; only when the file answered 200 and the `.sha1` is 404 are `.sha256`,
 *   then `.sha512`, asked for (while the file streams in), so a missing file costs one checksum
 *   request; from an upstream whose last file had no `.sha1`, all three are asked for with the
 *   file (no round trip more per file; a missing file then costs three). The file is filled into
 *   the blob store (src/proxy/fill.ts), which hashes it once (sha256 addresses the blob, sha1 is
 *   what clients ask for and the ETag; md5 and sha512 are computed from the stored bytes on
 *   their first request and recorded, see #lateChecksum) and whose verify step waits for the upstream checksum
 *   and fails the fill when it differs (nothing committed, nothing recorded, nothing served), one
 *   download per (repository, path) at a time. Once verified, the file is served from the fill (its last bytes are still in
 *   memory; a small file's whole body is handed to the hot-file cache) while the commit (fsync,
 *   rename) and the row are written in the background: a cold read no longer waits for the
 *   disk's fsyncs and the SQL insert, and the next build's read of it none for the blob.
 *   With no checksum at all (each one answered 404), the file is accepted and recorded as
 *   unverified (`verified_by = 'none'` in `maven_proxy_files`), as Maven itself does with
 *   `checksumPolicy=warn`; an unverified archive (`.jar`, `.war`, …) that is an HTML page or does
 *   not start like a zip, or an unverified POM that is an HTML document, is refused. A checksum
 *   file that answers 200 but is not a checksum (an HTML page, garbage, empty) is an upstream
 *   failure for the file, naming it (`sent an invalid .sha1 (an HTML page)`): nothing stored,
 *   never taken as "no checksum published".
 *   Every cached file's sha1/sha256 (and md5/sha512 once asked for; '' until then), computed
 *   from the bytes, are recorded in `maven_proxy_files` per (repository, path): a cached file
 *   costs one SQL lookup. A jar
 *   prefetched for its POM (see #prefetchJar) is handed to its first read from memory.
 * - `maven-metadata.xml` is mutable metadata through `engine.resolve` (`metadata:<dir>`): TTL =
 *   the repository's metadata_ttl, else [maven] metadata_ttl; revalidated with If-None-Match /
 *   If-Modified-Since against the upstream that gave it; served stale when every upstream fails
 *   (serve_stale). Upstream XML is parsed safely (metadata.ts) before it is stored.
 * - Misses are remembered for [maven] negative_cache_ttl seconds (per repository and path), so a
 *   group does not ask the upstream again for a missing `.pom` on every build; a reload that
 *   changes the repository's upstreams drops them (negative-cache.ts).
 * - Upstreams are asked in order (the first that has the file answers), with Basic credentials.
 *   When none has it: undefined if every upstream said 404; else the upstream error
 *   (`isUpstreamFailure`: a group treats it as "not here"; a proxy addressed alone answers
 *   502/504 for an uncached miss).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { ByteLru } from '../../core/byte-lru.ts';
import { raceDeadline } from '../../core/deadline.ts';
import { type Digest, formatDigest, parseDigest, tryParseDigest } from '../../core/digest.ts';
import { isRegistryError, RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { Db } from '../../db/database.ts';
import { exclusive, type SqliteHandle, sqliteHandleOf } from '../../db/sqlite-handle.ts';
import type { ProxyEngine } from '../../proxy/engine.ts';
import { BlobFill, type BodyEnds, type FillResult, type ReadRange } from '../../proxy/fill.ts';
import { SingleFlight } from '../../proxy/single-flight.ts';
import type { CachedEntry } from '../../proxy/state.ts';
import {
  answeredAbsent,
  declaredLength,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import { asUpstreamError, repositoryTargets } from '../../proxy/in-order.ts';
import { conditionalHeaders, validatorsOf } from '../../proxy/validators.ts';
import type { AppConfig } from '../../config/schema.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { NegativeCache, rememberedMissText } from '../../proxy/negative-cache.ts';
import type { CurationGate, CurationSubject, CurationVerdict } from '../../curation/types.ts';
import { refusedBeforeFetch } from '../curation-before-fetch.ts';
import { artifactOfFile, artifactOfMetadataDir } from './group.ts';
import { HOT_BODY_MAX_BYTES } from './hot-files.ts';
import { MAX_METADATA_BYTES, parseMetadata } from './metadata.ts';
import {
  bound,
  type ChecksumName,
  type MavenMetadata,
  type MavenSource,
  type MetadataValidity,
  noteMiss,
  type OpenedMavenFile,
} from './model.ts';
import { firstZipEntryAt, hasWholeZipEnd, startsLikeZip, ZIP_END_WINDOW } from './zip-end.ts';

/** Largest file taken from an upstream, bytes. */
export const MAX_PROXIED_FILE_BYTES = 4 * 1024 * 1024 * 1024;
/** Largest upstream checksum file read, bytes (a hex digest plus a file name). */
const MAX_CHECKSUM_FILE_BYTES = 4096;
/** Parsed metadata documents kept in memory, by estimated size. */
const PARSED_METADATA_BYTES = 32 * 1024 * 1024;
/** Prefetches (see #prefetchJar) running at once; more wait their turn. */
const PREFETCH_CONCURRENCY = 2;
/** Prefetches waiting at most; beyond, new ones are dropped (the client's own request comes). */
const PREFETCH_QUEUE = 256;
/** Paths remembered as prefetched (each is tried once, then forgotten when this many are). */
const PREFETCHED_KEPT = 100_000;
/** Bytes of prefetched small files held until a client first asks for them (see #handOver). */
const HAND_OVER_BYTES = 32 * 1024 * 1024;
/**
 * How long a file of at most HOT_BODY_MAX_BYTES still arriving is waited for before its answer
 * starts streaming (see `streamable`): well under clients' read timeouts (Gradle 30 s, pip 15 s).
 */
const STREAM_AFTER_MS = 2_000;
/** Paths remembered as "answer only once verified" after a streamed fill failed. */
const NO_STREAM_KEPT = 10_000;
/** POM `<packaging>` values whose main artifact is `<artifactId>-<version>.jar`. */
const JAR_PACKAGINGS = new Set(['jar', 'bundle', 'maven-plugin', 'ejb']);

// ---------------------------------------------------------------------------------------------
// The table of cached files

export type MavenProxyFilesTable = {
  repository: string;
  path: string;
  /** Content address in the blob store (`sha256:…` or `sha512:…`). */
  digest: string;
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  /** Which upstream checksum verified the bytes: `sha1`, `sha256`, `sha512`, or `none`. */
  verified_by: string;
  /** Host-free label of the upstream (`<repository>#<index>`). */
  upstream: string;
  /** Epoch ms of the fetch. */
  fetched_at: number;
};

export type MavenProxyTables = { maven_proxy_files: MavenProxyFilesTable };

/** For the Maven format module's migrations (the table of cached proxy files). */
export const mavenProxyMigrations: Record<string, Migration> = {
  '0510_maven_proxy_files': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('maven_proxy_files')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('sha1', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('sha512', 'text', (c) => c.notNull())
        .addColumn('verified_by', 'text', (c) => c.notNull())
        .addColumn('upstream', 'text', (c) => c.notNull())
        .addColumn('fetched_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('maven_proxy_files_pk', ['repository', 'path'])
        .execute();
    },
  },
};

const SELECT_PROXY_FILE = 'SELECT * FROM maven_proxy_files WHERE repository = ? AND path = ?';
const UPSERT_PROXY_FILE =
  'INSERT INTO maven_proxy_files (repository, path, digest, size, md5, sha1, sha256, sha512,' +
  ' verified_by, upstream, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)' +
  ' ON CONFLICT (repository, path) DO UPDATE SET digest = excluded.digest,' +
  ' size = excluded.size, md5 = excluded.md5, sha1 = excluded.sha1, sha256 = excluded.sha256,' +
  ' sha512 = excluded.sha512, verified_by = excluded.verified_by,' +
  ' upstream = excluded.upstream, fetched_at = excluded.fetched_at';

// ---------------------------------------------------------------------------------------------
// The proxy

export interface MavenProxyDeps {
  readonly config: () => AppConfig;
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly proxy: ProxyEngine;
  /** The curation gate (FormatContext.curation). Absent: nothing curated (unit tests). */
  readonly curation?: CurationGate | undefined;
}

/**
 * The curation subject of a file path `<group dirs>/<artifactId>/<version>/<file>`
 * (`groupId:artifactId`, the version directory), or undefined for a path that names no artifact
 * version (root files such as `archetype-catalog.xml`).
 */
export function curationSubjectOf(path: string): CurationSubject | undefined {
  const artifact = artifactOfFile(path);
  if (artifact === undefined) return undefined;
  const segments = path.split('/');
  return {
    registry: 'maven',
    name: `${artifact.groupId}:${artifact.artifactId}`,
    version: segments.at(-2),
  };
}

type UpstreamChecksum = { readonly algorithm: ChecksumName; readonly hex: string };

const CHECKSUM_COLUMNS: Readonly<Record<ChecksumName, ChecksumName>> = {
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  sha512: 'sha512',
};

const HEX_LENGTH: Readonly<Record<ChecksumName, number>> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};

/** A file's fill under way (#ingest): what is known before its last byte. */
interface StartedIngest {
  readonly fill: BlobFill;
  /** The upstream's Content-Length, when it sent one. */
  readonly announced: number | undefined;
  /** The upstream checksum the bytes are verified against (undefined: none published). */
  readonly expected: Promise<UpstreamChecksum | undefined>;
  /** Every byte received and verified (rejects with the upstream failure otherwise). */
  readonly verified: Promise<VerifiedIngest>;
}

interface VerifiedIngest {
  readonly fill: BlobFill;
  readonly digest: Digest;
  readonly size: number;
  readonly hashes: Record<ChecksumName, string>;
  readonly checksum: UpstreamChecksum | undefined;
  /** The verified bytes, for a small file (≤ HOT_BODY_MAX_BYTES). */
  readonly body: Buffer | undefined;
}

/**
 * The sha1 a file's answer may go out with before its body is verified, or undefined when the
 * answer waits for `verified` (which the caller then awaits). A client must not wait for the whole upstream download before its first
 * byte: Gradle's read timeout is 30 s, and a large jar from a slow upstream takes longer (trial13
 * F8). So the answer goes out once the upstream's `.sha1` (the ETag, and what the bytes will be
 * verified against) and the length are known: at once for a body larger than HOT_BODY_MAX_BYTES
 * (never kept in memory anyway), after STREAM_AFTER_MS for a smaller one still arriving (on a
 * fast upstream it is verified first and keeps the whole-body path: the hot-file cache is primed
 * with its bytes, a POM triggers its jar's prefetch). Without a `.sha1` (an upstream publishing
 * only SHA-2 checksums, or none) or a length, the answer waits for verification, as before.
 */
async function streamable(started: StartedIngest): Promise<string | undefined> {
  const done = started.verified.then(
    () => 'done' as const,
    () => 'done' as const,
  );
  const sum = await Promise.race([started.expected.catch(() => 'done' as const), done]);
  if (sum === 'done' || sum === undefined || sum.algorithm !== 'sha1') return undefined;
  const announced = started.announced;
  if (announced === undefined || announced === 0) return undefined;
  if (announced > HOT_BODY_MAX_BYTES) return sum.hex;
  return (await raceDeadline(done, STREAM_AFTER_MS, 'grace' as const)) === 'grace'
    ? sum.hex
    : undefined;
}

type Fetched =
  { readonly kind: 'file'; readonly file: OpenedMavenFile } | { readonly kind: 'absent' };

/** MavenSource of proxy repositories (see the module comment). */
export class MavenProxy implements MavenSource {
  readonly #deps: MavenProxyDeps;
  readonly #db: Kysely<MavenProxyTables>;
  /**
   * On SQLite: the row lookup and the row write are precompiled statements (no query building
   * and compilation per cached file). Reads need not hold Kysely's connection: only this class
   * writes `maven_proxy_files`, one synchronous statement at a time, so no half-done write of it
   * is ever visible.
   */
  readonly #sqlite: SqliteHandle | undefined;
  readonly #fetches = new SingleFlight<Fetched>();
  readonly #misses = new NegativeCache();
  readonly #parsed = new ByteLru<string, MavenMetadata>(PARSED_METADATA_BYTES, metadataBytes);
  /**
   * Files being fetched (answered while streaming, see #streamingFile) or verified whose commit
   * and row are still being written, by `<repository>\n<path>`.
   */
  readonly #filling = new Map<string, OpenedMavenFile>();
  /**
   * Paths (`<repository>\n<path>`) whose streamed fill failed (see #streamingFile): fetched next
   * time with the answer held until verified. Cleared when NO_STREAM_KEPT are remembered.
   */
  readonly #noStream = new Set<string>();
  /** The fill behind each streamed answer (see #streamingFile). */
  readonly #streams = new WeakMap<OpenedMavenFile, BlobFill>();
  /** The background commits and row writes of those files. */
  readonly #recording = new Set<Promise<void>>();
  /** Labels of the upstreams whose last fetched file had no `.sha1` (see #fetchFrom). */
  readonly #noSha1 = new Set<string>();
  /** Prefetch keys started (see #prefetchJar), so each is tried once. */
  readonly #prefetched = new Set<string>();
  readonly #prefetchQueue: (() => Promise<unknown>)[] = [];
  /**
   * Prefetched small files, with their verified bodies, until a client's first read takes them
   * (by `<repository>\n<path>`): that read then costs no SQL lookup, no blob stat and no read of
   * the blob just written (the hot-file cache keeps the body from there). Bounded by body bytes,
   * least recently prefetched first; a file dropped here is read from the store as usual.
   */
  readonly #handOver = new ByteLru<string, OpenedMavenFile>(
    HAND_OVER_BYTES,
    (file) => (file.body?.length ?? 0) + 1024,
    { largestShare: 1 },
  );
  /** Files with a body already handed to a client's read (never kept in #handOver then). */
  readonly #delivered = new WeakSet<OpenedMavenFile>();
  /**
   * Keys of prefetches under way that no client has read yet: a prefetch hands its file over only
   * if its key is still here when it ends (a client read that came first, from the cache or the
   * running fill, removes it, so a later read never gets a stale hand-over).
   */
  readonly #awaitingRead = new Set<string>();
  /** Late checksums being computed (see #lateChecksum), by repository, path, digest, algorithm. */
  readonly #lateChecksums = new Map<string, Promise<string>>();
  #prefetching = 0;
  #closed = false;

  constructor(deps: MavenProxyDeps) {
    this.#deps = deps;
    this.#db = deps.db.$extendTables<MavenProxyTables>();
    this.#sqlite = sqliteHandleOf(this.#db);
  }

  /** See MavenSource.held: the cached files (rows written; a fill in flight is not counted). */
  async held(repo: Repository, path: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('maven_proxy_files')
      .select('path')
      .where('repository', '=', repo.name)
      .where((eb) =>
        eb.or([
          eb('path', '=', path),
          // Under the directory: `<path>/` ≤ p < `<path>0` ('0' follows '/'), index-friendly.
          eb.and([eb('path', '>=', `${path}/`), eb('path', '<', `${path}0`)]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return row?.path;
  }

  /** See MavenSource.serves. */
  async serves(
    repo: Repository,
    dir: string,
    waitMs: number,
  ): Promise<'served' | 'absent' | 'unknown'> {
    if (repo.kind !== 'proxy') return 'absent';
    if ((await this.held(repo, dir)) !== undefined) return 'served';
    if (repo.upstreams.length === 0) return 'absent';
    if ((await this.#deps.proxy.lookup(repo.name, `metadata:${dir}`)) !== undefined)
      return 'served';
    // Not cached: do its upstreams have the artifact now? The same request a read of its
    // metadata makes (its answer is kept for the reads after it), waited for at most `waitMs`:
    // it goes on in the background after that.
    const asked = this.metadata(repo, dir).then(
      (metadata) =>
        metadata !== undefined && metadata.versions.length > 0
          ? ('served' as const)
          : ('absent' as const),
      () => 'unknown' as const,
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'unknown'>((resolve) => {
      timer = setTimeout(() => {
        resolve('unknown');
      }, waitMs);
    });
    try {
      return await Promise.race([asked, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Settles once every fetched file's commit and row are written (tests; an orderly shutdown).
   * Reads never wait for this: a verified file is served from its fill meanwhile.
   */
  async settled(): Promise<void> {
    while (this.#recording.size > 0) await Promise.allSettled([...this.#recording]);
  }

  /**
   * Shutdown: drops the prefetches still waiting, starts no new one, and waits for the commits
   * and rows of the files fetched so far.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#prefetchQueue.length = 0;
    await this.settled();
  }

  /** Remembered misses (tests, diagnostics). */
  get negativeCache(): NegativeCache {
    return this.#misses;
  }

  #settings(repo: Repository) {
    const maven = this.#deps.config().maven;
    return {
      ttl: repo.metadataTtl ?? maven.metadata_ttl,
      serveStale: repo.serveStale ?? maven.serve_stale,
      timeout: repo.proxyTimeout ?? maven.proxy_timeout,
      headerTimeout: Math.min(maven.header_timeout, repo.proxyTimeout ?? maven.proxy_timeout),
      negativeTtl: maven.negative_cache_ttl,
    };
  }

  /**
   * Says in `validity` that the absence of `missKey` is a remembered upstream miss: which
   * upstreams said 404, when, and for how long it is remembered ([maven] negative_cache_ttl).
   */
  #noteMiss(repo: Repository, missKey: string, validity: MetadataValidity | undefined): void {
    if (validity === undefined) return;
    const ttl = this.#settings(repo).negativeTtl;
    const note = rememberedMissText(this.#misses, missKey, repo, ttl, 'maven');
    if (note !== undefined) noteMiss(validity, note);
  }

  /**
   * The upstreams of `repo`: the connection and the response headers of every request within
   * `[maven] header_timeout` (at most the proxy timeout), so a stalled upstream gives way (to the
   * next upstream, the stale copy, a 502) in seconds instead of holding mvn for the whole proxy
   * timeout; a metadata or checksum fetch's whole within the proxy timeout, and a file body's
   * every silence too.
   */
  #targets(repo: Repository): UpstreamTarget[] {
    const { timeout, headerTimeout } = this.#settings(repo);
    return repositoryTargets(this.#deps.proxy, repo, {
      timeoutSeconds: headerTimeout,
      readTimeoutSeconds: timeout,
      wholeTimeoutSeconds: timeout,
    });
  }

  /**
   * A file of the proxy (cached, or fetched now from the first upstream having it, verified).
   * Undefined when it is not a proxy with upstreams, or every upstream says 404 (remembered for
   * negative_cache_ttl). Throws the upstream error (502/504 class) when an upstream failed and
   * none had it, or the one that had it sent bytes that do not match its checksum.
   */
  async openFile(
    repo: Repository,
    path: string,
    validity?: MetadataValidity,
  ): Promise<OpenedMavenFile | undefined> {
    this.#awaitingRead.delete(`${repo.name}\n${path}`);
    const subject = this.#curation(repo, path);
    if (subject === 'internal') return undefined;
    const file = await this.#open(repo, path, validity, subject);
    if (file?.body !== undefined) this.#delivered.add(file);
    // An answer still streaming is not kept: the next read finds the verified file.
    if (file?.verified !== undefined) bound(validity, 0);
    // The service asks the gate with it on every answer (the hot-file cache keeps it along).
    return file === undefined || subject === undefined ? file : { ...file, curation: subject };
  }

  /**
   * What curation knows of `path`: 'internal' when `[curation] internal_namespaces` names its
   * artifact (never asked of an upstream nor served from this cache: the 404 a proxy answers),
   * else its subject (undefined: the path names no artifact version, or no gate).
   */
  #curation(repo: Repository, path: string): CurationSubject | 'internal' | undefined {
    const gate = this.#deps.curation;
    if (gate === undefined || repo.kind !== 'proxy') return undefined;
    const subject = curationSubjectOf(path);
    if (subject === undefined) return undefined;
    return gate.isInternal('maven', subject.name) ? 'internal' : subject;
  }

  /**
   * Refuses (403, counted) before any upstream is asked a file the policy refuses: a blocked
   * version costs the upstream nothing. Already-cached copies are refused by the service, as is
   * a version judged by its first request (min release age, never seen): only once the file is
   * found, so a file no upstream has is a 404 with no first-seen row (trial 29 F1).
   */
  #refuseBeforeFetch(subject: CurationSubject | undefined): void {
    const gate = this.#deps.curation;
    if (subject === undefined || gate === undefined || gate.mode() === 'off') return;
    if (refusedBeforeFetch(gate, subject)) guardMavenFile(gate, subject);
  }

  /** openFile, for a client's read or a prefetch (which is not a delivery). */
  async #open(
    repo: Repository,
    path: string,
    validity?: MetadataValidity,
    subject?: CurationSubject,
  ): Promise<OpenedMavenFile | undefined> {
    if (repo.kind !== 'proxy') return undefined;
    const key = `${repo.name}\n${path}`;
    let filling = this.#filling.get(key) ?? this.#takeHandOver(key);
    // A streamed fill that failed (its readers see it before its `verified` rejects, which the
    // cleanup of its spool file delays): not an answer; fetched again, answered once verified.
    if (filling !== undefined && this.#streams.get(filling)?.state === 'failed') {
      this.#streamFailed(key, filling);
      filling = undefined;
    }
    if (filling !== undefined) {
      this.#deps.proxy.metrics.record(repo.name, 'hit');
      return filling;
    }
    const cached = await this.#cached(repo, path);
    if (cached) {
      this.#deps.proxy.metrics.record(repo.name, 'hit');
      return cached;
    }
    // A proxy whose upstream list a reload emptied serves what it cached, and nothing else
    // (trial 26 opsR F10: the cache answered 404 too).
    if (repo.upstreams.length === 0) return undefined;
    const missKey = `${repo.name}\nfile:${path}`;
    // The upstream list asked now: a miss is remembered for it (a reload may replace it meanwhile).
    const upstreams = repo.upstreams;
    if (this.#misses.has(missKey, upstreams)) {
      bound(validity, this.#misses.expiry(missKey) ?? 0);
      this.#noteMiss(repo, missKey, validity);
      return undefined;
    }
    this.#refuseBeforeFetch(subject);
    const flight = this.#fetches.run(key, () => this.#fetchFile(repo, path));
    if (flight.joined) this.#deps.proxy.metrics.record(repo.name, 'coalesced');
    const fetched = await flight.promise;
    if (fetched.kind === 'absent') {
      if (!flight.joined) this.#misses.add(missKey, this.#settings(repo).negativeTtl, upstreams);
      // Kept (by the hot-file cache) no longer than the proxy remembers the miss.
      bound(validity, this.#misses.expiry(missKey) ?? 0);
      this.#noteMiss(repo, missKey, validity);
      return undefined;
    }
    return fetched.file;
  }

  async #cached(repo: Repository, path: string): Promise<OpenedMavenFile | undefined> {
    const sqlite = this.#sqlite;
    const row =
      sqlite === undefined
        ? await this.#db
            .selectFrom('maven_proxy_files')
            .selectAll()
            .where('repository', '=', repo.name)
            .where('path', '=', path)
            .executeTakeFirst()
        : (sqlite.prepare(SELECT_PROXY_FILE).get(repo.name, path) as
            MavenProxyFilesTable | undefined);
    if (!row) return undefined;
    const digest = tryParseDigest(row.digest);
    if (!digest || !(await this.#deps.blobs.stat(digest))) return undefined;
    return this.#opened(digest, row);
  }

  /**
   * The answer for a cached file's row; `open` reads its bytes (default: the blob; a fill not yet
   * committed reads the fill). Its `lateChecksum` reads them through `open`, never through a
   * body held in a closure: the hot-file cache keeps these answers far longer than their bodies
   * (HOT_FILES_BYTES of entries, HOT_BODIES_BYTES of bodies).
   */
  #opened(
    digest: Digest,
    row: MavenProxyFilesTable,
    open?: (range?: ReadRange) => Promise<Readable>,
  ): OpenedMavenFile {
    const blobs = this.#deps.blobs;
    const read = open ?? ((range?: ReadRange) => blobs.open(digest, range));
    // Filled in place by #lateChecksum: every answer made of this file (the hot-file cache's
    // too, which keeps this very object) sees a checksum once computed.
    const checksums = { md5: row.md5, sha1: row.sha1, sha256: row.sha256, sha512: row.sha512 };
    return {
      size: row.size,
      checksums,
      modifiedAt: row.fetched_at,
      open: read,
      lateChecksum: (algorithm) => this.#lateChecksum(row, checksums, algorithm, read),
    };
  }

  /**
   * A checksum of a cached file that was not computed at its fill (md5, sha512: rarely asked
   * for, so not hashed over every file fetched; the file's own sha1 and sha256 always are):
   * computed once from the stored bytes (the fill's while it commits, else the blob), written into
   * `checksums` and the file's row, so it is computed at most once per file, restarts included.
   * Concurrent requests share one computation.
   */
  async #lateChecksum(
    row: MavenProxyFilesTable,
    checksums: Record<ChecksumName, string>,
    algorithm: ChecksumName,
    read: () => Promise<Readable>,
  ): Promise<string> {
    if (checksums[algorithm] !== '') return checksums[algorithm];
    const key = `${row.repository}\n${row.path}\n${row.digest}\n${algorithm}`;
    let computing = this.#lateChecksums.get(key);
    if (computing === undefined) {
      computing = (async () => {
        const hash = createHash(algorithm);
        for await (const chunk of await read()) hash.update(chunk as Buffer);
        const hex = hash.digest('hex');
        checksums[algorithm] = hex;
        // A row still to be written (#record) is written with it; a written one is updated.
        row[algorithm] = hex;
        await this.#recordChecksum(row, algorithm, hex);
        return hex;
      })().finally(() => this.#lateChecksums.delete(key));
      this.#lateChecksums.set(key, computing);
    }
    return computing;
  }

  /** Records a late checksum in the file's row, if the row still names the same bytes. */
  async #recordChecksum(
    row: MavenProxyFilesTable,
    algorithm: ChecksumName,
    hex: string,
  ): Promise<void> {
    // The column is one of four fixed names, never client text.
    const column = CHECKSUM_COLUMNS[algorithm];
    try {
      const sqlite = this.#sqlite;
      if (sqlite !== undefined) {
        await exclusive(this.#db, () =>
          sqlite
            .prepare(
              `UPDATE maven_proxy_files SET ${column} = ? WHERE repository = ? AND path = ? AND digest = ?`,
            )
            .run(hex, row.repository, row.path, row.digest),
        );
        return;
      }
      await this.#db
        .updateTable('maven_proxy_files')
        .set({ [column]: hex })
        .where('repository', '=', row.repository)
        .where('path', '=', row.path)
        .where('digest', '=', row.digest)
        .execute();
    } catch {
      // Not recorded (a read-only or full database): computed again after a restart.
    }
  }

  async #fetchFile(repo: Repository, path: string): Promise<Fetched> {
    const targets = this.#targets(repo);
    let failure: unknown;
    let absent = 0;
    for (const target of targets) {
      try {
        const file = await this.#fetchFrom(repo, target, path);
        if (file === undefined) {
          absent++;
          continue;
        }
        this.#deps.proxy.metrics.record(repo.name, 'miss');
        // A fill: the quarantine's first-seen time (src/curation/quarantine.ts), by version.
        const subject = curationSubjectOf(path);
        if (subject !== undefined) this.#deps.curation?.recordFirstSeen(subject);
        return { kind: 'file', file };
      } catch (err) {
        failure = err;
      }
    }
    if (absent === targets.length) return { kind: 'absent' };
    this.#deps.proxy.metrics.record(repo.name, 'error');
    throw asUpstreamError(failure, path);
  }

  /**
   * One upstream: the file and its `.sha1` asked for at once (a file 404 costs nothing more; a
   * `.sha1` 404 falls back to `.sha256`, then `.sha512`, while the file streams in), the file
   * verified against the first checksum found before it is committed, and recorded. Undefined on
   * 404 of the file.
   */
  async #fetchFrom(
    repo: Repository,
    target: UpstreamTarget,
    path: string,
  ): Promise<OpenedMavenFile | undefined> {
    const sha1 = this.#checksumFile(target, path, 'sha1');
    sha1.catch(() => undefined); // awaited below, or irrelevant once the file is absent
    // An upstream that had no `.sha1` for its last file (one publishing no checksums, or only
    // the SHA-2 ones) is asked for the fallbacks at once too: the same precedence as one after
    // the other (plus the `.sha512` when the `.sha256` is there), without another round trip
    // per file after the file's answer (Maven asks for POMs one at a time).
    const early = this.#noSha1.has(target.label)
      ? {
          sha256: this.#checksumFile(target, path, 'sha256'),
          sha512: this.#checksumFile(target, path, 'sha512'),
        }
      : undefined;
    early?.sha256.catch(() => undefined);
    early?.sha512.catch(() => undefined);
    const key = `${repo.name}\n${path}`;
    const started = await this.#ingest(target, path, () =>
      // Asked for once the file answered 200.
      sha1.then(async (found) => {
        if (found !== undefined) {
          this.#noSha1.delete(target.label);
          return found;
        }
        this.#noSha1.add(target.label);
        return (
          (await (early?.sha256 ?? this.#checksumFile(target, path, 'sha256'))) ??
          (await (early?.sha512 ?? this.#checksumFile(target, path, 'sha512')))
        );
      }),
    );
    if (started === undefined) return undefined;
    const streamSha1 = this.#noStream.has(key) ? undefined : await streamable(started);
    if (streamSha1 === undefined) {
      // Answered once verified: a failure here lets #fetchFile ask the next upstream.
      return this.#verifiedFile(repo, target, path, await started.verified);
    }
    return this.#streamingFile(repo, target, path, started, streamSha1);
  }

  /**
   * The answer for a file whose bytes are still arriving (see `streamable`): its announced length,
   * the upstream's `.sha1` as its sha1 (the fill refuses bytes that do not match it, so that is
   * the sha1 of whatever reaches a client whole), its other checksums not known yet (empty), read
   * from the fill, which holds back the last byte until the body is verified. `verified` settles
   * with the file as stored (#verifiedFile). Nothing keeps this answer (openFile bounds its
   * validity to now). A fill that fails after this answer went out (a checksum mismatch, a cut
   * connection) cuts the client's download short and is remembered in #noStream: the path's next
   * fetch is answered only once verified, so a failing first upstream can fall through to the
   * next one again, as before streaming.
   */
  #streamingFile(
    repo: Repository,
    target: UpstreamTarget,
    path: string,
    started: StartedIngest,
    sha1: string,
  ): OpenedMavenFile {
    const key = `${repo.name}\n${path}`;
    const fill = started.fill;
    let final: OpenedMavenFile | undefined;
    const verified = started.verified.then((result) => {
      final = this.#verifiedFile(repo, target, path, result);
      return final;
    });
    const file: OpenedMavenFile = {
      size: started.announced ?? 0,
      checksums: { sha1, md5: '', sha256: '', sha512: '' },
      modifiedAt: fill.startedAt,
      open: (range) => final?.open(range) ?? Promise.resolve(fill.reader(range)),
      verified,
    };
    verified.catch(() => {
      this.#streamFailed(key, file);
      this.#deps.proxy.metrics.record(repo.name, 'error');
    });
    this.#streams.set(file, fill);
    this.#filling.set(key, file);
    return file;
  }

  /** The streamed answer `file` for `key` failed: dropped, and `key` answered once verified. */
  #streamFailed(key: string, file: OpenedMavenFile): void {
    if (this.#filling.get(key) === file) this.#filling.delete(key);
    if (this.#noStream.size >= NO_STREAM_KEPT) this.#noStream.clear();
    this.#noStream.add(key);
  }

  /**
   * A file whose every byte arrived and was verified: served now from the fill (memory, then its
   * spool file) until the blob is committed, then from the blob store. The commit (fsync,
   * rename) and the row are written meanwhile; reads of the path find the file in #filling until
   * the row is there.
   */
  #verifiedFile(
    repo: Repository,
    target: UpstreamTarget,
    path: string,
    result: VerifiedIngest,
  ): OpenedMavenFile {
    const row: MavenProxyFilesTable = {
      repository: repo.name,
      path,
      digest: formatDigest(result.digest),
      size: result.size,
      md5: result.hashes.md5,
      sha1: result.hashes.sha1,
      sha256: result.hashes.sha256,
      sha512: result.hashes.sha512,
      verified_by: result.checksum?.algorithm ?? 'none',
      upstream: target.label,
      fetched_at: Date.now(),
    };
    const { fill, digest } = result;
    const blobs = this.#deps.blobs;
    const file: OpenedMavenFile = {
      ...this.#opened(digest, row, (range) =>
        fill.state === 'committed' || fill.state === 'failed'
          ? blobs.open(digest, range)
          : Promise.resolve(fill.reader(range)),
      ),
      body: result.body,
    };
    const key = `${repo.name}\n${path}`;
    this.#noStream.delete(key);
    this.#filling.set(key, file);
    // After the POM's answer: mvn reads POMs one at a time, so the prefetch's packaging parse,
    // its jar's row lookup and its two upstream requests are kept off the POM's critical path
    // (the answer's continuations and its write run first; bench/maven/trace.ts, perfK 12-06).
    const pom = result.body;
    if (pom !== undefined && path.endsWith('.pom'))
      setImmediate(() => {
        this.#prefetchJar(repo, path, pom);
      });
    const recording = this.#record(row, fill).finally(() => {
      if (this.#filling.get(key) === file) this.#filling.delete(key);
      this.#recording.delete(recording);
    });
    this.#recording.add(recording);
    return file;
  }

  /**
   * Prefetch ([maven] prefetch): once a POM whose packaging makes a jar (`jar` or none, `bundle`,
   * `maven-plugin`, `ejb`) was fetched from an upstream and answered (#verifiedFile calls this in
   * the event loop's next turn), its jar is fetched too, in the background, through the same
   * verified path as a client's request (checksum checked before commit, one fetch per path,
   * misses remembered). Maven reads the POMs of a plugin's whole
   * dependency tree, one request at a time, before it downloads their jars: those then come from
   * the cache, or join the fetch already running. The cost is upstream traffic for a jar nobody
   * asks for (a version that lost Maven's conflict mediation). A prefetch that fails is
   * forgotten: the client's own request asks again and reports the failure. Bounded:
   * PREFETCH_CONCURRENCY at once, PREFETCH_QUEUE waiting, each path once.
   */
  #prefetchJar(repo: Repository, pomPath: string, pom: Buffer): void {
    if (this.#closed || !this.#deps.config().maven.prefetch) return;
    const packaging = pomPackaging(pom);
    if (packaging !== undefined && !JAR_PACKAGINGS.has(packaging)) return;
    const jarPath = `${pomPath.slice(0, -'.pom'.length)}.jar`;
    // Never fetch ahead what curation keeps from upstream or refuses (its POM was served in
    // audit or through a bypass: the jar's own request decides).
    const subject = this.#curation(repo, jarPath);
    if (subject === 'internal' || (subject && this.#deps.curation?.decide(subject).refuse)) return;
    const key = `${repo.name}\n${jarPath}`;
    if (this.#prefetched.has(key) || this.#prefetchQueue.length >= PREFETCH_QUEUE) return;
    if (this.#prefetched.size >= PREFETCHED_KEPT) this.#prefetched.clear();
    this.#prefetched.add(key);
    this.#prefetchQueue.push(async () => {
      this.#awaitingRead.add(key);
      try {
        const file = await this.#open(repo, jarPath);
        // Kept for the client's read that prefetching expects; not when that read came first
        // (it joined the fetch, found it filling or read the stored copy).
        if (file?.body !== undefined && this.#awaitingRead.has(key) && !this.#delivered.has(file))
          this.#handOver.set(key, file);
      } finally {
        this.#awaitingRead.delete(key);
      }
    });
    this.#pumpPrefetch();
  }

  /** The prefetched file at `key` kept for its first read, taken (later reads use the store). */
  #takeHandOver(key: string): OpenedMavenFile | undefined {
    const file = this.#handOver.get(key);
    if (file !== undefined) this.#handOver.delete(key);
    return file;
  }

  #pumpPrefetch(): void {
    while (this.#prefetching < PREFETCH_CONCURRENCY && !this.#closed) {
      const task = this.#prefetchQueue.shift();
      if (task === undefined) return;
      this.#prefetching += 1;
      void task()
        .catch(() => undefined)
        .finally(() => {
          this.#prefetching -= 1;
          this.#pumpPrefetch();
        });
    }
  }

  /** Waits for the fill's commit, then records the row (a failed commit records nothing). */
  async #record(row: MavenProxyFilesTable, fill: BlobFill): Promise<void> {
    try {
      await fill.done;
    } catch {
      return; // nothing committed; the next read fetches again
    }
    try {
      const sqlite = this.#sqlite;
      if (sqlite !== undefined) {
        await exclusive(this.#db, () =>
          sqlite
            .prepare(UPSERT_PROXY_FILE)
            .run(
              row.repository,
              row.path,
              row.digest,
              row.size,
              row.md5,
              row.sha1,
              row.sha256,
              row.sha512,
              row.verified_by,
              row.upstream,
              row.fetched_at,
            ),
        );
        return;
      }
      await this.#db
        .insertInto('maven_proxy_files')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['repository', 'path']).doUpdateSet({
            digest: row.digest,
            size: row.size,
            md5: row.md5,
            sha1: row.sha1,
            sha256: row.sha256,
            sha512: row.sha512,
            verified_by: row.verified_by,
            upstream: row.upstream,
            fetched_at: row.fetched_at,
          }),
        )
        .execute();
    } catch {
      // The blob is stored; without its row the next read after a restart fetches again.
    }
  }

  /**
   * The upstream's `.<algorithm>` of `path`: undefined when it is 404; throws UPSTREAM_FAILED
   * for any other status, and for a 200 that does not hold a hex digest of the right length.
   */
  async #checksumFile(
    target: UpstreamTarget,
    path: string,
    algorithm: ChecksumName,
  ): Promise<UpstreamChecksum | undefined> {
    const response = await this.#deps.proxy.client.request(target, {
      method: 'GET',
      path: upstreamPath(`${path}.${algorithm}`),
      wholeDeadline: true,
      // Always asked alongside the file itself, which counts the upstream's failure once.
      companion: true,
    });
    if (response.status === 404) {
      discard(response.body);
      return undefined;
    }
    if (response.status !== 200) {
      response.body.destroy();
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label} answered ${response.status} for ${path}.${algorithm}`,
      );
    }
    // A checksum file that is there but is not a checksum (an HTML page, garbage, an empty or
    // oversized body) is not "no checksum published": the upstream (or something before it) is
    // broken, so the file is not taken at all rather than cached unverified forever.
    const invalid = (why: string): RegistryError =>
      new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label} sent an invalid .${algorithm} for ${path} (${why})`,
        {
          detail: {
            upstream: target.label,
            reason: `sent an invalid .${algorithm} (${why})`,
            badCopy: true,
          },
        },
      );
    let body: Buffer;
    try {
      body = await readAllBounded(response.body, MAX_CHECKSUM_FILE_BYTES, `${path}.${algorithm}`);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'TOO_LARGE') {
        throw invalid(`larger than ${MAX_CHECKSUM_FILE_BYTES} bytes`);
      }
      throw asUpstreamError(err, `${path}.${algorithm}`, target.label);
    }
    const hex = parseChecksumFile(body.toString('latin1'), algorithm);
    if (hex === undefined) {
      throw invalid(
        body.length === 0
          ? 'empty'
          : isHtml(response.header('content-type'), body)
            ? 'an HTML page'
            : `not a hex ${algorithm} digest`,
      );
    }
    return { algorithm, hex };
  }

  /**
   * The file, filled (src/proxy/fill.ts), which hashes it (sha256, sha1) and whose
   * verify step waits for `checksum()` (asked for only once the file answered 200) and refuses
   * bytes that do not match it, so nothing unverified is committed or served. Resolves as soon as
   * the fill has started (the file answered 200), with the upstream's checksum to come and the
   * verified result (every byte received and checked, before the commit's fsync: the fill serves
   * readers meanwhile). Undefined on 404.
   */
  async #ingest(
    target: UpstreamTarget,
    path: string,
    checksum: () => Promise<UpstreamChecksum | undefined>,
  ): Promise<StartedIngest | undefined> {
    const response = await this.#deps.proxy.client.request(target, {
      method: 'GET',
      path: upstreamPath(path),
    });
    if (response.status === 404) {
      discard(response.body);
      return undefined;
    }
    if (response.status !== 200) {
      response.body.destroy();
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label} answered ${response.status} for ${path}`,
      );
    }
    const expected = checksum();
    expected.catch(() => undefined); // the fill's verify step reports it
    let settle!: {
      resolve: (sum: UpstreamChecksum | undefined) => void;
      reject: (err: Error) => void;
    };
    const verified = new Promise<UpstreamChecksum | undefined>((resolve, reject) => {
      settle = { resolve, reject };
    });
    verified.catch(() => undefined); // awaited below
    let computed: FillResult | undefined;
    let body: Buffer | undefined;
    const announced = declaredLength(response.header('content-length'));
    let fill: BlobFill;
    try {
      // The fill hashes the bytes once with sha256 (the blob's address) and sha1 (the `.sha1`
      // every Maven repository publishes and every client asks for, and the ETag); its verify
      // step waits for the upstream's checksum and refuses bytes that do not match it before
      // anything is committed or served. md5 and sha512, which clients rarely ask for, are
      // computed on their first request (#lateChecksum), or here over the held body when the
      // upstream's checksum is a `.sha512`.
      fill = await BlobFill.start(
        this.#deps.blobs,
        { body: response.body, size: announced, label: target.label },
        {
          maxBytes: MAX_PROXIED_FILE_BYTES,
          hashes: ['sha1'],
          verify: async (result, chunks, ends, hashOf) => {
            const sum = await expected;
            const got = sum === undefined ? undefined : await hashOf(sum.algorithm);
            if (sum !== undefined && got !== sum.hex) {
              throw new RegistryError(
                'UPSTREAM_FAILED',
                `upstream ${target.label} sent ${path} not matching its .${sum.algorithm} (expected ${sum.hex}, got ${got ?? '?'})`,
                { detail: { upstream: target.label, badCopy: true } },
              );
            }
            if (sum === undefined && (ARCHIVE_FILE.test(path) || path.endsWith('.pom'))) {
              const why = path.endsWith('.pom')
                ? unverifiedPomProblem(ends)
                : unverifiedArchiveProblem(response.header('content-type'), ends, result.size);
              if (why !== undefined) {
                throw new RegistryError(
                  'UPSTREAM_FAILED',
                  `upstream ${target.label} sent ${why} for ${path}, with no checksum to verify it`,
                  {
                    detail: {
                      upstream: target.label,
                      reason: `sent ${why}, with no checksum`,
                      badCopy: true,
                    },
                  },
                );
              }
            }
            computed =
              sum === undefined || sum.algorithm in result.hashes
                ? result
                : { ...result, hashes: { ...result.hashes, [sum.algorithm]: got } };
            // A small file's chunks as received (undici never reuses them): once verified they
            // are the body the hot-file cache keeps, so the next request reads nothing back.
            if (chunks !== undefined && result.size > 0 && result.size <= HOT_BODY_MAX_BYTES) {
              body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, result.size);
            }
            settle.resolve(sum);
          },
        },
      );
    } catch (err) {
      response.body.destroy();
      throw asUpstreamError(err, path, target.label);
    }
    // A fill that fails on its own (size, byte cap, spool) fails the verification too.
    fill.done.catch((err: unknown) => {
      settle.reject(err instanceof Error ? err : new Error(String(err)));
    });
    const result = (async (): Promise<VerifiedIngest> => {
      let sum: UpstreamChecksum | undefined;
      try {
        sum = await verified;
      } catch (err) {
        throw asUpstreamError(err, path, target.label);
      }
      if (computed === undefined) throw new Error('verified before the end of the body');
      const size = computed.size;
      if (announced !== undefined && announced !== size) {
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream ${target.label} sent ${size} bytes of ${path}, announced ${announced}`,
          { detail: { upstream: target.label, badCopy: true } },
        );
      }
      return {
        fill,
        digest: computed.digest,
        size,
        hashes: {
          md5: computed.hashes['md5'] ?? '',
          sha1: computed.hashes['sha1'] ?? '',
          sha256: computed.digest.hex,
          sha512: computed.hashes['sha512'] ?? '',
        },
        checksum: sum,
        body,
      };
    })();
    result.catch(() => undefined); // whoever takes the answer awaits it
    return { fill, announced, expected, verified: result };
  }

  /**
   * The upstream's `maven-metadata.xml` of directory `dir` as data (cached with TTL, revalidated,
   * stale when the upstreams fail and serve_stale). Undefined when not a proxy, or every upstream
   * says 404 (remembered for negative_cache_ttl). Throws the upstream error when none answered and
   * nothing is cached.
   */
  async metadata(
    repo: Repository,
    dir: string,
    validity?: MetadataValidity,
  ): Promise<MavenMetadata | undefined> {
    if (repo.kind !== 'proxy' || repo.upstreams.length === 0) return undefined;
    const artifact = artifactOfMetadataDir(dir);
    const name = artifact && `${artifact.groupId}:${artifact.artifactId}`;
    const gate = this.#deps.curation;
    if (name !== undefined && gate?.isInternal('maven', name) === true) return undefined;
    const missKey = `${repo.name}\nmetadata:${dir}`;
    const upstreams = repo.upstreams;
    if (this.#misses.has(missKey, upstreams)) {
      bound(validity, this.#misses.expiry(missKey) ?? 0);
      this.#noteMiss(repo, missKey, validity);
      return undefined;
    }
    const settings = this.#settings(repo);
    const now = Date.now();
    const resolved = await this.#deps.proxy.resolve({
      registry: repo.name,
      key: `metadata:${dir}`,
      ttlSeconds: settings.ttl,
      serveStale: settings.serveStale,
      refresh: (cached) => this.#refreshMetadata(repo, dir, cached),
    });
    if (resolved === undefined) {
      this.#misses.add(missKey, settings.negativeTtl, upstreams, now);
      this.#noteMiss(repo, missKey, validity);
      return undefined;
    }
    const loaded = await this.#loadMetadata(resolved.entry);
    const metadata =
      name === undefined || gate === undefined ? loaded : withoutHidden(loaded, name, gate);
    if (resolved.stale && validity !== undefined) validity.stale = true;
    // A stale copy (every upstream failed) is not kept: the next read tries the upstreams again.
    const ttl = settings.ttl;
    bound(
      validity,
      resolved.stale
        ? 0
        : ttl < 0
          ? Infinity
          : ttl === 0
            ? 0
            : resolved.entry.fetchedAt + ttl * 1000,
    );
    return metadata;
  }

  async #refreshMetadata(repo: Repository, dir: string, cached: CachedEntry | undefined) {
    const path = dir === '' ? 'maven-metadata.xml' : `${dir}/maven-metadata.xml`;
    const targets = this.#targets(repo);
    let failure: unknown;
    let absent = 0;
    for (const target of targets) {
      try {
        const headers = {
          accept: 'application/xml, text/xml, */*',
          ...conditionalHeaders(cached, target),
        };
        const response = await this.#deps.proxy.client.request(target, {
          method: 'GET',
          path: upstreamPath(path),
          headers,
          wholeDeadline: true,
        });
        if (response.status === 304 && cached) {
          response.body.destroy();
          return { kind: 'unchanged' as const, ...validatorsOf(response), upstream: target.label };
        }
        if (answeredAbsent(response, target.label, path, [404])) {
          absent++;
          continue;
        }
        const body = await readAllBounded(
          response.body,
          MAX_METADATA_BYTES,
          `upstream ${target.label} ${path}`,
        );
        let parsed: MavenMetadata;
        try {
          parsed = parseMetadata(body);
        } catch (err) {
          throw new RegistryError(
            'UPSTREAM_FAILED',
            `upstream ${target.label} sent an unusable ${path}: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        const stored = await this.#deps.proxy.storeDocument(streamOf(body), {
          maxBytes: MAX_METADATA_BYTES,
        });
        const digest = formatDigest(stored.digest);
        this.#parsed.set(digest, parsed);
        return {
          kind: 'updated' as const,
          entry: {
            digest,
            size: stored.size,
            mediaType: 'application/xml',
            ...validatorsOf(response),
            upstream: target.label,
          },
        };
      } catch (err) {
        failure = err;
      }
    }
    if (absent === targets.length) return { kind: 'absent' as const };
    throw asUpstreamError(failure, path);
  }

  async #loadMetadata(entry: CachedEntry): Promise<MavenMetadata> {
    const known = this.#parsed.get(entry.digest);
    if (known) return known;
    const stream = await this.#deps.blobs.open(parseDigest(entry.digest));
    const body = await readAllBounded(stream, MAX_METADATA_BYTES, 'cached maven-metadata.xml');
    const parsed = parseMetadata(body);
    this.#parsed.set(entry.digest, parsed);
    return parsed;
  }
}

/** Estimated memory of a parsed document (strings count 2 bytes a char, plus overhead). */
/**
 * In enforce, the versions the policy refuses are left out of the proxied `maven-metadata.xml`
 * (a version range or `LATEST`/`RELEASE` then resolves to an allowed one); `latest`/`release`
 * pointing at a removed version move to the newest remaining one. Unchanged (the same object)
 * when nothing is hidden. The service keys its rendered metadata by the gate's viewKey.
 */
function withoutHidden(metadata: MavenMetadata, name: string, gate: CurationGate): MavenMetadata {
  if (gate.mode() !== 'enforce' || metadata.versions.length === 0) return metadata;
  const hidden = (version: string | undefined) =>
    version !== undefined && gate.hides({ registry: 'maven', name, version });
  const versions = metadata.versions.filter((v) => !hidden(v));
  if (versions.length === metadata.versions.length) return metadata;
  const releases = versions.filter((v) => !v.endsWith('-SNAPSHOT'));
  return {
    ...metadata,
    versions,
    latest: hidden(metadata.latest) ? versions.at(-1) : metadata.latest,
    release: hidden(metadata.release) ? releases.at(-1) : metadata.release,
  };
}

function metadataBytes(metadata: MavenMetadata): number {
  let bytes = 512;
  for (const v of metadata.versions) bytes += 64 + 2 * v.length;
  bytes += metadata.snapshotVersions.length * 256 + metadata.plugins.length * 256;
  return bytes;
}

/**
 * The project's own `<packaging>` in a POM (lowercase), undefined when it has none (then `jar`).
 * Comments are skipped, and only an element before the sections that may nest one (`<build>`
 * plugin configurations, profiles, dependencies) counts. A heuristic for prefetching only: a
 * wrong answer costs one upstream request, never a wrong file.
 */
export function pomPackaging(pom: Buffer): string | undefined {
  const text = pom.toString('utf8').replace(/<!--[\s\S]*?-->/g, '');
  const end = text.search(/<(build|profiles|dependencies|dependencyManagement|reporting)[\s>]/);
  const head = end < 0 ? text : text.slice(0, end);
  const match = /<packaging>\s*([^<\s]+)\s*<\/packaging>/.exec(head);
  return match?.[1]?.toLowerCase();
}

/**
 * Lets an unwanted answer's body (a 404 page) run to its end, bounded: the connection stays
 * reusable and no abort error is made (undici builds one, stack trace included, for every body
 * destroyed before its end). A body past 64 KiB is destroyed.
 */
function discard(body: Readable): void {
  let seen = 0;
  body.on('error', () => undefined);
  body.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > 64 * 1024) body.destroy();
  });
}

function streamOf(body: Buffer): Readable {
  return Readable.from([body]);
}

/** The request path on an upstream: each segment percent-encoded, below the upstream's base. */
export function upstreamPath(path: string): string {
  return `/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** Files that are zip archives (Java archives, Android libraries, plain zips). */
const ARCHIVE_FILE = /\.(jar|war|ear|aar|rar|zip|hpi|jpi|nar|kar)$/;

/** Whether an answer is an HTML page (its content type, or a body starting with a tag). */
function isHtml(contentType: string | undefined, body: Buffer): boolean {
  if (contentType !== undefined && /^\s*(text\/html|application\/xhtml\+xml)\b/i.test(contentType))
    return true;
  return /^\s*<(!doctype|html|head|body|\?xml)/i.test(body.subarray(0, 256).toString('latin1'));
}

/**
 * Why an archive that no checksum verifies is refused (before anything is cached or a client gets
 * its last byte): an HTML answer (a captive portal's or an error page sent with 200), an empty
 * body, or a body whose last 64 KiB + 22 bytes hold no end record of its own (zip-end.ts, the
 * check hosted deploys pass too; named "not a zip archive" unless it starts with `PK`): a body cut
 * short with no Content-Length to tell, or a proxy's damaged copy. Read from the fill's held
 * ends, so a body of any size is judged without being held whole. Undefined when it may be taken.
 */
function unverifiedArchiveProblem(
  contentType: string | undefined,
  ends: BodyEnds,
  size: number,
): string | undefined {
  if (isHtml(contentType, ends.head)) return 'an HTML page';
  if (ends.head.length === 0) return 'an empty body';
  // The end record decides, not the first bytes: a launch-script jar (a shell script, then the
  // zip: Spring Boot's executable jar) starts with `#!` and is taken, as a hosted deploy is.
  if (hasWholeZipEnd({ head: ends.head, tail: ends.tail(ZIP_END_WINDOW), size })) return undefined;
  // A body holding a zip entry after other bytes (a cut executable jar) is a damaged zip too.
  return startsLikeZip(ends.head) || firstZipEntryAt(ends.head) > 0
    ? 'a zip archive with no end record (truncated or damaged)'
    : 'a body that is not a zip archive';
}

/**
 * Why a POM that no checksum verifies is refused: an HTML page (`<!DOCTYPE html` or `<html`
 * leading the body). A POM is XML, so only the HTML document forms count, not the content type
 * (a server may send XML as text/html).
 */
function unverifiedPomProblem(ends: BodyEnds): string | undefined {
  const head = ends.head.toString('latin1');
  return /^\s*<(!doctype\s+html|html)[\s>]/i.test(head) ? 'an HTML page' : undefined;
}

/**
 * The hex digest in an upstream checksum file: Maven repositories write the bare hex, some tools
 * `hex  filename` or `hex *filename`, old ones `SHA1(file)= hex`. Undefined when there is no hex
 * run of the algorithm's length.
 */
export function parseChecksumFile(text: string, algorithm: ChecksumName): string | undefined {
  const length = HEX_LENGTH[algorithm];
  const match = new RegExp(`(?:^|[^0-9a-fA-F])([0-9a-fA-F]{${length}})(?:$|[^0-9a-fA-F])`).exec(
    text.trim(),
  );
  return match?.[1]?.toLowerCase();
}

/**
 * A curation refusal reworded for mvn, which prints only the status line: the reason phrase
 * (at most 200 characters) leads with the rule's reason, and the rule (which names the list
 * file and line) comes after it, instead of before it where the reason was cut off. Any other
 * error, or a message not of the engine's shape, is returned as it is.
 */
function reasonFirst(err: unknown, verdict: CurationVerdict): unknown {
  // A list rule's reason leads; an age refusal keeps every format's shape (trial 29 F7).
  if (!isRegistryError(err) || err.code !== 'DENIED' || verdict.reason === 'min_release_age')
    return err;
  const marker = ` is blocked by curation (${verdict.rule}): `;
  const at = err.message.indexOf(marker);
  if (at < 0) return err;
  const what = err.message.slice(0, at);
  const why = err.message.slice(at + marker.length);
  return new RegistryError('DENIED', `${what} is blocked: ${why} (${verdict.rule})`, {
    cause: err,
  });
}

/**
 * `gate.guard(subject)` (counts; throws DENIED in enforce) with the refusal worded for mvn
 * (reasonFirst): what the proxy and the service call for a proxied file.
 */
export function guardMavenFile(gate: CurationGate, subject: CurationSubject): void {
  try {
    gate.guard(subject);
  } catch (err) {
    throw reasonFirst(err, gate.decide(subject));
  }
}
