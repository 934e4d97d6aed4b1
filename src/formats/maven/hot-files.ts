/**
 * The hot path of Maven artifact GETs: what `(repository, path)` answered last time — the file's
 * blob, size, checksums and times, with its response headers already formatted, or "absent" — so a
 * repeated GET (every build asks for the same POMs and jars, and their `.sha1`) does no SQL, no
 * blob stat, no group walk and no header formatting. Only the blob itself is opened per request.
 *
 * Why an answer stays right, and when it stops:
 * - Each hosted repository has a write generation, bumped by every deploy, prune and delete in it
 *   (`changed`). An answer records the generation of the repository it was asked of (for a group,
 *   the sum over its members: counters only grow, so any member's write changes the sum), taken
 *   *before* the lookup, so a write racing a lookup leaves an answer that is already stale. A
 *   snapshot's non-unique name therefore always resolves to the newest build, and a group's
 *   answer (which member has the file, the dependency-confusion guard) is re-asked after any
 *   member's write.
 * - A proxy's cached file is immutable (artifacts are cached forever), so its answer needs no
 *   expiry; a proxy's remembered miss expires when the proxy's negative cache forgets it
 *   (`MavenSource.openFile`'s `validity`); an answer given while some member's upstream failed is
 *   never kept.
 * - A config reload (members, upstreams, TTLs) clears everything (`reset`).
 * - A blob that can no longer be opened (deleted under us) drops its answer: the next GET asks
 *   the source again, which notices (a proxy refetches).
 * Bounded in entries by an estimate of their bytes (core/byte-lru.ts), least recently used first.
 *
 * The bodies of small files (≤ HOT_BODY_MAX_BYTES) are also kept in memory (HOT_BODIES_BYTES in
 * all, least recently used first) once asked for a second time (that request reads the file
 * whole, once, and is answered from those bytes), or at once when the source hands them over (a
 * proxy file just fetched and verified: the next build asks for the same POMs and jars, and the
 * bytes were in memory anyway): a POM then costs no open, read and close in libuv's thread pool
 * (which NORA shares with the client on 2 cores), only a write of bytes already in memory, as
 * nginx's page cache does. Blobs are content-addressed and never change, so a kept body is right
 * for as long as its answer is; it goes with its answer.
 */
import type { Readable } from 'node:stream';
import { ByteLru, ownedBuffer, retainedBytes } from '../../core/byte-lru.ts';
import { readExactly } from '../../core/streams.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import type { Repository } from '../../repos/repository.ts';
import { type ChecksumName, type MetadataValidity, type OpenedMavenFile } from './model.ts';
import type { MavenDocument } from './service.ts';

/** Default budget of answers, bytes (an entry is ~1 KB: ~16,000 paths). */
export const HOT_FILES_BYTES = 16 * 1024 * 1024;
/** Default budget of file bodies kept in memory, bytes. */
export const HOT_BODIES_BYTES = 64 * 1024 * 1024;
/** Largest file whose body is kept in memory, bytes (POMs, most jars). */
export const HOT_BODY_MAX_BYTES = 1024 * 1024;

/** A file ready to send: the source's answer plus its formatted headers and checksum bodies. */
export interface HotFile extends Omit<OpenedMavenFile, 'open'> {
  /** Opens the bytes (a range when given): from memory when kept, else from the blob store. */
  open(range?: ReadRange): Promise<Readable | Buffer>;
  /**
   * The whole body when it is kept in memory now, else undefined (then `open`, which also counts
   * the demand that gets a small body kept). Lets a GET be answered without an async hop.
   */
  keptBody(): Buffer | undefined;
  /** `"<sha1>"` */
  readonly etag: string;
  /** RFC 9110 HTTP-date of `modifiedAt`. */
  readonly lastModified: string;
  /** `modifiedAt` rounded down to whole seconds (If-Modified-Since compares at that precision). */
  readonly modifiedSeconds: number;
  /** The `.md5`/`.sha1`/… responses, made on first demand and kept with the answer. */
  readonly checksumDocuments: Partial<Record<ChecksumName, MavenDocument>>;
}

interface Entry {
  readonly generation: number;
  /** ms epoch after which the answer must be asked again (Infinity: only a write ends it). */
  readonly until: number;
  /** undefined: the file is absent. */
  readonly file: HotFile | undefined;
  /** An absence from a proxy's remembered miss: what the 404 says (MetadataValidity.missNote). */
  readonly missNote?: string | undefined;
}

/** `HotFiles.peek`'s answer when nothing valid is kept: ask `get`. */
export const NOT_KEPT: unique symbol = Symbol('not kept');

