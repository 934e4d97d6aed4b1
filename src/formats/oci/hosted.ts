/**
 * The hosted side of the OCI format: reads (`OciBackend` over SQL rows + the shared blob store)
 * and writes (manifests, tags, blob links). Manifest bodies are immutable per digest, so a small
 * bounded LRU keeps the hot "GET manifest by tag" path at one indexed query and no storage read.
 */
import { Readable } from 'node:stream';
import { ByteLru, ownedBuffer, retainedBytes } from '../../core/byte-lru.ts';
import { digestOf, formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import type { ByteRange } from '../../core/http-range.ts';
import { KeyedMutex } from '../../core/keyed-mutex.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { StorageNotFoundError } from '../../storage/driver.ts';
import type {
  BlobHandle,
  Descriptor,
  HostedMachinery,
  ManifestContent,
  ManifestInfo,
  OciBackend,
  OciCacheWriter,
} from './backend.ts';
import {
  INDEX_MEDIA_TYPES,
  MAX_MANIFEST_BYTES,
  parseManifest,
  type ParsedManifest,
} from './manifest.ts';
import { referenceText, type Reference } from './reference.ts';
import type { ManifestRow, OciStore } from './store.ts';

/**
 * Manifest bodies keyed by digest (content-addressed, so never stale), least recently used out
 * first, bounded by the bytes they keep alive: each body is stored as an exact copy (a slice of
 * Node's 64 KiB buffer pool would pin its whole slab, see core/byte-lru.ts) and counted with its
 * key and map entry.
 */
export class ManifestCache {
  readonly #entries: ByteLru<string, Buffer>;
  readonly #budget: () => number;

  /**
   * `maxBytes`: the budget in bytes (`[docker] manifest_cache_mb`), or a function read before each
   * store so a reloaded config applies; 0 turns the cache off.
   */
  constructor(maxBytes: number | (() => number)) {
    this.#budget = typeof maxBytes === 'number' ? () => maxBytes : maxBytes;
    this.#entries = new ByteLru(
      this.#budget(),
      (body) => retainedBytes(body) + ENTRY_OVERHEAD_BYTES,
    );
  }

  /** Bytes accounted to the stored bodies (what the budget bounds). */
  get bytes(): number {
    return this.#entries.bytes;
  }

  get(digest: string): Buffer | undefined {
    return this.#entries.get(digest);
  }

  set(digest: string, body: Buffer): void {
    const budget = this.#budget();
    if (budget !== this.#entries.maxBytes) this.#entries.maxBytes = budget;
    if (this.#entries.has(digest)) return;
    this.#entries.set(digest, ownedBuffer(body));
  }
}

/** A digest key (71 chars), the Map entry and the Buffer object, rounded up. */
const ENTRY_OVERHEAD_BYTES = 256;

export interface PutManifestResult {
  readonly digest: string;
  readonly subject: string | undefined;
  /** A tag of the push pointed at another manifest before (`docker push` of a changed image). */
  readonly retagged: boolean;
}

export class Hosted implements HostedMachinery, OciCacheWriter {
  readonly #store: OciStore;
  readonly #blobs: BlobStore;
  readonly #cache: ManifestCache;
  /**
   * Per repo/name: an index PUT (children checked, then stored) and a manifest DELETE (parents
   * checked, then deleted) do not interleave, so neither leaves an index listing a manifest the
   * name no longer has.
   */
  readonly #nameLocks = new KeyedMutex();

  constructor(store: OciStore, blobs: BlobStore, cache: ManifestCache) {
    this.#store = store;
    this.#blobs = blobs;
    this.#cache = cache;
  }

  get store(): OciCacheWriter {
    return this;
  }

  get sql(): OciStore {
    return this.#store;
  }

  forRepository(repository: Repository): OciBackend {
    return new HostedBackend(repository, this);
  }

  // Reads used by HostedBackend.

  async manifestRow(
    repo: string,
    name: string,
    reference: Reference,
  ): Promise<ManifestRow | undefined> {
    return reference.kind === 'tag'
      ? this.#store.manifestByTag(repo, name, reference.tag)
      : this.#store.manifestByDigest(repo, name, reference.digest);
  }

  async manifestBody(row: ManifestRow): Promise<Buffer | undefined> {
    const cached = this.#cache.get(row.digest);
    if (cached) return cached;
    try {
      const stream = await this.#blobs.open(parseDigest(row.digest));
      const body = await readAllBounded(stream, MAX_MANIFEST_BYTES, 'manifest');
      this.#cache.set(row.digest, body);
      return body;
    } catch (err) {
      if (err instanceof StorageNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The blob linked under `name`, when its bytes are in the store at the linked size. The link is
   * metadata: bytes deleted or cut short behind NORA's back must read as absent, because a
   * client told a blob exists skips uploading it (docker/skopeo push HEAD every layer, and so do
   * mounts), and a re-push could then never repair the image.
   */
  async blobHandle(repo: string, name: string, digest: string): Promise<BlobHandle | undefined> {
    const link = await this.#store.blobLink(repo, name, digest);
    if (link === undefined) return undefined;
    const address = parseDigest(digest);
    // A link whose manifests were deleted keeps nothing from `nora gc`, yet a client told the
    // blob exists skips its upload and names it in the manifest PUT that follows: the bytes
    // count as stored now, so the pass's grace keeps them until then (touched before the look,
    // so a pass removing them meanwhile puts them back or the look finds them gone).
    if (link.unreferenced) await this.#blobs.touch(address, link.size);
    if ((await this.#blobs.stat(address))?.size !== link.size) return undefined;
    return this.handleFor(digest, link.size);
  }

  handleFor(digest: string, size: number): BlobHandle {
    const blobs = this.#blobs;
    return {
      digest,
      size,
      async open(range?: ByteRange) {
        try {
          return await blobs.open(
            parseDigest(digest),
            range ? { start: range.start, end: range.end } : undefined,
          );
        } catch (err) {
          if (err instanceof StorageNotFoundError) throw blobUnknown(digest);
          throw err;
        }
      },
    };
  }

  // Writes.

  /**
   * Validates and stores a manifest under repo/name; tags it with `tags`. `expectedDigest` is set
   * when the client PUT by digest (its algorithm decides the hash).
   */
  async putManifest(
    repo: string,
    name: string,
    body: Buffer,
    contentType: string | undefined,
    tags: readonly string[],
    expectedDigest: string | undefined,
  ): Promise<PutManifestResult> {
    const parsed = parseManifest(body, contentType);
    const digest = manifestDigest(body, expectedDigest);
    const store = async (): Promise<boolean> => {
      await this.#checkReferences(repo, name, parsed);
      return this.#storeManifest(repo, name, body, digest, parsed, tags);
    };
    const retagged =
      parsed.children.length === 0
        ? await store()
        : await this.#nameLocks.run(nameKey(repo, name), store);
    return { digest, subject: parsed.subject, retagged };
  }

  /**
   * Deletes the manifest `digest` of repo/name and every tag pointing at it; false when it is not
   * there. Refused (409 MANIFEST_REFERENCED, naming the indexes and their tags) while an index
   * stored under the name lists it: the index would stay tagged and served, and every pull of it
   * (`docker pull`, `skopeo copy --all`) would fail on the missing child (trial 13 F7). A PUT
   * refuses an index whose children are missing for the same reason. GitLab's registry answers
   * the same (409 MANIFEST_REFERENCED), Harbor and zot refuse too; Distribution deletes. Delete
   * the index first. Referrers (`subject`) are not consulted: the spec lets a subject go first.
   *
   * Cost: the indexes of the name are read (bodies from the manifest cache or the store) and
   * searched for the digest, once per DELETE by digest.
   *
   * The manifest's config and layers that no other manifest of the name refers to then have
   * their links under the name marked unreferenced (#markUnreferenced): `nora gc` no longer
   * counts those links, so it frees the bytes unless another name or repository links them (the
   * links were what kept them for ever; HTTP DELETE and retention both come here). The links stay
   * until then, so the blobs still answer under the name (the distribution spec's conformance
   * suite deletes them after their manifests), and a manifest PUT or an upload referring to one
   * again clears the mark.
   */
  deleteManifest(repo: string, name: string, digest: string): Promise<boolean> {
    return this.#nameLocks.run(nameKey(repo, name), async () => {
      const row = await this.#store.manifestByDigest(repo, name, digest);
      if (row === undefined) return false;
      const parents = await this.#indexesListing(repo, name, digest);
      if (parents.length > 0) {
        const listed = await Promise.all(
          parents.map(async (parent) => {
            const tags = await this.#store.tagsOf(repo, name, parent);
            return { digest: parent, tags };
          }),
        );
        const named = listed
          .map((p) => (p.tags.length === 0 ? p.digest : `${p.digest} (tags: ${p.tags.join(', ')})`))
          .join('; ');
        throw new RegistryError(
          'CONFLICT',
          `manifest ${digest} is listed by ${parents.length === 1 ? 'an index' : `${parents.length} indexes`} under ${name}: ${named}. Delete ${parents.length === 1 ? 'that index' : 'those indexes'} first; deleting this manifest would leave ${parents.length === 1 ? 'it' : 'them'} unpullable`,
          { protocolCode: 'MANIFEST_REFERENCED', detail: { digest, referencedBy: listed } },
        );
      }
      const blobs = await this.#blobsOf(row);
      const deleted = await this.#store.deleteManifest(repo, name, digest);
      if (deleted && blobs !== undefined) await this.#markUnreferenced(repo, name, blobs);
      return deleted;
    });
  }

  /**
   * The blobs (config, layers) the manifest `row` refers to; undefined when its body cannot be
   * read or parsed (nothing is then unlinked: what it refers to is unknown).
   */
  async #blobsOf(row: ManifestRow): Promise<Set<string> | undefined> {
    const body = await this.manifestBody(row).catch(() => undefined);
    if (body === undefined) return undefined;
    try {
      return new Set(parseManifest(body, row.media_type).blobs);
    } catch {
      return undefined;
    }
  }

  /**
   * Marks unreferenced the links under repo/name of each of `blobs` that no manifest still stored
   * under the name refers to. A manifest whose body cannot be read or parsed might refer to any:
   * then nothing is marked. Links of other names and repositories are their own rows, untouched.
   * Cost: the name's other manifests are read (manifest cache or store) and byte-searched, once
   * per delete. A push of the name after this that finds such a blob by HEAD touches it
   * (blobHandle), so a gc pass before its manifest PUT keeps it for the grace period.
   */
  async #markUnreferenced(repo: string, name: string, blobs: Set<string>): Promise<void> {
    const left = new Set(blobs);
    for (const other of await this.#store.manifestsOf(repo, name)) {
      if (left.size === 0) return;
      const body = await this.manifestBody(other).catch(() => undefined);
      if (body === undefined) return;
      // A byte search first: most manifests of a name share nothing with the deleted one.
      if (![...left].some((d) => body.includes(d))) continue;
      let referred: readonly string[];
      try {
        referred = parseManifest(body, other.media_type).blobs;
      } catch {
        return;
      }
      for (const d of referred) left.delete(d);
    }
    await this.#store.markUnreferenced(repo, name, [...left]);
  }

  /** Digests of the indexes stored under repo/name whose `manifests[]` list `digest`. */
  async #indexesListing(repo: string, name: string, digest: string): Promise<string[]> {
    const parents: string[] = [];
    for (const row of await this.#store.manifestsOfTypes(repo, name, INDEX_MEDIA_TYPES)) {
      if (row.digest === digest) continue;
      const body = await this.manifestBody(row);
      // A byte search first: most indexes of a name do not mention the digest at all.
      if (body?.includes(digest) !== true) continue;
      let children: readonly string[];
      try {
        children = parseManifest(body, row.media_type).children;
      } catch {
        continue; // stored unparsable (cannot happen through a PUT): it lists nothing pullable
      }
      if (children.includes(digest)) parents.push(row.digest);
    }
    return parents;
  }

  async cacheManifest(
    repo: string,
    name: string,
    body: Buffer,
    mediaType: string,
    tag?: string,
  ): Promise<ManifestInfo> {
    const parsed = parseManifest(body, mediaType);
    const digest = formatDigest(digestOf(body));
    await this.#storeManifest(repo, name, body, digest, parsed, tag === undefined ? [] : [tag]);
    return { digest, mediaType: parsed.mediaType, size: body.length };
  }

  async linkBlob(repo: string, name: string, digest: string, size: number): Promise<void> {
    await this.#store.linkBlob(repo, name, digest, size);
  }

  async #storeManifest(
    repo: string,
    name: string,
    body: Buffer,
    digest: string,
    parsed: ParsedManifest,
    tags: readonly string[],
  ): Promise<boolean> {
    await this.#blobs.ingest(Readable.from([body]), {
      expected: parseDigest(digest),
      expectedSize: body.length,
    });
    this.#cache.set(digest, body);
    const retagged = await this.#store.putManifest(
      repo,
      name,
      {
        digest,
        mediaType: parsed.mediaType,
        size: body.length,
        subject: parsed.subject,
        artifactType: parsed.artifactType,
        configMediaType: parsed.configMediaType,
        annotations: parsed.annotations,
      },
      tags,
    );
    // Referred to again (a manifest deleted, then pushed again): gc counts the links again.
    await this.#store.markReferenced(repo, name, parsed.blobs);
    return retagged;
  }

  async #checkReferences(repo: string, name: string, parsed: ParsedManifest): Promise<void> {
    const stored = new Map<string, number>();
    for (const digest of new Set(parsed.blobs)) {
      const link = await this.#store.blobLink(repo, name, digest);
      // A link no manifest referred to may have lost its bytes to `nora gc` (past the grace, no
      // HEAD since): accepted, the manifest would name a blob no pull can get.
      const gone =
        link?.unreferenced === true &&
        (await this.#blobs.stat(parseDigest(digest)))?.size !== link.size;
      if (link === undefined || gone) {
        throw new RegistryError(
          'MANIFEST_INVALID',
          gone
            ? `manifest references blob ${digest}, whose bytes were freed by garbage collection: upload it again`
            : `manifest references unknown blob ${digest}`,
          { protocolCode: 'MANIFEST_BLOB_UNKNOWN', detail: { digest } },
        );
      }
      stored.set(digest, link.size);
    }
    for (const digest of new Set(parsed.children)) {
      const row = await this.#store.manifestByDigest(repo, name, digest);
      if (row === undefined) {
        throw new RegistryError('MANIFEST_INVALID', `index references unknown manifest ${digest}`, {
          protocolCode: 'MANIFEST_BLOB_UNKNOWN',
          detail: { digest },
        });
      }
      stored.set(digest, row.size);
    }
    // A descriptor whose size is not the content's: clients that check sizes could never pull
    // it (image-spec: content whose length differs SHOULD NOT be trusted).
    for (const { digest, size, where } of parsed.declaredSizes) {
      const actual = stored.get(digest);
      if (actual !== undefined && actual !== size) {
        throw new RegistryError(
          'MANIFEST_INVALID',
          `${where} declares size ${size} for ${digest}, which is ${actual} bytes`,
          { detail: { digest, size, actual } },
        );
      }
    }
  }
}

