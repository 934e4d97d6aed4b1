/**
 * The Docker Registry v2 upstream adapter: which upstreams a name goes to (prefix routing,
 * default_action, Docker Hub's `library/` convention) and how to ask them for a manifest, a blob,
 * a tag list or referrers (lists read across all their pages, bounded) through the proxy engine's
 * client. No caching here: proxy.ts decides that.
 */
import type { Readable } from 'node:stream';
import { RegistryError } from '../../core/errors.ts';
import { tryParseDigest } from '../../core/digest.ts';
import { readAllBounded } from '../../core/streams.ts';
import { nextPage, UPSTREAM_LIST_LIMITS } from '../../proxy/pagination.ts';
import {
  joinUrl,
  toUpstreamError,
  type UpstreamClient,
  type UpstreamResponse,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import type { Descriptor } from './backend.ts';
import type { DockerUpstreamConfig } from './config.ts';
import { isValidTag } from './reference.ts';

/** Every manifest type we can serve, sent as Accept so the upstream never down-converts. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.artifact.manifest.v1+json',
].join(', ');

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const DOCKER_HUB_HOSTS = new Set([
  'registry-1.docker.io',
  'index.docker.io',
  'docker.io',
  'registry.hub.docker.com',
]);

/**
 * One place to ask for a name: an upstream and the name as that upstream spells it. `target` and
 * `metadata` are the same upstream (one label, one circuit breaker) with two timeouts: `target`
 * for blob bodies ([docker] proxy_timeout to the headers, read_timeout between chunks),
 * `metadata` for everything else ([docker] metadata_timeout, the whole fetch).
 */
export interface Candidate {
  readonly target: UpstreamTarget;
  readonly metadata: UpstreamTarget;
  readonly remoteName: string;
}

export interface RoutableUpstream {
  readonly config: DockerUpstreamConfig;
  readonly target: UpstreamTarget;
  /** The same upstream bounded by metadata_timeout (see Candidate). */
  readonly metadata: UpstreamTarget;
}

/**
 * The upstreams to try for `name`, in order:
 * - a name whose first segment is an upstream's `prefix` goes only to the upstreams with that
 *   prefix, with the prefix stripped (`/v2/ghcr/org/app` → `org/app` on that upstream);
 * - any other name goes to the upstreams without a prefix, unless default_action is `deny`;
 * - a one-segment name means `library/<name>` on Docker Hub (as the docker CLI does); on other
 *   registries it is tried as written, then as `library/<name>` (a mirror of Hub's layout).
 */
export function routeName(
  name: string,
  upstreams: readonly RoutableUpstream[],
  defaultAction: 'allow' | 'deny',
): Candidate[] {
  const slash = name.indexOf('/');
  const first = slash < 0 ? undefined : name.slice(0, slash);
  const prefixed = upstreams.filter(
    (u) => u.config.prefix !== undefined && u.config.prefix === first,
  );
  const chosen =
    prefixed.length > 0
      ? prefixed.map((u) => ({ upstream: u, remote: name.slice(slash + 1) }))
      : defaultAction === 'deny'
        ? []
        : upstreams
            .filter((u) => u.config.prefix === undefined)
            .map((u) => ({ upstream: u, remote: name }));
  const candidates: Candidate[] = [];
  for (const { upstream, remote } of chosen) {
    const { target, metadata } = upstream;
    if (remote.includes('/')) {
      candidates.push({ target, metadata, remoteName: remote });
    } else if (isDockerHub(upstream.config.url)) {
      candidates.push({ target, metadata, remoteName: `library/${remote}` });
    } else {
      candidates.push({ target, metadata, remoteName: remote });
      candidates.push({ target, metadata, remoteName: `library/${remote}` });
    }
  }
  return candidates;
}

export function isDockerHub(url: string): boolean {
  return URL.canParse(url) && DOCKER_HUB_HOSTS.has(new URL(url).hostname);
}

function scopeOf(remoteName: string): string {
  return `repository:${remoteName}:pull`;
}

function path(remoteName: string, kind: 'manifests' | 'blobs', reference: string): string {
  // Tags and digests were validated by reference.ts: URL-safe as written.
  return `/v2/${remoteName}/${kind}/${reference}`;
}

/** What a manifest request to one upstream gave. */
export type ManifestAnswer =
  | {
      readonly kind: 'found';
      readonly body: Buffer;
      readonly mediaType: string;
      readonly digest: string | undefined;
    }
  | {
      readonly kind: 'head';
      readonly digest: string | undefined;
      readonly mediaType: string | undefined;
    }
  /** A conditional GET (If-None-Match) answered 304: the tag still points at that digest. */
  | { readonly kind: 'not-modified' }
  /**
   * 401/403 after the auth dance: the image is not there for us (Docker Hub answers 401 for
   * names that do not exist) or our credentials are missing or refused. Not an "absent": a cached
   * tag is served stale then, and a miss names the status (proxy.ts).
   */
  | { readonly kind: 'refused'; readonly status: number }
  | { readonly kind: 'absent' };

export class DockerUpstream {
  readonly #client: UpstreamClient;

  constructor(client: UpstreamClient) {
    this.#client = client;
  }

  /**
   * GET (or HEAD) a manifest by tag or digest from one candidate. `ifNoneMatch` (a digest) makes
   * the GET conditional, for upstreams whose HEAD does not name the digest.
   */
  async manifest(
    candidate: Candidate,
    reference: string,
    method: 'GET' | 'HEAD',
    ifNoneMatch?: string,
  ): Promise<ManifestAnswer> {
    const response = await this.#client.request(candidate.metadata, {
      method,
      path: path(candidate.remoteName, 'manifests', reference),
      wholeDeadline: true,
      headers: {
        accept: MANIFEST_ACCEPT,
        ...(ifNoneMatch === undefined ? {} : { 'if-none-match': `"${ifNoneMatch}"` }),
      },
      scope: scopeOf(candidate.remoteName),
    });
    if (response.status === 401 || response.status === 403) {
      response.body.destroy();
      return { kind: 'refused', status: response.status };
    }
    if (isAbsent(response)) {
      response.body.destroy();
      return { kind: 'absent' };
    }
    if (response.status === 304 && ifNoneMatch !== undefined) {
      response.body.destroy();
      return { kind: 'not-modified' };
    }
    expectOk(response, candidate);
    const digest = response.header('docker-content-digest');
    const mediaType = contentType(response);
    if (method === 'HEAD') {
      response.body.destroy();
      return { kind: 'head', digest, mediaType };
    }
    const declared = Number(response.header('content-length') ?? '0');
    if (declared > MAX_MANIFEST_BYTES) {
      response.body.destroy();
      throw upstreamGarbage(candidate, `manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    const body = await readAllBounded(
      response.body as AsyncIterable<Uint8Array>,
      MAX_MANIFEST_BYTES,
      'upstream manifest',
    ).catch((err: unknown) => {
      // A body that breaks off (closed early, malformed chunks, read timeout) is the
      // upstream's failure: 502/504 like a refused connection, never a 500.
      throw err instanceof RegistryError && err.code === 'TOO_LARGE'
        ? upstreamGarbage(candidate, `manifest larger than ${MAX_MANIFEST_BYTES} bytes`)
        : toUpstreamError(err, candidate.target.label);
    });
    return { kind: 'found', body, mediaType: mediaType ?? mediaTypeFromBody(body) ?? '', digest };
  }

  /**
   * Opens a blob body from one candidate (GET: proxy_timeout to the headers, read_timeout
   * between chunks), or asks whether it has it (HEAD: an existence check, metadata_timeout);
   * undefined when the upstream does not have it.
   */
  async blob(
    candidate: Candidate,
    digest: string,
    method: 'GET' | 'HEAD' = 'GET',
  ): Promise<{ body: Readable; size: number | undefined; label: string } | undefined> {
    const response = await this.#client.request(
      method === 'HEAD' ? candidate.metadata : candidate.target,
      {
        method,
        path: path(candidate.remoteName, 'blobs', digest),
        scope: scopeOf(candidate.remoteName),
      },
    );
    if (isAbsent(response)) {
      response.body.destroy();
      return undefined;
    }
    expectOk(response, candidate);
    const length = response.header('content-length');
    const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    // The label names the upstream in a cut-short body's message (proxy/fill.ts).
    return { body: response.body, size, label: candidate.target.label };
  }

  /**
   * An upstream's whole tag list, every page of it (see #pages); undefined when the name is
   * unknown there. Entries that are not valid tags are dropped (they could not be pulled).
   */
  tags(candidate: Candidate): Promise<UpstreamList<string> | undefined> {
    return this.#pages(
      candidate,
      `/v2/${candidate.remoteName}/tags/list`,
      'tag list',
      {},
      (json) => {
        if (!isObject(json)) return undefined;
        const tags = json['tags'];
        // Distribution answers `"tags": null` for a name whose tags were all deleted.
        if (tags === null || tags === undefined) return [];
        if (!Array.isArray(tags)) return undefined;
        return tags.filter((t): t is string => typeof t === 'string' && isValidTag(t));
      },
    );
  }

  /**
   * The upstream's referrers of `digest` (OCI referrers API, every page), unfiltered; undefined
   * when the upstream answers 404 for that API (the spec's "not supported", or an unknown name),
   * or 400/405/406/501 as registries without the route do: the caller then asks the tag-schema
   * fallback (see referrersTag).
   */
  referrers(candidate: Candidate, digest: string): Promise<UpstreamList<Descriptor> | undefined> {
    return this.#pages(
      candidate,
      `/v2/${candidate.remoteName}/referrers/${digest}`,
      'referrers list',
      { accept: OCI_INDEX },
      (json) => (isObject(json) ? parseDescriptors(json['manifests']) : undefined),
      (status) => NO_REFERRERS_API.has(status),
    );
  }

  /**
   * The referrers the tag-schema fallback records for `digest`: the image index tagged
   * `<alg>-<hex>` (cut to 128 characters, the tag limit), or undefined when no such tag exists.
   */
  async referrersTag(candidate: Candidate, digest: string): Promise<Descriptor[] | undefined> {
    const answer = await this.manifest(candidate, referrersTagOf(digest), 'GET');
    if (answer.kind !== 'found') return undefined;
    let json: unknown;
    try {
      json = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw upstreamGarbage(candidate, 'referrers tag is not JSON');
    }
    const manifests = isObject(json) ? parseDescriptors(json['manifests']) : undefined;
    if (manifests === undefined) {
      throw upstreamGarbage(candidate, 'referrers tag does not hold an image index');
    }
    return manifests;
  }

  /**
   * Reads a paged list: the first page at `firstPath`, then each `Link: <…>; rel="next"` while
   * it stays on the upstream (src/proxy/pagination.ts) and within UPSTREAM_LIST_LIMITS. Returns
   * undefined when the first page is absent (404/401/403, or a status `alsoAbsent` accepts); a
   * later page that is absent or fails,
   * or a body that `parse` rejects (undefined), throws an upstream failure, so a list is either
   * complete, stopped at a documented bound (`incomplete` says which), or not answered at all.
   */
  async #pages<T>(
    candidate: Candidate,
    firstPath: string,
    what: string,
    headers: Readonly<Record<string, string>>,
    parse: (json: unknown) => T[] | undefined,
    alsoAbsent: (status: number) => boolean = () => false,
  ): Promise<UpstreamList<T> | undefined> {
    const limits = UPSTREAM_LIST_LIMITS;
    const items: T[] = [];
    const seen = new Set<string>();
    let bytes = 0;
    let path = firstPath;
    for (let page = 1; ; page++) {
      seen.add(path);
      const response = await this.#client.request(candidate.metadata, {
        method: 'GET',
        path,
        headers,
        wholeDeadline: true,
        scope: scopeOf(candidate.remoteName),
      });
      if (isAbsent(response) || (page === 1 && alsoAbsent(response.status))) {
        response.body.destroy();
        if (page === 1) return undefined;
        throw upstreamGarbage(candidate, `${what} page ${page} answered ${response.status}`);
      }
      expectOk(response, candidate);
      const body = await readAllBounded(
        response.body as AsyncIterable<Uint8Array>,
        MAX_MANIFEST_BYTES,
        `upstream ${what}`,
      ).catch((err: unknown) => {
        throw err instanceof RegistryError && err.code === 'TOO_LARGE'
          ? upstreamGarbage(candidate, `${what} page larger than ${MAX_MANIFEST_BYTES} bytes`)
          : toUpstreamError(err, candidate.target.label);
      });
      bytes += body.length;
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw upstreamGarbage(candidate, `${what} is not JSON`);
      }
      const parsed = parse(json);
      if (parsed === undefined) throw upstreamGarbage(candidate, `${what} has an invalid shape`);
      const room = limits.items - items.length;
      items.push(...parsed.slice(0, room));
      if (parsed.length > room) return { items, incomplete: `more than ${limits.items} entries` };
      const next = nextPage(
        response.header('link'),
        joinUrl(candidate.target.baseUrl, path),
        candidate.target.baseUrl,
      );
      if (next.kind === 'none') return { items };
      if (next.kind === 'refused') return { items, incomplete: next.reason };
      if (seen.has(next.path)) return { items, incomplete: 'next link repeats a page' };
      if (page >= limits.pages) return { items, incomplete: `more than ${limits.pages} pages` };
      if (bytes >= limits.bytes) return { items, incomplete: `more than ${limits.bytes} bytes` };
      path = next.path;
    }
  }
}

/** A list read across an upstream's pages; `incomplete` says why the reading stopped early. */
export interface UpstreamList<T> {
  readonly items: T[];
  readonly incomplete?: string;
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Statuses registries without a referrers route answer besides the spec's 404. */
const NO_REFERRERS_API = new Set([400, 405, 406, 501]);

/** The tag-schema fallback's tag for a subject digest: `<alg>-<hex>`, at most 128 characters. */
export function referrersTagOf(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

/**
 * Descriptors from an upstream document (`manifests` of an index), validated where they enter:
 * undefined unless it is an array of objects with a media type, a valid digest and a size.
 * Optional `artifactType` and string `annotations` are kept; anything else is dropped.
 */
export function parseDescriptors(value: unknown): Descriptor[] | undefined {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const descriptors: Descriptor[] = [];
  for (const entry of value as unknown[]) {
    if (!isObject(entry)) return undefined;
    const { mediaType, digest, size, artifactType, annotations } = entry;
    if (typeof mediaType !== 'string' || mediaType === '') return undefined;
    if (typeof digest !== 'string' || tryParseDigest(digest) === undefined) return undefined;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
    const kept: Record<string, string> = {};
    if (isObject(annotations)) {
      for (const [key, text] of Object.entries(annotations)) {
        if (typeof text === 'string') kept[key] = text;
      }
    }
    descriptors.push({
      mediaType,
      digest,
      size,
      ...(typeof artifactType === 'string' && artifactType !== '' ? { artifactType } : {}),
      ...(Object.keys(kept).length > 0 ? { annotations: kept } : {}),
    });
  }
  return descriptors;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * 404, and 401/403 that survived the auth dance, mean "not here" for a pull-through cache: the
 * next upstream is asked. (Docker Hub answers 401 for images that do not exist.) Manifests tell
 * 401/403 apart (ManifestAnswer 'refused'): a cached tag is served stale on them.
 */
function isAbsent(response: UpstreamResponse): boolean {
  return response.status === 404 || response.status === 401 || response.status === 403;
}

function expectOk(response: UpstreamResponse, candidate: Candidate): void {
  if (response.status === 200) return;
  response.body.destroy();
  const code =
    response.status === 429
      ? 'UPSTREAM_FAILED'
      : response.status === 504
        ? 'UPSTREAM_TIMEOUT'
        : 'UPSTREAM_FAILED';
  throw new RegistryError(code, `upstream ${candidate.target.label} answered ${response.status}`, {
    detail: { upstream: candidate.target.label, status: response.status },
  });
}

/**
 * An upstream's 401/403 to a manifest request as an upstream failure: a cached tag is served
 * stale on it (proxy.ts), a group counts the member as failed and its 404 names the status, and
 * a proxy addressed alone answers MANIFEST_UNKNOWN naming it (isRefusal, service.ts).
 */
export function upstreamRefused(
  candidate: Candidate,
  reference: string,
  status: number,
): RegistryError {
  return new RegistryError(
    'UPSTREAM_FAILED',
    `upstream ${candidate.target.label} answered ${status} for ${candidate.remoteName}${reference.includes(':') ? '@' : ':'}${reference}: the image is not there, or NORA's credentials for that upstream are missing or refused`,
    { detail: { upstream: candidate.target.label, status, refused: true } },
  );
}

/** Whether `err` is upstreamRefused's. */
export function isRefusal(err: unknown): err is RegistryError {
  return (
    err instanceof RegistryError &&
    typeof err.detail === 'object' &&
    err.detail !== null &&
    (err.detail as Record<string, unknown>)['refused'] === true
  );
}

export function upstreamGarbage(candidate: Candidate, why: string): RegistryError {
  return new RegistryError(
    'UPSTREAM_FAILED',
    `upstream ${candidate.target.label} sent an invalid response: ${why}`,
    {
      detail: { upstream: candidate.target.label },
    },
  );
}

function contentType(response: UpstreamResponse): string | undefined {
  const value = response.header('content-type');
  return value?.split(';')[0]?.trim() || undefined;
}

function mediaTypeFromBody(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
    return typeof parsed.mediaType === 'string' ? parsed.mediaType : undefined;
  } catch {
    return undefined;
  }
}