/** The per-entry bytes not in the key: the entry, the file object, four hex digests, headers. */
const ENTRY_BYTES = 1024;

export class HotFiles {
  readonly #entries: ByteLru<string, Entry>;
  readonly #bodies: ByteLru<HotFile, Buffer>;
  readonly #generations = new Map<string, number>();
  /** Bumped by `reset`: a lookup that started before a reset is not kept after it. */
  #epoch = 0;

  constructor(maxBytes = HOT_FILES_BYTES, bodyBytes = HOT_BODIES_BYTES) {
    this.#bodies = new ByteLru<HotFile, Buffer>(bodyBytes, retainedBytes);
    this.#entries = new ByteLru<string, Entry>(maxBytes, () => ENTRY_BYTES, {
      largestShare: 1,
      onEvict: (_key, entry) => {
        if (entry.file !== undefined) this.#bodies.delete(entry.file);
      },
    });
  }

  /** Bytes of file bodies held in memory (tests, diagnostics). */
  get bodyBytes(): number {
    return this.#bodies.bytes;
  }

  /** Entries held (tests, diagnostics). */
  get size(): number {
    return this.#entries.size;
  }

  /** A hosted repository changed (deploy, prune, delete): its answers and its groups' go stale. */
  changed(repository: string): void {
    this.#generations.set(repository, (this.#generations.get(repository) ?? 0) + 1);
  }

  /** Forgets every answer (config reload). */
  reset(): void {
    this.#epoch++;
    this.#entries.clear();
  }

  /** The write generation answers of `repo` are valid for (a group: the sum over its members). */
  generation(repo: Repository): number {
    if (repo.kind !== 'group') return this.#generations.get(repo.name) ?? 0;
    let sum = 0;
    for (const member of repo.members) sum += this.#generations.get(member) ?? 0;
    return sum;
  }

  /**
   * The kept answer for `path` in `repo` while it is valid (a file, or undefined = absent), else
   * NOT_KEPT. Synchronous: the hot path of a repeated GET needs no promise.
   */
  peek(repo: Repository, path: string): HotFile | undefined | typeof NOT_KEPT {
    const hit = this.#entries.get(`${repo.name}\n${path}`);
    if (hit === undefined || hit.generation !== this.generation(repo)) return NOT_KEPT;
    return hit.until === Infinity || hit.until > Date.now() ? hit.file : NOT_KEPT;
  }

  /** The miss note of the kept absence of `path` in `repo` (see Entry.missNote), if any. */
  missNote(repo: Repository, path: string): string | undefined {
    return this.#entries.peek(`${repo.name}\n${path}`)?.missNote;
  }

  /**
   * The file at `path` in `repo`: the kept answer while valid, else `lookup`'s, kept until
   * `validity.until` (set by the sources) or the next write. Undefined = absent.
   */
  async get(
    repo: Repository,
    path: string,
    lookup: (validity: MetadataValidity) => Promise<OpenedMavenFile | undefined>,
  ): Promise<HotFile | undefined> {
    const kept = this.peek(repo, path);
    if (kept !== NOT_KEPT) return kept;
    const key = `${repo.name}\n${path}`;
    // Taken before the lookup: a write racing it leaves the answer already stale.
    const generation = this.generation(repo);
    const epoch = this.#epoch;
    const validity: MetadataValidity = { until: Infinity };
    const found = await lookup(validity);
    const file = found === undefined ? undefined : this.#hot(key, found);
    if (validity.until > Date.now() && epoch === this.#epoch) {
      this.#entries.set(key, {
        generation,
        until: validity.until,
        file,
        ...(file === undefined && validity.missNote !== undefined
          ? { missNote: validity.missNote }
          : {}),
      });
      if (file !== undefined && found?.body !== undefined) this.#prime(key, file, found.body);
    } else {
      this.#entries.delete(key);
    }
    return file;
  }

  #hot(key: string, found: OpenedMavenFile): HotFile {
    const entries = this.#entries;
    const bodies = this.#bodies;
    const size = found.size;
    const small = size > 0 && size <= HOT_BODY_MAX_BYTES && bodies.maxBytes > 0;
    // Not `found` itself: it may carry its whole body (a fresh proxy fill), which must not stay
    // alive through this closure once the body budget has let it go.
    const openFound = found.open;
    let opened = 0;
    /** The body being read whole (second demand), shared by the requests meanwhile. */
    let loading: Promise<Buffer> | undefined;
    let loadFailed = false;
    const fromDisk = (range?: ReadRange): Promise<Readable> =>
      openFound(range).catch((err: unknown) => {
        // The blob went away (or cannot be read): ask the source again next time.
        if (entries.peek(key)?.file === file) entries.delete(key);
        throw err;
      });
    // A whole read, so the blob store verifies it (damaged bytes fail here: the store removes
    // the file and the request answers that error: 503 "failed its integrity check" for a proxy's
    // file, 410 for a hosted one, BlobStore.hosted). A file this
    // small is one read of its size (FsDriver.read), and those bytes are the body kept, not a copy.
    const load = async (): Promise<Buffer> => {
      const body = await readExactly(await fromDisk(), size, key);
      // Kept only while its answer is (a write or eviction may have dropped it meanwhile).
      if (entries.peek(key)?.file === file) bodies.set(file, body);
      return body;
    };
    const keptBody = (): Buffer | undefined => (small ? bodies.get(file) : undefined);
    /**
     * After a failed whole read: a stream of the blob, unless the read found it damaged. The store
     * has removed that file, so reading it again would only report it missing (a 503 "missing
     * from storage" and a StorageNotFoundError logged, in place of the integrity failure).
     */
    const afterFailedLoad = (err: unknown, range?: ReadRange): Promise<Readable> => {
      // A hosted file's damage comes as its 410 (BlobStore.hosted), the integrity error its cause.
      const damaged = (e: unknown): boolean =>
        e instanceof Error && e.name === 'BlobIntegrityError';
      if (err instanceof Error && (damaged(err) || damaged(err.cause))) {
        if (entries.peek(key)?.file === file) entries.delete(key);
        return Promise.reject(err);
      }
      return fromDisk(range);
    };
    const file: HotFile = hotFile(found, keptBody, (range) => {
      const kept = keptBody();
      if (kept !== undefined) return Promise.resolve(slice(kept, range));
      // A failed read falls back to a stream of the blob (which drops the answer if it is gone),
      // except a damaged one: its integrity error is the answer.
      if (loading !== undefined) {
        return loading.then(
          (body) => slice(body, range),
          (err: unknown) => afterFailedLoad(err, range),
        );
      }
      // The second request of a small file reads it whole, keeps it for the ones after it, and
      // is answered from those bytes (before: a second, parallel read just to keep it).
      if (small && !loadFailed && ++opened >= 2) {
        const pending = load();
        loading = pending;
        pending.then(
          () => {
            loading = undefined;
          },
          () => {
            // Not retried: this request and later ones read from disk.
            loading = undefined;
            loadFailed = true;
          },
        );
        return pending.then(
          (body) => slice(body, range),
          (err: unknown) => afterFailedLoad(err, range),
        );
      }
      return fromDisk(range);
    });
    return file;
  }

  /**
   * Keeps `body` (the whole file, verified by its source) as the kept body of `file`, the answer
   * just kept for `key`: the first request after a proxy fill then needs no read of the blob.
   */
  #prime(key: string, file: HotFile, body: Buffer): void {
    if (body.length !== file.size || file.size > HOT_BODY_MAX_BYTES) return;
    if (this.#bodies.maxBytes <= 0 || this.#entries.peek(key)?.file !== file) return;
    this.#bodies.set(file, ownedBuffer(body));
  }
}