export class HostedBackend implements OciBackend {
  readonly repository: Repository;
  readonly #hosted: Hosted;

  constructor(repository: Repository, hosted: Hosted) {
    this.repository = repository;
    this.#hosted = hosted;
  }

  async getManifest(name: string, reference: Reference): Promise<ManifestContent | undefined> {
    const row = await this.#hosted.manifestRow(this.repository.name, name, reference);
    if (!row) return undefined;
    const body = await this.#hosted.manifestBody(row);
    if (!body) return undefined;
    return { digest: row.digest, mediaType: row.media_type, size: row.size, body };
  }

  async statManifest(name: string, reference: Reference): Promise<ManifestInfo | undefined> {
    const row = await this.#hosted.manifestRow(this.repository.name, name, reference);
    return row ? { digest: row.digest, mediaType: row.media_type, size: row.size } : undefined;
  }

  getBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    return this.#hosted.blobHandle(this.repository.name, name, digest);
  }

  /** Local bytes: knowing the blob costs the same as getting its handle. */
  statBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    return this.getBlob(name, digest);
  }

  async listTags(name: string): Promise<readonly string[] | undefined> {
    return this.#hosted.sql.tags(this.repository.name, name);
  }

  holds(name: string): Promise<boolean> {
    return this.#hosted.sql.hasManifest(this.repository.name, name);
  }

  catalog(): Promise<readonly string[]> {
    return this.#hosted.sql.names(this.repository.name);
  }

  async referrers(name: string, digest: string): Promise<readonly Descriptor[]> {
    const rows = await this.#hosted.sql.referrers(this.repository.name, name, digest);
    return rows.map((row) => {
      const annotations =
        row.annotations === null
          ? undefined
          : (JSON.parse(row.annotations) as Record<string, string>);
      return {
        mediaType: row.media_type,
        digest: row.digest,
        size: row.size,
        ...(row.artifact_type === null ? {} : { artifactType: row.artifact_type }),
        ...(annotations === undefined ? {} : { annotations }),
      };
    });
  }
}

function nameKey(repo: string, name: string): string {
  return `${repo}\0${name}`;
}

/** The digest of manifest bytes; when the client named one, it must match (DIGEST_INVALID). */
function manifestDigest(body: Buffer, expected: string | undefined): string {
  if (expected === undefined) return formatDigest(digestOf(body));
  const wanted = parseDigest(expected);
  const actual = formatDigest(digestOf(body, wanted.algorithm));
  if (actual !== expected) {
    throw new RegistryError(
      'DIGEST_INVALID',
      `manifest digest mismatch: expected ${expected}, got ${actual}`,
      {
        protocolCode: 'DIGEST_INVALID',
      },
    );
  }
  return actual;
}

/**
 * The OCI 404s. `note` is what a group appends when a member could not be asked
 * (` (upstream docker-proxy/0 unreachable: ECONNREFUSED)`, see repos/group-read.ts).
 */
export function blobUnknown(digest: string, note = ''): RegistryError {
  return new RegistryError('NOT_FOUND', `blob unknown to registry: ${digest}${note}`, {
    protocolCode: 'BLOB_UNKNOWN',
    detail: { digest },
  });
}

export function manifestUnknown(reference: Reference, note = ''): RegistryError {
  return new RegistryError('NOT_FOUND', `manifest unknown: ${referenceText(reference)}${note}`, {
    protocolCode: 'MANIFEST_UNKNOWN',
  });
}

export function nameUnknown(name: string, note = ''): RegistryError {
  return new RegistryError('NOT_FOUND', `repository name not known to registry: ${name}${note}`, {
    protocolCode: 'NAME_UNKNOWN',
  });
}