/** The inclusive `range` of a kept body (all of it when undefined). */
function slice(body: Buffer, range: ReadRange | undefined): Buffer {
  return range === undefined
    ? body
    : body.subarray(range.start ?? 0, range.end === undefined ? undefined : range.end + 1);
}

/** `found` with its headers formatted; `keptBody` and `open` replace the defaults when given. */
export function hotFile(
  found: OpenedMavenFile,
  keptBody: () => Buffer | undefined = () => undefined,
  open: (range?: ReadRange) => Promise<Readable | Buffer> = (range) => found.open(range),
): HotFile {
  const present = found.present;
  return {
    // Bytes kept in memory are there whatever became of the stored file.
    ...(present === undefined
      ? {}
      : { present: async () => keptBody() !== undefined || (await present()) }),
    ...(found.verified === undefined ? {} : { verified: found.verified }),
    ...(found.curation === undefined ? {} : { curation: found.curation }),
    ...(found.lateChecksum === undefined ? {} : { lateChecksum: found.lateChecksum }),
    size: found.size,
    checksums: found.checksums,
    modifiedAt: found.modifiedAt,
    etag: `"${found.checksums.sha1}"`,
    lastModified: new Date(found.modifiedAt).toUTCString(),
    modifiedSeconds: Math.floor(found.modifiedAt / 1000) * 1000,
    checksumDocuments: {},
    open,
    keptBody,
  };
}
